"""Ogg Opus (RFC 7845): the container FFmpeg reads Opus from. Each Opus packet goes on its own
Ogg page (RFC 3533), after the two header pages (OpusHead, OpusTags). Pages are self-delimiting
and checksummed, so a file cut short by a crash is readable up to its last whole page."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

#: Opus in RTP always runs a 48 kHz clock (RFC 7587), and so do Ogg Opus granule positions.
OPUS_CLOCK = 48_000
#: Samples the decoder discards at the start (the encoder's look-ahead; 3.75 ms is usual).
PRE_SKIP = 312

_PAGE_HEADER = struct.Struct("<4sBBqIII")
_FIRST_PAGE = 0x02
_LAST_PAGE = 0x04


def _crc_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else (crc << 1)
        table.append(crc & 0xFFFFFFFF)
    return table


_CRC = _crc_table()


def ogg_crc(data: bytes) -> int:
    """Ogg's CRC-32: polynomial 0x04C11DB7, no reflection, initial value 0."""
    crc = 0
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _CRC[((crc >> 24) ^ byte) & 0xFF]
    return crc


def _lacing(size: int) -> bytes:
    return bytes([255] * (size // 255) + [size % 255])


class OggOpusWriter:
    def __init__(self, path: Path, *, channels: int = 2, serial: int = 1) -> None:
        if not 1 <= channels <= 2:
            raise ValueError("channels must be 1 or 2")
        self.path = path
        self.packets = 0
        self._serial = serial
        self._sequence = 0
        self._file: BinaryIO = path.open("wb")
        head = b"OpusHead" + struct.pack("<BBHIhB", 1, channels, PRE_SKIP, OPUS_CLOCK, 0, 0)
        self._page(head, granule=0, flags=_FIRST_PAGE)
        vendor = b"conference"
        tags = b"OpusTags" + struct.pack("<I", len(vendor)) + vendor + struct.pack("<I", 0)
        self._page(tags, granule=0)

    def _page(self, packet: bytes, *, granule: int, flags: int = 0) -> None:
        if len(packet) > 255 * 255 - 1:
            raise ValueError("an Opus packet this large does not fit one page")
        lacing = _lacing(len(packet))
        header = _PAGE_HEADER.pack(b"OggS", 0, flags, granule, self._serial, self._sequence, 0)
        page = header + bytes([len(lacing)]) + lacing + packet
        crc = ogg_crc(page)
        self._file.write(page[:22] + struct.pack("<I", crc) + page[26:])
        self._sequence += 1

    def write(self, packet: bytes, granule: int) -> None:
        """One Opus packet; ``granule`` counts 48 kHz samples from the track's start to the end
        of this packet (plus the pre-skip)."""
        self._page(packet, granule=granule + PRE_SKIP)
        self.packets += 1

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()

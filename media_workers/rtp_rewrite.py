"""RTP header bytes in and out, without aiortc's ``RtpPacket`` objects.

Incoming: ``parse_inbound`` reads the fixed header and the two header extensions the worker
uses (RFC 6464 audio level, abs-send-time) once per received packet. Outgoing: a ``HeaderWriter``
holds one subscriber slot's negotiated values (SSRC, extension ids, MID) and builds the new
header for it with ``struct``; the payload bytes are shared, never parsed again.
"""

from __future__ import annotations

import struct

RTP_VERSION = 2
ONE_BYTE_PROFILE = 0xBEDE
TWO_BYTE_PROFILE = 0x1000  # the low 4 bits are "appbits"

_FIXED = struct.Struct("!BBHII")
_SEQ_TS_SSRC = struct.Struct("!HII")
_EXT_HEAD = struct.Struct("!HH")
_U16 = struct.Struct("!H")


class InboundPacket:
    """One received RTP packet of a producer (RTX already unwrapped)."""

    __slots__ = (
        "abs_send_time",
        "audio_level",
        "extension_blocks",
        "keyframe",
        "marker",
        "padding",
        "payload",
        "sequence",
        "timestamp",
    )

    def __init__(
        self,
        sequence: int,
        timestamp: int,
        marker: bool,
        padding: bool,
        payload: bytes,
        audio_level: int | None,
        abs_send_time: int | None,
    ) -> None:
        self.sequence = sequence
        self.timestamp = timestamp
        self.marker = marker
        self.padding = padding
        self.payload = payload
        self.audio_level = audio_level
        self.abs_send_time = abs_send_time
        self.keyframe = False
        # Outgoing header extension blocks built for this packet, by (layout, abs-send-time):
        # subscribers that negotiated the same ids and MID share one (HeaderWriter.build).
        self.extension_blocks: dict[tuple[tuple[bool, bytes, int, int], bytes | None], bytes] = {}


class RtpHeader:
    """The fields of a received RTP header that routing needs."""

    __slots__ = (
        "ext_length",
        "ext_offset",
        "ext_profile",
        "marker",
        "padding",
        "payload_offset",
        "payload_type",
        "sequence",
        "ssrc",
        "timestamp",
    )

    def __init__(self, data: bytes) -> None:
        """Raises ValueError for anything that is not a well-formed RTP packet."""
        if len(data) < 12 or data[0] >> 6 != RTP_VERSION:
            raise ValueError("not an RTP packet")
        first = data[0]
        second = data[1]
        self.padding = bool(first & 0x20)
        self.marker = bool(second & 0x80)
        self.payload_type = second & 0x7F
        self.sequence, self.timestamp, self.ssrc = _SEQ_TS_SSRC.unpack_from(data, 2)
        offset = 12 + 4 * (first & 0x0F)
        self.ext_offset = 0
        self.ext_profile = 0
        self.ext_length = 0
        if first & 0x10:
            if len(data) < offset + 4:
                raise ValueError("truncated RTP header extension")
            self.ext_profile, words = _EXT_HEAD.unpack_from(data, offset)
            self.ext_offset = offset + 4
            self.ext_length = 4 * words
            offset = self.ext_offset + self.ext_length
        if len(data) < offset:
            raise ValueError("truncated RTP header")
        self.payload_offset = offset


def header_extensions(data: bytes, header: RtpHeader) -> dict[int, bytes]:
    """The header extension elements of a packet by id (one-byte and two-byte forms, RFC 8285)."""
    found: dict[int, bytes] = {}
    if not header.ext_length:
        return found
    pos = header.ext_offset
    end = pos + header.ext_length
    if header.ext_profile == ONE_BYTE_PROFILE:
        while pos < end:
            byte = data[pos]
            if byte == 0:
                pos += 1
                continue
            ext_id = byte >> 4
            if ext_id == 15:
                break
            length = (byte & 0x0F) + 1
            found[ext_id] = data[pos + 1 : pos + 1 + length]
            pos += 1 + length
    elif header.ext_profile & 0xFFF0 == TWO_BYTE_PROFILE:
        while pos + 1 < end:
            ext_id = data[pos]
            if ext_id == 0:
                pos += 1
                continue
            length = data[pos + 1]
            found[ext_id] = data[pos + 2 : pos + 2 + length]
            pos += 2 + length
    return found


def parse_inbound(data: bytes, header: RtpHeader, audio_level_id: int, abs_send_time_id: int) -> InboundPacket:
    """The packet as the router keeps it: payload (with padding) and the extensions it uses."""
    level: int | None = None
    abs_time: int | None = None
    if header.ext_length and (audio_level_id or abs_send_time_id):
        elements = header_extensions(data, header)
        raw_level = elements.get(audio_level_id) if audio_level_id else None
        if raw_level:
            level = raw_level[0] & 0x7F
        raw_abs = elements.get(abs_send_time_id) if abs_send_time_id else None
        if raw_abs is not None and len(raw_abs) == 3:
            abs_time = int.from_bytes(raw_abs, "big")
    return InboundPacket(
        header.sequence,
        header.timestamp,
        header.marker,
        header.padding,
        data[header.payload_offset :],
        level,
        abs_time,
    )


def unwrap_rtx_payload(payload: bytes) -> tuple[int, bytes] | None:
    """(original sequence number, original payload) of an RTX payload (RFC 4588), None if empty."""
    if len(payload) < 2:
        return None
    return _U16.unpack_from(payload)[0], payload[2:]


class HeaderWriter:
    """Builds outgoing RTP packets for one subscriber slot, as that subscriber negotiated it."""

    __slots__ = ("_abs_id", "_layout", "_level_id", "_mid_element", "_two_byte", "ssrc")

    def __init__(self, ssrc: int, *, mid: str | None, mid_id: int, abs_send_time_id: int, audio_level_id: int) -> None:
        self.ssrc = ssrc
        self._two_byte = max(mid_id, abs_send_time_id, audio_level_id) > 14 or (mid is not None and len(mid) > 16)
        self._abs_id = abs_send_time_id
        self._level_id = audio_level_id
        self._mid_element = b""
        if mid and mid_id:
            self._mid_element = self._element(mid_id, mid.encode())
        self._layout = (self._two_byte, self._mid_element, self._abs_id, self._level_id)

    @property
    def layout(self) -> tuple[bool, bytes, int, int]:
        """(two-byte form, MID element, abs-send-time id, audio level id): what the header
        depends on besides the packet (a native lane builds the same header from it)."""
        return self._layout

    def _element(self, ext_id: int, value: bytes) -> bytes:
        if self._two_byte:
            return bytes((ext_id, len(value))) + value
        return bytes(((ext_id << 4) | (len(value) - 1),)) + value

    def extension_block(self, abs_send_time: bytes | None, audio_level: int | None) -> bytes:
        """The header extension block (profile, length, elements, padding), or b"" for none."""
        body = self._mid_element
        if abs_send_time is not None and self._abs_id:
            body += self._element(self._abs_id, abs_send_time)
        if audio_level is not None and self._level_id:
            body += self._element(self._level_id, bytes((audio_level,)))
        if not body:
            return b""
        pad = -len(body) % 4
        profile = TWO_BYTE_PROFILE if self._two_byte else ONE_BYTE_PROFILE
        return _EXT_HEAD.pack(profile, (len(body) + pad) >> 2) + body + b"\x00" * pad

    def build(
        self, packet: InboundPacket, payload_type: int, sequence: int, timestamp: int, abs_send_time: bytes | None
    ) -> bytes:
        blocks = packet.extension_blocks
        key = (self._layout, abs_send_time)
        ext = blocks.get(key)
        if ext is None:
            ext = blocks[key] = self.extension_block(abs_send_time, packet.audio_level)
        first = 0x80 | (0x10 if ext else 0) | (0x20 if packet.padding else 0)
        second = payload_type | (0x80 if packet.marker else 0)
        return _FIXED.pack(first, second, sequence, timestamp, self.ssrc) + ext + packet.payload


def abs_send_time_now(ntp_time: int) -> bytes:
    """The 24-bit abs-send-time value (6.18 fixed point seconds) for a 64-bit NTP time."""
    return ((ntp_time >> 14) & 0xFFFFFF).to_bytes(3, "big")

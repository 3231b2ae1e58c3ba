"""IVF, the simplest VP8 container (what libvpx's tools write and FFmpeg reads): a 32-byte file
header, then per frame a 12-byte header (size, presentation time) and the frame. Append-only,
so a file cut short by a crash is readable up to its last whole frame."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

FILE_HEADER = struct.Struct("<4sHH4sHHIIII")
FRAME_HEADER = struct.Struct("<IQ")
#: Presentation times are RTP timestamps: VP8 and H.264 use a 90 kHz clock.
VIDEO_CLOCK = 90_000


class IvfWriter:
    def __init__(self, path: Path, *, width: int, height: int, fourcc: bytes = b"VP80") -> None:
        self.path = path
        self.frames = 0
        self._file: BinaryIO = path.open("wb")
        # frame count 0: unknown (the file grows while the meeting goes on; readers do not need it)
        self._file.write(FILE_HEADER.pack(b"DKIF", 0, 32, fourcc, width, height, VIDEO_CLOCK, 1, 0, 0))

    def write(self, frame: bytes, pts: int) -> None:
        """One whole frame at ``pts`` (90 kHz ticks from the track's start)."""
        self._file.write(FRAME_HEADER.pack(len(frame), pts))
        self._file.write(frame)
        self.frames += 1

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()

"""Whole frames from RTP packets, without decoding: VP8 payload descriptors are stripped and the
packets of one picture joined (RFC 7741); an Opus packet is a frame by itself (RFC 7587).

A picture with a missing packet is dropped, and so is everything after it until the next key
frame (a decoder could not use it); ``needs_keyframe`` tells the recorder to ask for one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from media_workers.frame_size import vp8_descriptor_length
from media_workers.keyframes import is_vp8_keyframe
from media_workers.sequencing import seq_delta

TS_MOD = 1 << 32
HALF_TS = 1 << 31


@dataclass(frozen=True)
class Frame:
    data: bytes
    #: RTP timestamp ticks since the track's first frame (unwrapped).
    pts: int
    keyframe: bool


@dataclass
class TimestampUnwrapper:
    """RTP timestamps (32 bits, wrapping) as ticks since the first one seen."""

    _first: int | None = None
    _last: int = 0
    _offset: int = 0

    def ticks(self, timestamp: int) -> int:
        if self._first is None:
            self._first = self._last = timestamp
            return 0
        delta = ((timestamp - self._last + HALF_TS) % TS_MOD) - HALF_TS
        self._last = timestamp
        self._offset += delta
        return self._offset


@dataclass
class _Picture:
    timestamp: int
    packets: dict[int, bytes] = field(default_factory=dict)
    first: int | None = None  # sequence number of the packet that starts the picture
    last: int | None = None  # sequence number of the packet with the marker bit


class Vp8FrameAssembler:
    """Feed packets (``add``); complete pictures come back, in order."""

    def __init__(self) -> None:
        self._clock = TimestampUnwrapper()
        self._picture: _Picture | None = None
        self.needs_keyframe = True
        self.dropped = 0

    def add(self, sequence: int, timestamp: int, marker: bool, payload: bytes) -> Frame | None:
        descriptor = vp8_descriptor_length(payload)
        if not descriptor:
            return None
        picture = self._picture
        if picture is None or picture.timestamp != timestamp:
            if picture is not None:
                self._lose()  # the previous picture never completed
            picture = self._picture = _Picture(timestamp)
        picture.packets[sequence] = payload
        starts = bool(payload[0] & 0x10) and (payload[0] & 0x07) == 0
        if starts:
            picture.first = sequence
        if marker:
            picture.last = sequence
        if picture.first is None or picture.last is None:
            return None
        count = seq_delta(picture.last, picture.first) + 1
        if count <= 0 or count > len(picture.packets):
            return None  # still waiting for packets in between (reordered)
        numbers = [(picture.first + i) & 0xFFFF for i in range(count)]
        if any(n not in picture.packets for n in numbers):
            return None
        self._picture = None
        first = picture.packets[numbers[0]]
        keyframe = is_vp8_keyframe(first)
        if self.needs_keyframe and not keyframe:
            self.dropped += 1
            return None
        self.needs_keyframe = False
        data = b"".join(picture.packets[n][vp8_descriptor_length(picture.packets[n]) :] for n in numbers)
        return Frame(data, self._clock.ticks(timestamp), keyframe)

    def _lose(self) -> None:
        self.dropped += 1
        self.needs_keyframe = True


class OpusFrames:
    """Opus packets with their time since the first one (48 kHz ticks)."""

    def __init__(self) -> None:
        self._clock = TimestampUnwrapper()

    def add(self, timestamp: int, payload: bytes) -> Frame | None:
        if not payload:
            return None
        return Frame(payload, self._clock.ticks(timestamp), True)

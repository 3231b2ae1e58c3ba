"""Pre-encoded media for the SFU benchmark: a VP8 clip and an Opus clip, encoded ONCE at setup.

The load generator must not spend its CPU encoding during the measured run, so
:func:`build_clip` encodes a synthetic clip with PyAV (libvpx / libopus) before anything
connects, and :class:`ReplayTrack` then replays the encoded packets in a loop, paced in real
time. aiortc's ``RTCRtpSender`` only packetises ``av.Packet`` objects (no encoder is opened),
see ``RTCRtpSender._next_encoded_frame``.

The video is a noise texture panning across the picture (so the encoder has real motion and
detail to spend its bit budget on), one keyframe at the start of each loop; the audio is a
seeded noise + tone signal, so that no two Opus packets are alike (the benchmark matches
packets across the SFU by payload).
"""

from __future__ import annotations

import asyncio
import math
import random
import struct
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import av
from aiortc.mediastreams import MediaStreamTrack

VIDEO_CLOCK = 90_000
AUDIO_RATE = 48_000
AUDIO_FRAME_SAMPLES = 960  # 20 ms


@dataclass(frozen=True)
class EncodedClip:
    """Encoded frames of one kind, in decode order, with their duration in seconds."""

    kind: Literal["audio", "video"]
    frames: tuple[bytes, ...]
    frame_seconds: float
    time_base: Fraction
    pts_step: int

    @property
    def seconds(self) -> float:
        return len(self.frames) * self.frame_seconds

    @property
    def bitrate(self) -> float:
        """Average payload bitrate of the clip in bit/s (without RTP/UDP overhead)."""
        return sum(len(frame) for frame in self.frames) * 8 / self.seconds


@dataclass(frozen=True)
class MediaClip:
    video: EncodedClip
    audio: EncodedClip
    encode_seconds: float

    def describe(self) -> dict[str, float | int]:
        return {
            "video_frames": len(self.video.frames),
            "video_fps": round(1 / self.video.frame_seconds, 3),
            "video_kbps": round(self.video.bitrate / 1000, 1),
            "video_max_frame_bytes": max(len(frame) for frame in self.video.frames),
            "audio_packets": len(self.audio.frames),
            "audio_kbps": round(self.audio.bitrate / 1000, 1),
            "clip_seconds": round(self.video.seconds, 3),
            "encode_seconds": round(self.encode_seconds, 3),
        }


def _encode_video(seconds: float, fps: int, bitrate: int, width: int, height: int, seed: int) -> EncodedClip:
    rng = random.Random(seed)  # noqa: S311 (deterministic test picture, not crypto)
    frame_count = round(seconds * fps)
    codec = av.CodecContext.create("libvpx", "w")
    codec.width = width
    codec.height = height
    codec.pix_fmt = "yuv420p"
    # libvpx's rate control undershoots this synthetic content by ~12 %: aim a little higher so
    # the clip averages the asked bitrate (describe() reports what was really produced).
    codec.bit_rate = int(bitrate * 1.12)
    codec.time_base = Fraction(1, fps)
    codec.framerate = Fraction(fps, 1)
    codec.gop_size = frame_count  # one keyframe per loop of the clip
    codec.options = {
        "deadline": "realtime",
        "cpu-used": "8",
        "lag-in-frames": "0",
        "error-resilient": "1",
        "static-thresh": "0",
        "undershoot-pct": "100",
        "overshoot-pct": "15",
        "buf-initial-sz": "500",
        "buf-optimal-sz": "600",
        "buf-sz": "1000",
    }
    # A texture twice as wide as the picture, panned by a few pixels a frame; soft noise (a
    # coarse random grid, smoothed a little by repetition) so the encoder sees detail + motion.
    texture_width = width * 2
    coarse = bytes(rng.randrange(40, 216) for _ in range((texture_width // 4) * (height // 4)))
    rows: list[bytes] = []
    for y in range(height):
        line = coarse[(y // 4) * (texture_width // 4) : (y // 4 + 1) * (texture_width // 4)]
        rows.append(bytes(value for value in line for _ in range(4)))
    chroma = bytes([128]) * ((width // 2) * (height // 2))
    encoded: list[bytes] = []
    for index in range(frame_count):
        frame = av.VideoFrame(width, height, "yuv420p")
        offset = (index * 3) % width
        luma = b"".join(row[offset : offset + width] for row in rows)
        frame.planes[0].update(luma)
        frame.planes[1].update(chroma)
        frame.planes[2].update(chroma)
        frame.pts = index
        frame.time_base = Fraction(1, fps)
        for packet in codec.encode(frame):
            encoded.append(bytes(packet))
    for packet in codec.encode(None):
        encoded.append(bytes(packet))
    return EncodedClip(
        kind="video", frames=tuple(encoded), frame_seconds=1 / fps, time_base=Fraction(1, fps), pts_step=1
    )


def _encode_audio(seconds: float, bitrate: int, seed: int) -> EncodedClip:
    rng = random.Random(seed + 1)  # noqa: S311 (deterministic test signal, not crypto)
    codec = av.CodecContext.create("libopus", "w")
    codec.sample_rate = AUDIO_RATE
    codec.layout = "mono"
    codec.format = "s16"
    codec.bit_rate = bitrate
    codec.time_base = Fraction(1, AUDIO_RATE)
    frame_count = round(seconds * AUDIO_RATE / AUDIO_FRAME_SAMPLES)
    encoded: list[bytes] = []
    for index in range(frame_count):
        samples = []
        for n in range(AUDIO_FRAME_SAMPLES):
            t = (index * AUDIO_FRAME_SAMPLES + n) / AUDIO_RATE
            value = 6000 * math.sin(2 * math.pi * 220 * t) + rng.gauss(0, 2500)
            samples.append(max(-32768, min(32767, int(value))))
        frame = av.AudioFrame(format="s16", layout="mono", samples=AUDIO_FRAME_SAMPLES)
        frame.planes[0].update(struct.pack(f"<{AUDIO_FRAME_SAMPLES}h", *samples))
        frame.sample_rate = AUDIO_RATE
        frame.pts = index * AUDIO_FRAME_SAMPLES
        frame.time_base = Fraction(1, AUDIO_RATE)
        for packet in codec.encode(frame):
            encoded.append(bytes(packet))
    for packet in codec.encode(None):
        encoded.append(bytes(packet))
    return EncodedClip(
        kind="audio",
        frames=tuple(encoded),
        frame_seconds=AUDIO_FRAME_SAMPLES / AUDIO_RATE,
        time_base=Fraction(1, AUDIO_RATE),
        pts_step=AUDIO_FRAME_SAMPLES,
    )


def build_clip(
    seconds: float = 10.0,
    fps: int = 30,
    video_bitrate: int = 500_000,
    audio_bitrate: int = 32_000,
    width: int = 640,
    height: int = 480,
    seed: int = 4,
) -> MediaClip:
    """Encode the clip (a few seconds of CPU, once, before the run)."""
    started = time.perf_counter()
    video = _encode_video(seconds, fps, video_bitrate, width, height, seed)
    audio = _encode_audio(seconds, audio_bitrate, seed)
    return MediaClip(video=video, audio=audio, encode_seconds=time.perf_counter() - started)


CACHE_MAGIC = b"SFUCLIP1"


def _write_clip(path: Path, clip: MediaClip) -> None:
    parts = [CACHE_MAGIC, struct.pack("!dII", clip.encode_seconds, len(clip.video.frames), len(clip.audio.frames))]
    for frame in (*clip.video.frames, *clip.audio.frames):
        parts.append(struct.pack("!I", len(frame)))
        parts.append(frame)
    temporary = path.with_suffix(".tmp")
    temporary.write_bytes(b"".join(parts))
    temporary.replace(path)


def _read_clip(path: Path, fps: int) -> MediaClip | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if not data.startswith(CACHE_MAGIC):
        return None
    position = len(CACHE_MAGIC)
    encode_seconds, video_count, audio_count = struct.unpack_from("!dII", data, position)
    position += struct.calcsize("!dII")
    frames: list[bytes] = []
    for _ in range(video_count + audio_count):
        (size,) = struct.unpack_from("!I", data, position)
        position += 4
        frames.append(data[position : position + size])
        position += size
    if position != len(data):
        return None
    video = EncodedClip("video", tuple(frames[:video_count]), 1 / fps, Fraction(1, fps), 1)
    audio = EncodedClip(
        "audio",
        tuple(frames[video_count:]),
        AUDIO_FRAME_SAMPLES / AUDIO_RATE,
        Fraction(1, AUDIO_RATE),
        AUDIO_FRAME_SAMPLES,
    )
    return MediaClip(video=video, audio=audio, encode_seconds=encode_seconds)


def load_or_build_clip(
    cache_dir: Path | None,
    seconds: float = 10.0,
    fps: int = 30,
    video_bitrate: int = 500_000,
    audio_bitrate: int = 32_000,
) -> tuple[MediaClip, bool]:
    """:func:`build_clip`, cached in ``cache_dir`` by its parameters; returns (clip, from cache)."""
    path = None
    if cache_dir is not None:
        name = f"clip-v1-{seconds:g}s-{fps}fps-{video_bitrate}-{audio_bitrate}-av{av.__version__}.bin"
        path = cache_dir / name
        cached = _read_clip(path, fps)
        if cached is not None:
            return cached, True
    clip = build_clip(seconds=seconds, fps=fps, video_bitrate=video_bitrate, audio_bitrate=audio_bitrate)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_clip(path, clip)
    return clip, False


class ReplayTrack(MediaStreamTrack):
    """Replays an :class:`EncodedClip` in a loop as ``av.Packet`` objects, paced in real time.

    ``start_index`` lets publishers start at different points of the clip. The track's own
    counter gives monotonically increasing timestamps across loops.
    """

    def __init__(self, clip: EncodedClip, start_index: int = 0) -> None:
        super().__init__()
        self.kind = clip.kind
        self._clip = clip
        self._index = start_index % len(clip.frames)
        self._sent = 0
        self._start: float | None = None
        self._keyframe_wanted = False
        self._last_keyframe = 0.0
        self.keyframes_on_request = 0
        self.keyframe_times_ns: list[int] = []  # when a keyframe (frame 0) was handed to the sender

    def request_keyframe(self) -> None:
        """Restart the clip at its keyframe (frame 0), at most once a second."""
        if self.kind == "video":
            self._keyframe_wanted = True

    async def recv(self) -> av.Packet[Any]:
        if self.readyState != "live":
            from aiortc.mediastreams import MediaStreamError

            raise MediaStreamError
        now = time.monotonic()
        if self._start is None:
            self._start = now
        due = self._start + self._sent * self._clip.frame_seconds
        if due > now:
            await asyncio.sleep(due - now)
        if self._keyframe_wanted:
            self._keyframe_wanted = False
            if now - self._last_keyframe >= 1.0 and self._index != 0:
                self._index = 0
                self._last_keyframe = now
                self.keyframes_on_request += 1
        if self._index == 0:
            self.keyframe_times_ns.append(time.monotonic_ns())
        packet = av.Packet(self._clip.frames[self._index])
        packet.pts = self._sent * self._clip.pts_step
        packet.time_base = self._clip.time_base
        self._index = (self._index + 1) % len(self._clip.frames)
        self._sent += 1
        return packet

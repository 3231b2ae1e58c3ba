"""One recorded track: a producer's frames written, without decoding, into segment files.

A recorder is fed like a consumer (``forward``, from ``Producer.ingest``). Every segment is a
file of its own with timestamps from its own start (VP8 in IVF, Opus in Ogg), begun on a key
frame for video, and listed with its start and end relative to the recording's start: a worker
that dies loses at most the segment being written (``segment_seconds``), and composition treats
the segments like tracks that come and go.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from media_workers.frame_size import vp8_keyframe_size
from media_workers.recording.frames import Frame, OpusFrames, Vp8FrameAssembler
from media_workers.recording.ivf import IvfWriter
from media_workers.recording.ogg_opus import OPUS_CLOCK, OggOpusWriter

DEFAULT_SEGMENT_SECONDS = 10.0
#: Ask for a key frame this long before a video segment is due, so it can start on one.
KEYFRAME_LEAD_SECONDS = 1.0


@dataclass(frozen=True)
class Segment:
    file: str
    start_ms: int
    end_ms: int
    frames: int


@dataclass
class TrackRecording:
    participant: str
    kind: str  # audio | camera | screen
    codec: str  # opus | vp8
    segments: list[Segment] = field(default_factory=list)


class TrackRecorder:
    def __init__(
        self,
        folder: Path,
        name: str,
        *,
        participant: str,
        kind: str,
        codec: str,
        started_at: float,
        segment_seconds: float = DEFAULT_SEGMENT_SECONDS,
        request_keyframe: Callable[[], None] = lambda: None,
    ) -> None:
        if codec not in ("vp8", "opus"):
            raise ValueError(f"recording {codec} is not supported")
        self.folder = folder
        self.name = name
        self.started_at = started_at
        self.segment_seconds = segment_seconds
        self.request_keyframe = request_keyframe
        self.recording = TrackRecording(participant, kind, codec)
        self._video = Vp8FrameAssembler() if codec == "vp8" else None
        self._audio = OpusFrames() if codec == "opus" else None
        self._writer: IvfWriter | OggOpusWriter | None = None
        self._segment_pts = 0  # pts of the segment's first frame, in the track's clock
        self._segment_start_ms = 0
        self._last_ms = 0
        self._asked_at: float | None = None
        self.closed = False

    def _ms(self, now: float) -> int:
        return max(0, round((now - self.started_at) * 1000))

    def forward(self, producer: Any, packet: Any, codec: str, abs_time: bytes, now: float) -> None:
        if self.closed or codec != self.recording.codec:
            return
        if self._video is not None:
            frame = self._video.add(packet.sequence, packet.timestamp, packet.marker, packet.payload)
            if self._video.needs_keyframe:
                self._ask_keyframe(now)
        else:
            assert self._audio is not None
            frame = self._audio.add(packet.timestamp, packet.payload)
        if frame is not None:
            self._write(frame, now)

    def _ask_keyframe(self, now: float) -> None:
        if self._asked_at is None or now - self._asked_at >= KEYFRAME_LEAD_SECONDS:
            self._asked_at = now
            self.request_keyframe()

    def _write(self, frame: Frame, now: float) -> None:
        due = self._writer is not None and (now - self.started_at) * 1000 - self._segment_start_ms >= (
            self.segment_seconds * 1000
        )
        if self._video is not None and self._writer is not None and not frame.keyframe:
            lead = (self.segment_seconds - KEYFRAME_LEAD_SECONDS) * 1000
            if (now - self.started_at) * 1000 - self._segment_start_ms >= lead:
                self._ask_keyframe(now)
            due = False  # a video segment starts on a key frame only
        if (self._writer is None or due) and not self._open(frame, now):
            return  # no key frame yet to start a video segment on
        assert self._writer is not None
        pts = frame.pts - self._segment_pts
        if isinstance(self._writer, IvfWriter):
            self._writer.write(frame.data, pts)
        else:
            # Granule positions count samples to the end of the packet: 20 ms frames.
            self._writer.write(frame.data, pts + OPUS_CLOCK // 50)
        self._last_ms = self._ms(now)

    def _open(self, frame: Frame, now: float) -> bool:
        size = None
        if self._video is not None:
            size = vp8_keyframe_size(b"\x10" + frame.data)  # a descriptor byte in front, as in RTP
            if size is None:
                return False
        self._finish_segment()
        index = len(self.recording.segments) + 1
        if size is not None:
            path = self.folder / f"{self.name}-{index:04d}.ivf"
            self._writer = IvfWriter(path, width=size[0], height=size[1])
        else:
            path = self.folder / f"{self.name}-{index:04d}.ogg"
            self._writer = OggOpusWriter(path)
        self._segment_pts = frame.pts
        self._segment_start_ms = self._ms(now)
        return True

    def _finish_segment(self) -> None:
        writer = self._writer
        if writer is None:
            return
        writer.close()
        frames = writer.frames if isinstance(writer, IvfWriter) else writer.packets
        # The segment lasts until its last frame ends (a frame: 20 ms of Opus, ~1/30 s of video).
        frame_ms = 20 if isinstance(writer, OggOpusWriter) else 33
        end_ms = max(self._last_ms, self._segment_start_ms) + frame_ms
        self.recording.segments.append(Segment(writer.path.name, self._segment_start_ms, end_ms, frames))
        self._writer = None

    @property
    def writing(self) -> bool:
        """A segment file is open (the track has started)."""
        return self._writer is not None

    def source_gone(self, producer: Any) -> None:
        """The producer went away (its participant left, or stopped sharing): the track ends."""
        self.close()

    def flush(self) -> None:
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> TrackRecording:
        if not self.closed:
            self.closed = True
            self._finish_segment()
        return self.recording

"""A room's recording: one ``TrackRecorder`` per published track (audio, the camera's high
layer, screen), taps on the producers, and the manifest (docs/recording.md) next to the files.

The manifest is rewritten (atomically) whenever a segment or a track ends and when the
recording stops, so a worker that dies leaves a manifest that lists what is on disk. Tracks
that start later (someone joins, a screen share begins) are added as they appear.
"""

from __future__ import annotations

import json
import logging
import os
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from media_workers.producer import Producer, ProducerRole
from media_workers.recording.track import DEFAULT_SEGMENT_SECONDS, TrackRecorder

logger = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
RECORDED_ROLES = {ProducerRole.AUDIO: "audio", ProducerRole.CAMERA_HIGH: "camera", ProducerRole.SCREEN: "screen"}
CONTAINERS = {"vp8": "ivf", "opus": "ogg"}


class RoomRecorder:
    def __init__(
        self,
        folder: Path,
        recording_id: int,
        *,
        started_at: datetime,
        clock_start: float | None = None,
        segment_seconds: float = DEFAULT_SEGMENT_SECONDS,
    ) -> None:
        if started_at.tzinfo is None:
            raise ValueError("started_at must be an aware datetime")
        self.folder = folder
        self.recording_id = recording_id
        self.started_at = started_at
        self.clock_start = time.monotonic() if clock_start is None else clock_start
        self.segment_seconds = segment_seconds
        self.tracks: dict[int, TrackRecorder] = {}  # producer key → its track
        self.ended_ms: int | None = None
        folder.mkdir(parents=True, exist_ok=True)
        self.write_manifest()

    @property
    def stopped(self) -> bool:
        return self.ended_ms is not None

    def add_producer(self, producer: Producer) -> None:
        """Starts recording a producer's track (once; unsupported codecs are skipped)."""
        kind = RECORDED_ROLES.get(producer.role)
        if self.stopped or kind is None or producer.key in self.tracks:
            return
        codecs = {name for name, _ in producer.codecs.values()}
        codec = next((name for name in ("vp8", "opus") if name in codecs), None)
        if codec is None:
            logger.warning("recording %s: %s of %s not recorded (codecs %s)", self.recording_id, kind,
                           producer.peer_id, sorted(codecs))  # fmt: skip
            return
        track = TrackRecorder(
            self.folder,
            f"{producer.peer_id}-{kind}-{len(self.tracks) + 1}",
            participant=producer.peer_id,
            kind=kind,
            codec=codec,
            started_at=self.clock_start,
            segment_seconds=self.segment_seconds,
            request_keyframe=lambda: self._ask_keyframe(producer),
        )
        self.tracks[producer.key] = track
        producer.add_tap(track)

    @staticmethod
    def _ask_keyframe(producer: Producer) -> None:
        producer.request_keyframe(time.monotonic())  # throttled by the producer

    def manifest(self) -> dict[str, Any]:
        tracks = []
        for track in self.tracks.values():
            recording = track.recording
            segments = [s for s in recording.segments if s.end_ms > s.start_ms]
            if not segments:
                continue
            tracks.append(
                {
                    "file": segments[0].file,
                    "participant_id": recording.participant,
                    "display_name": "",
                    "kind": recording.kind,
                    "codec": recording.codec,
                    "container": CONTAINERS[recording.codec],
                    "start_ms": segments[0].start_ms,
                    "end_ms": segments[-1].end_ms,
                    "segments": [{"file": s.file, "start_ms": s.start_ms, "end_ms": s.end_ms} for s in segments],
                }
            )
        return {
            "version": 1,
            "recording_id": self.recording_id,
            "started_at": self.started_at.isoformat(),
            "ended_ms": self.ended_ms,
            "tracks": tracks,
        }

    def write_manifest(self) -> Path:
        path = self.folder / MANIFEST_NAME
        partial = path.with_suffix(".json.partial")
        partial.write_text(json.dumps(self.manifest(), indent=2))
        os.replace(partial, path)
        return path

    def stop(self, now: float | None = None) -> Path:
        """Ends every track and writes the final manifest (idempotent)."""
        if not self.stopped:
            moment = time.monotonic() if now is None else now
            ended_ms = max(1, round((moment - self.clock_start) * 1000))
            for track in self.tracks.values():
                segments = track.close().segments
                if segments:
                    ended_ms = max(ended_ms, segments[-1].end_ms)  # its last frame's duration
            self.ended_ms = ended_ms
        return self.write_manifest()

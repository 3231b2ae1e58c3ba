"""The whole recording pipeline without the room UI: aiortc participants publish VP8 + Opus
through a real SFU router, the worker's recorder writes their tracks without decoding (one
participant joins half way), and the composition task turns the spool folder into a ready MP4
with one video and one audio stream of the recorded length, whose frames decode, and where the
latecomer's picture appears only from when they joined."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from django.core.files.storage import default_storage

from media_workers.recording.room import RoomRecorder
from meetings.recordings.models import Recording, RecordingStatus
from meetings.recordings.tasks import compose
from tests.media_workers.sfu_clients import Client, join, wait_for
from tests.media_workers.sfu_fixtures import open_room
from tests.recordings.media import decode_errors, mean_brightness, probe

pytestmark = pytest.mark.django_db


async def record_a_small_meeting(folder: Path, recording_id: int) -> float:
    """Alice from the start, Bob from 2 s on; stopped at about 5 s. Returns the length in s."""
    async with open_room() as room:
        clients: list[Client] = [room.keep(await join(room.router, "alice", video=[(320, 240)]))]
        recorder = RoomRecorder(folder, recording_id, started_at=datetime.now(UTC), segment_seconds=2)
        room.router.start_recording(recorder)
        await wait_for(lambda: any(t.writing for t in recorder.tracks.values()), 10, "alice's tracks")
        await asyncio.sleep(2)
        clients.append(room.keep(await join(room.router, "bob", video=[(320, 240)])))
        await asyncio.sleep(3)
        room.router.stop_recording()
        return float(json.loads((folder / "manifest.json").read_text())["ended_ms"]) / 1000


def test_what_the_worker_records_composes_into_a_ready_mp4(
    spool: Path, make_recording: Callable[..., Recording]
) -> None:
    recording = make_recording()
    seconds = async_to_sync(record_a_small_meeting)(spool / str(recording.pk), recording.pk)
    manifest = json.loads((spool / str(recording.pk) / "manifest.json").read_text())
    starts = {(t["participant_id"], t["kind"]): t["start_ms"] for t in manifest["tracks"]}
    assert starts[("bob", "camera")] >= 1800  # Bob appears where he joined
    assert any(len(t["segments"]) > 1 for t in manifest["tracks"])  # written in segments

    assert compose.apply(args=(recording.pk,)).get() == RecordingStatus.READY

    recording.refresh_from_db()
    video = Path(default_storage.path(recording.file_name))
    info = probe(video)
    assert sorted(stream["codec_type"] for stream in info["streams"]) == ["audio", "video"]
    assert abs(float(info["format"]["duration"]) - seconds) <= 1.0
    assert decode_errors(video) == (0, "")
    # 320x180, two cameras side by side: Alice (a moving gradient from the start) on the left,
    # Bob black until he joined, then his gradient, on the right.
    alice_tile, bob_tile = "160:180:0:0", "160:180:160:0"
    bob_from = starts[("bob", "camera")] / 1000
    assert mean_brightness(video, 0.8, alice_tile) > 60
    assert mean_brightness(video, 0.8, bob_tile) < 30
    assert mean_brightness(video, bob_from + 1.5, bob_tile) > 60

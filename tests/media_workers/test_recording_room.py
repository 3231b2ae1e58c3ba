"""Recording a room in the worker: aiortc publishers through a real Router; every published
track (audio, the camera's high layer) is written without decoding, a participant who joins half
way starts half way in the manifest, and every file decodes with FFmpeg."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_asyncio

from media_workers.errors import ALREADY_RECORDING, NOT_RECORDING, MediaError
from media_workers.recording.room import RoomRecorder
from tests.media_workers.sfu_clients import join, wait_for
from tests.media_workers.sfu_fixtures import Room, open_room

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def room() -> AsyncIterator[Room]:
    async with open_room() as room:
        yield room


def decodes_cleanly(path: Path) -> None:
    command = ["ffmpeg", "-v", "error", "-i", str(path), "-f", "null", "-"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)  # noqa: S603
    assert run.returncode == 0, run.stderr
    assert run.stderr.strip() == "", run.stderr


async def test_a_room_is_recorded_track_by_track_and_a_latecomer_starts_late(room: Room, tmp_path: Path) -> None:
    room.keep(await join(room.router, "alice", video=[(320, 240)]))
    recorder = RoomRecorder(tmp_path, 42, started_at=datetime.now(UTC), segment_seconds=60)
    room.router.start_recording(recorder)
    with pytest.raises(MediaError) as twice:
        room.router.start_recording(recorder)
    assert twice.value.code == ALREADY_RECORDING
    await asyncio.sleep(1.5)
    room.keep(await join(room.router, "bob", video=[(320, 240)]))
    await wait_for(lambda: any((t.recording.participant == "bob" and t.recording.segments) or t._writer
                               for t in recorder.tracks.values()), 10, "bob's track")  # fmt: skip
    await asyncio.sleep(1.5)
    manifest_path = room.router.stop_recording()
    with pytest.raises(MediaError) as again:
        room.router.stop_recording()
    assert again.value.code == NOT_RECORDING

    manifest = json.loads(manifest_path.read_text())
    assert (manifest["version"], manifest["recording_id"]) == (1, 42)
    assert manifest["ended_ms"] >= 2500
    tracks = {(t["participant_id"], t["kind"]): t for t in manifest["tracks"]}
    assert set(tracks) == {("alice", "audio"), ("alice", "camera"), ("bob", "audio"), ("bob", "camera")}
    assert tracks[("alice", "camera")]["start_ms"] < 500
    assert tracks[("bob", "camera")]["start_ms"] >= 1400  # joined 1.5 s in
    for track in manifest["tracks"]:
        assert track["container"] == {"vp8": "ivf", "opus": "ogg"}[track["codec"]]
        assert track["end_ms"] <= manifest["ended_ms"]
        for segment in track["segments"]:
            decodes_cleanly(tmp_path / segment["file"])


async def test_closing_the_router_ends_the_recording_with_a_manifest(room: Room, tmp_path: Path) -> None:
    room.keep(await join(room.router, "alice", video=[(320, 240)]))
    recorder = RoomRecorder(tmp_path, 7, started_at=datetime.now(UTC))
    room.router.start_recording(recorder)
    await wait_for(
        lambda: len(recorder.tracks) == 2 and all(t.writing for t in recorder.tracks.values()), 10, "both tracks"
    )
    await room.router.close()
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["ended_ms"] is not None
    assert {t["kind"] for t in manifest["tracks"]} == {"audio", "camera"}

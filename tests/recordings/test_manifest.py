"""The manifest the recorder writes: what it accepts and what it refuses."""

from __future__ import annotations

import json
from typing import Any

import pydantic
import pytest

from meetings.recordings.manifest import TrackKind, parse_manifest
from tests.recordings.media import manifest_data


def with_track(**changes: Any) -> dict[str, Any]:
    data = manifest_data(7)
    data["tracks"][0].update(changes)
    return data


def test_it_reads_the_documented_example() -> None:
    manifest = parse_manifest(json.dumps(manifest_data(7)))

    assert manifest.recording_id == 7
    assert manifest.duration_ms == 7000
    assert [t.participant_id for t in manifest.tracks_of(TrackKind.CAMERA)] == ["ana", "ben"]
    assert manifest.files() == ["ana-camera.webm", "ben-camera.webm", "ana-mic.webm", "ben-mic.webm"]


def test_a_later_stop_than_the_last_track_sets_the_duration() -> None:
    data = manifest_data(7)
    data["ended_ms"] = 9000
    assert parse_manifest(json.dumps(data)).duration_ms == 9000


def test_segments_are_the_track_s_files_in_time_order() -> None:
    data = with_track(
        segments=[
            {"file": "ana-camera-1.webm", "start_ms": 5000, "end_ms": 7000},
            {"file": "ana-camera-0.webm", "start_ms": 0, "end_ms": 5000},
        ]
    )
    track = parse_manifest(json.dumps(data)).tracks[0]
    assert [(p.file, p.start_ms) for p in track.pieces()] == [("ana-camera-0.webm", 0), ("ana-camera-1.webm", 5000)]


@pytest.mark.parametrize(
    "changes",
    [
        {"file": "../../etc/passwd"},
        {"file": "/abs/path.webm"},
        {"file": ".compose/x.webm"},
        {"kind": "camera", "codec": "opus"},
        {"kind": "hologram"},
        {"start_ms": 5000, "end_ms": 4000},
        {"start_ms": -1},
        {"container": "avi"},
        {"segments": [{"file": "a.webm", "start_ms": 0, "end_ms": 9000}]},
        {"unexpected": True},
    ],
)
def test_it_refuses_malformed_tracks(changes: dict[str, Any]) -> None:
    with pytest.raises(pydantic.ValidationError):
        parse_manifest(json.dumps(with_track(**changes)))


def test_it_refuses_naive_start_times_and_unknown_versions() -> None:
    naive = manifest_data(7) | {"started_at": "2026-11-27T09:00:00"}
    future = manifest_data(7) | {"version": 2}
    for data in (naive, future):
        with pytest.raises(pydantic.ValidationError):
            parse_manifest(json.dumps(data))

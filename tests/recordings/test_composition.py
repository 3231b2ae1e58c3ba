"""Composition with real FFmpeg: track files + manifest in the spool → a ready MP4 in storage."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from django.core.files.storage import default_storage

from meetings.recordings import composition
from meetings.recordings.models import Recording, RecordingStatus
from meetings.recordings.storage import spool_folder
from meetings.recordings.tasks import compose
from tests.recordings.media import (
    decode_errors,
    generate_segmented_tracks,
    mean_brightness,
    probe,
    segmented_manifest_data,
)

pytestmark = pytest.mark.django_db

Spooled = Callable[[], Recording]


def stored_path(name: str) -> Path:
    return Path(default_storage.path(name))


def test_it_composes_one_video_and_one_audio_stream_of_the_manifest_duration(spooled: Spooled) -> None:
    recording = spooled()

    assert compose.apply(args=(recording.pk,)).get() == RecordingStatus.READY

    recording.refresh_from_db()
    assert recording.status == RecordingStatus.READY
    assert recording.progress == 100
    assert recording.attempts == 1
    video = stored_path(recording.file_name)
    info = probe(video)
    kinds = [stream["codec_type"] for stream in info["streams"]]
    assert sorted(kinds) == ["audio", "video"]
    assert {stream["codec_name"] for stream in info["streams"]} == {"h264", "aac"}
    assert abs(float(info["format"]["duration"]) - 7.0) <= 1.0
    assert decode_errors(video) == (0, "")
    assert recording.size_bytes == video.stat().st_size
    assert len(recording.sha256) == 64
    assert abs(recording.duration_ms - 7000) <= 1000  # type: ignore[operator]
    assert stored_path(recording.thumbnail_name).read_bytes()[:2] == b"\xff\xd8"  # a JPEG


def test_it_moves_the_moov_atom_to_the_front_for_fast_start(spooled: Spooled) -> None:
    recording = spooled()
    compose.apply(args=(recording.pk,)).get()
    recording.refresh_from_db()

    head = stored_path(recording.file_name).read_bytes()[:4096]
    assert head.find(b"moov") != -1
    assert head.find(b"mdat") == -1 or head.find(b"moov") < head.find(b"mdat")


def test_the_late_joiner_appears_only_after_their_offset(spooled: Spooled) -> None:
    recording = spooled()
    compose.apply(args=(recording.pk,)).get()
    recording.refresh_from_db()
    video = stored_path(recording.file_name)

    # 320x180, two cameras: Ana's tile is the left half, Ben's (white, from 3 s) the right half.
    ben_tile = "160:180:160:0"
    ana_tile = "160:180:0:0"
    assert mean_brightness(video, 1.0, ben_tile) < 20
    assert mean_brightness(video, 2.5, ben_tile) < 20
    assert mean_brightness(video, 4.0, ben_tile) > 90
    assert mean_brightness(video, 6.0, ben_tile) > 90
    assert mean_brightness(video, 1.0, ana_tile) > 30


def test_progress_is_reported_as_increasing_percentages(spooled: Spooled, monkeypatch: pytest.MonkeyPatch) -> None:
    recording = spooled()
    seen: list[int] = []
    report = composition.report_progress

    def report_and_read_back(recording_id: int, percent: int) -> None:
        report(recording_id, percent)  # the real thing; the test only reads what it saved
        seen.append(Recording.objects.get(pk=recording_id).progress)

    monkeypatch.setattr(composition, "report_progress", report_and_read_back)
    composition.compose_recording(recording.pk, stats_period=0.05)

    assert len(seen) >= 3
    assert seen == sorted(seen)
    assert len(set(seen)) == len(seen)
    assert 0 <= seen[0] < seen[-1] <= 99


def test_a_missing_track_file_fails_with_the_reason_and_other_recordings_are_unaffected(spooled: Spooled) -> None:
    broken, healthy = spooled(), spooled()
    (spool_folder(broken.pk) / "ben-camera.webm").unlink()

    assert compose.apply(args=(broken.pk,)).get() == RecordingStatus.FAILED
    assert compose.apply(args=(healthy.pk,)).get() == RecordingStatus.READY

    broken.refresh_from_db()
    healthy.refresh_from_db()
    assert broken.status == RecordingStatus.FAILED
    assert broken.failure_reason == "track file ben-camera.webm is missing"
    assert broken.file_name == ""
    assert broken.attempts == 1  # not retried: the file will not come back
    assert healthy.status == RecordingStatus.READY
    assert decode_errors(stored_path(healthy.file_name)) == (0, "")


def test_a_corrupted_track_file_fails_with_the_reason(spooled: Spooled) -> None:
    recording = spooled()
    (spool_folder(recording.pk) / "ana-mic.webm").write_bytes(b"\x1a\x45\xdf\xa3 not really matroska" * 10)

    compose.apply(args=(recording.pk,)).get()

    recording.refresh_from_db()
    assert recording.status == RecordingStatus.FAILED
    assert recording.failure_reason.startswith("track file ana-mic.webm is corrupted")


def test_a_missing_or_foreign_manifest_fails_with_the_reason(spooled: Spooled) -> None:
    missing, foreign = spooled(), spooled()
    (spool_folder(missing.pk) / "manifest.json").unlink()
    manifest = json.loads((spool_folder(foreign.pk) / "manifest.json").read_text())
    manifest["recording_id"] = missing.pk
    (spool_folder(foreign.pk) / "manifest.json").write_text(json.dumps(manifest))

    compose.apply(args=(missing.pk,)).get()
    compose.apply(args=(foreign.pk,)).get()

    missing.refresh_from_db()
    foreign.refresh_from_db()
    assert missing.failure_reason == "the manifest manifest.json is missing"
    assert foreign.failure_reason == f"the manifest belongs to recording {missing.pk}"


def test_composing_a_ready_recording_again_changes_nothing(spooled: Spooled) -> None:
    recording = spooled()
    compose.apply(args=(recording.pk,)).get()

    assert compose.apply(args=(recording.pk,)).get() == "skipped"
    recording.refresh_from_db()
    assert recording.attempts == 1


def test_it_composes_the_sfu_workers_segmented_ivf_and_ogg_files(
    spool: Path, make_recording: Callable[..., Recording]
) -> None:
    recording = make_recording()
    folder = generate_segmented_tracks(spool / str(recording.pk))
    (folder / "manifest.json").write_text(json.dumps(segmented_manifest_data(recording.pk)))

    assert compose.apply(args=(recording.pk,)).get() == RecordingStatus.READY

    recording.refresh_from_db()
    video = stored_path(recording.file_name)
    assert abs(float(probe(video)["format"]["duration"]) - 7.0) <= 1.0
    assert decode_errors(video) == (0, "")
    assert mean_brightness(video, 2.0, "320:180:0:0") > 30  # first segment
    assert mean_brightness(video, 5.5, "320:180:0:0") > 30  # second segment


def test_a_recording_without_tracks_fails_with_the_reason(
    spool: Path, make_recording: Callable[..., Recording]
) -> None:
    recording = make_recording()
    folder = spool / str(recording.pk)
    folder.mkdir(parents=True)
    empty = segmented_manifest_data(recording.pk) | {"tracks": []}
    (folder / "manifest.json").write_text(json.dumps(empty))

    compose.apply(args=(recording.pk,)).get()

    recording.refresh_from_db()
    assert recording.status == RecordingStatus.FAILED
    assert recording.failure_reason.startswith("the recording has no tracks")


def test_a_recording_deleted_while_it_is_composed_leaves_no_files(
    spooled: Spooled, monkeypatch: pytest.MonkeyPatch
) -> None:
    recording = spooled()
    report = composition.report_progress

    def delete_at_first_report(recording_id: int, percent: int) -> None:
        report(recording_id, percent)
        Recording.objects.filter(pk=recording_id).delete()  # the host deletes it meanwhile

    monkeypatch.setattr(composition, "report_progress", delete_at_first_report)
    composition.compose_recording(recording.pk)

    assert not default_storage.exists(f"recordings/{recording.pk}/recording.mp4")
    assert not default_storage.exists(f"recordings/{recording.pk}/thumbnail.jpg")

"""Composing one recording: manifest → checks → FFmpeg → ffprobe check → storage → ready.

Each run starts over from the track files (idempotent): a run after a crash or a retry redoes the
work in a clean folder. Problems with the input (no manifest, a missing or corrupted track file)
end the recording in ``failed`` with a reason; FFmpeg failures raise ``FfmpegError`` so that the
task retries them.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pydantic
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from meetings.recordings import storage
from meetings.recordings.compose import OutputOptions, composition_args, thumbnail_args
from meetings.recordings.ffmpeg import FfmpegError, probe, run_ffmpeg
from meetings.recordings.manifest import MANIFEST_NAME, Manifest, TrackKind, parse_manifest
from meetings.recordings.models import Recording, RecordingStatus
from meetings.recordings.signals import recording_ready
from meetings.signals import send_signal_on_commit

logger = logging.getLogger(__name__)

DURATION_TOLERANCE_MS = 1000
WORK_FOLDER = ".compose"  # inside the spool folder; manifests cannot name files starting with "."


class InputProblem(Exception):
    """The recording's input cannot be composed; retrying will not help."""


def output_options() -> OutputOptions:
    width, height = (int(part) for part in settings.RECORDINGS_VIDEO_SIZE.split("x"))
    return OutputOptions(
        width=width, height=height, fps=settings.RECORDINGS_FPS, preset=settings.RECORDINGS_X264_PRESET
    )


def begin(recording_id: int) -> bool:
    """Marks the recording as processing for a new run; False when there is nothing to do."""
    with transaction.atomic():
        recording = Recording.objects.select_for_update().filter(pk=recording_id).first()
        if recording is None or recording.status in {RecordingStatus.READY, RecordingStatus.FAILED}:
            return False
        recording.status = RecordingStatus.PROCESSING
        recording.progress = 0
        recording.attempts += 1
        recording.heartbeat_at = timezone.now()
        recording.failure_reason = ""
        recording.save(update_fields=["status", "progress", "attempts", "heartbeat_at", "failure_reason", "updated_at"])
    return True


def report_progress(recording_id: int, percent: int) -> None:
    Recording.objects.filter(pk=recording_id, status=RecordingStatus.PROCESSING).update(
        progress=percent, heartbeat_at=timezone.now(), updated_at=timezone.now()
    )


def mark_failed(recording_id: int, reason: str) -> None:
    logger.warning("recording %s failed: %s", recording_id, reason)
    Recording.objects.filter(pk=recording_id).exclude(status=RecordingStatus.READY).update(
        status=RecordingStatus.FAILED,
        failure_reason=reason[:2000],
        heartbeat_at=timezone.now(),
        updated_at=timezone.now(),
    )


def load_manifest(recording_id: int) -> Manifest:
    path = storage.spool_folder(recording_id) / MANIFEST_NAME
    try:
        manifest = parse_manifest(path.read_bytes())
    except FileNotFoundError as exc:
        raise InputProblem(f"the manifest {MANIFEST_NAME} is missing") from exc
    except pydantic.ValidationError as exc:
        raise InputProblem(f"the manifest is invalid: {exc.errors()[0]['msg']} at {exc.errors()[0]['loc']}") from exc
    if manifest.recording_id != recording_id:
        raise InputProblem(f"the manifest belongs to recording {manifest.recording_id}")
    if not manifest.tracks:
        raise InputProblem("the recording has no tracks (nobody sent audio or video while it ran)")
    return manifest


def check_tracks(manifest: Manifest, folder: Path) -> None:
    """Every file the manifest names exists and holds a stream of its track's kind."""
    for track in manifest.tracks:
        for piece in track.pieces():
            path = folder / piece.file
            if not path.is_file():
                raise InputProblem(f"track file {piece.file} is missing")
            try:
                found = probe(settings.RECORDINGS_FFPROBE, path)
            except FfmpegError as exc:
                raise InputProblem(f"track file {piece.file} is corrupted ({exc.detail or exc})") from exc
            streams = found.audio_streams if track.kind == TrackKind.AUDIO else found.video_streams
            if streams < 1:
                raise InputProblem(f"track file {piece.file} has no {track.kind} stream")


def check_output(path: Path, manifest: Manifest) -> int:
    """The composed file has one video and one audio stream and the manifest's duration."""
    found = probe(settings.RECORDINGS_FFPROBE, path)
    if found.video_streams != 1 or found.audio_streams != 1:
        raise FfmpegError(f"composed file has {found.video_streams} video / {found.audio_streams} audio streams")
    if abs(found.duration_ms - manifest.duration_ms) > DURATION_TOLERANCE_MS:
        raise FfmpegError(f"composed file lasts {found.duration_ms} ms, expected {manifest.duration_ms} ms")
    return found.duration_ms


def compose_recording(recording_id: int, options: OutputOptions | None = None, stats_period: float = 0.25) -> str:
    """One run; returns the final status (or ``skipped``). Raises ``FfmpegError`` to be retried."""
    if not begin(recording_id):
        return "skipped"
    folder = storage.spool_folder(recording_id)
    work = folder / WORK_FOLDER
    try:
        manifest = load_manifest(recording_id)
        check_tracks(manifest, folder)
    except InputProblem as exc:
        mark_failed(recording_id, str(exc))
        return RecordingStatus.FAILED
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        video, thumbnail = work / "recording.mp4", work / "thumbnail.jpg"
        args = composition_args(manifest, folder, video, options or output_options(), stats_period=stats_period)
        run_ffmpeg(
            settings.RECORDINGS_FFMPEG,
            args,
            duration_ms=manifest.duration_ms,
            on_progress=lambda percent: report_progress(recording_id, percent),
        )
        duration_ms = check_output(video, manifest)
        run_ffmpeg(settings.RECORDINGS_FFMPEG, thumbnail_args(video, thumbnail, duration_ms), duration_ms=duration_ms)
        finish(recording_id, video, thumbnail, duration_ms)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return RecordingStatus.READY


def finish(recording_id: int, video: Path, thumbnail: Path, duration_ms: int) -> None:
    checksum, size = storage.sha256_of(video), video.stat().st_size
    video_name = storage.store(video, storage.video_name(recording_id))
    thumbnail_name = storage.store(thumbnail, storage.thumbnail_name(recording_id)) if thumbnail.exists() else ""
    updated = Recording.objects.filter(pk=recording_id, status=RecordingStatus.PROCESSING).update(
        status=RecordingStatus.READY,
        progress=100,
        duration_ms=duration_ms,
        size_bytes=size,
        sha256=checksum,
        file_name=video_name,
        thumbnail_name=thumbnail_name,
        failure_reason="",
        heartbeat_at=timezone.now(),
        updated_at=timezone.now(),
    )
    if not updated:  # deleted (or failed by the sweep) while composing: leave no orphan files
        logger.info("recording %s is gone or no longer processing; dropping its composed files", recording_id)
        storage.delete_stored([video_name, thumbnail_name])
        return
    send_signal_on_commit(recording_ready, Recording, recording_id=recording_id)

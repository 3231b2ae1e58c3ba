"""Faults during composition: FFmpeg killed half way, a worker that died (stale heartbeat)."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone
from pytest_django import DjangoCaptureOnCommitCallbacks
from pytest_django.fixtures import Settings as SettingsWrapper

from meetings.recordings.actions import do_sweep_stuck
from meetings.recordings.composition import WORK_FOLDER
from meetings.recordings.models import Recording, RecordingStatus
from meetings.recordings.storage import spool_folder
from meetings.recordings.tasks import compose, sweep_stuck
from tests.recordings.media import decode_errors

pytestmark = pytest.mark.django_db

Spooled = Callable[[], Recording]


def ffmpeg_children() -> list[int]:
    """Process ids of FFmpeg processes started by this test process."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == os.getpid() and cmdline and cmdline[0].endswith(b"ffmpeg"):
            found.append(int(entry.name))
    return found


class Killer(threading.Thread):
    """Kills the first composition's FFmpeg once it has written part of its output."""

    def __init__(self, partial_output: Path) -> None:
        super().__init__(daemon=True)
        self.partial_output = partial_output
        self.killed: int | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            if self.partial_output.exists() and self.partial_output.stat().st_size > 10_000:
                for pid in ffmpeg_children():
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        continue  # it ended on its own just now
                    self.killed = pid
                return
            time.sleep(0.002)


def test_a_composition_whose_ffmpeg_is_killed_half_way_is_retried_and_ends_ready(spooled: Spooled) -> None:
    recording = spooled()
    killer = Killer(spool_folder(recording.pk) / WORK_FOLDER / "recording.mp4")
    killer.start()
    try:
        result = compose.apply(args=(recording.pk,)).get()  # eager: the retry runs right away
    finally:
        killer.stop.set()
        killer.join()

    assert killer.killed is not None
    assert result == RecordingStatus.READY
    recording.refresh_from_db()
    assert recording.status == RecordingStatus.READY
    assert recording.attempts == 2
    assert recording.progress == 100
    assert decode_errors(Path(default_storage.path(recording.file_name))) == (0, "")
    assert not (spool_folder(recording.pk) / WORK_FOLDER).exists()


def test_the_sweep_requeues_a_recording_left_processing_by_a_dead_worker_and_it_ends_ready(
    spooled: Spooled, eager_celery: None, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    recording = spooled()
    # A worker started composing (half way), then died: the row stays processing, silent.
    Recording.objects.filter(pk=recording.pk).update(
        status=RecordingStatus.PROCESSING, attempts=1, progress=48, heartbeat_at=timezone.now() - timedelta(hours=1)
    )
    (spool_folder(recording.pk) / WORK_FOLDER).mkdir()
    (spool_folder(recording.pk) / WORK_FOLDER / "recording.mp4").write_bytes(b"half a file")
    fresh = spooled()
    Recording.objects.filter(pk=fresh.pk).update(status=RecordingStatus.PROCESSING, heartbeat_at=timezone.now())

    with django_capture_on_commit_callbacks(execute=True):
        outcome = sweep_stuck()

    assert outcome == {"queued": [recording.pk], "failed": []}
    recording.refresh_from_db()
    assert recording.status == RecordingStatus.READY
    assert recording.attempts == 2
    assert decode_errors(Path(default_storage.path(recording.file_name))) == (0, "")
    assert Recording.objects.get(pk=fresh.pk).status == RecordingStatus.PROCESSING  # alive: left alone


def test_the_sweep_fails_a_stuck_recording_that_used_all_its_attempts(
    make_recording: Callable[..., Recording], settings: SettingsWrapper
) -> None:
    settings.RECORDINGS_MAX_ATTEMPTS = 3
    stuck = make_recording(
        status=RecordingStatus.PROCESSING, attempts=3, heartbeat_at=timezone.now() - timedelta(minutes=30)
    )

    assert sweep_stuck() == {"queued": [], "failed": [stuck.pk]}
    stuck.refresh_from_db()
    assert stuck.status == RecordingStatus.FAILED
    assert "after 3 attempts" in stuck.failure_reason


def test_the_sweep_queues_an_ended_recording_whose_task_never_arrived(
    make_recording: Callable[..., Recording],
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    lost = make_recording(ended_at=timezone.now() - timedelta(hours=1))
    still_recording = make_recording(ended_at=None)
    queued: list[int] = []
    with django_capture_on_commit_callbacks(execute=True):
        do_sweep_stuck(queued.append)

    assert queued == [lost.pk]
    assert Recording.objects.get(pk=still_recording.pk).status == RecordingStatus.PENDING

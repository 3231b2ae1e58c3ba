"""A real Celery worker (``celery -A conference worker``) is killed with SIGKILL half way through
a composition: its FFmpeg dies with it, the row is left in ``processing``, the beat sweep finds
it once its heartbeat is stale and queues it again, and a new worker finishes it: ``ready``."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from meetings.recordings.actions import do_sweep_stuck
from meetings.recordings.models import Recording, RecordingStatus
from meetings.recordings.tasks import queue_composition
from tests.celery_workers import celery_worker_process, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

# Its own queue: no other test's tasks, no other worker takes ours.
QUEUE = "recordings-crash-test"


@pytest.fixture
def worker_settings(spool: Path) -> dict[str, str]:
    return {
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "RECORDINGS_SPOOL_DIR": str(settings.RECORDINGS_SPOOL_DIR),
        "DATA_DIR": str(Path(settings.MEDIA_ROOT).parent),
        # Big enough to be caught half way on this machine, small enough to finish soon.
        "RECORDINGS_VIDEO_SIZE": "1280x720",
        "RECORDINGS_FPS": "30",
        "RECORDINGS_X264_PRESET": "medium",
    }


def status_of(recording: Recording) -> tuple[str, int]:
    recording.refresh_from_db()
    return recording.status, recording.progress


def log_tail(folder: Path) -> str:
    return "\n".join(path.read_text(errors="replace")[-2000:] for path in sorted(folder.glob("worker-*.log")))


def test_a_composition_whose_worker_was_killed_is_finished_by_another(
    spooled: Callable[[], Recording], worker_settings: dict[str, str], tmp_path: Path
) -> None:
    recording = spooled()
    with celery_worker_process(tmp_path / "worker-1.log", queue=QUEUE, **worker_settings) as first:
        queue_composition(recording.pk)
        wait_until(lambda: status_of(recording)[0] == RecordingStatus.PROCESSING and recording.progress > 0, 60,
                   "the first worker to be half way", first)  # fmt: skip
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    time.sleep(1)
    status, progress = status_of(recording)
    assert (status, progress < 100) == (RecordingStatus.PROCESSING, True), log_tail(tmp_path)

    with celery_worker_process(tmp_path / "worker-2.log", queue=QUEUE, **worker_settings) as second:
        # The beat sweep, once the heartbeat is older than RECORDINGS_STUCK_MINUTES.
        later = timezone.now() + timedelta(minutes=60)
        queued, failed = do_sweep_stuck(queue_composition, now=later)
        assert (queued, failed) == ([recording.pk], [])
        wait_until(lambda: status_of(recording)[0] in (RecordingStatus.READY, RecordingStatus.FAILED), 120,
                   "the second worker to finish", second)  # fmt: skip
    recording.refresh_from_db()
    assert recording.status == RecordingStatus.READY, f"{recording.failure_reason}\n{log_tail(tmp_path)}"
    assert recording.attempts == 2

"""A real Celery worker (``celery -A conference worker``) is killed with SIGKILL half way through
a composition: its FFmpeg dies with it, the row is left in ``processing``, the beat sweep finds
it once its heartbeat is stale and queues it again, and a new worker finishes it: ``ready``."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from conference import celery_app
from conference.recordings.actions import do_sweep_stuck
from conference.recordings.models import Recording, RecordingStatus
from conference.recordings.tasks import queue_composition
from tests.subprocesses import server_database_url, server_environment

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
# Its own broker database and queue: no other test's tasks, no other worker takes ours.
QUEUE = "recordings-crash-test"


class Workers:
    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        log = (self.logs / f"worker-{len(self.started) + 1}.log").open("wb")
        command = [sys.executable, "-m", "celery", "-A", "conference", "worker", "--pool=solo", "-Q", QUEUE,
                   "--loglevel=INFO", "--without-heartbeat", "--without-mingle", "--without-gossip"]  # fmt: skip
        process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
        self.started.append(process)
        return process

    def stop_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)

    def log_tail(self) -> str:
        return "\n".join(path.read_text(errors="replace")[-2000:] for path in sorted(self.logs.glob("worker-*.log")))


@pytest.fixture
def workers(spool: Path, tmp_path: Path) -> Iterator[Workers]:
    env = {
        **server_environment(),
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": server_database_url(),
        "RECORDINGS_SPOOL_DIR": str(settings.RECORDINGS_SPOOL_DIR),
        "DATA_DIR": str(Path(settings.MEDIA_ROOT).parent),
        # Big enough to be caught half way on this machine, small enough to finish soon.
        "RECORDINGS_VIDEO_SIZE": "1280x720",
        "RECORDINGS_FPS": "30",
        "RECORDINGS_X264_PRESET": "medium",
        "CELERY_TASK_DEFAULT_QUEUE": QUEUE,
    }
    logs = tmp_path / "celery-logs"
    logs.mkdir()
    running = Workers(env, logs)
    saved = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = QUEUE  # what this process queues goes to those workers
    try:
        yield running
    finally:
        celery_app.conf.task_default_queue = saved
        running.stop_all()
        print(f"--- Celery worker logs ---\n{running.log_tail()}")


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def status_of(recording: Recording) -> tuple[str, int]:
    recording.refresh_from_db()
    return recording.status, recording.progress


def test_a_composition_whose_worker_was_killed_is_finished_by_another(
    spooled: Callable[[], Recording], workers: Workers
) -> None:
    recording = spooled()
    queue_composition(recording.pk)
    first = workers.start()
    wait_until(lambda: status_of(recording)[0] == RecordingStatus.PROCESSING and recording.progress > 0, 60,
               "the first worker to be half way")  # fmt: skip
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    time.sleep(1)
    status, progress = status_of(recording)
    assert (status, progress < 100) == (RecordingStatus.PROCESSING, True), workers.log_tail()

    # The beat sweep, once the heartbeat is older than RECORDINGS_STUCK_MINUTES.
    later = timezone.now() + timedelta(minutes=60)
    queued, failed = do_sweep_stuck(queue_composition, now=later)
    assert (queued, failed) == ([recording.pk], [])

    workers.start()
    wait_until(lambda: status_of(recording)[0] in (RecordingStatus.READY, RecordingStatus.FAILED), 120,
               "the second worker to finish")  # fmt: skip
    recording.refresh_from_db()
    assert recording.status == RecordingStatus.READY, f"{recording.failure_reason}\n{workers.log_tail()}"
    assert recording.attempts == 2

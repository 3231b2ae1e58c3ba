"""A real Celery worker process (``celery -A conference worker``) for tests that follow a task
from the web side to the worker: email, webhooks. The worker uses the test database (the test
must commit: ``transactional_db``) and this run's Redis; it is stopped when the block ends.

With ``queue``, the worker consumes only that queue and this process sends its tasks there, so
no other test's leftover messages reach it and no other worker takes its tasks.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from conference import celery_app
from tests.subprocesses import server_database_url, server_environment

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def celery_worker_process(
    log_path: Path, queue: str | None = None, **settings: str
) -> Iterator[subprocess.Popen[bytes]]:
    """Starts the worker with the test database and ``settings`` (environment variables)."""
    env = server_environment(DATABASE_URL=server_database_url(), **settings)
    command = [sys.executable, "-m", "celery", "-A", "conference", "worker", "--pool=solo", "--concurrency=1",
               "--without-gossip", "--without-mingle", "--loglevel=warning"]  # fmt: skip
    if queue is not None:
        command += ["-Q", queue]
    saved_queue = celery_app.conf.task_default_queue
    if queue is not None:
        celery_app.conf.task_default_queue = queue
    log = log_path.open("wb")
    worker = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
    try:
        yield worker
    finally:
        celery_app.conf.task_default_queue = saved_queue
        worker.terminate()
        worker.wait(timeout=30)
        log.close()


def wait_until(condition: Callable[[], bool], timeout: float, what: str, worker: subprocess.Popen[bytes]) -> None:
    """Polls ``condition`` until it holds; fails after ``timeout`` seconds or when the worker exits."""
    deadline = time.monotonic() + timeout
    while not condition():
        if worker.poll() is not None:
            raise AssertionError(f"the Celery worker exited ({worker.returncode}) while waiting for {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)

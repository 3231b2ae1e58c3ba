"""Real SFU worker processes for tests: ``python -m media_workers`` on the test Redis and the
test run's channel-layer prefix, so the web side (consumers, ``rooms.sfu_client``) reaches them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis
from django.conf import settings

from media_workers.keys import Keys, text
from tests.subprocesses import server_environment

ROOT = Path(__file__).resolve().parents[1]
WORKER_START_TIMEOUT = 60.0


@dataclass
class SfuWorker:
    worker_id: str
    process: subprocess.Popen[bytes]
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_text()[-chars:]

    def kill(self) -> None:
        """kill -9: no drain, no goodbye; its heartbeat just stops."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


@dataclass
class SfuWorkers:
    """Real SFU worker processes (``python -m media_workers``) on the test Redis and the test
    run's channel-layer prefix, with Redis keys of their own (``key_prefix``)."""

    folder: Path
    key_prefix: str
    started: list[SfuWorker] = field(default_factory=list)

    def start(self) -> SfuWorker:
        worker_id = f"{self.key_prefix}-{len(self.started) + 1}"
        env = {
            **server_environment(),
            "SFU_WORKER_ID": worker_id,
            "SFU_KEY_PREFIX": self.key_prefix,
            "SFU_CHANNEL_PREFIX": str(settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"]),  # type: ignore[index]
            "SFU_ANNOUNCED_ADDRESS": "127.0.0.1",
            "SFU_ICE_ADDRESSES": "127.0.0.1",
            "SFU_METRICS_PORT": "0",
            "SFU_DRAIN_TIMEOUT_SECONDS": "2",
            "LOG_LEVEL": "INFO",
        }
        log = self.folder / f"{worker_id}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "media_workers"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
            )
        worker = SfuWorker(worker_id=worker_id, process=process, log=log)
        self.started.append(worker)
        deadline = time.monotonic() + WORKER_START_TIMEOUT
        while f"worker {worker_id} ready" not in worker.log_text():
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the SFU worker did not start:\n{worker.log_tail()}")
            time.sleep(0.2)
        return worker

    def serving(self, room_id: str) -> SfuWorker:
        """The worker the room is assigned to (read from the workers' own Redis keys)."""
        client = redis.Redis.from_url(os.environ["REDIS_URL"])
        try:
            worker_id = client.get(Keys(self.key_prefix).room(room_id))
        finally:
            client.close()
        assert worker_id is not None, f"room {room_id} is not assigned"
        return next(worker for worker in self.started if worker.worker_id == text(worker_id))

    def stop_all(self) -> None:
        for worker in self.started:
            worker.stop()

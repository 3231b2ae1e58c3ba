"""Real worker processes for the integration tests: ``python -m media_workers`` subprocesses on
the test Redis, each test with its own key and channel prefixes, loopback only.

The web side of these tests is the web's own client (``rooms.sfu_client.SfuClient``) on a channel
layer with the test's prefix, so the worker is driven exactly as the web tier drives it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from channels_redis.core import RedisChannelLayer  # type: ignore[import-untyped]
from redis.asyncio import Redis

from media_workers.keys import Keys
from rooms.sfu_client import SfuClient
from tests.media_workers.control_helpers import redis_url, unique, wait_for
from tests.subprocesses import free_port

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class WorkerProcess:
    worker_id: str
    process: asyncio.subprocess.Process
    metrics_port: int
    log: Path

    @property
    def channel(self) -> str:
        return f"sfu.worker.{self.worker_id}"

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@dataclass
class Cluster:
    redis: Redis
    keys: Keys
    channel_prefix: str
    layer: RedisChannelLayer
    client: SfuClient
    log_dir: Path
    workers: list[WorkerProcess] = field(default_factory=list)

    async def start(self, worker_id: str, **env: str) -> WorkerProcess:
        """Starts a worker and waits for its registration."""
        port = free_port()
        log = self.log_dir / f"{worker_id}.log"
        environment = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "REDIS_URL": redis_url(),
            "SFU_WORKER_ID": worker_id,
            "SFU_KEY_PREFIX": self.keys.prefix,
            "SFU_CHANNEL_PREFIX": self.channel_prefix,
            "SFU_METRICS_HOST": "127.0.0.1",
            "SFU_METRICS_PORT": str(port),
            "SFU_ANNOUNCED_ADDRESS": "127.0.0.1",
            "SFU_ICE_ADDRESSES": "127.0.0.1",
            **env,
        }
        with log.open("wb") as sink:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "media_workers",
                cwd=ROOT,
                env=environment,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=sink,
                stderr=asyncio.subprocess.STDOUT,
            )
        worker = WorkerProcess(worker_id, process, port, log)
        self.workers.append(worker)

        async def registered() -> bool:
            if process.returncode is not None:
                raise AssertionError(f"worker {worker_id} exited early:\n{worker.output()}")
            return bool(await self.redis.hexists(self.keys.worker(worker_id), "channel"))

        await wait_for(registered, f"worker {worker_id} to register", timeout=30)
        return worker

    async def stop_all(self) -> None:
        for worker in self.workers:
            if worker.process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    worker.process.send_signal(signal.SIGKILL)
                await worker.process.wait()


@asynccontextmanager
async def cluster(log_dir: Path) -> AsyncIterator[Cluster]:
    redis = Redis.from_url(redis_url())
    channel_prefix = unique("sfutest-channels") + ":"
    layer = RedisChannelLayer(
        hosts=[{"address": redis_url(), "socket_timeout": None}], prefix=channel_prefix, capacity=1000
    )
    found = Cluster(redis, Keys(unique("sfutest")), channel_prefix, layer, SfuClient(layer), log_dir)
    try:
        yield found
    finally:
        await found.stop_all()
        await found.client.close()
        await layer.flush()
        async for key in redis.scan_iter(match=f"{found.keys.prefix}:*"):
            await redis.delete(key)
        await redis.aclose()


async def scrape(port: int) -> str:
    """GET /metrics on the worker's metrics port (loopback)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        await writer.drain()
        response = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
        await writer.wait_closed()
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    assert b"text/plain" in head
    return body.decode()

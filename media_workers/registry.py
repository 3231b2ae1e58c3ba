"""The worker's registration in Redis: id, channel, ICE address, capacity and load, refreshed by
a heartbeat with a short expiry. A worker whose registration expired is dead."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from media_workers.assignment import load_script
from media_workers.config import WorkerConfig
from media_workers.keys import Keys, text
from media_workers.loops import cancel_and_wait

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Load:
    peers: int
    rooms: list[str]
    draining: bool


class Registry:
    def __init__(self, redis: Redis, keys: Keys, config: WorkerConfig) -> None:
        self.redis = redis
        self.keys = keys
        self.config = config
        self.started_at = time.time()
        self._heartbeat = load_script(redis, "heartbeat")

    def _fields(self, load: Load) -> dict[str, str]:
        config = self.config
        return {
            "id": config.worker_id,
            "channel": config.channel,
            "address": config.announced_address,
            "capacity": str(config.capacity),
            "load": str(load.peers),
            "rooms": str(len(load.rooms)),
            "draining": "1" if load.draining else "0",
            "pid": str(os.getpid()),
            "metrics_port": str(config.metrics_port),
            "started_at": f"{self.started_at:.3f}",
        }

    async def beat(self, load: Load) -> list[str]:
        """Registers or refreshes this worker; returns hosted rooms that moved elsewhere."""
        args: list[str | int] = [
            self.keys.prefix,
            self.config.worker_id,
            round(self.config.heartbeat_ttl * 1000),
            round(self.config.assign_grace * 1000),
            json.dumps(self._fields(load)),
            *load.rooms,
        ]
        lost = await self._heartbeat(keys=[], args=args)
        return [text(room) for room in lost]

    async def unregister(self) -> None:
        """Leaves the registry at once (after a drain, when no room is left here)."""
        worker_id = self.config.worker_id
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(self.keys.worker(worker_id), self.keys.worker_rooms(worker_id))
            pipe.srem(self.keys.workers, worker_id)
            await pipe.execute()

    async def info(self, worker_id: str) -> dict[str, str]:
        """A worker's registration fields ({} when it is not registered or dead)."""
        raw = await self.redis.hgetall(self.keys.worker(worker_id))
        return {text(name): text(value) for name, value in raw.items()}


class Heartbeat:
    """Beats every ``interval`` seconds: started → loop → clean exit on cancel; ``stop()``
    cancels and awaits the exit. A failed beat is logged and retried at the next tick."""

    def __init__(self, interval: float, beat: Callable[[], Awaitable[None]]) -> None:
        self.interval = interval
        self.beat = beat
        self.started = asyncio.Event()
        self.exited = asyncio.Event()
        self.beats = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="heartbeat")

    async def _run(self) -> None:
        self.started.set()
        loop = asyncio.get_running_loop()
        try:
            next_beat = loop.time()
            while True:
                try:
                    await self.beat()
                    self.beats += 1
                except asyncio.CancelledError:
                    raise
                except (RedisConnectionError, RedisTimeoutError) as exc:
                    logger.warning("heartbeat failed, Redis unreachable: %s", exc)
                except Exception:
                    logger.exception("heartbeat failed")
                next_beat = max(next_beat + self.interval, loop.time())
                await asyncio.sleep(next_beat - loop.time())
        except asyncio.CancelledError:
            pass
        finally:
            self.exited.set()

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None

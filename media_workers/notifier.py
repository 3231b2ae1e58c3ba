"""Notifications to the web tier, sent in order by one loop so that router callbacks (which
must not block) only put them in a queue."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from media_workers.bus import Bus, BusError
from media_workers.loops import cancel_and_wait

logger = logging.getLogger(__name__)

QUEUE_SIZE = 10_000


class Notifier:
    """started → loop → clean exit on cancel; ``stop()`` sends what is queued (bounded by a
    timeout), then cancels and awaits the exit."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.queue: asyncio.Queue[tuple[str, dict[str, Any]] | None] = asyncio.Queue(maxsize=QUEUE_SIZE)
        self.started = asyncio.Event()
        self.exited = asyncio.Event()
        self.dropped = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="notifier")

    def send(self, group: str, message: dict[str, Any]) -> None:
        try:
            self.queue.put_nowait((group, message))
        except asyncio.QueueFull:
            self.dropped += 1
            logger.warning("notification queue full; dropped %s for %s", message.get("event"), group)

    async def _run(self) -> None:
        self.started.set()
        try:
            while (item := await self.queue.get()) is not None:
                group, message = item
                try:
                    await self.bus.group_send(group, message)
                except BusError:
                    logger.warning("notification %s to %s lost", message.get("event"), group, exc_info=True)
        except asyncio.CancelledError:
            pass
        finally:
            self.exited.set()

    async def stop(self, flush_timeout: float = 5.0) -> None:
        if self._task is None:
            return
        try:
            self.queue.put_nowait(None)
            await asyncio.wait_for(asyncio.shield(self._task), flush_timeout)
        except (asyncio.QueueFull, TimeoutError):
            pass
        await cancel_and_wait(self._task)
        self._task = None

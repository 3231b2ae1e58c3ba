"""Background work of the web process's event loop: grace-period timers for dropped
connections and the per-room reaction aggregator (and, beside them, the process's join gate,
``rooms.admission``).

Both follow one pattern: a task is started when there is work, ends by itself when there is
none, treats cancellation as a normal exit and logs anything else. They are kept per event
loop (tests run one loop per test).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
import weakref
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from django.conf import settings

from rooms import events, fanout
from rooms.admission import JoinGate
from rooms.events import room_group

logger = logging.getLogger(__name__)

REACTION_WINDOW_SECONDS = 0.2


def _log_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("background task %s failed", task.get_name(), exc_info=task.exception())


class GraceTimers:
    """One timer per participant whose connection dropped; a resume or a new timer replaces it."""

    def __init__(self) -> None:
        self._tasks: dict[uuid.UUID, asyncio.Task[None]] = {}

    def schedule(self, participant_id: uuid.UUID, delay: float, expire: Callable[[], Awaitable[Any]]) -> None:
        self.cancel(participant_id)

        async def wait_then_expire() -> None:
            await asyncio.sleep(delay)
            await expire()

        task = asyncio.get_running_loop().create_task(wait_then_expire(), name=f"grace-{participant_id}")
        self._tasks[participant_id] = task
        task.add_done_callback(_log_failure)
        task.add_done_callback(lambda done: self._forget(participant_id, done))

    def _forget(self, participant_id: uuid.UUID, task: asyncio.Task[None]) -> None:
        if self._tasks.get(participant_id) is task:
            del self._tasks[participant_id]

    def cancel(self, participant_id: uuid.UUID) -> None:
        task = self._tasks.pop(participant_id, None)
        if task is not None:
            task.cancel()

    async def stop(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class ReactionAggregator:
    """Counts reactions per room and sends one ``reaction`` message per room per window."""

    def __init__(self, window: float = REACTION_WINDOW_SECONDS) -> None:
        self.window = window
        self._counts: dict[tuple[int, int], Counter[str]] = {}
        self._task: asyncio.Task[None] | None = None

    def add(self, meeting_id: int, room_id: int, emoji: str) -> None:
        self._counts.setdefault((meeting_id, room_id), Counter())[emoji] += 1
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="reaction-aggregator")
            self._task.add_done_callback(_log_failure)

    async def _run(self) -> None:
        while self._counts:
            await asyncio.sleep(self.window)
            await self.flush()

    async def flush(self) -> None:
        counts, self._counts = self._counts, {}
        window_ms = round(self.window * 1000)
        for (meeting_id, room_id), counter in counts.items():
            event = events.reaction(dict(counter), window_ms)
            message = {"type": "room.event", "room": room_id, "event": event}
            await fanout.hub().publish(room_group(meeting_id, room_id), message)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


class KeyedTasks:
    """At most one running task per key (e.g. one move to the SFU per meeting); kept, so that
    ``stop()`` can cancel and await them, and failures are logged."""

    def __init__(self) -> None:
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def start_once(self, key: str, work: Callable[[], Coroutine[Any, Any, None]]) -> bool:
        running = self._tasks.get(key)
        if running is not None and not running.done():
            return False
        task = asyncio.get_running_loop().create_task(work(), name=f"task-{key}")
        self._tasks[key] = task
        task.add_done_callback(_log_failure)
        task.add_done_callback(lambda done: self._tasks.pop(key, None) if self._tasks.get(key) is done else None)
        return True

    def restart(self, key: str, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Like ``start_once``, but a running task for ``key`` is cancelled first (a new
        deadline replaces the old one)."""
        running = self._tasks.pop(key, None)
        if running is not None:
            running.cancel()
        self.start_once(key, work)

    async def stop(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class LoopServices:
    def __init__(self) -> None:
        self.grace_timers = GraceTimers()
        self.reactions = ReactionAggregator()
        self.tasks = KeyedTasks()
        self.join_gate = JoinGate(limit=settings.MEETING_JOIN_CONCURRENCY)


_services: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopServices] = weakref.WeakKeyDictionary()


def services() -> LoopServices:
    loop = asyncio.get_running_loop()
    found = _services.get(loop)
    if found is None:
        found = _services[loop] = LoopServices()
    return found

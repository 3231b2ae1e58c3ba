"""Reads one web process shares between the connections that enter a room at the same time.

A join storm into a room of 1,000 read the same 1,000-row roster (and chat history, hands,
breakout and recording state) once per newcomer: half of the web processes' CPU. A newcomer's
snapshot only has to hold what the newcomer will not hear about as an event, so any read that
*started after the newcomer's connection was in the room's groups* will do: everything committed
after that read began reaches the newcomer as an event (clients de-duplicate by id). One read
then serves every newcomer of the process that subscribed before it started.

``SharedReads.get(key, since)`` hands back such a read when the process has one (started at or
after ``since``, a ``time.monotonic()`` taken once the groups were joined, and not older than
``max_age``); ``put`` keeps a fresh one. The caller decides what is worth keeping (small rooms
are read per join: cheap, and their peer-to-peer pairs rely on exact snapshots).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Read(Generic[T]):
    started: float  # time.monotonic() before the first query of the read
    value: T


class SharedReads(Generic[T]):
    """The latest read per key (a room), at most ``capacity`` keys, least recently stored out first."""

    def __init__(self, *, max_age: float, capacity: int = 256) -> None:
        self.max_age = max_age
        self.capacity = capacity
        self._reads: OrderedDict[object, Read[T]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: object, since: float, now: float | None = None) -> T | None:
        """A read of ``key`` that began at or after ``since`` and is not older than ``max_age``."""
        now = time.monotonic() if now is None else now
        with self._lock:
            read = self._reads.get(key)
        if read is None or read.started < since or now - read.started > self.max_age:
            return None
        return read.value

    def put(self, key: object, started: float, value: T) -> None:
        """Keeps ``value`` (read from ``started`` on) unless a later read is kept already."""
        with self._lock:
            kept = self._reads.get(key)
            if kept is not None and kept.started >= started:
                return
            self._reads[key] = Read(started, value)
            self._reads.move_to_end(key)
            while len(self._reads) > self.capacity:
                self._reads.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._reads.clear()

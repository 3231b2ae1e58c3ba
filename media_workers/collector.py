"""Garbage collection for a process that forwards media on its event loop.

CPython's cyclic collector stops the process while it runs. With a room of 100 peers (aiortc
keeps many objects per peer connection) a full collection took 60 ms here, three times in half
a minute, and every packet arriving meanwhile waited that long: a visible stall in everyone's
video. Almost everything a worker allocates is either freed by reference counting at once
(packets) or lives as long as a peer (transports, sessions). So:

- every ``freeze_interval`` seconds the objects alive now are frozen (``gc.freeze()``: moved out
  of the collector's generations), so later collections only look at what is new;
- what was frozen is looked at again (``gc.unfreeze()`` + ``gc.collect()``) when the worker has
  no peers (the pause hurts nobody) and otherwise at most every ``full_interval`` seconds, so
  the reference cycles of closed peers are reclaimed within that time.

Background loop as every other: started → loop → clean exit on cancel → exited; ``stop()``
cancels and awaits the exit.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from media_workers.loops import cancel_and_wait

logger = logging.getLogger(__name__)


@dataclass
class CollectorStats:
    freezes: int = 0
    full_collections: int = 0
    last_full_seconds: float = 0.0


class CollectorPolicy:
    def __init__(
        self,
        busy: Callable[[], bool],
        *,
        freeze_interval: float = 10.0,
        full_interval: float = 600.0,
        freeze: Callable[[], None] = gc.freeze,
        unfreeze: Callable[[], None] = gc.unfreeze,
        collect: Callable[[], int] = gc.collect,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if freeze_interval <= 0 or full_interval < freeze_interval:
            raise ValueError("need 0 < freeze_interval <= full_interval")
        self.busy = busy
        self.freeze_interval = freeze_interval
        self.full_interval = full_interval
        self._freeze, self._unfreeze, self._collect, self._clock = freeze, unfreeze, collect, clock
        self.stats = CollectorStats()
        self.started = asyncio.Event()
        self.exited = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._last_full = clock()
        self._frozen_since_full = False

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="gc-policy")

    async def _run(self) -> None:
        self.started.set()
        try:
            while True:
                await asyncio.sleep(self.freeze_interval)
                try:
                    self.step()
                except Exception:
                    logger.exception("garbage collection step failed")
        except asyncio.CancelledError:
            pass
        finally:
            self.exited.set()

    def step(self) -> None:
        """One tick: a full collection when it is due (or free: no peers), then a freeze."""
        now = self._clock()
        idle = not self.busy()
        if self._frozen_since_full and (idle or now - self._last_full >= self.full_interval):
            self._full_collection(now)
        self._freeze()
        self._frozen_since_full = True
        self.stats.freezes += 1

    def settle(self) -> None:
        """A full collection and a freeze now, at a moment the caller chose (after a burst of
        joins, before a measurement), instead of at the next tick."""
        self._full_collection(self._clock())
        self._freeze()
        self._frozen_since_full = True
        self.stats.freezes += 1

    def _full_collection(self, now: float) -> None:
        started = time.perf_counter()
        self._unfreeze()
        self._collect()
        self.stats.last_full_seconds = time.perf_counter() - started
        self.stats.full_collections += 1
        self._last_full = now
        self._frozen_since_full = False
        logger.debug("full garbage collection: %.1f ms", self.stats.last_full_seconds * 1000)

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None
        self._unfreeze()  # leave the interpreter as it was

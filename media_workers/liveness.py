"""Liveness a busy media loop cannot fake or delay: a pulse on a thread of its own.

The worker's heartbeat (``registry.Heartbeat``) runs on the event loop that forwards media.
Under CPU pressure that loop falls seconds behind, the beat comes late, the registration
expires and the other workers declare this one dead and move its rooms, which spreads the
overload instead of relieving it (measured: two false deaths in two minutes with seven Chromium
pages on two cores).

Here a thread with its own Redis connection extends the registration every
``heartbeat_interval`` (``lua/alive.lua``), whatever the loop is doing, and writes beside it
how the worker is coping: the loop's lag (how late its ticks run; mean over ~2 s) and the
process's CPU (share of a core; mean over ~5 s). The
registration then expires only when the process is gone, or when its loop has not ticked for
``stall_limit`` seconds (a hung loop serves nobody: then the pulse stops on purpose). New rooms
go to workers that are not saturated (``lua/assign.lua``), so a busy worker keeps its rooms and
stops taking more, instead of being declared dead.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from dataclasses import dataclass, field

from redis import Redis
from redis.exceptions import RedisError

from media_workers.assignment import LUA_DIR
from media_workers.keys import Keys

logger = logging.getLogger(__name__)

#: How often the loop ticks for the watch (seconds).
TICK_SECONDS = 0.25
#: Time constants of the CPU and loop lag the pulse reports (seconds).
CPU_SMOOTHING_SECONDS = 5.0
LAG_SMOOTHING_SECONDS = 2.0


@dataclass
class LoopWatch:
    """Ticks on the event loop; tells another thread how late the loop runs."""

    tick: float = TICK_SECONDS
    last_tick: float = field(default_factory=time.monotonic)
    lag: float = 0.0  # the latest tick's delay beyond its schedule (seconds)
    _handle: asyncio.TimerHandle | None = None
    _expected: float = 0.0

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._expected = loop.time() + self.tick
        self._handle = loop.call_at(self._expected, self._on_tick)

    def _on_tick(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        self.lag = max(0.0, now - self._expected)
        self.last_tick = time.monotonic()
        self._expected = now + self.tick
        self._handle = loop.call_at(self._expected, self._on_tick)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def stalled_for(self, now: float | None = None) -> float:
        """Seconds since the loop last ticked."""
        return max(0.0, (time.monotonic() if now is None else now) - self.last_tick)

    def lag_ms(self, now: float | None = None) -> int:
        """How far behind the loop runs: the last tick's delay, or the time since it, if longer."""
        behind = max(self.lag, self.stalled_for(now) - self.tick)
        return round(max(0.0, behind) * 1000)


@dataclass
class Smoothed:
    """A running mean that forgets with a time constant (seconds): a saturated worker is one
    that stays busy, not one that had a busy second (starting up, a burst of joins)."""

    seconds: float
    value: float = 0.0
    _at: float | None = None

    def add(self, sample: float, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        if self._at is not None and now > self._at:
            weight = 1.0 - math.exp(-(now - self._at) / self.seconds)
            self.value += weight * (sample - self.value)
        self._at = now
        return self.value


class CpuMeter:
    """This process's CPU (all threads) as a share of one core, between two readings."""

    def __init__(self) -> None:
        self._cpu = time.process_time()
        self._wall = time.monotonic()

    def read(self) -> float:
        cpu, wall = time.process_time(), time.monotonic()
        share = (cpu - self._cpu) / (wall - self._wall) if wall > self._wall else 0.0
        self._cpu, self._wall = cpu, wall
        return round(max(0.0, share), 3)


class Pulse:
    """The thread that keeps the registration alive (see the module's docstring)."""

    def __init__(
        self,
        redis_url: str,
        keys: Keys,
        worker_id: str,
        *,
        interval: float,
        ttl: float,
        stall_limit: float,
        watch: LoopWatch,
    ) -> None:
        self.redis = Redis.from_url(redis_url, socket_timeout=min(2.0, interval * 2), socket_connect_timeout=2.0)
        self.keys = keys
        self.worker_id = worker_id
        self.interval = interval
        self.ttl_ms = round(ttl * 1000)
        self.stall_limit = stall_limit
        self.watch = watch
        self.cpu = CpuMeter()
        self.cpu_mean = Smoothed(CPU_SMOOTHING_SECONDS)
        self.lag_mean = Smoothed(LAG_SMOOTHING_SECONDS)
        self.pulses = 0  # registrations extended
        self.withheld = 0  # pulses held back because the loop had stalled
        self._alive = self.redis.register_script((LUA_DIR / "alive.lua").read_text())
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"pulse-{worker_id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval + 5)
        self.redis.close()

    def pulse(self) -> bool:
        """One pulse now; True when the registration was extended."""
        stalled = self.watch.stalled_for()
        if stalled > self.stall_limit:
            self.withheld += 1
            logger.error("event loop stalled for %.1f s: letting the registration expire", stalled)
            return False
        lag_ms = round(self.lag_mean.add(self.watch.lag_ms()))
        cpu = round(self.cpu_mean.add(self.cpu.read()), 3)
        args: list[str | int | float] = [self.keys.prefix, self.worker_id, self.ttl_ms, lag_ms, cpu]
        extended = bool(self._alive(keys=[], args=args))
        if extended:
            self.pulses += 1
        return extended

    def _run(self) -> None:
        next_pulse = time.monotonic()
        while not self._stop.is_set():
            try:
                self.pulse()
            except RedisError as exc:
                logger.warning("pulse failed, Redis unreachable: %s", exc)
            except Exception:
                logger.exception("pulse failed")
            next_pulse = max(next_pulse + self.interval, time.monotonic())
            self._stop.wait(max(0.0, next_pulse - time.monotonic()))

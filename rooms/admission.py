"""Load shedding at the door of one web process: how many joins it works on at once.

A join storm (1,000 people in a minute) queues every join's database work behind the others on
the process's one database thread; past a point each newcomer waits longer than their browser's
patience and the handshakes of those still arriving time out. Instead, a process works on at
most ``MEETING_JOIN_CONCURRENCY`` joins; a ``join`` beyond that is answered at once with
``error`` ``busy`` and a ``retry_after`` (seconds, about how long the joins in hand take), and
the connection stays open: the client sends ``join`` again after that delay, spread by jitter
(the browser and the benchmark's clients both do). Nothing is refused for good and nobody
waits in a queue that grows without bound.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

#: Bounds of the ``retry_after`` a refused join is given (seconds).
RETRY_AFTER_MIN = 0.5
RETRY_AFTER_MAX = 10.0
#: Weight of the latest join in the running mean of join durations.
SMOOTHING = 0.1


@dataclass
class JoinGate:
    """Joins in progress in this process, and how long recent ones took."""

    limit: int
    in_progress: int = 0
    mean_seconds: float = RETRY_AFTER_MIN
    started: dict[object, float] = field(default_factory=dict)

    def enter(self, key: object, now: float | None = None) -> bool:
        """True when this join may proceed now (then ``leave`` it when done)."""
        if self.in_progress >= self.limit:
            return False
        self.in_progress += 1
        self.started[key] = time.monotonic() if now is None else now
        return True

    def leave(self, key: object, now: float | None = None) -> None:
        began = self.started.pop(key, None)
        if began is None:
            return
        self.in_progress -= 1
        took = (time.monotonic() if now is None else now) - began
        self.mean_seconds += SMOOTHING * (took - self.mean_seconds)

    def retry_after(self) -> float:
        """Seconds a refused join should wait: about as long as the joins in hand take."""
        return round(min(RETRY_AFTER_MAX, max(RETRY_AFTER_MIN, self.mean_seconds)), 2)

"""Feedback between subscribers and publishers: keyframe-request throttling, retransmission
budgets, and the aggregation of receiver estimates sent upstream.

Pure and clock-injected so that it is table-tested without sockets.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class KeyframeThrottle:
    """At most one keyframe request upstream per ``interval`` seconds per producer."""

    interval: float = 0.5
    _last: float = -1e9
    forwarded: int = 0
    suppressed: int = 0

    def allow(self, now: float) -> bool:
        if now - self._last < self.interval:
            self.suppressed += 1
            return False
        self._last = now
        self.forwarded += 1
        return True


@dataclass
class TokenBucket:
    """A rate limit (``rate`` tokens per second, bursts up to ``burst``) for NACK answers."""

    rate: float
    burst: float
    _tokens: float = -1.0
    _updated: float = 0.0

    def take(self, now: float, count: float = 1.0) -> bool:
        if self._tokens < 0:
            self._tokens = self.burst
            self._updated = now
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now
        if self._tokens < count:
            return False
        self._tokens -= count
        return True


@dataclass
class EstimateAggregator:
    """The minimum of the recent per-stream estimates reported by a producer's subscribers.

    Each subscriber reports a REMB for its whole downlink; the router divides it by the number
    of video streams that subscriber receives before reporting it here (``report``). Reports
    older than ``max_age`` seconds are forgotten (the subscriber left or went quiet).
    """

    max_age: float = 3.0
    _reports: dict[str, tuple[float, int]] = field(default_factory=dict)

    def report(self, reporter: str, bitrate_bps: int, now: float) -> None:
        self._reports[reporter] = (now, bitrate_bps)

    def forget(self, reporter: str) -> None:
        self._reports.pop(reporter, None)

    def minimum(self, now: float) -> int | None:
        fresh = [bps for at, bps in self._reports.values() if now - at <= self.max_age]
        for reporter, (at, _) in list(self._reports.items()):
            if now - at > self.max_age:
                del self._reports[reporter]
        return min(fresh) if fresh else None


def upstream_estimate(link_bps: int | None, subscribers_bps: int | None, floor_bps: int, cap_bps: int) -> int:
    """The REMB to send to a publisher: the tighter of its own link and its subscribers' need."""
    candidates = [value for value in (link_bps, subscribers_bps) if value is not None]
    value = min(candidates) if candidates else cap_bps
    return max(floor_bps, min(cap_bps, value))

"""Prometheus metrics of one worker, served as text on its own HTTP port.

Media counters (packets, bytes, NACKs, PLIs, loss) are read from the routers' stats when the
endpoint is scraped: the forwarding path counts nothing for Prometheus itself. CPU and memory
come from prometheus_client's process collector (``process_cpu_seconds_total``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

#: Cumulative media counters of a router's stats (``media_workers.router.RouterStats``).
COUNTERS = {
    "packets_in": "RTP packets received from publishers",
    "bytes_in": "RTP bytes received from publishers",
    "packets_out": "RTP packets forwarded to subscribers",
    "bytes_out": "RTP bytes forwarded to subscribers",
    "rtx_in": "retransmissions (RTX) received from publishers",
    "nacks_received": "NACKs received from subscribers",
    "retransmitted": "packets retransmitted to subscribers from the cache",
    "nacks_refused": "NACKs not answered (rate limit or packet no longer cached)",
    "nacks_sent_upstream": "NACKs sent to publishers",
    "plis_received": "keyframe requests (PLI/FIR) received from subscribers",
    "plis_forwarded": "keyframe requests forwarded to publishers",
    "plis_suppressed": "keyframe requests dropped by the throttle",
    "unknown_ssrc": "RTP packets for unknown SSRCs (dropped)",
    "malformed": "malformed RTP/RTCP packets (dropped)",
    "dropped": "packets dropped for other reasons",
}
#: Current sizes (summed over rooms).
GAUGES = {
    "peers": "peers (peer connections)",
    "producers": "producers (incoming tracks)",
    "consumers": "consumers (forwarded tracks, one per subscriber and producer)",
}
#: Loss fractions (0..1), averaged over the rooms.
LOSSES = {
    "loss_downstream": "mean fraction of packets lost, as subscribers report",
    "loss_upstream": "mean fraction of packets lost on the way from publishers",
}


def read_stats(stats: object) -> dict[str, float]:
    """The known numeric fields of a router's stats, from a mapping or an object's attributes."""
    values: dict[str, float] = {}
    for name in (*COUNTERS, *GAUGES, *LOSSES):
        raw = stats.get(name, 0) if isinstance(stats, Mapping) else getattr(stats, name, 0)
        values[name] = float(raw) if isinstance(raw, int | float) else 0.0
    return values


@dataclass
class Snapshot:
    rooms: int
    draining: bool
    capacity: int
    #: Sums over the live routers, plus the final counters of closed ones.
    media: dict[str, float] = field(default_factory=dict)


class _WorkerCollector(Collector):
    def __init__(self, snapshot: Callable[[], Snapshot]) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        snap = self.snapshot()
        yield GaugeMetricFamily("sfu_rooms", "rooms open on this worker", value=snap.rooms)
        yield GaugeMetricFamily("sfu_draining", "1 while the worker drains", value=int(snap.draining))
        yield GaugeMetricFamily("sfu_capacity_peers", "most peers this worker takes", value=snap.capacity)
        for name, doc in GAUGES.items():
            yield GaugeMetricFamily(f"sfu_{name}", doc, value=snap.media.get(name, 0.0))
        for name, doc in LOSSES.items():
            yield GaugeMetricFamily(f"sfu_{name}_ratio", doc, value=snap.media.get(name, 0.0))
        for name, doc in COUNTERS.items():
            yield CounterMetricFamily(f"sfu_{name}", doc, value=snap.media.get(name, 0.0))


class WorkerMetrics:
    def __init__(self, snapshot: Callable[[], Snapshot]) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self.registry.register(_WorkerCollector(snapshot))
        self.requests = Counter("sfu_requests", "requests handled", ["method", "outcome"], registry=self.registry)
        self.request_seconds = Histogram(
            "sfu_request_seconds",
            "time to answer a request",
            ["method"],
            buckets=(0.001, 0.005, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.refused = Counter("sfu_refused_messages", "messages refused at the edge", ["code"], registry=self.registry)
        self.notifications = Counter("sfu_notifications", "notifications sent", ["event"], registry=self.registry)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsServer:
    """A minimal HTTP endpoint on the event loop: ``GET /metrics`` answers the Prometheus text."""

    def __init__(self, metrics: WorkerMetrics, host: str, port: int) -> None:
        self.metrics = metrics
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5)
            method, _, rest = request.partition(b" ")
            path = rest.split(b" ", 1)[0].split(b"?", 1)[0]
            if method == b"GET" and path in {b"/metrics", b"/"}:
                status, content_type, body = "200 OK", CONTENT_TYPE_LATEST, self.metrics.render()
            else:
                status, content_type, body = "404 Not Found", "text/plain", b"not found\n"
            head = f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
            writer.write(head.encode() + b"Connection: close\r\n\r\n" + body)
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        except Exception:
            logger.exception("metrics request failed")
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

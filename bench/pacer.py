"""A send-side pacer for the benchmark's publishers, the way a browser paces its video.

aiortc hands every RTP packet of a frame to the socket at once, so a 37 KB keyframe leaves as a
burst of ~29 packets within a millisecond. WebRTC browsers do not send like that: Chromium's
pacer releases video at ``pacing factor x target bitrate`` (factor 2.5 by default), so the
same keyframe at 500 kbps leaves over ~240 ms, one packet every ~8 ms; audio is not paced.
With ``--pacing-factor 0`` the benchmark keeps aiortc's bursts (the worst case for an SFU's
fan-out); with a factor > 0, video goes through this pacer before it is stamped and sent, so
measured latency still starts when the packet really leaves the publisher.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import Awaitable, Callable

Send = Callable[[bytes], Awaitable[None]]


class Pacer:
    """Releases queued packets at ``rate_bps`` (a leaky bucket with one packet of burst)."""

    def __init__(self, rate_bps: float, send: Send) -> None:
        if rate_bps <= 0:
            raise ValueError("the pacing rate must be positive")
        self._seconds_per_bit = 1.0 / rate_bps
        self._send = send
        self._queue: collections.deque[bytes] = collections.deque()
        self._wake = asyncio.Event()
        self._next_send = 0.0
        self._task: asyncio.Task[None] | None = None
        self.max_queue = 0
        self.dropped = 0

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def enqueue(self, data: bytes) -> None:
        self._queue.append(data)
        self.max_queue = max(self.max_queue, len(self._queue))
        self._wake.set()

    async def _run(self) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            while True:
                if not self._queue:
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                now = time.monotonic()
                if self._next_send > now:
                    await asyncio.sleep(self._next_send - now)
                data = self._queue.popleft()
                self._next_send = max(self._next_send, time.monotonic()) + len(data) * 8 * self._seconds_per_bit
                try:
                    await self._send(data)
                except ConnectionError:
                    self.dropped += 1  # the transport closed under the queue (end of a run)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

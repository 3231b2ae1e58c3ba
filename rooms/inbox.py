"""One socket's inbox: the client's frames, its channel-layer messages and the fan-out hub's
events, in the order they arrived, handled one at a time.

Channels' ``await_many_dispatch`` makes a new task per message and waits on all its sources
with ``asyncio.wait`` each time: a fifth of a web process's CPU while a chat line went out to
1,000 people. Here each source has one long-lived pump task that puts what it receives in the
socket's queue (the hub puts its events there directly), and the socket's loop takes them out.
A source that fails ends the loop with its exception, as ``await_many_dispatch`` would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

Message = dict[str, Any]
PUMP_FAILED = "inbox.pump_failed"


async def pump(source: Callable[[], Awaitable[Message]], inbox: asyncio.Queue[Message]) -> None:
    """Moves messages from ``source`` into ``inbox`` until cancelled or the source fails."""
    try:
        while True:
            inbox.put_nowait(await source())
    except asyncio.CancelledError:
        raise
    except BaseException as exc:
        inbox.put_nowait({"type": PUMP_FAILED, "error": exc})


async def serve(
    inbox: asyncio.Queue[Message],
    sources: Sequence[Callable[[], Awaitable[Message]]],
    dispatch: Callable[[Message], Awaitable[None]],
) -> None:
    """Dispatches what arrives in ``inbox`` (from ``sources`` and whoever else puts there) until
    ``dispatch`` raises (``StopConsumer`` ends a consumer) or a source fails."""
    pumps = [asyncio.ensure_future(pump(source, inbox)) for source in sources]
    try:
        while True:
            message = await inbox.get()
            if message.get("type") == PUMP_FAILED:
                raise message["error"]
            await dispatch(message)
    finally:
        for task in pumps:
            task.cancel()
        await asyncio.gather(*pumps, return_exceptions=True)

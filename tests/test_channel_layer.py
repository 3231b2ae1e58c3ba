"""The configured Redis channel layer: idle sockets stay open, queues absorb a join storm."""

from __future__ import annotations

import asyncio

import pytest
from channels.layers import get_channel_layer

pytestmark = pytest.mark.asyncio


async def test_an_idle_receive_outlives_the_redis_pop_timeout() -> None:
    """A participant who says nothing for a while keeps their socket.

    channels-redis blocks in 5 s pops; with redis-py's default 5 s read timeout every idle
    wait raised ``redis.exceptions.TimeoutError`` and the consumer died with close code 1011.
    """
    layer = get_channel_layer()
    assert layer is not None
    channel = await layer.new_channel()
    waiter = asyncio.ensure_future(layer.receive(channel))
    try:
        # Two pop periods of silence: the wait must still be pending, not failed.
        done, _ = await asyncio.wait({waiter}, timeout=11)
        assert not done, f"idle receive ended early: {waiter.exception()!r}"
        await layer.send(channel, {"type": "ping"})
        assert await asyncio.wait_for(waiter, 10) == {"type": "ping"}
    finally:
        waiter.cancel()
        await layer.flush()


async def test_a_channel_holds_a_join_storm_of_roster_deltas() -> None:
    layer = get_channel_layer()
    assert layer is not None
    channel = await layer.new_channel()
    try:
        for n in range(600):
            await layer.send(channel, {"type": "roster", "n": n})
        received = [await layer.receive(channel) for _ in range(600)]
        assert [m["n"] for m in received] == list(range(600))
    finally:
        await layer.flush()

"""The worker's channel-layer transport against the real test Redis."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from media_workers.bus import Bus, ChannelListener
from tests.media_workers.control_helpers import redis_url, unique, wait_for

pytestmark = pytest.mark.asyncio


async def test_messages_and_group_messages_arrive() -> None:
    bus = Bus(redis_url(), unique("bustest"))
    try:
        await bus.send("sfu.worker.w1", {"type": "sfu.request", "n": 1})
        assert await asyncio.wait_for(bus.receive("sfu.worker.w1"), 10) == {"type": "sfu.request", "n": 1}
        reader = await bus.layer.new_channel()
        await bus.layer.group_add("sfu.room.m1", reader)
        await bus.group_send("sfu.room.m1", {"type": "sfu.notify", "event": "room.ended"})
        assert (await asyncio.wait_for(bus.receive(reader), 10))["event"] == "room.ended"
    finally:
        await bus.layer.flush()
        await bus.close()


async def test_a_shared_channel_gives_each_message_to_one_listener() -> None:
    prefix = unique("bustest")
    buses = [Bus(redis_url(), prefix) for _ in range(2)]
    seen: list[tuple[int, int]] = []

    def handler_for(index: int) -> Any:
        async def handle(message: dict[str, Any]) -> None:
            seen.append((index, message["n"]))

        return handle

    listeners = [ChannelListener(bus, "sfu.control", handler_for(i)) for i, bus in enumerate(buses)]
    try:
        for listener in listeners:
            listener.start()
        for n in range(20):
            await buses[0].send("sfu.control", {"type": "sfu.request", "n": n})
        await wait_for(lambda: len(seen) >= 20, "20 messages handled")
        assert sorted(n for _, n in seen) == list(range(20))
    finally:
        for listener in listeners:
            await asyncio.wait_for(listener.stop(), 10)
        await buses[0].layer.flush()
        for bus in buses:
            await bus.close()
    assert all(listener.exited.is_set() for listener in listeners)


async def test_a_failing_handler_does_not_stop_the_listener() -> None:
    bus = Bus(redis_url(), unique("bustest"))
    handled: list[int] = []

    async def handle(message: dict[str, Any]) -> None:
        if message["n"] == 0:
            raise RuntimeError("boom")
        handled.append(message["n"])

    listener = ChannelListener(bus, "sfu.worker.w1", handle)
    listener.start()
    try:
        await asyncio.wait_for(listener.started.wait(), 5)
        for n in range(3):
            await bus.send("sfu.worker.w1", {"type": "sfu.request", "n": n})
        await wait_for(lambda: handled == [1, 2], "the messages after the failure")
    finally:
        await asyncio.wait_for(listener.stop(), 10)
        await bus.layer.flush()
        await bus.close()

"""A socket's inbox (``rooms.inbox``): messages from every source in arrival order, one at a
time; a failing source or a dispatch that stops ends the loop, and no pump outlives it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from rooms import inbox

pytestmark = pytest.mark.asyncio

Message = dict[str, Any]


class Source:
    """A receive callable fed by the test."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Message | BaseException] = asyncio.Queue()
        self.waiting = 0

    async def __call__(self) -> Message:
        self.waiting += 1
        try:
            item = await self.queue.get()
        finally:
            self.waiting -= 1
        if isinstance(item, BaseException):
            raise item
        return item


class Stop(Exception):
    pass


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_messages_of_all_sources_and_the_hub_are_handled_in_arrival_order() -> None:
    client, layer, box = Source(), Source(), asyncio.Queue[Message]()
    handled: list[str] = []

    async def dispatch(message: Message) -> None:
        handled.append(message["type"])
        if message["type"] == "disconnect":
            raise Stop

    serving = asyncio.ensure_future(inbox.serve(box, [client, layer], dispatch))
    await settle()
    client.queue.put_nowait({"type": "join"})
    await settle()
    box.put_nowait({"type": "room.event"})  # what the hub does
    layer.queue.put_nowait({"type": "room.control"})
    await settle()
    client.queue.put_nowait({"type": "disconnect"})
    with pytest.raises(Stop):
        await serving
    assert handled == ["join", "room.event", "room.control", "disconnect"]
    await settle()
    assert client.waiting == 0
    assert layer.waiting == 0  # both pumps were cancelled


async def test_one_message_at_a_time_even_when_dispatch_waits() -> None:
    client, box = Source(), asyncio.Queue[Message]()
    running = 0
    most = 0
    seen: list[int] = []

    async def dispatch(message: Message) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.01)
        seen.append(message["n"])
        running -= 1
        if message["n"] == 4:
            raise Stop

    serving = asyncio.ensure_future(inbox.serve(box, [client], dispatch))
    for n in range(5):
        client.queue.put_nowait({"type": "frame", "n": n})
    with pytest.raises(Stop):
        await asyncio.wait_for(serving, 5)
    assert seen == [0, 1, 2, 3, 4]
    assert most == 1


async def test_a_failing_source_ends_the_loop_with_its_error() -> None:
    client, layer, box = Source(), Source(), asyncio.Queue[Message]()
    handled: list[Message] = []

    async def dispatch(message: Message) -> None:
        handled.append(message)

    serving = asyncio.ensure_future(inbox.serve(box, [client, layer], dispatch))
    await settle()
    layer.queue.put_nowait(ConnectionError("redis went away"))
    with pytest.raises(ConnectionError, match="redis went away"):
        await asyncio.wait_for(serving, 5)
    assert handled == []
    await settle()
    assert client.waiting == 0

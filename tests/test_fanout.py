"""The web processes' fan-out (``rooms.fanout``): the coalescing rules as pure code, and hubs on
the real test Redis standing in for web processes (each hub has its own Redis connections, as
each process does): one publish per event whatever the room's size, delivered once per socket,
to the sockets of that group only; busy rooms' roster changes coalesced; moves; slow readers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
import redis.asyncio as aioredis
from asgiref.sync import sync_to_async
from django.conf import settings

from rooms import fanout
from rooms.fanout import Hub, RosterBatch, meeting_of, roster_window


def person(pid: str, name: str = "") -> dict[str, Any]:
    return {"id": pid, "name": name or pid}


def joined(pid: str, name: str = "") -> dict[str, Any]:
    return {"type": "roster.joined", "participant": person(pid, name)}


def left(pid: str, reason: str = "left") -> dict[str, Any]:
    return {"type": "roster.left", "participant_id": pid, "reason": reason}


def room_event(room_id: int, event: dict[str, Any]) -> dict[str, Any]:
    return {"type": "room.event", "room": room_id, "event": event}


class TestRules:
    def test_groups_name_their_meeting(self) -> None:
        assert meeting_of("meeting.7") == 7
        assert meeting_of("room.7.31") == 7
        assert meeting_of("meeting.7.hosts") == 7
        assert meeting_of("participant.0b5e") is None
        assert meeting_of("sfu.room.31") is None
        assert meeting_of("room.x") is None

    def test_the_window_grows_with_the_room(self) -> None:
        sizes = [1, 9, 10, 49, 50, 199, 200, 499, 500, 1000]
        windows = [roster_window(n) for n in sizes]
        assert windows == [0.0, 0.0, 0.25, 0.25, 0.5, 0.5, 1.0, 1.0, 2.0, 2.0]

    def test_each_persons_last_change_wins(self) -> None:
        batch = RosterBatch()
        batch.add(joined("a"))
        batch.add(joined("b"))
        batch.add(left("a"))  # came and went within the window: only the leaving is told
        batch.add(left("c"))
        batch.add(joined("c", "C again"))  # dropped and came back: an upsert
        batch.add({"type": "roster.updated", "participant": person("b", "Bea")})  # still a join
        batch.add({"type": "roster.updated", "participant": person("d", "Dee")})
        (event,) = batch.take()
        assert event["type"] == "roster.batch"
        assert {p["id"]: p["name"] for p in event["joined"]} == {"b": "Bea", "c": "C again"}
        assert event["left"] == ["a"]
        assert event["reason"] == "left"
        assert event["updated"] == [person("d", "Dee")]
        assert not batch
        assert batch.take() == []

    def test_people_who_left_for_different_reasons_come_in_one_batch_per_reason(self) -> None:
        batch = RosterBatch()
        batch.add(left("a", "moved"))
        batch.add(left("b", "left"))
        batch.add({"type": "roster.batch", "joined": [person("c")], "left": ["d"], "reason": "moved"})
        events = batch.take()
        assert [(e["reason"], e["left"]) for e in events] == [("moved", ["a", "d"]), ("left", ["b"])]
        assert [p["id"] for e in events for p in e["joined"]] == ["c"]


# --- hubs on the real Redis ---------------------------------------------------------------------

MEETING, OTHER_MEETING, ROOM, ROOM_2 = 9001, 9002, 31, 32
GROUP = f"room.{MEETING}.{ROOM}"
GROUP_2 = f"room.{MEETING}.{ROOM_2}"


@pytest_asyncio.fixture
async def hubs() -> AsyncIterator[list[Hub]]:
    """Two hubs: two web processes."""
    made = [Hub(settings.REDIS_URL), Hub(settings.REDIS_URL)]
    yield made
    for made_hub in made:
        await made_hub.close()


async def members(hub: Hub, group: str, count: int, prefix: str) -> list[asyncio.Queue[dict[str, Any]]]:
    queues = []
    for n in range(count):
        channel = f"{prefix}-{n}"
        queues.append(hub.attach(channel))
        await hub.add(group, channel)
    return queues


async def drain(queue: asyncio.Queue[dict[str, Any]], wait: float = 0.5) -> list[dict[str, Any]]:
    """What a socket's queue got, each client event's ready-made JSON checked and taken off."""
    got = []
    try:
        while True:
            message = dict(await asyncio.wait_for(queue.get(), wait))
            if message["type"] == "room.event":
                assert json.loads(message.pop("text")) == message["event"]
            got.append(message)
    except TimeoutError:
        return got


async def publishes() -> int:
    client = aioredis.Redis.from_url(settings.REDIS_URL)
    try:
        stats = await client.info("commandstats")
    finally:
        await client.aclose()
    return int(stats.get("cmdstat_publish", {}).get("calls", 0))


@pytest.mark.asyncio
async def test_one_publish_reaches_every_socket_of_the_group_on_every_process_once(hubs: list[Hub]) -> None:
    first = await members(hubs[0], GROUP, 3, "a")
    second = await members(hubs[1], GROUP, 2, "b")
    elsewhere = await members(hubs[1], GROUP_2, 1, "c")  # same meeting, another room
    other_meeting = await members(hubs[1], f"room.{OTHER_MEETING}.{ROOM}", 1, "d")
    before = await publishes()
    message = room_event(ROOM, {"type": "chat.message", "text": "hello"})
    await sync_to_async(fanout.publish_sync)(GROUP, message)
    assert await publishes() - before == 1
    for queue in first + second:
        assert await drain(queue) == [message]
    for queue in elsewhere + other_meeting:
        assert await drain(queue, 0.3) == []


@pytest.mark.asyncio
async def test_a_busy_rooms_roster_changes_come_in_batches(hubs: list[Hub]) -> None:
    hub = hubs[0]
    queues = await members(hub, GROUP, 20, "m")  # 20 people: a 0.25 s window
    for n in range(30):
        await hub.publish(GROUP, room_event(ROOM, joined(f"p{n}")))
    await hub.publish(GROUP, room_event(ROOM, left("p3")))
    got = await drain(queues[0], 1.0)
    assert len(got) <= 3, got  # the first at once, the rest in one or two windows
    assert got[0]["event"] == joined("p0")
    present: set[str] = set()
    for message in got:
        event = message["event"]
        if event["type"] == "roster.joined":
            present.add(event["participant"]["id"])
        else:
            assert event["type"] == "roster.batch"
            present |= {p["id"] for p in event["joined"]}
            present -= set(event["left"])
    assert present == {f"p{n}" for n in range(30)} - {"p3"}
    for queue in queues[1:]:
        assert await drain(queue, 0.1) == got  # everyone got the same


@pytest.mark.asyncio
async def test_a_small_rooms_roster_changes_go_one_by_one(hubs: list[Hub]) -> None:
    hub = hubs[0]
    (queue,) = await members(hub, GROUP, 1, "m")
    for n in range(3):
        await hub.publish(GROUP, room_event(ROOM, joined(f"p{n}")))
    assert [m["event"] for m in await drain(queue)] == [joined("p0"), joined("p1"), joined("p2")]


@pytest.mark.asyncio
async def test_a_persons_media_state_never_overtakes_their_arrival(hubs: list[Hub]) -> None:
    hub = hubs[0]
    queues = await members(hub, GROUP, 12, "m")
    await hub.publish(GROUP, room_event(ROOM, joined("p0")))
    await hub.publish(GROUP, room_event(ROOM, joined("p1")))  # held for the window
    state = {"type": "media.state", "participant_id": "p1", "audio": True, "video": False, "screen": False}
    await hub.publish(GROUP, room_event(ROOM, state))
    kinds = [m["event"]["type"] for m in await drain(queues[0])]
    assert kinds == ["roster.joined", "roster.batch", "media.state"]


@pytest.mark.asyncio
async def test_a_regroup_moves_a_socket_on_whichever_process_it_is(hubs: list[Hub]) -> None:
    (mover,) = await members(hubs[1], GROUP, 1, "mover")
    (stayer,) = await members(hubs[0], GROUP, 1, "stayer")
    (roommate,) = await members(hubs[0], GROUP_2, 1, "roommate")
    await sync_to_async(fanout.regroup_sync)(MEETING, [("mover-0", GROUP, GROUP_2)])
    await asyncio.sleep(0.3)
    to_old = room_event(ROOM, {"type": "chat.message", "text": "old room"})
    to_new = room_event(ROOM_2, {"type": "chat.message", "text": "new room"})
    await hubs[0].publish(GROUP, to_old)
    await hubs[0].publish(GROUP_2, to_new)
    assert await drain(mover) == [to_new]
    assert await drain(stayer) == [to_old]
    assert await drain(roommate) == [to_new]


@pytest.mark.asyncio
async def test_a_socket_that_stops_reading_is_cut_off_and_the_others_are_not(
    hubs: list[Hub], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fanout, "MEMBER_BUFFER", 10)
    hub = hubs[0]
    stalled = hub.attach("stalled")
    await hub.add(GROUP, "stalled")
    (reader,) = await members(hub, GROUP, 1, "reader")
    for n in range(30):
        await hub.publish(GROUP, room_event(ROOM, {"type": "chat.message", "text": str(n)}))
        await asyncio.sleep(0.01)
        if n % 5 == 0:
            await drain(reader, 0.05)
    await asyncio.sleep(0.3)
    assert stalled.qsize() == 10
    queued = [stalled.get_nowait() for _ in range(10)]
    assert queued[-1] == {"type": "room.control", "action": "overflow"}
    assert [m["event"]["text"] for m in queued[:-1]] == [str(n) for n in range(9)]
    await hub.publish(GROUP, room_event(ROOM, {"type": "chat.message", "text": "after"}))
    assert stalled.empty() or (await drain(stalled, 0.3)) == []
    assert (await drain(reader))[-1]["event"]["text"] == "after"


@pytest.mark.asyncio
async def test_leaving_the_last_group_of_a_meeting_ends_the_subscription(hubs: list[Hub]) -> None:
    hub = hubs[0]
    queue = hub.attach("only")
    await hub.add(GROUP, "only")
    assert fanout.channel_name(MEETING) in hub.confirmed
    await hub.detach("only")
    assert hub.confirmed == {}
    assert hub.meetings == {}
    await hub.publish(GROUP, room_event(ROOM, {"type": "chat.message", "text": "nobody"}))
    assert await drain(queue, 0.3) == []


@pytest.mark.asyncio
async def test_the_window_follows_the_whole_rooms_count_not_this_processs_share(hubs: list[Hub]) -> None:
    hub = hubs[0]
    (queue,) = await members(hub, GROUP, 1, "m")  # one of this process's sockets in a room of 600
    for n in range(5):
        await hub.publish(GROUP, room_event(ROOM, {**joined(f"p{n}"), "count": 596 + n}))
    got = await drain(queue, 2.5)
    assert [m["event"]["type"] for m in got] == ["roster.joined", "roster.batch"]
    assert [p["id"] for p in got[1]["event"]["joined"]] == ["p1", "p2", "p3", "p4"]
    assert got[1]["event"]["count"] == 600

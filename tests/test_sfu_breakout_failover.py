"""A worker failing in one breakout room affects only that room, which recovers as a meeting does.

A host and five guests meet; the host opens two breakout rooms: three guests in room 1, two in
room 2. With the SFU threshold at 3, room 1 goes through a real worker process (A) and room 2
stays peer-to-peer; the host is alone in the main room. Room 1's guests publish a tagged camera
and a tone (as in ``test_sfu_breakout``) until each decodes its roommates. Then a second worker
(B) starts and A is killed (``kill -9``: no drain, its heartbeat just stops). B finds A's room
gone, takes it over and tells room 1 (``room.moved``); room 1's browsers get ``media.failed``,
offer again, and decode their roommates through B. Nobody in room 2 or the main room hears of
it: no media message reaches them, and room 2's peer-to-peer signalling still goes through.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable

import pytest
import pytest_asyncio
from channels.db import database_sync_to_async as sync_to_async
from pytest_django.fixtures import Settings as SettingsWrapper

from accounts.models import User
from meetings.models import Meeting
from tests.room_client import close_all_clients
from tests.sfu_workers import SfuWorkers
from tests.test_breakout_rooms import guests, host_with_rooms, open_meeting
from tests.test_sfu_breakout import (
    MEDIA_TIMEOUT,
    MESSAGE_TIMEOUT,
    WORKER_TIMEOUT,
    Guest,
    collect,
    enter,
    next_message,
    patient_with_the_worker,
    publish,
    report,
    stop_media,
    wait_until,
)

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

ROOM_1 = ["one-0", "one-1", "one-2"]
ROOM_2 = ["two-0", "two-1"]
#: Decoded frames from roommates each room-1 peer must see, before and after the failover.
ENOUGH_FRAMES = 10
#: What the people outside room 1 must not get while room 1's worker fails and is replaced.
MEDIA_NEWS = frozenset({"media.failed", "media.topology", "media.slots", "media.answer", "speaker", "error"})


@pytest_asyncio.fixture(autouse=True)
async def _clean_loop_state() -> AsyncIterator[None]:
    yield
    await close_all_clients()


async def test_a_worker_failing_in_one_breakout_room_affects_only_that_room(
    meeting: Meeting, owner: User, sfu_workers: SfuWorkers, settings: SettingsWrapper, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.MEETING_SFU_THRESHOLD = 3  # room 1 (three people) on the worker, room 2 (two) peer-to-peer
    settings.MEETING_SFU_VIDEO_SLOTS = 2
    patient_with_the_worker(monkeypatch)
    first_worker = await sync_to_async(sfu_workers.start)()
    await open_meeting(meeting)
    host, (room_1, room_2) = await host_with_rooms(meeting, owner, count=2)
    main_id = host.joined["room"]["id"]
    clients = await guests(meeting, *ROOM_1, *ROOM_2)
    everyone = [Guest(client, tag, main_id) for tag, client in enumerate(clients)]
    first, second = everyone[: len(ROOM_1)], everyone[len(ROOM_1) :]
    room_of = {guest.id: room for group, room in ((first, room_1), (second, room_2)) for guest in group}
    try:
        await host.send({"type": "breakout.assign", "assignments": room_of})
        await host.send({"type": "breakout.open"})
        for guest in first:
            await enter(guest, room_1)
        for guest in second:
            await next_message(guest, {"joined"}, MESSAGE_TIMEOUT, lambda m: m["room"]["id"] == room_2)
            assert guest.client.joined["media"]["topology"] == "mesh", guest.name
        assert sfu_workers.serving(str(room_1)) is first_worker

        def roommates_seen(guest: Guest) -> int:
            """Frames decoded from a roommate since the guest's current peer connection."""
            return sum(
                1 for tag in guest.video_tags(room_1) if tag is not None and tag != guest.tag and tag < len(ROOM_1)
            )

        for guest in first:
            await publish(guest)
        await wait_until(
            "room 1 decodes its roommates through worker A",
            lambda: _all(roommates_seen(guest) >= ENOUGH_FRAMES for guest in first),
            first,
            MEDIA_TIMEOUT,
        )

        # Quiet outside room 1 from here on: forget what they got so far.
        for guest in second:
            await collect(guest)
            guest.inbox.clear()
        await host.assert_silent(set(), wait=0.5)  # takes in what came (the main room went to the SFU)
        host.backlog.clear()

        second_worker = await sync_to_async(sfu_workers.start)()
        before = {guest.id: roommates_seen(guest) for guest in first}
        await sync_to_async(first_worker.kill)()

        # Room 1: told, offers again (wait_until re-publishes on media.failed), decodes again.
        for guest in first:
            failed = await next_message(guest, {"media.failed"}, WORKER_TIMEOUT)
            assert failed["code"] == "room.moved", f"{guest.name}: {failed}"
            await publish(guest)
        await wait_until(
            "room 1 decodes its roommates again through worker B",
            lambda: _all(roommates_seen(guest) >= before[guest.id] + ENOUGH_FRAMES for guest in first),
            first,
            MEDIA_TIMEOUT,
        )
        assert sfu_workers.serving(str(room_1)) is second_worker
        for guest in first:
            assert guest.pc is not None, guest.name
            assert guest.pc.connectionState == "connected", report(first)

        # Room 2 and the main room heard nothing of it, and room 2's signalling still works.
        for guest in second:
            await collect(guest)
            news = [message for message in guest.inbox if message["type"] in MEDIA_NEWS]
            assert not news, f"{guest.name} in room 2 got {news}"
            assert guest.room_id == room_2
        await host.assert_silent(set(MEDIA_NEWS), wait=0.5)
        sender, receiver = second
        await sender.client.send({"type": "signal", "to": receiver.id, "kind": "restart", "data": {}})
        signal = await next_message(receiver, {"signal"}, MESSAGE_TIMEOUT)
        assert signal["from"] == sender.id
        assert signal["kind"] == "restart"
    finally:
        for guest in everyone:
            await stop_media(guest)
            for pc in guest.pcs:
                await pc.close()
        for client in (host, *clients):
            await client.close()


async def _all(values: Iterable[bool]) -> bool:
    """``all`` as the coroutine ``wait_until`` awaits."""
    return all(values)

"""Breakout rooms over the WebSocket, through the full ASGI stack and the real Redis channel
layer: set up, assign, open, what each room sees, broadcast, help, visit, choose, return, close
(now and after the countdown), late joiners, reconnects, and every refusal."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio
from channels.db import database_sync_to_async as sync_to_async
from django.db import close_old_connections, connection

from accounts.models import User
from meetings.models import BreakoutPlan, Meeting, Participant, Room, RoomKind
from rooms import breakouts
from tests.factories import main_room_of, save_meeting
from tests.room_client import RoomClient, close_all_clients

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


@pytest_asyncio.fixture(autouse=True)
async def _close_clients() -> AsyncIterator[None]:
    yield
    await close_all_clients()


async def open_meeting(meeting: Meeting) -> None:
    await sync_to_async(save_meeting)(meeting, waiting_room=False, allow_guests=True)


async def guests(meeting: Meeting, *names: str) -> list[RoomClient]:
    clients = []
    for name in names:
        client = await RoomClient.connect(meeting.code, guest_key=f"key-{name}", name=name)
        await client.join(display_name=name)
        clients.append(client)
    return clients


async def host_with_rooms(meeting: Meeting, owner: User, count: int = 2) -> tuple[RoomClient, list[int]]:
    host = await RoomClient.connect(meeting.code, owner, name="host")
    await host.join()
    await host.send({"type": "breakout.create", "count": count})
    state = await host.expect("breakouts", state="ready")
    return host, [room["id"] for room in state["rooms"]]


async def moved_to(client: RoomClient, room_id: int, timeout: float = 15) -> dict[str, Any]:
    joined = await client.expect("joined", timeout=timeout)
    assert joined["room"]["id"] == room_id, f"{client.name} went to {joined['room']} instead of {room_id}"
    client.joined = joined
    return joined


async def expect_until(
    client: RoomClient, kind: str, condition: Callable[[dict[str, Any]], bool], timeout: float = 15
) -> dict[str, Any]:
    """The first ``kind`` message that meets ``condition`` (state events repeat as things change)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        remaining = deadline - asyncio.get_running_loop().time()
        message = await client.expect(kind, timeout=max(remaining, 0.01))
        if condition(message):
            return message


def roster_ids(joined: dict[str, Any]) -> set[str]:
    return {person["id"] for person in joined["roster"]}


class TestSetUp:
    async def test_hosts_create_rooms_and_everyone_sees_them_ready(self, meeting: Meeting, owner: User) -> None:
        await open_meeting(meeting)
        (ada,) = await guests(meeting, "ada")
        assert ada.joined["breakouts"]["state"] == "none"
        assert ada.joined["room"]["kind"] == "main"
        host, _rooms = await host_with_rooms(meeting, owner, count=3)
        state = await ada.expect("breakouts", state="ready")
        assert [room["name"] for room in state["rooms"]] == ["Room 1", "Room 2", "Room 3"]
        await host.send({"type": "breakout.create", "names": ["Design", "Ops"]})
        state = await ada.expect("breakouts", state="ready")
        assert [room["name"] for room in state["rooms"]] == ["Design", "Ops"]
        assert await sync_to_async(Room.objects.filter(kind=RoomKind.BREAKOUT).count)() == 2

    async def test_every_breakout_command_from_a_participant_is_refused(self, meeting: Meeting, owner: User) -> None:
        await open_meeting(meeting)
        _host, rooms = await host_with_rooms(meeting, owner)
        (ada,) = await guests(meeting, "ada")
        commands: list[dict[str, Any]] = [
            {"type": "breakout.create", "count": 2},
            {"type": "breakout.settings", "mode": "choose"},
            {"type": "breakout.assign", "assignments": {ada.id: rooms[0]}},
            {"type": "breakout.auto_assign"},
            {"type": "breakout.open"},
            {"type": "breakout.close"},
            {"type": "breakout.broadcast", "text": "hi"},
            {"type": "breakout.visit", "room_id": rooms[0]},
        ]
        for command in commands:
            await ada.send(command)
            await ada.expect_error("not_host")
        plan = await sync_to_async(BreakoutPlan.objects.filter(meeting=meeting).first)()
        assert plan is not None
        assert (plan.opened_at, plan.mode) == (None, "manual")
        assert await sync_to_async(Room.objects.filter(kind=RoomKind.BREAKOUT).count)() == 2
        assert (await sync_to_async(Participant.objects.get)(pk=ada.id)).assigned_room_id is None

    async def test_bad_input_gets_stable_codes_and_changes_nothing(self, meeting: Meeting, owner: User) -> None:
        await open_meeting(meeting)
        host = await RoomClient.connect(meeting.code, owner, name="host")
        await host.join()
        await host.send({"type": "breakout.open"})
        await host.expect_error("no_rooms")
        await host.send({"type": "breakout.create", "count": 51})
        await host.expect_error("too_many_rooms")
        await host.send({"type": "breakout.create", "names": [f"R{i}" for i in range(51)]})
        await host.expect_error("too_many_rooms")
        await host.send({"type": "breakout.create", "count": 2, "names": ["a"]})
        await host.expect_error("invalid")
        await host.send({"type": "breakout.create", "count": 2})
        rooms = [room["id"] for room in (await host.expect("breakouts", state="ready"))["rooms"]]
        (ada,) = await guests(meeting, "ada")
        other = await sync_to_async(make_other_meeting_room)(meeting)
        await host.send({"type": "breakout.assign", "assignments": {ada.id: other}})
        await host.expect_error("no_such_room")
        await host.send({"type": "breakout.assign", "assignments": {ada.id: rooms[0], str(uuid.uuid4()): rooms[1]}})
        await host.expect_error("no_such_participant")
        assert (await sync_to_async(Participant.objects.get)(pk=ada.id)).assigned_room_id is None
        await host.send({"type": "breakout.close"})
        await host.expect_error("breakouts_not_open")
        await host.send({"type": "breakout.visit", "room_id": rooms[0]})
        await host.expect_error("breakouts_not_open")
        await host.send({"type": "breakout.settings", "countdown_seconds": 301})
        await host.expect_error("invalid")


def room_chat(room_id: int) -> list[str]:
    return list(Room.objects.get(pk=room_id).chat_messages.values_list("text", flat=True))


def make_other_meeting_room(meeting: Meeting) -> int:
    from tests.factories import make_meeting

    other = make_meeting(owner=meeting.owner, title="Elsewhere")
    return Room.objects.create(meeting=other, kind=RoomKind.BREAKOUT, name="Theirs", position=1).pk


class TestOpen:
    async def test_open_moves_people_and_each_room_is_its_own(self, meeting: Meeting, owner: User) -> None:
        await open_meeting(meeting)
        host, rooms = await host_with_rooms(meeting, owner)
        ada, bob, cyd, dan, eve = await guests(meeting, "ada", "bob", "cyd", "dan", "eve")
        main_id = host.joined["room"]["id"]
        await host.send(
            {
                "type": "breakout.assign",
                "assignments": {ada.id: rooms[0], bob.id: rooms[0], cyd.id: rooms[1], dan.id: rooms[1]},
            }
        )
        await host.send({"type": "breakout.open"})
        for client, room in ((ada, rooms[0]), (bob, rooms[0]), (cyd, rooms[1]), (dan, rooms[1])):
            joined = await moved_to(client, room)
            assert joined["breakouts"]["state"] == "open"
            assert joined["breakouts"]["assigned_room"] == room
            assert "resume_token" not in joined  # the one from the first `joined` still resumes
        assert roster_ids(ada.joined) == {ada.id, bob.id}
        assert roster_ids(cyd.joined) == {cyd.id, dan.id}
        # Unassigned people and hosts stay in the main room and see the others go.
        batch = await host.expect("roster.batch")
        assert set(batch["left"]) == {ada.id, bob.id, cyd.id, dan.id}
        assert batch["reason"] == "moved"
        await expect_until(host, "breakouts.overview", lambda o: {p["id"] for p in o["main"]} == {host.id, eve.id})
        assert eve.joined["room"]["id"] == main_id
        # Chat stays in its room, and is kept with it.
        await ada.send({"type": "chat.send", "text": "room one only"})
        assert (await bob.expect("chat.message"))["text"] == "room one only"
        await cyd.assert_silent({"chat.message"})
        await eve.assert_silent({"chat.message"})
        await host.assert_silent({"chat.message"})
        messages = await sync_to_async(room_chat)(rooms[0])
        assert messages == ["room one only"]
        # Signals are addressed within the room only.
        await ada.send({"type": "signal", "to": cyd.id, "kind": "offer", "data": {}})
        await ada.expect_error("no_such_participant")
        await ada.send({"type": "signal", "to": bob.id, "kind": "offer", "data": {"x": 1}})
        assert (await bob.expect("signal"))["from"] == ada.id
        # Hands and reactions too.
        await cyd.send({"type": "hand.raise"})
        assert (await dan.expect("hand"))["hands"] == [cyd.id]
        await ada.assert_silent({"hand"})

    async def test_broadcast_reaches_every_room(self, meeting: Meeting, owner: User) -> None:
        await open_meeting(meeting)
        host, rooms = await host_with_rooms(meeting, owner)
        ada, bob = await guests(meeting, "ada", "bob")
        await host.send({"type": "breakout.assign", "assignments": {ada.id: rooms[0], bob.id: rooms[1]}})
        await host.send({"type": "breakout.open"})
        await moved_to(ada, rooms[0])
        await moved_to(bob, rooms[1])
        await host.send({"type": "breakout.broadcast", "text": "Five more minutes"})
        for client in (ada, bob, host):
            message = await client.expect("broadcast")
            assert (message["text"], message["from"]) == ("Five more minutes", host.id)

    async def test_help_reaches_the_hosts_and_a_visit_answers_it(self, meeting: Meeting, owner: User) -> None:
        await open_meeting(meeting)
        host, rooms = await host_with_rooms(meeting, owner)
        ada, bob = await guests(meeting, "ada", "bob")
        await bob.send({"type": "breakout.help"})
        await bob.expect_error("not_allowed")  # from the main room there is nobody to call
        await host.send({"type": "breakout.assign", "assignments": {ada.id: rooms[0], bob.id: rooms[1]}})
        await host.send({"type": "breakout.open"})
        await moved_to(bob, rooms[1])
        await bob.send({"type": "breakout.help"})
        help_request = await host.expect("help.requested")
        assert (help_request["participant_id"], help_request["room_id"]) == (bob.id, rooms[1])
        overview = await expect_until(host, "breakouts.overview", lambda o: bool(o["help"]))
        assert [item["participant_id"] for item in overview["help"]] == [bob.id]
        await ada.assert_silent({"help.requested", "breakouts.overview"})
        await host.send({"type": "breakout.visit", "room_id": rooms[1]})
        visiting = await moved_to(host, rooms[1])
        assert roster_ids(visiting) == {host.id, bob.id}
        assert (await bob.expect("roster.joined"))["participant"]["id"] == host.id
        assert (await sync_to_async(Participant.objects.get)(pk=bob.id)).help_requested_at is None
        await host.send({"type": "breakout.visit", "room_id": visiting["breakouts"]["rooms"][0]["id"]})
        await moved_to(host, rooms[0])
        await host.send({"type": "breakout.return"})
        await moved_to(host, (await sync_to_async(main_room_of)(meeting)).pk)

    async def test_close_now_brings_everyone_back(self, meeting: Meeting, owner: User) -> None:
        await open_meeting(meeting)
        host, rooms = await host_with_rooms(meeting, owner)
        ada, bob = await guests(meeting, "ada", "bob")
        main_id = host.joined["room"]["id"]
        await host.send({"type": "breakout.auto_assign"})
        await host.send({"type": "breakout.open"})
        assert {(await moved_to(ada, rooms[0]))["room"]["id"], (await moved_to(bob, rooms[1]))["room"]["id"]} == set(
            rooms
        )
        await host.send({"type": "breakout.close", "now": True})
        for client in (ada, bob):
            back = await moved_to(client, main_id)
            assert roster_ids(back) == {host.id, ada.id, bob.id}
            assert back["breakouts"]["state"] == "none"
        closed = await sync_to_async(list)(
            Room.objects.filter(kind=RoomKind.BREAKOUT).values_list("closed_at", flat=True)
        )
        assert all(closed)

    async def test_close_with_a_countdown_then_everyone_is_back(self, meeting: Meeting, owner: User) -> None:
        await open_meeting(meeting)
        host, rooms = await host_with_rooms(meeting, owner, count=1)
        (ada,) = await guests(meeting, "ada")
        await host.send({"type": "breakout.settings", "countdown_seconds": 1})
        await host.send({"type": "breakout.assign", "assignments": {ada.id: rooms[0]}})
        await host.send({"type": "breakout.open"})
        await moved_to(ada, rooms[0])
        await host.send({"type": "breakout.close"})
        closing = await ada.expect("breakouts", state="closing")
        assert closing["closing_at"] is not None
        await moved_to(ada, host.joined["room"]["id"])

    async def test_a_duration_closes_the_rooms_by_itself(self, meeting: Meeting, owner: User) -> None:
        await open_meeting(meeting)
        host, rooms = await host_with_rooms(meeting, owner, count=1)
        (ada,) = await guests(meeting, "ada")
        await host.send({"type": "breakout.settings", "countdown_seconds": 0, "duration_minutes": 1})
        await host.send({"type": "breakout.assign", "assignments": {ada.id: rooms[0]}})
        await host.send({"type": "breakout.open"})
        opened = await moved_to(ada, rooms[0])
        assert opened["breakouts"]["ends_at"] is not None
        # Make the minute pass: the deadline is moved into the past, as time would.
        await sync_to_async(shorten_session)(meeting)
        assert await sync_to_async(breakouts.do_run_deadlines)(meeting.pk) is None
        await moved_to(ada, host.joined["room"]["id"])


def shorten_session(meeting: Meeting) -> None:
    from datetime import timedelta

    from django.utils import timezone

    BreakoutPlan.objects.filter(meeting=meeting).update(ends_at=timezone.now() - timedelta(seconds=1))


class TestParticipantsMoves:
    async def test_choose_and_return_follow_the_settings(self, meeting: Meeting, owner: User) -> None:
        await open_meeting(meeting)
        host, rooms = await host_with_rooms(meeting, owner)
        (ada,) = await guests(meeting, "ada")
        await host.send({"type": "breakout.open"})
        await ada.expect("breakouts", state="open")
        await ada.send({"type": "breakout.choose", "room_id": rooms[1]})
        await ada.expect_error("not_allowed")  # manual mode
        await host.send({"type": "breakout.settings", "mode": "choose", "allow_return": False})
        await ada.expect("breakouts", mode="choose")
        await ada.send({"type": "breakout.choose", "room_id": host.joined["room"]["id"]})
        await ada.expect_error("no_such_room")
        await ada.send({"type": "breakout.choose", "room_id": rooms[1]})
        await moved_to(ada, rooms[1])
        await ada.send({"type": "breakout.return"})
        await ada.expect_error("not_allowed")
        await host.send({"type": "breakout.settings", "allow_return": True})
        await ada.expect("breakouts", allow_return=True)
        await ada.send({"type": "breakout.return"})
        await moved_to(ada, host.joined["room"]["id"])

    async def test_late_joiners_follow_the_active_rule(self, meeting: Meeting, owner: User) -> None:
        await open_meeting(meeting)
        host, rooms = await host_with_rooms(meeting, owner)
        (ada,) = await guests(meeting, "ada")
        await host.send({"type": "breakout.settings", "mode": "auto"})
        await host.send({"type": "breakout.open"})
        await moved_to(ada, rooms[0])  # auto: spread at opening
        bob, cyd = await guests(meeting, "bob", "cyd")
        assert bob.joined["room"]["id"] == rooms[1]  # the emptiest room
        assert cyd.joined["room"]["id"] in rooms
        await host.send({"type": "breakout.settings", "mode": "manual"})
        (dan,) = await guests(meeting, "dan")
        assert dan.joined["room"]["id"] == host.joined["room"]["id"]
        await expect_until(host, "breakouts.overview", lambda o: dan.id in o["unassigned"])

    async def test_a_reconnect_or_reload_comes_back_into_the_breakout_room(self, meeting: Meeting, owner: User) -> None:
        await open_meeting(meeting)
        host, rooms = await host_with_rooms(meeting, owner)
        ada, bob = await guests(meeting, "ada", "bob")
        await host.send({"type": "breakout.assign", "assignments": {ada.id: rooms[1], bob.id: rooms[1]}})
        await host.send({"type": "breakout.open"})
        token_room = await moved_to(ada, rooms[1])
        assert token_room["room"]["name"] == "Room 2"
        await ada.close()  # the page reloads: a new connection, the same session
        again = await RoomClient.connect(meeting.code, guest_key="key-ada", name="ada again")
        joined = await again.join(display_name="ada")
        assert (joined["you"]["id"], joined["room"]["id"]) == (ada.id, rooms[1])
        assert roster_ids(joined) == {ada.id, bob.id}
        await bob.assert_silent({"roster.left", "roster.joined"})


class TestConcurrentHosts:
    async def test_two_cohosts_assigning_at_once_lose_nothing(
        self, meeting: Meeting, owner: User, member: User
    ) -> None:
        await open_meeting(meeting)
        host, rooms = await host_with_rooms(meeting, owner)
        cohost = await RoomClient.connect(meeting.code, member, name="cohost")
        await cohost.join()
        people = await guests(meeting, *[f"p{i}" for i in range(8)])
        ids = [uuid.UUID(person.id) for person in people]
        errors: list[BaseException] = []

        def assign(by: str, chunk: list[uuid.UUID], room: int) -> None:
            try:
                for participant_id in chunk:
                    breakouts.do_assign(uuid.UUID(by), {participant_id: room})
            except BaseException as exc:  # reported below
                errors.append(exc)
            finally:
                connection.close()

        threads = [
            threading.Thread(target=assign, args=(host.id, ids[:4], rooms[0])),
            threading.Thread(target=assign, args=(cohost.id, ids[4:], rooms[1])),
        ]
        await sync_to_async(close_old_connections)()
        for thread in threads:
            thread.start()
        for thread in threads:
            await asyncio.to_thread(thread.join)
        assert errors == []
        assigned = await sync_to_async(dict)(
            Participant.objects.filter(pk__in=ids).values_list("id", "assigned_room_id")
        )
        assert assigned == {**{pid: rooms[0] for pid in ids[:4]}, **{pid: rooms[1] for pid in ids[4:]}}

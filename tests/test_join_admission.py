"""Load shedding at the door (``rooms.admission``): a web process works on a bounded number of
joins; the next one is told ``busy`` with a ``retry_after`` at once, keeps its connection, and
gets in when it asks again. Refused and failed joins give their place back."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import pytest_asyncio
from channels.testing import WebsocketCommunicator
from django.db import connections, transaction
from pytest_django.fixtures import Settings as SettingsWrapper

from conference.asgi import application
from meetings.models import Meeting
from rooms.admission import RETRY_AFTER_MAX, RETRY_AFTER_MIN, JoinGate
from tests.factories import make_meeting
from tests.room_client import ORIGIN, RoomClient, close_all_clients, session_cookie

# --- the gate ---------------------------------------------------------------------------------------


def test_the_gate_admits_up_to_its_limit_and_frees_a_place_per_leave() -> None:
    gate = JoinGate(limit=2)
    assert gate.enter("a", now=0.0)
    assert gate.enter("b", now=0.0)
    assert not gate.enter("c", now=0.0)
    gate.leave("a", now=1.0)
    assert gate.enter("c", now=1.0)
    assert gate.in_progress == 2


def test_leaving_twice_or_without_entering_changes_nothing() -> None:
    gate = JoinGate(limit=1)
    gate.leave("stranger", now=0.0)
    assert gate.enter("a", now=0.0)
    gate.leave("a", now=0.5)
    gate.leave("a", now=0.6)
    assert gate.in_progress == 0
    assert gate.enter("b", now=1.0)
    assert not gate.enter("c", now=1.0)


def test_retry_after_follows_how_long_joins_take_within_bounds() -> None:
    gate = JoinGate(limit=10)
    assert gate.retry_after() == RETRY_AFTER_MIN
    for n in range(100):  # joins take 3 s each
        gate.enter(n, now=float(n))
        gate.leave(n, now=float(n) + 3.0)
    assert 2.9 <= gate.retry_after() <= 3.0
    for n in range(100, 200):  # then a minute each
        gate.enter(n, now=0.0)
        gate.leave(n, now=60.0)
    assert gate.retry_after() == RETRY_AFTER_MAX


# --- through the consumer, with a join held up by the meeting's row lock -----------------------------


@pytest_asyncio.fixture
async def _clean_loop_state() -> AsyncIterator[None]:
    yield
    await close_all_clients()


@pytest.fixture
def one_join_at_a_time(settings: SettingsWrapper) -> None:
    settings.MEETING_JOIN_CONCURRENCY = 1


class RowLock:
    """Holds the meeting's row lock from another database connection (as a long join would)."""

    def __init__(self, meeting: Meeting) -> None:
        self.meeting = meeting
        self.locked = threading.Event()
        self.release = threading.Event()
        self.thread = threading.Thread(target=self.hold, daemon=True)

    def hold(self) -> None:
        try:
            with transaction.atomic():
                Meeting.objects.select_for_update().get(pk=self.meeting.pk)
                self.locked.set()
                self.release.wait(30)
        finally:
            connections.close_all()

    def __enter__(self) -> RowLock:
        self.thread.start()
        assert self.locked.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.thread.join(10)


@pytest.fixture
def open_meeting(transactional_db: None) -> Meeting:
    return make_meeting(allow_guests=True, waiting_room=False)


def through_the_consumer(test: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
    """An async test against the real database; the event loop's services are stopped after."""
    marks = (pytest.mark.usefixtures("_clean_loop_state"), pytest.mark.django_db(transaction=True), pytest.mark.asyncio)
    for mark in marks:
        test = mark(test)
    return test


@through_the_consumer
@pytest.mark.usefixtures("one_join_at_a_time")
async def test_a_join_beyond_the_limit_is_told_busy_and_gets_in_when_it_asks_again(open_meeting: Meeting) -> None:
    ada = await RoomClient.connect(open_meeting.code, guest_key="ada", name="ada")
    bob = await RoomClient.connect(open_meeting.code, guest_key="bob", name="bob")
    with RowLock(open_meeting) as lock:
        await ada.send({"type": "join", "display_name": "Ada"})  # waits for the row lock
        await asyncio.sleep(0.2)
        await bob.send({"type": "join", "display_name": "Bob"})
        busy = await bob.expect_error("busy")
        assert RETRY_AFTER_MIN <= busy["retry_after"] <= RETRY_AFTER_MAX
        assert "joining" in busy["message"]
        lock.release.set()
        ada.joined = await ada.expect("joined")
    assert bob.closed_with is None  # still connected: it only has to ask again
    joined = await bob.join(display_name="Bob")
    assert {person["name"] for person in joined["roster"]} == {"Ada", "Bob"}
    await ada.expect("roster.joined")


@through_the_consumer
@pytest.mark.usefixtures("one_join_at_a_time")
async def test_a_refused_join_gives_its_place_back(open_meeting: Meeting) -> None:
    ada = await RoomClient.connect(open_meeting.code, guest_key="ada", name="ada")
    await ada.send({"type": "join"})  # a guest without a name: refused
    await ada.expect_error("invalid")
    bob = await RoomClient.connect(open_meeting.code, guest_key="bob", name="bob")
    await bob.join(display_name="Bob")  # the place Ada's attempt held is free again
    await ada.join(display_name="Ada")


@through_the_consumer
async def test_a_handshake_completes_while_joins_hold_the_database_thread(open_meeting: Meeting) -> None:
    """The user is resolved on the handshake thread (``conference.handshake``), so a newcomer's
    socket is accepted at once even while the process's database thread waits on a join; its
    ``hello`` follows when that join is through."""
    ada = await RoomClient.connect(open_meeting.code, guest_key="ada", name="ada")
    cookie = await session_cookie(None, "cleo")
    with RowLock(open_meeting) as lock:
        await ada.send({"type": "join", "display_name": "Ada"})  # holds the database thread
        await asyncio.sleep(0.2)
        communicator = WebsocketCommunicator(
            application, f"/ws/meetings/{open_meeting.code}/", headers=[(b"origin", ORIGIN), (b"cookie", cookie)]
        )
        connected, _ = await communicator.connect(timeout=5)
        assert connected  # accepted before the join let go of the database thread
        assert await communicator.receive_nothing(0.3)  # its hello waits its turn
        lock.release.set()
        await ada.expect("joined")
        hello = await communicator.receive_json_from(timeout=10)
    assert hello["type"] == "hello"
    await communicator.disconnect()

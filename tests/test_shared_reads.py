"""Snapshot reads shared by the newcomers of one web process (``rooms.shared_reads``): a read
serves only those whose connection was subscribed before it began, never a stale one, and the
newcomer is always in their own roster."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from meetings.models import Meeting, Participant, ParticipantState
from rooms import presence
from rooms.shared_reads import SharedReads
from tests.factories import main_room_of, make_meeting


def test_a_read_serves_only_those_subscribed_before_it_began() -> None:
    reads: SharedReads[str] = SharedReads(max_age=2.0)
    reads.put("room", started=10.0, value="read at 10")
    assert reads.get("room", since=9.5, now=10.5) == "read at 10"
    assert reads.get("room", since=10.0, now=10.5) == "read at 10"
    assert reads.get("room", since=10.1, now=10.5) is None  # subscribed after the read began
    assert reads.get("room", since=9.0, now=12.5) is None  # too old
    assert reads.get("other room", since=0.0, now=10.5) is None


def test_a_later_read_is_kept_an_earlier_one_is_not() -> None:
    reads: SharedReads[str] = SharedReads(max_age=5.0)
    reads.put("room", started=10.0, value="at 10")
    reads.put("room", started=9.0, value="at 9")  # finished later, but began earlier
    assert reads.get("room", since=9.0, now=11.0) == "at 10"
    reads.put("room", started=11.0, value="at 11")
    assert reads.get("room", since=9.0, now=11.0) == "at 11"


def test_only_the_latest_rooms_are_kept() -> None:
    reads: SharedReads[int] = SharedReads(max_age=5.0, capacity=2)
    for room in (1, 2, 3):
        reads.put(room, started=1.0, value=room)
    assert reads.get(1, since=0.0, now=2.0) is None
    assert reads.get(2, since=0.0, now=2.0) == 2
    assert reads.get(3, since=0.0, now=2.0) == 3


# --- in the join path -------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def no_shared_views() -> Iterator[None]:
    presence.SHARED_VIEWS.clear()
    yield
    presence.SHARED_VIEWS.clear()


def big_meeting(people: int) -> Meeting:
    meeting = make_meeting(allow_guests=True, waiting_room=False, max_participants=1000)
    room = main_room_of(meeting)
    now = timezone.now()
    Participant.objects.bulk_create(
        Participant(
            meeting=meeting,
            room=room,
            display_name=f"person {n}",
            guest_key=f"key-{n}",
            state=ParticipantState.JOINED,
            joined_at=now,
        )
        for n in range(people)
    )
    return meeting


def guest_joins(meeting: Meeting, name: str, subscribed_at: float | None) -> presence.JoinOutcome:
    identity = presence.Identity(user_id=None, guest_key=f"guest-{name}", default_name="")
    return presence.do_join(
        meeting.pk,
        AnonymousUser(),
        identity,
        display_name=name,
        passcode=None,
        resume_token=None,
        channel_name=f"channel-{name}",
        subscribed_at=subscribed_at,
    )


def roster_names(outcome: presence.JoinOutcome) -> list[str]:
    assert outcome.snapshot is not None
    return [person["name"] for person in outcome.snapshot["roster"]]


def queries_of(join: object) -> tuple[presence.JoinOutcome, int]:
    with CaptureQueriesContext(connection) as queries:
        outcome = join()  # type: ignore[operator]
    return outcome, len(queries)


@pytest.mark.django_db
def test_newcomers_subscribed_before_a_read_share_it_and_find_themselves_in_it() -> None:
    meeting = big_meeting(presence.SHARED_VIEW_MIN_PEOPLE)
    subscribed = time.monotonic()  # both connections are in the room's groups from here on
    ada, ada_queries = queries_of(lambda: guest_joins(meeting, "Ada", subscribed))
    bob, bob_queries = queries_of(lambda: guest_joins(meeting, "Bob", subscribed))

    assert len(roster_names(ada)) == presence.SHARED_VIEW_MIN_PEOPLE + 1
    assert "Ada" in roster_names(ada)
    # Bob's snapshot is Ada's read (made after Bob subscribed) plus Bob himself.
    assert roster_names(bob) == [*roster_names(ada), "Bob"]
    assert bob.snapshot is not None
    assert bob.snapshot["you"]["name"] == "Bob"
    assert bob_queries < ada_queries - 4  # no roster, chat, hands, breakout or recording reads


def someone_arrives_unseen(meeting: Meeting, name: str) -> None:
    """A row no shared read has seen (as if committed by another process after the read)."""
    Participant.objects.create(
        meeting=meeting,
        room=main_room_of(meeting),
        display_name=name,
        guest_key=f"key-{name}",
        state=ParticipantState.JOINED,
        joined_at=timezone.now(),
    )


@pytest.mark.django_db
def test_a_newcomer_subscribed_after_the_last_read_reads_afresh() -> None:
    meeting = big_meeting(presence.SHARED_VIEW_MIN_PEOPLE)
    guest_joins(meeting, "Ada", time.monotonic())
    someone_arrives_unseen(meeting, "Eve")
    cleo = guest_joins(meeting, "Cleo", time.monotonic())  # subscribed after Ada's read began
    assert {"Ada", "Eve", "Cleo"} <= set(roster_names(cleo))
    assert len(roster_names(cleo)) == presence.SHARED_VIEW_MIN_PEOPLE + 3


@pytest.mark.django_db
def test_small_rooms_are_read_for_every_newcomer() -> None:
    meeting = big_meeting(3)
    subscribed = time.monotonic()
    guest_joins(meeting, "Ada", subscribed)
    bob = guest_joins(meeting, "Bob", subscribed)
    assert {"Ada", "Bob"} <= set(roster_names(bob))
    assert presence.SHARED_VIEWS.get(main_room_of(meeting).pk, since=subscribed) is None


@pytest.mark.django_db
def test_without_a_subscription_time_nothing_is_shared() -> None:
    meeting = big_meeting(presence.SHARED_VIEW_MIN_PEOPLE)
    guest_joins(meeting, "Ada", time.monotonic())
    someone_arrives_unseen(meeting, "Eve")
    dan = guest_joins(meeting, "Dan", None)  # e.g. a breakout room's newcomer: subscribed later
    assert {"Ada", "Eve", "Dan"} <= set(roster_names(dan))

"""Breakout rooms: set up, assign, open, close (with a countdown or a duration), broadcast, ask
for help, visit, choose, return.

Every write locks the meeting row first, so two co-hosts acting at once are serialised and no
assignment is lost. The functions taking a ``Meeting`` are the domain steps shared by the
WebSocket (``do_*`` here, by participant id) and REST (``rooms.api``, by a host's account);
both ask ``rooms.permissions`` first. People move through ``rooms.presence.move``, which sends
each mover its new room's snapshot. Events go out on commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from meetings.models import (
    BreakoutPlan,
    BreakoutPreassignment,
    Meeting,
    MeetingStatus,
    Participant,
    Room,
    RoomKind,
)
from meetings.signals import send_signal_on_commit
from rooms import events
from rooms.breakout_state import MAX_ROOMS, breakout_rooms, context_of, joined_in, main_room, rooms_by_occupancy
from rooms.events import hosts_group, meeting_group, send_on_commit
from rooms.permissions import Action, actor_of, check
from rooms.presence import Move, in_room, move, notify_breakouts
from rooms.protocol import ProtocolError
from rooms.signals import breakout_closed, breakout_opened

T = TypeVar("T")


@dataclass(frozen=True)
class Settings:
    """Changes to the breakout settings; ``None`` leaves a field as it is."""

    mode: str | None = None
    allow_return: bool | None = None
    countdown_seconds: int | None = None
    duration_minutes: int | None = None
    set_duration: bool = False  # True: ``duration_minutes`` (possibly None) replaces the duration


def lock_meeting(meeting_id: int) -> Meeting:
    meeting = Meeting.objects.select_for_update().get(pk=meeting_id)
    if meeting.status == MeetingStatus.ENDED:
        raise ProtocolError("meeting_ended", "The meeting has ended.")
    return meeting


def plan_for_update(meeting: Meeting) -> BreakoutPlan:
    plan, _ = BreakoutPlan.objects.select_for_update().get_or_create(meeting=meeting)
    return plan


def _room_names(count: int | None, names: Sequence[str] | None) -> list[str]:
    wanted = list(names) if names is not None else [f"Room {i}" for i in range(1, (count or 0) + 1)]
    if not wanted:
        raise ProtocolError("no_rooms", "Give at least one room.", field="count")
    if len(wanted) > MAX_ROOMS:
        raise ProtocolError("too_many_rooms", f"At most {MAX_ROOMS} breakout rooms.", field="count")
    return [name.strip()[:80] or f"Room {i}" for i, name in enumerate(wanted, start=1)]


# --- Domain steps (the meeting row locked by the caller) -------------------------------------


def create_rooms(meeting: Meeting, count: int | None = None, names: Sequence[str] | None = None) -> list[Room]:
    """Replaces the rooms that are set up but not open with these (assignments to them go)."""
    plan = plan_for_update(meeting)
    if plan.is_open:
        raise ProtocolError("breakouts_open", "Close the breakout rooms first.")
    titles = _room_names(count, names)
    main = main_room(meeting.pk)
    breakout_rooms(meeting.pk).filter(opened_at__isnull=True).delete()
    rooms = Room.objects.bulk_create(
        Room(meeting=meeting, kind=RoomKind.BREAKOUT, parent=main, name=name, position=position)
        for position, name in enumerate(titles, start=1)
    )
    notify_breakouts(meeting.pk)
    return rooms


def change_settings(meeting: Meeting, settings: Settings) -> BreakoutPlan:
    plan = plan_for_update(meeting)
    if settings.mode is not None:
        plan.mode = settings.mode
    if settings.allow_return is not None:
        plan.allow_return = settings.allow_return
    if settings.countdown_seconds is not None:
        plan.countdown_seconds = settings.countdown_seconds
    if settings.set_duration:
        plan.duration_minutes = settings.duration_minutes
        if plan.is_open and plan.closing_at is None:
            plan.ends_at = _after(plan.opened_at, plan.duration_minutes)
    plan.save()
    notify_breakouts(meeting.pk)
    return plan


def _after(start: datetime | None, minutes: int | None) -> datetime | None:
    return start + timedelta(minutes=minutes) if start is not None and minutes else None


def _current_rooms(meeting: Meeting) -> dict[int, Room]:
    return {room.pk: room for room in breakout_rooms(meeting.pk)}


def assign(meeting: Meeting, assignments: Mapping[uuid.UUID, int | None]) -> None:
    """Puts people in rooms (``None``: no room). While the rooms are open they move at once."""
    rooms = _current_rooms(meeting)
    unknown_rooms = {room_id for room_id in assignments.values() if room_id is not None} - rooms.keys()
    if unknown_rooms:
        raise ProtocolError("no_such_room", f"No breakout room {sorted(unknown_rooms)[0]} in this meeting.")
    people = {p.id: p for p in joined_in(meeting.pk).select_for_update().filter(pk__in=list(assignments))}
    missing = set(assignments) - people.keys()
    if missing:
        raise ProtocolError("no_such_participant", f"{sorted(map(str, missing))[0]} is not in this meeting.")
    for participant_id, room_id in assignments.items():
        participant = people[participant_id]
        participant.assigned_room = rooms[room_id] if room_id is not None else None
        participant.save(update_fields=["assigned_room"])
    plan = plan_for_update(meeting)
    if plan.is_open and plan.closing_at is None:
        main = main_room(meeting.pk)
        move([Move(p, p.assigned_room or main) for p in people.values()], meeting)
    else:
        notify_breakouts(meeting.pk)


def auto_assign(meeting: Meeting) -> None:
    """Everyone present but hosts, spread evenly over the rooms (in order of arrival)."""
    rooms = list(breakout_rooms(meeting.pk))
    if not rooms:
        raise ProtocolError("no_rooms", "Create breakout rooms first.")
    people = joined_in(meeting.pk).exclude(role__in=("host", "cohost")).order_by("joined_at", "created_at")
    assign(meeting, {p.id: rooms[i % len(rooms)].pk for i, p in enumerate(people)})


def preassign(meeting: Meeting, pairs: Sequence[tuple[str, int]]) -> int:
    """Before (or during) a meeting: people invited by email go to these rooms when they join
    while the rooms are open. Replaces earlier pre-assignments of the same emails."""
    rooms = _current_rooms(meeting)
    for email, room_id in pairs:
        if room_id not in rooms:
            raise ProtocolError("no_such_room", f"No breakout room {room_id} in this meeting.", field="room")
        try:
            validate_email(email.strip())
        except ValidationError as exc:
            raise ProtocolError("invalid", f"{email!r} is not an email address.", field="email") from exc
    for email, room_id in pairs:
        BreakoutPreassignment.objects.update_or_create(
            meeting=meeting, email=email.strip().lower(), defaults={"room": rooms[room_id]}
        )
    # People already here with these addresses are assigned now.
    by_email = {email.strip().lower(): room_id for email, room_id in pairs}
    present = joined_in(meeting.pk).select_related("user").filter(user__isnull=False)
    for participant in present:
        assert participant.user is not None
        wanted = by_email.get(participant.user.email.lower())
        if wanted is not None:
            participant.assigned_room = rooms[wanted]
            participant.save(update_fields=["assigned_room"])
    notify_breakouts(meeting.pk)
    return len(pairs)


def open_rooms(meeting: Meeting) -> BreakoutPlan:
    plan = plan_for_update(meeting)
    if plan.is_open:
        raise ProtocolError("breakouts_open", "The breakout rooms are open already.")
    rooms = list(breakout_rooms(meeting.pk))
    if not rooms:
        raise ProtocolError("no_rooms", "Create breakout rooms first.")
    now = timezone.now()
    Room.objects.filter(pk__in=[room.pk for room in rooms]).update(opened_at=now)
    plan.opened_at = now
    plan.closing_at = None
    plan.ends_at = _after(now, plan.duration_minutes)
    plan.save()
    by_id = {room.pk: room for room in rooms}
    people = list(joined_in(meeting.pk).select_for_update().exclude(role__in=("host", "cohost")))
    if plan.mode == "auto":
        _spread_unassigned(people, rooms, by_id)
    moves = [Move(p, by_id[p.assigned_room_id]) for p in people if p.assigned_room_id in by_id]
    move(moves, meeting)
    if not moves:
        notify_breakouts(meeting.pk)
    send_signal_on_commit(breakout_opened, Meeting, meeting_id=meeting.pk, rooms=[room.pk for room in rooms])
    return plan


def _spread_unassigned(people: list[Participant], rooms: list[Room], by_id: dict[int, Room]) -> None:
    counts = {room.pk: 0 for room in rooms}
    for person in people:
        if person.assigned_room_id in counts:
            counts[person.assigned_room_id] += 1
    for person in people:
        if person.assigned_room_id not in counts:
            room_id = min(counts, key=lambda pk: (counts[pk], by_id[pk].position))
            counts[room_id] += 1
            person.assigned_room = by_id[room_id]
            person.save(update_fields=["assigned_room"])


def close_rooms(meeting: Meeting, now: bool) -> BreakoutPlan:
    """Starts the countdown, or (``now``, no countdown, or closing already) closes at once."""
    plan = plan_for_update(meeting)
    if not plan.is_open:
        raise ProtocolError("breakouts_not_open", "The breakout rooms are not open.")
    if now or plan.countdown_seconds == 0 or plan.closing_at is not None:
        finish(meeting, plan)
        return plan
    plan.closing_at = timezone.now() + timedelta(seconds=plan.countdown_seconds)
    plan.save(update_fields=["closing_at", "updated_at"])
    notify_breakouts(meeting.pk)
    return plan


def finish(meeting: Meeting, plan: BreakoutPlan) -> None:
    """Everyone back in the main room; the rooms are closed (kept, with their chat)."""
    main = main_room(meeting.pk)
    rooms = list(breakout_rooms(meeting.pk).filter(opened_at__isnull=False))
    people = list(joined_in(meeting.pk).select_for_update(of=("self",)).filter(room__kind=RoomKind.BREAKOUT))
    # Closed first, so that the snapshots the movers get already say so.
    Room.objects.filter(pk__in=[room.pk for room in rooms]).update(closed_at=timezone.now())
    Participant.objects.filter(meeting=meeting, assigned_room__isnull=False).update(
        assigned_room=None, help_requested_at=None
    )
    plan.opened_at = plan.closing_at = plan.ends_at = None
    plan.save()
    for person in people:
        person.assigned_room = None
    move([Move(p, main) for p in people], meeting)
    if not people:
        notify_breakouts(meeting.pk)
    send_signal_on_commit(breakout_closed, Meeting, meeting_id=meeting.pk, rooms=[room.pk for room in rooms])


def broadcast(meeting: Meeting, sender: Participant, text: str) -> None:
    send_on_commit(meeting_group(meeting.pk), events.broadcast(sender, text, timezone.now()))


def run_deadlines(meeting: Meeting) -> float | None:
    """Starts the countdown of an open session whose duration is up, and closes one whose
    countdown is over. Returns the seconds until the next deadline, or None when none is left."""
    plan = BreakoutPlan.objects.select_for_update().filter(meeting=meeting).first()
    if plan is None or not plan.is_open:
        return None
    now = timezone.now()
    if plan.closing_at is None and plan.ends_at is not None and plan.ends_at <= now:
        plan.closing_at = now + timedelta(seconds=plan.countdown_seconds)
        plan.save(update_fields=["closing_at", "updated_at"])
        notify_breakouts(meeting.pk)
    if plan.closing_at is not None and plan.closing_at <= now:
        finish(meeting, plan)
        return None
    deadline = plan.closing_at or plan.ends_at
    return max(0.0, (deadline - now).total_seconds()) if deadline is not None else None


# --- From the room (by participant id; the consumer calls these) ------------------------------


def _as(participant_id: uuid.UUID, action: Action, step: Callable[[Meeting, Participant], T]) -> T:
    participant = in_room(participant_id)
    check(actor_of(participant), action, context_of(participant))
    meeting = lock_meeting(participant.meeting_id)
    participant = in_room(participant_id, lock=True)
    return step(meeting, participant)


@transaction.atomic
def do_create(host_id: uuid.UUID, count: int | None, names: Sequence[str] | None) -> None:
    _as(host_id, Action.MANAGE_BREAKOUTS, lambda meeting, _: create_rooms(meeting, count, names))


@transaction.atomic
def do_settings(host_id: uuid.UUID, settings: Settings) -> float | None:
    plan = _as(host_id, Action.MANAGE_BREAKOUTS, lambda meeting, _: change_settings(meeting, settings))
    return seconds_to_next_deadline(plan)


@transaction.atomic
def do_assign(host_id: uuid.UUID, assignments: Mapping[uuid.UUID, int | None]) -> None:
    _as(host_id, Action.MOVE_PEOPLE, lambda meeting, _: assign(meeting, assignments))


@transaction.atomic
def do_auto_assign(host_id: uuid.UUID) -> None:
    _as(host_id, Action.MOVE_PEOPLE, lambda meeting, _: auto_assign(meeting))


@transaction.atomic
def do_open(host_id: uuid.UUID) -> float | None:
    plan = _as(host_id, Action.MANAGE_BREAKOUTS, lambda meeting, _: open_rooms(meeting))
    return seconds_to_next_deadline(plan)


@transaction.atomic
def do_close(host_id: uuid.UUID, now: bool) -> float | None:
    plan = _as(host_id, Action.MANAGE_BREAKOUTS, lambda meeting, _: close_rooms(meeting, now))
    return seconds_to_next_deadline(plan)


@transaction.atomic
def do_run_deadlines(meeting_id: int) -> float | None:
    meeting = Meeting.objects.select_for_update().filter(pk=meeting_id).first()
    return run_deadlines(meeting) if meeting is not None else None


def seconds_to_next_deadline(plan: BreakoutPlan) -> float | None:
    deadline = plan.closing_at or plan.ends_at
    if not plan.is_open or deadline is None:
        return None
    return max(0.0, (deadline - timezone.now()).total_seconds())


@transaction.atomic
def do_broadcast(host_id: uuid.UUID, text: str) -> None:
    _as(host_id, Action.MANAGE_BREAKOUTS, lambda meeting, host: broadcast(meeting, host, text))


def _open_room(meeting: Meeting, room_id: int, *, main_allowed: bool) -> Room:
    room = Room.objects.filter(pk=room_id, meeting=meeting, closed_at__isnull=True).first()
    if room is None or (room.kind == RoomKind.MAIN and not main_allowed):
        raise ProtocolError("no_such_room", "No such room in this meeting.", field="room_id")
    if room.kind == RoomKind.BREAKOUT and room.opened_at is None:
        raise ProtocolError("breakouts_not_open", "The breakout rooms are not open.", field="room_id")
    return room


def visit(meeting: Meeting, host: Participant, room_id: int) -> None:
    """A host goes into a room (help requests there are answered)."""
    room = _open_room(meeting, room_id, main_allowed=True)
    joined_in(meeting.pk).filter(room=room, help_requested_at__isnull=False).update(help_requested_at=None)
    move([Move(host, room)], meeting)


@transaction.atomic
def do_visit(host_id: uuid.UUID, room_id: int) -> None:
    _as(host_id, Action.VISIT_ROOMS, lambda meeting, host: visit(meeting, host, room_id))


def choose(meeting: Meeting, participant: Participant, room_id: int) -> None:
    room = _open_room(meeting, room_id, main_allowed=False)
    participant.assigned_room = room
    move([Move(participant, room)], meeting)


@transaction.atomic
def do_choose(participant_id: uuid.UUID, room_id: int) -> None:
    _as(participant_id, Action.CHOOSE_ROOM, lambda meeting, p: choose(meeting, p, room_id))


@transaction.atomic
def do_return(participant_id: uuid.UUID) -> None:
    _as(participant_id, Action.RETURN_TO_MAIN, lambda meeting, p: move([Move(p, main_room(meeting.pk))], meeting))


def ask_help(meeting: Meeting, participant: Participant) -> None:
    assert participant.room is not None
    if participant.help_requested_at is None:
        participant.help_requested_at = timezone.now()
        participant.save(update_fields=["help_requested_at"])
    send_on_commit(hosts_group(meeting.pk), events.help_requested(participant, participant.room))
    notify_breakouts(meeting.pk)


@transaction.atomic
def do_help(participant_id: uuid.UUID) -> None:
    _as(participant_id, Action.ASK_HELP, ask_help)


def occupancy_order(meeting_id: int) -> list[int]:
    """Room ids, emptiest first (where ``auto`` puts the next late joiner)."""
    return list(rooms_by_occupancy(breakout_rooms(meeting_id)).values_list("pk", flat=True))

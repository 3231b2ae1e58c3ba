"""Reading a meeting's rooms: its main room, its breakout rooms, the breakout state everyone
sees and the overview hosts see. Reads only; changes are in ``rooms.breakouts``."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import Count, Q, QuerySet

from meetings.models import BreakoutMode, BreakoutPlan, Participant, ParticipantState, Room, RoomKind
from rooms import events
from rooms.events import BreakoutStateJson, HelpRequestJson, RoomCountJson
from rooms.permissions import RoomContext

MAIN_ROOM_NAME = "Main room"
MAX_ROOMS = 50


def main_room(meeting_id: int) -> Room:
    """The meeting's main room (made on first use: meetings created before rooms existed, and
    meetings made by tests or the admin without one)."""
    room = Room.objects.filter(meeting_id=meeting_id, kind=RoomKind.MAIN).first()
    if room is not None:
        return room
    try:
        with transaction.atomic():
            return Room.objects.create(meeting_id=meeting_id, kind=RoomKind.MAIN, name=MAIN_ROOM_NAME)
    except IntegrityError:  # made meanwhile by another connection
        return Room.objects.get(meeting_id=meeting_id, kind=RoomKind.MAIN)


def breakout_rooms(meeting_id: int) -> QuerySet[Room]:
    """The current set of breakout rooms (set up or open; closed ones are history)."""
    return Room.objects.filter(meeting_id=meeting_id, kind=RoomKind.BREAKOUT, closed_at__isnull=True).order_by(
        "position", "id"
    )


def rooms_by_occupancy(rooms: QuerySet[Room]) -> QuerySet[Room]:
    """Emptiest first (ties by position)."""
    return rooms.annotate(people=Count("present", filter=Q(present__state=ParticipantState.JOINED))).order_by(
        "people", "position", "id"
    )


def plan_of(meeting_id: int) -> BreakoutPlan:
    """The meeting's breakout settings (defaults when never set)."""
    plan = BreakoutPlan.objects.filter(meeting_id=meeting_id).first()
    return plan if plan is not None else BreakoutPlan(meeting_id=meeting_id)


def joined_in(meeting_id: int) -> QuerySet[Participant]:
    return Participant.objects.filter(meeting_id=meeting_id, state=ParticipantState.JOINED)


def state_name(plan: BreakoutPlan, has_rooms: bool) -> str:
    if plan.closing_at is not None:
        return "closing"
    if plan.opened_at is not None:
        return "open"
    return "ready" if has_rooms else "none"


def state_json(meeting_id: int) -> BreakoutStateJson:
    plan = plan_of(meeting_id)
    rooms = breakout_rooms(meeting_id).annotate(
        count=Count("present", filter=Q(present__state=ParticipantState.JOINED))
    )
    room_list: list[RoomCountJson] = [{**events.room_json(room), "count": room.count} for room in rooms]
    mode = str(plan.mode)
    return {
        "state": state_name(plan, bool(room_list)),  # type: ignore[typeddict-item]
        "mode": mode if mode in BreakoutMode.values else "manual",  # type: ignore[typeddict-item]
        "allow_return": plan.allow_return,
        "countdown_seconds": plan.countdown_seconds,
        "duration_minutes": plan.duration_minutes,
        "opened_at": events.iso(plan.opened_at),
        "ends_at": events.iso(plan.ends_at),
        "closing_at": events.iso(plan.closing_at),
        "rooms": room_list,
    }


def overview(meeting_id: int) -> events.BreakoutsOverview:
    """Who is where, and who asked for help (until a host comes or the rooms close), for hosts."""
    present = list(joined_in(meeting_id).order_by("joined_at", "created_at"))
    rooms = list(breakout_rooms(meeting_id))
    main = main_room(meeting_id)
    by_room: dict[int | None, list[Participant]] = {}
    for participant in present:
        by_room.setdefault(participant.room_id, []).append(participant)
    room_ids = {room.pk for room in rooms}
    unassigned = [
        str(p.id)
        for p in present
        if not p.is_host and (p.assigned_room_id is None or p.assigned_room_id not in room_ids)
    ]
    return events.breakouts_overview(
        rooms=[
            {**events.room_json(room), "participants": [events.participant_json(p) for p in by_room.get(room.pk, [])]}
            for room in rooms
        ],
        main=[events.participant_json(p) for p in by_room.get(main.pk, [])],
        unassigned=unassigned,
        help=[_help_json(p) for p in present if p.help_requested_at is not None and p.room_id is not None],
    )


def _help_json(participant: Participant) -> HelpRequestJson:
    assert participant.room_id is not None
    return {
        "participant_id": str(participant.id),
        "name": participant.display_name,
        "room_id": participant.room_id,
        "at": events.iso(participant.help_requested_at),
    }


def context_of(participant: Participant) -> RoomContext:
    """The room a participant is in, as the permission rules see it."""
    assert participant.room is not None
    plan = plan_of(participant.meeting_id)
    return RoomContext(
        kind=participant.room.kind,
        breakouts_open=plan.is_open and plan.closing_at is None,
        mode=plan.mode,
        allow_return=plan.allow_return,
    )

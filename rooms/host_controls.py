"""Host controls: admit / deny, mute, remove (and ban), lock, end, make co-host. Every function
asks ``rooms.permissions`` whether the acting participant may do it (and, for actions on
someone, whether it may do it to them: nobody removes, bans or demotes the owner)."""

from __future__ import annotations

import uuid

from django.db import transaction

from meetings.actions import end_for_all
from meetings.models import (
    BanReason,
    LeaveReason,
    Meeting,
    MeetingBan,
    Participant,
    ParticipantRole,
    ParticipantState,
    Room,
)
from rooms import events
from rooms.breakout_state import context_of, main_room
from rooms.events import control_on_commit, meeting_group, participant_group, send_to_room_on_commit
from rooms.permissions import Action, actor_of, check, check_target
from rooms.presence import (
    admit,
    free_places,
    in_room,
    leave,
    mark_live,
    notify_waiting,
    other_in_meeting,
    room_participants,
)
from rooms.protocol import ProtocolError


def acting(participant_id: uuid.UUID, action: Action = Action.HOST_COMMAND) -> Participant:
    """The participant, in a room, who may take ``action`` there."""
    actor = in_room(participant_id)
    check(actor_of(actor), action, context_of(actor))
    return actor


def _waiting(meeting_id: int, participant_id: uuid.UUID) -> Participant:
    target = (
        Participant.objects.select_for_update(of=("self",))
        .select_related("meeting", "user")
        .filter(pk=participant_id, meeting_id=meeting_id, state=ParticipantState.WAITING)
        .first()
    )
    if target is None:
        raise ProtocolError("no_such_participant", "No one with this id is waiting.", field="participant_id")
    return target


def _ban(target: Participant, reason: BanReason) -> None:
    MeetingBan.objects.create(
        meeting_id=target.meeting_id,
        user_id=target.user_id,
        guest_key="" if target.user_id else target.guest_key,
        display_name=target.display_name,
        reason=reason,
    )


def _meeting_full(admitted: int, waiting: int) -> ProtocolError:
    done = f"{admitted} admitted; " if admitted else ""
    return ProtocolError(
        "meeting_full", f"The meeting is full: {done}{waiting} still waiting (its limit is max_participants)."
    )


@transaction.atomic
def do_admit(host_id: uuid.UUID, target_id: uuid.UUID) -> None:
    host = acting(host_id)
    # The meeting's row lock serialises admissions and joins, so the limit holds exactly.
    meeting = Meeting.objects.select_for_update().get(pk=host.meeting_id)
    target = _waiting(host.meeting_id, target_id)
    if free_places(meeting) == 0:
        raise _meeting_full(0, 1)
    mark_live(meeting)
    admit(target)
    notify_waiting(host.meeting_id, left=[target.id])


def do_admit_all(host_id: uuid.UUID) -> None:
    """Admits everyone waiting, first come first in, as far as the meeting has places; when it
    is full, the rest keep waiting and the host is told (``meeting_full``)."""
    with transaction.atomic():
        host = acting(host_id)
        meeting = Meeting.objects.select_for_update().get(pk=host.meeting_id)
        waiting = list(
            Participant.objects.select_for_update(of=("self",))
            .select_related("meeting", "user")
            .filter(meeting_id=host.meeting_id, state=ParticipantState.WAITING)
            .order_by("created_at")
        )
        places = free_places(meeting)
        admitted = waiting[:places]
        if admitted:
            mark_live(meeting)
        for target in admitted:
            admit(target)
        notify_waiting(host.meeting_id, left=[target.id for target in admitted])
    if len(admitted) < len(waiting):
        raise _meeting_full(len(admitted), len(waiting) - len(admitted))


@transaction.atomic
def do_deny(host_id: uuid.UUID, target_id: uuid.UUID) -> None:
    host = acting(host_id)
    target = _waiting(host.meeting_id, target_id)
    _ban(target, BanReason.DENIED)
    control_on_commit(participant_group(target.id), "removed", reason="denied")
    leave(target, LeaveReason.DENIED)


@transaction.atomic
def do_mute(host_id: uuid.UUID, target_id: uuid.UUID) -> None:
    host = acting(host_id, Action.MUTE)
    target = other_in_meeting(host.meeting_id, target_id, lock=True)
    check_target(actor_of(host), Action.MUTE, actor_of(target))
    _mute(host, target)


def _mute(host: Participant, target: Participant) -> None:
    control_on_commit(participant_group(target.id), "muted", by=str(host.id))
    if target.audio:
        target.audio = False
        target.save(update_fields=["audio"])
        if target.room_id is not None:
            send_to_room_on_commit(target.meeting_id, target.room_id, events.media_state(target, by=host.id))


@transaction.atomic
def do_mute_all(host_id: uuid.UUID) -> None:
    """Everyone but the hosts, in the host's room."""
    host = acting(host_id, Action.MUTE)
    assert host.room_id is not None
    others = room_participants(host.room_id).select_for_update().filter(role=ParticipantRole.ATTENDEE)
    for target in others:
        _mute(host, target)


@transaction.atomic
def do_remove(host_id: uuid.UUID, target_id: uuid.UUID, ban: bool) -> None:
    host = acting(host_id, Action.REMOVE)
    if target_id == host.id:
        raise ProtocolError("invalid", "Use leave to leave the meeting.", field="participant_id")
    target = other_in_meeting(host.meeting_id, target_id, lock=True)
    check_target(actor_of(host), Action.REMOVE, actor_of(target))
    if ban:
        _ban(target, BanReason.BANNED)
    reason = LeaveReason.BANNED if ban else LeaveReason.REMOVED
    control_on_commit(participant_group(target.id), "removed", reason=str(reason))
    leave(target, reason)


@transaction.atomic
def do_set_locked(host_id: uuid.UUID, locked: bool) -> None:
    """Locks the meeting (its main room): nobody new gets in, hosts excepted."""
    host = acting(host_id)
    main = main_room(host.meeting_id)
    updated = Room.objects.filter(pk=main.pk).exclude(locked=locked).update(locked=locked)
    if updated:
        events.send_on_commit(meeting_group(host.meeting_id), events.meeting_locked(locked))


@transaction.atomic
def do_make_cohost(host_id: uuid.UUID, target_id: uuid.UUID) -> None:
    host = acting(host_id, Action.PROMOTE)
    target = other_in_meeting(host.meeting_id, target_id, lock=True)
    check_target(actor_of(host), Action.PROMOTE, actor_of(target))
    if target.role != ParticipantRole.ATTENDEE:
        return
    target.role = ParticipantRole.COHOST
    target.save(update_fields=["role"])
    if target.room_id is not None:
        send_to_room_on_commit(target.meeting_id, target.room_id, events.roster_updated(target))
    control_on_commit(participant_group(target.id), "role", role=target.role)


@transaction.atomic
def do_end(host_id: uuid.UUID) -> None:
    host = acting(host_id, Action.END)
    end_for_all(Meeting.objects.select_for_update().get(pk=host.meeting_id), by=host.id)


def on_ended_for_everyone(
    sender: object, meeting_id: int, by: str | None, waiting_ids: list[str], **kwargs: object
) -> None:
    """After a meeting ended (``meetings.signals.ended_for_everyone``, on commit): every
    connection in the meeting and in its waiting room is told and closes."""
    for waiting_id in waiting_ids:
        events.send_control_now(participant_group(waiting_id), "ended", by=by)
    events.send_control_now(meeting_group(meeting_id), "ended", by=by)

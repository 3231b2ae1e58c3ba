"""Host controls in the room: admit / deny, mute, remove (and ban), lock, end, make co-host.
Every function first checks that the acting participant is a host or co-host in the room."""

from __future__ import annotations

import uuid

from django.db import transaction
from django.utils import timezone

from conference.recordings.actions import end_active_recording
from meetings.events import (
    control_on_commit,
    meeting_group,
    participant_group,
    participant_json,
    send_on_commit,
)
from meetings.models import (
    BanReason,
    LeaveReason,
    Meeting,
    MeetingBan,
    MeetingStatus,
    Participant,
    ParticipantRole,
    ParticipantState,
)
from meetings.protocol import ProtocolError
from meetings.room import joined_participants, leave, mark_live, notify_waiting_list
from meetings.room_activity import media_state_event, other_present, present
from meetings.signals import meeting_ended, send_signal_on_commit


def acting_host(participant_id: uuid.UUID) -> Participant:
    host = present(participant_id)
    if not host.is_host:
        raise ProtocolError("not_host", "Only hosts and co-hosts can do this.")
    return host


def _waiting(meeting_id: int, participant_id: uuid.UUID) -> Participant:
    target = (
        Participant.objects.select_for_update()
        .filter(pk=participant_id, meeting_id=meeting_id, state=ParticipantState.WAITING)
        .first()
    )
    if target is None:
        raise ProtocolError("no_such_participant", "No one with this id is waiting.", field="participant_id")
    return target


def _admit(target: Participant) -> None:
    target.state = ParticipantState.JOINED
    target.joined_at = timezone.now()
    target.save(update_fields=["state", "joined_at"])
    send_on_commit(meeting_group(target.meeting_id), {"type": "roster.joined", "participant": participant_json(target)})
    control_on_commit(participant_group(target.id), "admitted")


def _ban(target: Participant, reason: BanReason) -> None:
    MeetingBan.objects.create(
        meeting_id=target.meeting_id,
        user_id=target.user_id,
        guest_key="" if target.user_id else target.guest_key,
        display_name=target.display_name,
        reason=reason,
    )


@transaction.atomic
def do_admit(host_id: uuid.UUID, target_id: uuid.UUID) -> None:
    host = acting_host(host_id)
    mark_live(Meeting.objects.get(pk=host.meeting_id))
    _admit(_waiting(host.meeting_id, target_id))
    notify_waiting_list(host.meeting_id)


@transaction.atomic
def do_admit_all(host_id: uuid.UUID) -> None:
    host = acting_host(host_id)
    waiting = Participant.objects.select_for_update().filter(meeting_id=host.meeting_id, state=ParticipantState.WAITING)
    for target in waiting.order_by("created_at"):
        _admit(target)
    notify_waiting_list(host.meeting_id)


@transaction.atomic
def do_deny(host_id: uuid.UUID, target_id: uuid.UUID) -> None:
    host = acting_host(host_id)
    target = _waiting(host.meeting_id, target_id)
    _ban(target, BanReason.DENIED)
    control_on_commit(participant_group(target.id), "removed", reason="denied")
    leave(target, LeaveReason.DENIED)


@transaction.atomic
def do_mute(host_id: uuid.UUID, target_id: uuid.UUID) -> None:
    host = acting_host(host_id)
    target = other_present(host.meeting_id, target_id, lock=True)
    _mute(host, target)


def _mute(host: Participant, target: Participant) -> None:
    control_on_commit(participant_group(target.id), "muted", by=str(host.id))
    if target.audio:
        target.audio = False
        target.save(update_fields=["audio"])
        send_on_commit(meeting_group(target.meeting_id), media_state_event(target, by=host.id))


@transaction.atomic
def do_mute_all(host_id: uuid.UUID) -> None:
    host = acting_host(host_id)
    others = joined_participants(host.meeting_id).select_for_update().filter(role=ParticipantRole.ATTENDEE)
    for target in others:
        _mute(host, target)


@transaction.atomic
def do_remove(host_id: uuid.UUID, target_id: uuid.UUID, ban: bool) -> None:
    host = acting_host(host_id)
    if target_id == host.id:
        raise ProtocolError("invalid", "Use leave to leave the meeting.", field="participant_id")
    target = other_present(host.meeting_id, target_id, lock=True)
    if target.role == ParticipantRole.HOST and host.role != ParticipantRole.HOST:
        raise ProtocolError("not_host", "A co-host cannot remove the host.")
    if ban:
        _ban(target, BanReason.BANNED)
    reason = LeaveReason.BANNED if ban else LeaveReason.REMOVED
    control_on_commit(participant_group(target.id), "removed", reason=str(reason))
    leave(target, reason)


@transaction.atomic
def do_set_locked(host_id: uuid.UUID, locked: bool) -> None:
    host = acting_host(host_id)
    updated = Meeting.objects.filter(pk=host.meeting_id).exclude(locked=locked).update(locked=locked)
    if updated:
        send_on_commit(meeting_group(host.meeting_id), {"type": "meeting.locked", "locked": locked})


@transaction.atomic
def do_make_cohost(host_id: uuid.UUID, target_id: uuid.UUID) -> None:
    host = acting_host(host_id)
    target = other_present(host.meeting_id, target_id, lock=True)
    if target.role != ParticipantRole.ATTENDEE:
        return
    target.role = ParticipantRole.COHOST
    target.save(update_fields=["role"])
    send_on_commit(
        meeting_group(target.meeting_id), {"type": "roster.updated", "participant": participant_json(target)}
    )
    control_on_commit(participant_group(target.id), "role", role=target.role)
    notify_waiting_list(target.meeting_id)


def end_for_all(meeting: Meeting, by: uuid.UUID | None) -> None:
    """Ends the meeting (in the caller's transaction): everyone is told and leaves."""
    if meeting.status != MeetingStatus.ENDED:
        meeting.status = MeetingStatus.ENDED
        meeting.ended_at = timezone.now()
        meeting.locked = False
        meeting.save(update_fields=["status", "ended_at", "locked", "updated_at"])
        send_signal_on_commit(meeting_ended, Meeting, meeting_id=meeting.pk)
    present_or_waiting = Participant.objects.filter(
        meeting=meeting, state__in=(ParticipantState.JOINED, ParticipantState.WAITING)
    )
    for waiting_id in present_or_waiting.filter(state=ParticipantState.WAITING).values_list("id", flat=True):
        control_on_commit(participant_group(waiting_id), "ended", by=str(by) if by else None)
    present_or_waiting.update(
        state=ParticipantState.LEFT, leave_reason=LeaveReason.ENDED, left_at=timezone.now(), resume_token_hash=""
    )
    control_on_commit(meeting_group(meeting.pk), "ended", by=str(by) if by else None)
    end_active_recording(meeting.pk)


@transaction.atomic
def do_end(host_id: uuid.UUID) -> None:
    host = acting_host(host_id)
    end_for_all(Meeting.objects.select_for_update().get(pk=host.meeting_id), host.id)

"""Write paths for meetings: check_* (validate), do_* (change data in a transaction).

Views, API views and consumers call these and never change meetings themselves.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, fields

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from conference.api import ApiError
from meetings.codes import new_code
from meetings.models import LeaveReason, Meeting, MeetingStatus, Participant, ParticipantState, Room
from meetings.recordings.actions import end_active_recording
from meetings.signals import ended_for_everyone, meeting_ended, send_signal_on_commit

CODE_ATTEMPTS = 5


@dataclass
class MeetingChanges:
    """Fields a host may set. ``None`` means "leave as it is" (for updates)."""

    title: str | None = None
    passcode: str | None = None  # "" removes the passcode
    waiting_room: bool | None = None
    allow_guests: bool | None = None
    mute_on_entry: bool | None = None
    max_participants: int | None = None
    co_host_emails: list[str] | None = None
    recordings_for_invitees: bool | None = None

    def only_recording_sharing(self) -> bool:
        """Whether nothing but the recordings' sharing changes (allowed after the meeting ended)."""
        return all(getattr(self, f.name) is None for f in fields(self) if f.name != "recordings_for_invitees")


def check_co_hosts(owner: User, emails: Iterable[str]) -> list[User]:
    wanted = {email.strip().lower() for email in emails if email.strip()}
    if not wanted:
        return []
    users = list(get_user_model().objects.filter(email__in=wanted, is_active=True))
    found = {str(getattr(user, "email", "")).lower() for user in users}
    missing = sorted(wanted - found)
    if missing:
        raise ApiError("unknown_user", f"No active account with the email {', '.join(missing)}.", field="co_hosts")
    return [user for user in users if user.pk != owner.pk]


def check_max_participants(value: int) -> int:
    limit = int(settings.MEETING_MAX_PARTICIPANTS_LIMIT)
    if not 2 <= value <= limit:
        raise ApiError("out_of_range", f"Must be between 2 and {limit}.", field="max_participants")
    return value


def _apply(meeting: Meeting, changes: MeetingChanges) -> None:
    if changes.title is not None:
        meeting.title = changes.title.strip()
    if changes.passcode is not None:
        meeting.set_passcode(changes.passcode)
    if changes.waiting_room is not None:
        meeting.waiting_room = changes.waiting_room
    if changes.allow_guests is not None:
        meeting.allow_guests = changes.allow_guests
    if changes.mute_on_entry is not None:
        meeting.mute_on_entry = changes.mute_on_entry
    if changes.max_participants is not None:
        meeting.max_participants = check_max_participants(changes.max_participants)
    if changes.recordings_for_invitees is not None:
        meeting.recordings_for_invitees = changes.recordings_for_invitees


def do_create_meeting(owner: User, changes: MeetingChanges) -> Meeting:
    co_hosts = check_co_hosts(owner, changes.co_host_emails or [])
    for attempt in range(CODE_ATTEMPTS):
        meeting = Meeting(owner=owner, code=new_code())
        _apply(meeting, changes)
        if not meeting.title:
            raise ApiError("required", "A meeting needs a title.", field="title")
        try:
            with transaction.atomic():
                meeting.save()
                meeting.co_hosts.set(co_hosts)
        except IntegrityError:
            if attempt == CODE_ATTEMPTS - 1:
                raise
            continue
        return meeting
    raise AssertionError("unreachable")


def do_create_instant_meeting(owner: User, display_name: str) -> Meeting:
    return do_create_meeting(owner, MeetingChanges(title=f"{display_name}'s meeting"))


@transaction.atomic
def do_update_meeting(meeting: Meeting, changes: MeetingChanges) -> Meeting:
    if meeting.status == MeetingStatus.ENDED and not changes.only_recording_sharing():
        raise ApiError(
            "meeting_ended",
            "An ended meeting cannot be changed (except who may watch its recordings).",
            status_code=409,
        )
    _apply(meeting, changes)
    if not meeting.title:
        raise ApiError("required", "A meeting needs a title.", field="title")
    meeting.save()
    if changes.co_host_emails is not None:
        meeting.co_hosts.set(check_co_hosts(meeting.owner, changes.co_host_emails))
    return meeting


def end_for_all(meeting: Meeting, by: uuid.UUID | None) -> None:
    """Ends the meeting (in the caller's transaction, the meeting row locked): everyone, in
    every room and in the waiting room, leaves; the live rooms tell them after the commit."""
    if meeting.status != MeetingStatus.ENDED:
        meeting.status = MeetingStatus.ENDED
        meeting.ended_at = timezone.now()
        meeting.save(update_fields=["status", "ended_at", "updated_at"])
        send_signal_on_commit(meeting_ended, Meeting, meeting_id=meeting.pk)
    Room.objects.filter(meeting=meeting).update(locked=False)
    present_or_waiting = Participant.objects.filter(
        meeting=meeting, state__in=(ParticipantState.JOINED, ParticipantState.WAITING)
    )
    waiting_ids = [
        str(pid) for pid in present_or_waiting.filter(state=ParticipantState.WAITING).values_list("id", flat=True)
    ]
    present_or_waiting.update(
        state=ParticipantState.LEFT,
        leave_reason=LeaveReason.ENDED,
        left_at=timezone.now(),
        resume_token_hash="",
        room=None,
    )
    send_signal_on_commit(
        ended_for_everyone, Meeting, meeting_id=meeting.pk, by=str(by) if by else None, waiting_ids=waiting_ids
    )
    end_active_recording(meeting.pk)


@transaction.atomic
def do_end_meeting(meeting: Meeting) -> Meeting:
    """Ends the meeting for everyone (from a page or the API): people in the room are told."""
    if meeting.status != MeetingStatus.ENDED:
        end_for_all(Meeting.objects.select_for_update().get(pk=meeting.pk), by=None)
        meeting.refresh_from_db()
    return meeting


def do_reopen_meeting(meeting_id: int) -> bool:
    """An ended meeting becomes joinable again with the same link (the next occurrence of a
    scheduled series). Returns True when it was ended and is now open."""
    reopened = Meeting.objects.filter(pk=meeting_id, status=MeetingStatus.ENDED).update(
        status=MeetingStatus.SCHEDULED, ended_at=None, updated_at=timezone.now()
    )
    return reopened > 0


def do_delete_meeting(meeting: Meeting) -> None:
    meeting.delete()

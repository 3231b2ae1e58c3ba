"""Presence in a meeting room: hello, join (waiting room, passcode, lock, bans, capacity),
resume after a dropped connection, leave, and expiry of the grace period.

These are synchronous domain functions (check → do in a transaction → notify on commit) that
the WebSocket consumer calls through ``database_sync_to_async``; they raise ``ProtocolError``
for refusals. Ids, not model instances, come in from the consumer.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from conference.accounts.models import Profile
from conference.recordings.actions import active_recording, end_active_recording
from meetings import access
from meetings.events import (
    chat_json,
    control_on_commit,
    hosts_group,
    iso,
    meeting_group,
    participant_group,
    participant_json,
    roster_json,
    send_on_commit,
)
from meetings.models import (
    ChatMessage,
    LeaveReason,
    Meeting,
    MeetingStatus,
    Participant,
    ParticipantRole,
    ParticipantState,
)
from meetings.protocol import PROTOCOL_VERSION, ProtocolError
from meetings.signals import meeting_started, send_signal_on_commit
from meetings.topology import Topology, media_config

CLOSE_REFUSED = 4403
CLOSE_NOT_FOUND = 4404
CHAT_HISTORY = 200
LEAVE_STATES = {
    LeaveReason.REMOVED: ParticipantState.REMOVED,
    LeaveReason.BANNED: ParticipantState.REMOVED,
    LeaveReason.DENIED: ParticipantState.DENIED,
}


ENTRY_ERRORS: dict[access.EntryRefusal, Callable[[], ProtocolError]] = {
    access.EntryRefusal.BANNED: lambda: ProtocolError(
        "banned", "A host removed you from this meeting.", close_code=CLOSE_REFUSED
    ),
    access.EntryRefusal.LOCKED: lambda: ProtocolError(
        "locked", "The meeting is locked: no one new can join.", close_code=CLOSE_REFUSED
    ),
    access.EntryRefusal.WRONG_PASSCODE: lambda: ProtocolError(
        "wrong_passcode", "The passcode is not correct.", field="passcode"
    ),
    access.EntryRefusal.MEETING_FULL: lambda: ProtocolError(
        "meeting_full", "The meeting is full.", close_code=CLOSE_REFUSED
    ),
}


@dataclass(frozen=True)
class Identity:
    """Who is on a connection: a signed-in user, or a guest known by a key in their session."""

    user_id: int | None
    guest_key: str
    default_name: str

    def matches(self, participant: Participant) -> bool:
        if self.user_id is not None:
            return participant.user_id == self.user_id
        return participant.user_id is None and participant.guest_key == self.guest_key


@dataclass(frozen=True)
class JoinOutcome:
    participant_id: uuid.UUID
    meeting_id: int
    role: str
    waiting: bool
    resume_token: str
    snapshot: dict[str, Any] | None
    replaced_channel: str | None


def grace_period() -> timedelta:
    return timedelta(seconds=float(settings.MEETING_RECONNECT_GRACE_SECONDS))


def hash_resume_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def identity_for(user: Any, session: Any) -> Identity:
    if user is not None and user.is_authenticated:
        profile = Profile.objects.filter(user_id=user.pk).first()
        name = profile.name if profile is not None else user.get_username()
        return Identity(user_id=user.pk, guest_key="", default_name=name)
    guest_key = ""
    if session is not None:
        guest_key = str(session.get("guest_key", ""))
    return Identity(user_id=None, guest_key=guest_key or f"conn-{secrets.token_urlsafe(12)}", default_name="")


def hello(user: Any, code: str, identity: Identity) -> tuple[int, dict[str, Any]]:
    """The greeting for a new connection, or a refusal that closes it."""
    try:
        meeting = access.meeting_by_code(code)
        if meeting.code != code:
            raise Http404("No meeting with this code.")
    except Http404 as exc:
        raise ProtocolError("not_found", "No meeting with this code.", close_code=CLOSE_NOT_FOUND) from exc
    policy = access.join_policy(user, meeting)
    if policy.refusal is not None:
        raise ProtocolError(policy.refusal.value, "You may not join this meeting.", close_code=CLOSE_REFUSED)
    return meeting.pk, {
        "type": "hello",
        "protocol": PROTOCOL_VERSION,
        "meeting": {"code": meeting.code, "title": meeting.title, "status": meeting.status, "locked": meeting.locked},
        "you": {
            "as_host": policy.as_host,
            "as_guest": policy.as_guest,
            "through_waiting_room": policy.through_waiting_room,
            "needs_passcode": policy.needs_passcode,
            "name": identity.default_name,
        },
    }


def joined_participants(meeting_id: int) -> QuerySet[Participant]:
    return Participant.objects.filter(meeting_id=meeting_id, state=ParticipantState.JOINED)


def waiting_participants(meeting_id: int) -> QuerySet[Participant]:
    return Participant.objects.filter(meeting_id=meeting_id, state=ParticipantState.WAITING).order_by("created_at")


def hands_order(meeting_id: int) -> list[str]:
    raised = joined_participants(meeting_id).filter(hand_raised_at__isnull=False).order_by("hand_raised_at")
    return [str(pid) for pid in raised.values_list("id", flat=True)]


def notify_waiting_list(meeting_id: int) -> None:
    waiting = roster_json(waiting_participants(meeting_id))
    send_on_commit(hosts_group(meeting_id), {"type": "waiting.list", "waiting": waiting})


def notify_hands(meeting_id: int) -> None:
    send_on_commit(meeting_group(meeting_id), {"type": "hand", "hands": hands_order(meeting_id)})


def chat_history(participant: Participant) -> list[dict[str, Any]]:
    visible = Q(recipient__isnull=True) | Q(sender_id=participant.pk) | Q(recipient_id=participant.pk)
    if participant.user_id is not None:
        visible |= Q(sender__user_id=participant.user_id) | Q(recipient__user_id=participant.user_id)
    latest = (
        ChatMessage.objects.filter(meeting_id=participant.meeting_id)
        .filter(visible)
        .select_related("sender")
        .order_by("-created_at", "-id")[:CHAT_HISTORY]
    )
    return [chat_json(message) for message in reversed(list(latest))]


def snapshot(participant: Participant, meeting: Meeting) -> dict[str, Any]:
    """Everything a participant needs when entering the room; deltas follow as events."""
    return {
        "type": "joined",
        "you": participant_json(participant),
        "roster": roster_json(joined_participants(meeting.pk).order_by("joined_at")),
        "chat": chat_history(participant),
        "hands": hands_order(meeting.pk),
        "meeting": {
            "code": meeting.code,
            "title": meeting.title,
            "locked": meeting.locked,
            "mute_on_entry": meeting.mute_on_entry,
        },
        "media": media_config(meeting.topology),
        "recording": recording_state(meeting.pk),
    }


def recording_state(meeting_id: int) -> dict[str, Any]:
    """What ``joined`` says about recording (and what ``recording`` events carry)."""
    recording = active_recording(meeting_id)
    return {"active": recording is not None, "started_at": iso(recording.started_at) if recording else None}


def _new_resume_token(participant: Participant) -> str:
    token = secrets.token_urlsafe(32)
    participant.resume_token_hash = hash_resume_token(token)
    return token


def mark_live(meeting: Meeting) -> None:
    if meeting.status == MeetingStatus.SCHEDULED:
        meeting.status = MeetingStatus.LIVE
        meeting.started_at = timezone.now()
        meeting.save(update_fields=["status", "started_at", "updated_at"])
        send_signal_on_commit(meeting_started, Meeting, meeting_id=meeting.pk)


def _resume(meeting: Meeting, identity: Identity, token: str, channel_name: str) -> JoinOutcome | None:
    participant = (
        Participant.objects.select_for_update()
        .filter(meeting=meeting, resume_token_hash=hash_resume_token(token), state=ParticipantState.JOINED)
        .first()
    )
    if participant is None or not identity.matches(participant):
        return None
    previous = participant.channel_name
    new_token = _new_resume_token(participant)
    participant.channel_name = channel_name
    participant.disconnected_at = None
    participant.save(update_fields=["channel_name", "disconnected_at", "resume_token_hash"])
    return JoinOutcome(
        participant_id=participant.id,
        meeting_id=meeting.pk,
        role=participant.role,
        waiting=False,
        resume_token=new_token,
        snapshot=snapshot(participant, meeting),
        replaced_channel=previous if previous and previous != channel_name else None,
    )


@transaction.atomic
def do_join(
    meeting_id: int,
    user: Any,
    identity: Identity,
    *,
    display_name: str | None,
    passcode: str | None,
    resume_token: str | None,
    channel_name: str,
) -> JoinOutcome:
    meeting = Meeting.objects.select_for_update().get(pk=meeting_id)
    policy = access.join_policy(user, meeting)
    if policy.refusal is not None:
        raise ProtocolError(policy.refusal.value, "You may not join this meeting.", close_code=CLOSE_REFUSED)
    expire_stale(meeting.pk)
    if resume_token:
        resumed = _resume(meeting, identity, resume_token, channel_name)
        if resumed is not None:
            return resumed
    refusal = access.entry_refusal(
        meeting,
        policy,
        banned=access.is_banned(meeting, identity.user_id, identity.guest_key),
        passcode=passcode,
        present=joined_participants(meeting.pk).count(),
    )
    if refusal is not None:
        raise ENTRY_ERRORS[refusal]()
    host = policy.as_host
    name = display_name or identity.default_name
    if not name:
        raise ProtocolError("invalid", "display_name: a name is required to join as a guest.", field="display_name")

    if access.is_owner(user, meeting):
        role = ParticipantRole.HOST
    elif host:
        role = ParticipantRole.COHOST
    else:
        role = ParticipantRole.ATTENDEE
    waiting = policy.through_waiting_room
    participant = Participant(
        meeting=meeting,
        user_id=identity.user_id,
        guest_key="" if identity.user_id is not None else identity.guest_key,
        display_name=name,
        role=role,
        state=ParticipantState.WAITING if waiting else ParticipantState.JOINED,
        audio=not (meeting.mute_on_entry and not host),
        channel_name=channel_name,
        joined_at=None if waiting else timezone.now(),
    )
    token = _new_resume_token(participant)
    participant.save()
    if waiting:
        notify_waiting_list(meeting.pk)
        return JoinOutcome(participant.id, meeting.pk, role, True, token, None, None)
    mark_live(meeting)
    send_on_commit(meeting_group(meeting.pk), {"type": "roster.joined", "participant": participant_json(participant)})
    return JoinOutcome(participant.id, meeting.pk, participant.role, False, token, snapshot(participant, meeting), None)


@transaction.atomic
def admitted_snapshot(participant_id: uuid.UUID) -> tuple[dict[str, Any], str] | None:
    """The room as an admitted participant first sees it, with a fresh resume token."""
    participant = Participant.objects.select_for_update().select_related("meeting").filter(pk=participant_id).first()
    if participant is None or participant.state != ParticipantState.JOINED:
        return None
    token = _new_resume_token(participant)
    participant.save(update_fields=["resume_token_hash"])
    return snapshot(participant, participant.meeting), token


def _ensure_a_host(meeting_id: int) -> None:
    """When no host is left in the room, the host role passes to the earliest co-host, or to the
    earliest participant when there is no co-host either."""
    present = joined_participants(meeting_id)
    if present.filter(role=ParticipantRole.HOST).exists():
        return
    by_arrival = ("joined_at", "created_at")
    successor = present.filter(role=ParticipantRole.COHOST).order_by(*by_arrival).first()
    if successor is None:
        successor = present.order_by(*by_arrival).first()
    if successor is None:
        return
    was_host = successor.is_host
    successor.role = ParticipantRole.HOST
    successor.save(update_fields=["role"])
    send_on_commit(meeting_group(meeting_id), {"type": "roster.updated", "participant": participant_json(successor)})
    if not was_host:
        control_on_commit(participant_group(successor.id), "role", role=successor.role)


def leave(participant: Participant, reason: LeaveReason) -> None:
    """Takes a participant out of the room (in the caller's transaction) and tells the others."""
    was_waiting = participant.state == ParticipantState.WAITING
    had_hand = participant.hand_raised_at is not None
    participant.state = LEAVE_STATES.get(reason, ParticipantState.LEFT)
    participant.leave_reason = reason
    participant.left_at = timezone.now()
    participant.hand_raised_at = None
    participant.screen = False
    participant.resume_token_hash = ""
    participant.save(
        update_fields=["state", "leave_reason", "left_at", "hand_raised_at", "screen", "resume_token_hash"]
    )
    meeting_id = participant.meeting_id
    if was_waiting:
        notify_waiting_list(meeting_id)
        return
    send_on_commit(
        meeting_group(meeting_id),
        {"type": "roster.left", "participant_id": str(participant.id), "reason": str(reason)},
    )
    if had_hand:
        notify_hands(meeting_id)
    if participant.role == ParticipantRole.HOST:
        _ensure_a_host(meeting_id)
    if not joined_participants(meeting_id).exists():
        # An empty room starts over: the next people meet peer-to-peer until the threshold.
        Meeting.objects.filter(pk=meeting_id, status=MeetingStatus.LIVE).update(status=MeetingStatus.SCHEDULED)
        Meeting.objects.filter(pk=meeting_id, topology=Topology.SFU).update(topology=Topology.MESH)
        # Nobody left to record: the capture ends (the worker queues the composition when its
        # room closes), and the next people in this meeting can record again.
        end_active_recording(meeting_id)


@transaction.atomic
def do_leave(participant_id: uuid.UUID, reason: LeaveReason = LeaveReason.LEFT) -> None:
    participant = Participant.objects.select_for_update().filter(pk=participant_id).first()
    if participant is None or participant.state not in (ParticipantState.JOINED, ParticipantState.WAITING):
        return
    leave(participant, reason)


@transaction.atomic
def do_mark_disconnected(participant_id: uuid.UUID, channel_name: str) -> bool:
    """The connection dropped. Waiting people leave at once; participants keep their place for
    the grace period. Returns True when a grace period started."""
    participant = Participant.objects.select_for_update().filter(pk=participant_id).first()
    if participant is None or participant.channel_name != channel_name:
        return False  # already resumed on another connection
    if participant.state == ParticipantState.WAITING:
        leave(participant, LeaveReason.LEFT)
        return False
    if participant.state != ParticipantState.JOINED:
        return False
    participant.disconnected_at = timezone.now()
    participant.save(update_fields=["disconnected_at"])
    return True


def expire_stale(meeting_id: int | None = None) -> int:
    """Participants whose grace period ran out leave with reason ``disconnected``."""
    deadline = timezone.now() - grace_period()
    stale = Participant.objects.select_for_update(skip_locked=True).filter(
        state=ParticipantState.JOINED, disconnected_at__isnull=False, disconnected_at__lte=deadline
    )
    if meeting_id is not None:
        stale = stale.filter(meeting_id=meeting_id)
    count = 0
    for participant in stale:
        leave(participant, LeaveReason.DISCONNECTED)
        count += 1
    return count


@transaction.atomic
def do_expire_participant(participant_id: uuid.UUID) -> bool:
    deadline = timezone.now() - grace_period()
    participant = (
        Participant.objects.select_for_update()
        .filter(pk=participant_id, state=ParticipantState.JOINED, disconnected_at__lte=deadline)
        .first()
    )
    if participant is None:
        return False
    leave(participant, LeaveReason.DISCONNECTED)
    return True


@transaction.atomic
def do_expire_stale() -> int:
    return expire_stale()

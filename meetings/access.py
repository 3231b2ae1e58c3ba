"""Who may see, manage and join a meeting. Every view, API view and consumer asks here.

Someone else's meeting is reported as missing (404), never as forbidden, so that the
existence of a code does not leak.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from django.contrib.auth.models import AnonymousUser
from django.db.models import Q, QuerySet
from django.http import Http404

from accounts.models import User
from meetings.codes import normalize_code
from meetings.models import Meeting, MeetingStatus

AnyUser = User | AnonymousUser


def meetings_owned_by(user: AnyUser) -> QuerySet[Meeting]:
    if not user.is_authenticated:
        return Meeting.objects.none()
    return Meeting.objects.filter(owner_id=user.pk)


def meetings_hosted_by(user: AnyUser) -> QuerySet[Meeting]:
    """Meetings the user owns or co-hosts."""
    if not user.is_authenticated:
        return Meeting.objects.none()
    return Meeting.objects.filter(Q(owner_id=user.pk) | Q(co_hosts__id=user.pk)).distinct()


def meeting_by_code(code: str) -> Meeting:
    normalized = normalize_code(code)
    if normalized is None:
        raise Http404("No meeting with this code.")
    meeting = Meeting.objects.select_related("owner", "owner__profile").filter(code=normalized).first()
    if meeting is None:
        raise Http404("No meeting with this code.")
    return meeting


def access_owned_meeting_by_code(user: AnyUser, code: str) -> Meeting:
    meeting = meetings_owned_by(user).filter(code=code).first()
    if meeting is None:
        raise Http404("No meeting with this code.")
    return meeting


def access_hosted_meeting_by_code(user: AnyUser, code: str) -> Meeting:
    """A meeting the user owns or co-hosts; anything else is missing (404)."""
    meeting = meetings_hosted_by(user).filter(code=code).first()
    if meeting is None:
        raise Http404("No meeting with this code.")
    return meeting


def is_owner(user: AnyUser, meeting: Meeting) -> bool:
    return user.is_authenticated and meeting.owner_id == user.pk


def is_host(user: AnyUser, meeting: Meeting) -> bool:
    """Owner or co-host."""
    if not user.is_authenticated:
        return False
    if meeting.owner_id == user.pk:
        return True
    return meeting.co_hosts.filter(pk=user.pk).exists()


class JoinRefusal(StrEnum):
    MEETING_ENDED = "meeting_ended"
    SIGN_IN_REQUIRED = "sign_in_required"


@dataclass(frozen=True)
class JoinPolicy:
    """What happens when this user opens the meeting's link."""

    refusal: JoinRefusal | None
    as_host: bool
    as_guest: bool
    through_waiting_room: bool
    needs_passcode: bool

    @property
    def may_join(self) -> bool:
        return self.refusal is None


def join_policy(user: AnyUser, meeting: Meeting) -> JoinPolicy:
    host = is_host(user, meeting)
    guest = not user.is_authenticated
    refusal: JoinRefusal | None = None
    if meeting.status == MeetingStatus.ENDED:
        refusal = JoinRefusal.MEETING_ENDED
    elif guest and not meeting.allow_guests:
        refusal = JoinRefusal.SIGN_IN_REQUIRED
    return JoinPolicy(
        refusal=refusal,
        as_host=host,
        as_guest=guest,
        through_waiting_room=meeting.waiting_room and not host,
        needs_passcode=meeting.has_passcode and not host,
    )


class EntryRefusal(StrEnum):
    BANNED = "banned"
    LOCKED = "locked"
    WRONG_PASSCODE = "wrong_passcode"
    MEETING_FULL = "meeting_full"


def is_banned(meeting: Meeting, user_id: int | None, guest_key: str) -> bool:
    bans = meeting.bans.all()
    if user_id is not None:
        return bans.filter(user_id=user_id).exists()
    return bans.filter(user__isnull=True, guest_key=guest_key).exists()


def entry_refusal(
    meeting: Meeting,
    policy: JoinPolicy,
    *,
    banned: bool,
    locked: bool,
    passcode: str | None,
    present: int,
    passcode_verified: bool = False,
) -> EntryRefusal | None:
    """Why someone the join policy admits still cannot enter the room now, if they cannot.
    ``passcode_verified``: the caller checked the passcode already (outside any lock)."""
    if banned:
        return EntryRefusal.BANNED
    if locked and not policy.as_host:
        return EntryRefusal.LOCKED
    if policy.needs_passcode and not passcode_verified and not meeting.check_passcode(passcode or ""):
        return EntryRefusal.WRONG_PASSCODE
    if present >= meeting.max_participants and not policy.as_host:
        return EntryRefusal.MEETING_FULL
    return None

"""The meeting's access rules, table-tested: who may join, and who may enter the room now."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser

from accounts.models import User
from meetings.access import EntryRefusal, JoinPolicy, JoinRefusal, entry_refusal, join_policy
from meetings.models import Meeting, MeetingStatus

pytestmark = pytest.mark.django_db

HOST = JoinPolicy(refusal=None, as_host=True, as_guest=False, through_waiting_room=False, needs_passcode=False)
ATTENDEE = JoinPolicy(refusal=None, as_host=False, as_guest=False, through_waiting_room=True, needs_passcode=True)


@pytest.mark.parametrize(
    ("policy", "locked", "banned", "passcode", "present", "expected"),
    [
        (ATTENDEE, False, False, "2468", 1, None),
        (ATTENDEE, False, True, "2468", 1, EntryRefusal.BANNED),
        (ATTENDEE, True, False, "2468", 1, EntryRefusal.LOCKED),
        (HOST, True, False, None, 1, None),
        (ATTENDEE, False, False, "0000", 1, EntryRefusal.WRONG_PASSCODE),
        (ATTENDEE, False, False, None, 1, EntryRefusal.WRONG_PASSCODE),
        (HOST, False, False, None, 1, None),
        (ATTENDEE, False, False, "2468", 3, EntryRefusal.MEETING_FULL),
        (HOST, False, False, None, 3, None),
        (HOST, False, True, None, 1, EntryRefusal.BANNED),
    ],
)
def test_entry_refusal(
    policy: JoinPolicy, locked: bool, banned: bool, passcode: str | None, present: int, expected: EntryRefusal | None
) -> None:
    meeting = Meeting(title="t", max_participants=3)
    meeting.set_passcode("2468")
    assert entry_refusal(meeting, policy, banned=banned, locked=locked, passcode=passcode, present=present) == expected


def test_join_policy(meeting: Meeting, owner: User, member: User, outsider: User) -> None:
    meeting.set_passcode("1")
    assert join_policy(owner, meeting) == JoinPolicy(None, True, False, False, False)
    assert join_policy(member, meeting) == JoinPolicy(None, True, False, False, False)
    assert join_policy(outsider, meeting) == JoinPolicy(None, False, False, True, True)
    assert join_policy(AnonymousUser(), meeting).refusal == JoinRefusal.SIGN_IN_REQUIRED
    meeting.allow_guests = True
    assert join_policy(AnonymousUser(), meeting) == JoinPolicy(None, False, True, True, True)
    meeting.status = MeetingStatus.ENDED
    assert join_policy(owner, meeting).refusal == JoinRefusal.MEETING_ENDED

"""Breakout rooms close with their meeting: when a meeting ends for everyone, rooms still open
are closed as a host closing them at once would (``rooms.breakouts.finish``), so the session
does not outlive the meeting (a reopened meeting, the next occurrence of a series, would
otherwise send newcomers into the old rooms) and ``breakout_closed`` is sent (webhooks).

Connected to ``meetings.signals.ended_for_everyone`` in ``RoomsConfig.ready``; that signal comes
after the ending commits, so this runs in a transaction of its own."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from meetings.models import BreakoutPlan, Meeting
from rooms.breakouts import finish


def on_ended_for_everyone(sender: Any, meeting_id: int, **kwargs: Any) -> None:
    close_for_ended_meeting(meeting_id)


@transaction.atomic
def close_for_ended_meeting(meeting_id: int) -> bool:
    """Closes the meeting's open breakout rooms; True when there were some."""
    meeting = Meeting.objects.select_for_update().filter(pk=meeting_id).first()
    if meeting is None:
        return False
    plan = BreakoutPlan.objects.select_for_update().filter(meeting=meeting).first()
    if plan is None or not plan.is_open:
        return False
    finish(meeting, plan)
    return True

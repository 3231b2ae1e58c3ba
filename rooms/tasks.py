"""Celery tasks of the live rooms: sweeps for what a web process that died would have done."""

from __future__ import annotations

from celery import shared_task
from django.db.models import Q
from django.utils import timezone

from meetings.models import BreakoutPlan
from rooms.breakouts import do_run_deadlines
from rooms.presence import do_expire_stale


@shared_task(name="meetings.expire_stale_participants")
def expire_stale_participants() -> int:
    """Participants whose connection dropped and whose web process died before their grace
    period ended would otherwise stay in the roster: this sweep makes them leave."""
    return do_expire_stale()


@shared_task(name="rooms.breakout_deadlines")
def breakout_deadlines() -> int:
    """Breakout rooms whose duration or closing countdown is over (the web process that
    started it closes them on time; this sweep catches rooms whose process is gone, and those
    opened or closed over REST). Returns how many meetings it looked at."""
    now = timezone.now()
    due = BreakoutPlan.objects.filter(opened_at__isnull=False).filter(
        Q(closing_at__lte=now) | Q(closing_at__isnull=True, ends_at__lte=now)
    )
    meeting_ids = list(due.values_list("meeting_id", flat=True))
    for meeting_id in meeting_ids:
        do_run_deadlines(meeting_id)
    return len(meeting_ids)

"""Celery tasks of the meetings app."""

from __future__ import annotations

from celery import shared_task

from meetings.room import do_expire_stale


@shared_task(name="meetings.expire_stale_participants")
def expire_stale_participants() -> int:
    """Participants whose connection dropped and whose web process died before their grace
    period ended would otherwise stay in the roster: this sweep makes them leave."""
    return do_expire_stale()

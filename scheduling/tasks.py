"""Celery tasks of the scheduling app (discovered by ``app.autodiscover_tasks()``)."""

from __future__ import annotations

from celery import shared_task

from scheduling.reminders import do_send_due_reminders


@shared_task(name="scheduling.send_due_reminders", acks_late=True)
def send_due_reminders() -> int:
    """Run by beat every minute. Safe to run twice at once: each reminder is claimed in the
    database before it is sent (see scheduling/reminders.py)."""
    return do_send_due_reminders()

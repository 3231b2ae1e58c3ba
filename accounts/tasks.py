"""Celery tasks of the accounts app (discovered by ``app.autodiscover_tasks()``): the email
task lives with the mail plumbing (``conference.mail``); importing it here registers it."""

from __future__ import annotations

from conference.mail import send_email_message

__all__ = ["send_email_message"]

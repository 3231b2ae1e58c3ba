"""Celery tasks of the accounts app (discovered by ``app.autodiscover_tasks()``)."""

from __future__ import annotations

import smtplib
from typing import Any

from celery import shared_task

from conference.mail import deliver


@shared_task(
    name="conference.send_email_message",
    autoretry_for=(smtplib.SMTPException, OSError),
    retry_backoff=5,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=8,
    acks_late=True,
)
def send_email_message(payload: dict[str, Any]) -> None:
    deliver(payload)

"""Email leaves the request path: ``CeleryEmailBackend`` queues each message as a Celery task
after the transaction commits, and the task delivers it with ``EMAIL_DELIVERY_BACKEND``
(SMTP when ``EMAIL_HOST`` is set, the console otherwise), retrying with backoff.

Messages cross the process boundary as JSON (attachments base64-encoded), never pickled.
"""

from __future__ import annotations

import base64
import smtplib
from collections.abc import Sequence
from email.mime.base import MIMEBase
from typing import Any

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMessage, EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction


def message_to_payload(message: EmailMessage) -> dict[str, Any]:
    attachments = []
    for attachment in message.attachments:
        if isinstance(attachment, MIMEBase):
            raise ValueError("MIME attachments cannot be queued; attach (filename, content, mimetype) instead.")
        filename, content, mimetype = attachment
        raw = content.encode() if isinstance(content, str) else content
        attachments.append({"filename": filename, "content": base64.b64encode(raw).decode(), "mimetype": mimetype})
    alternatives = [[str(content), mimetype] for content, mimetype in getattr(message, "alternatives", [])]
    return {
        "subject": str(message.subject),
        "body": str(message.body),
        "from_email": message.from_email,
        "to": list(message.to),
        "cc": list(message.cc),
        "bcc": list(message.bcc),
        "reply_to": list(message.reply_to),
        "headers": dict(message.extra_headers),
        "alternatives": alternatives,
        "attachments": attachments,
    }


def payload_to_message(payload: dict[str, Any]) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(
        subject=payload["subject"],
        body=payload["body"],
        from_email=payload["from_email"],
        to=payload["to"],
        cc=payload["cc"],
        bcc=payload["bcc"],
        reply_to=payload["reply_to"],
        headers=payload["headers"],
    )
    for content, mimetype in payload["alternatives"]:
        message.attach_alternative(content, mimetype)
    for attachment in payload["attachments"]:
        message.attach(attachment["filename"], base64.b64decode(attachment["content"]), attachment["mimetype"])
    return message


def deliver(payload: dict[str, Any]) -> None:
    """Sends one queued message with the delivery backend; raises on failure so the task retries."""
    connection = get_connection(settings.EMAIL_DELIVERY_BACKEND, fail_silently=False)
    connection.send_messages([payload_to_message(payload)])


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


class CeleryEmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        count = 0
        for message in email_messages:
            payload = message_to_payload(message)
            transaction.on_commit(lambda payload=payload: send_email_message.delay(payload))  # type: ignore[misc]
            count += 1
        return count

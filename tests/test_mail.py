"""Email goes through Celery: a real worker process delivers to a real SMTP server."""

from __future__ import annotations

import re
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.test import Client, override_settings

from conference.mail import message_to_payload, payload_to_message
from tests.celery_workers import celery_worker_process


def test_a_message_survives_the_trip_through_json() -> None:
    message = EmailMultiAlternatives("Subject ✓", "Body", "from@example.com", ["to@example.com"], cc=["cc@example.com"])
    message.attach_alternative("<p>Body</p>", "text/html")
    message.attach("invite.ics", "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", "text/calendar")
    message.attach("blob.bin", b"\x00\xff", "application/octet-stream")
    copy = payload_to_message(message_to_payload(message))
    assert (copy.subject, copy.body, copy.to, copy.cc) == ("Subject ✓", "Body", ["to@example.com"], ["cc@example.com"])
    assert copy.alternatives[0][0] == "<p>Body</p>"
    assert copy.attachments[0][1] == "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"
    assert copy.attachments[1][1] == b"\x00\xff"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_inbox() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


WORKER_LOG = Path(tempfile.gettempdir()) / "conference-test-celery-worker.log"


@pytest.fixture
def celery_worker(smtp_inbox: tuple[Inbox, int], transactional_db: None) -> Iterator[subprocess.Popen[bytes]]:
    with celery_worker_process(
        WORKER_LOG,
        DJANGO_SETTINGS_MODULE="conference.settings",
        SECRET_KEY="worker-test-secret-key-0123456789abcdefghijklmnop",
        ALLOWED_HOSTS="testserver",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(smtp_inbox[1]),
        EMAIL_USE_TLS="false",
    ) as worker:
        yield worker


@override_settings(EMAIL_BACKEND="conference.mail.CeleryEmailBackend")
def test_sign_up_email_is_delivered_by_a_celery_worker(
    smtp_inbox: tuple[Inbox, int], celery_worker: subprocess.Popen[bytes]
) -> None:
    assert settings.CELERY_BROKER_URL == settings.REDIS_URL
    inbox, _ = smtp_inbox
    password = "a-Long-passw0rd!"
    response = Client().post(
        "/accounts/signup/", {"email": "mailme@example.com", "password1": password, "password2": password}
    )
    assert response.status_code == 302
    deadline = time.monotonic() + 60
    while not inbox.messages and time.monotonic() < deadline and celery_worker.poll() is None:
        time.sleep(0.2)
    assert inbox.messages, "no email arrived; worker log: " + WORKER_LOG.read_text(errors="replace")
    delivered = inbox.messages[0]
    assert delivered["To"] == "mailme@example.com"
    body = delivered.get_payload(decode=True) or b""
    text = body.decode() if isinstance(body, bytes) else str(delivered.get_payload())
    assert re.search(r"http://testserver/accounts/confirm-email/\S+", text)

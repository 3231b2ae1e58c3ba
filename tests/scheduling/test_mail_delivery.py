"""Invitation and reminder emails travel the production path: queued as Celery tasks after the
commit, delivered by a real Celery worker process to a real SMTP server (aiosmtpd) started here."""

from __future__ import annotations

import re
import subprocess
import time
from datetime import timedelta
from email.header import decode_header, make_header
from email.message import Message

from django.test import Client, override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import User
from scheduling.models import Invitation, PartStat, ReminderDelivery, ScheduledMeeting
from scheduling.tasks import send_due_reminders
from tests.scheduling.conftest import parse_ics
from tests.test_mail import WORKER_LOG, Inbox


def wait_for(inbox: Inbox, count: int, worker: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while len(inbox.messages) < count and time.monotonic() < deadline and worker.poll() is None:
        time.sleep(0.2)
    assert len(inbox.messages) >= count, "emails missing; worker log: " + WORKER_LOG.read_text(errors="replace")


def subject(message: Message) -> str:
    return str(make_header(decode_header(message["Subject"])))


def parts(message: Message) -> dict[str, Message]:
    found: dict[str, Message] = {}
    for part in message.walk():
        if part.is_multipart():
            continue
        key = "invite.ics" if part.get_filename() == "invite.ics" else part.get_content_type()
        found[key] = part
    return found


def text_of(part: Message) -> str:
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode(part.get_content_charset() or "utf-8")


@override_settings(EMAIL_BACKEND="conference.mail.CeleryEmailBackend")
def test_invitations_reach_a_real_smtp_server_through_celery(
    smtp_inbox: tuple[Inbox, int], celery_worker: subprocess.Popen[bytes], owner: User, invitee: User
) -> None:
    inbox, _ = smtp_inbox
    api = APIClient()
    api.force_authenticate(owner)
    response = api.post(
        "/api/v1/scheduled-meetings/",
        {
            "title": "Quarterly review",
            "time_zone": "Europe/Berlin",
            "start": "2027-03-22T09:00:00",
            "recurrence": {"frequency": "weekly", "count": 4},
            "invitees": [{"email": "ivy@example.com"}, {"email": "ext@partner.example", "name": "Ext"}],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    series = ScheduledMeeting.objects.get()
    wait_for(inbox, 2, celery_worker)
    by_recipient = {message["To"]: message for message in inbox.messages}
    assert set(by_recipient) == {"ivy@example.com", "ext@partner.example"}
    message = by_recipient["ext@partner.example"]
    assert subject(message).startswith("Invitation: Quarterly review @ Mon, Mar 22, 2027, 09:00–10:00 (Europe/Berlin)")
    assert message["Reply-To"] == "olivia@example.com"
    found = parts(message)
    assert set(found) == {"text/plain", "text/html", "text/calendar", "invite.ics"}
    assert found["text/calendar"].get_param("method") == "REQUEST"
    calendar = parse_ics(text_of(found["invite.ics"]))
    assert text_of(found["text/calendar"]).replace("\r\n", "\n") == text_of(found["invite.ics"]).replace("\r\n", "\n")
    (event,) = calendar.walk("VEVENT")
    assert str(calendar["METHOD"]) == "REQUEST"
    assert str(event["UID"]) == series.uid
    assert "Quarterly review" in text_of(found["text/html"])

    # The "Yes" link of the delivered email works without signing in.
    link = re.search(r"Yes:\s+https://testserver(/schedule/rsvp/\S+/)", text_of(found["text/plain"]))
    assert link
    assert Client().post(link.group(1)).status_code == 200
    assert Invitation.objects.get(email="ext@partner.example").partstat == PartStat.ACCEPTED


@override_settings(EMAIL_BACKEND="conference.mail.CeleryEmailBackend")
def test_reminders_run_in_the_worker_once_each(
    smtp_inbox: tuple[Inbox, int], celery_worker: subprocess.Popen[bytes], owner: User
) -> None:
    from scheduling import actions

    inbox, _ = smtp_inbox
    soon = timezone.now() + timedelta(minutes=5)
    actions.do_schedule_meeting(
        owner,
        actions.ScheduleChanges(title="Stand-up", time_zone="UTC", start=soon),
        [actions.Invitee("ext@partner.example")],
    )
    wait_for(inbox, 1, celery_worker)  # the invitation
    inbox.messages.clear()
    # Beat fires twice (say two beat processes by mistake): both tasks run in the worker.
    first, second = send_due_reminders.delay(), send_due_reminders.delay()
    assert sorted([first.get(timeout=60), second.get(timeout=60)]) == [0, 2]
    wait_for(inbox, 2, celery_worker)
    time.sleep(1.5)  # nothing more arrives
    assert sorted(message["To"] for message in inbox.messages) == ["ext@partner.example", "olivia@example.com"]
    assert all(subject(message).startswith("Reminder: Stand-up") for message in inbox.messages)
    assert ReminderDelivery.objects.count() == 2

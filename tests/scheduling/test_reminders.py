"""Reminders: sent a configurable time before each occurrence, exactly once per occurrence and
recipient, even when beat runs twice (one after the other or at the same moment) or a worker
dies halfway."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.core import mail
from django.db import connection
from django.test import override_settings

from accounts.models import User
from meetings.actions import do_end_meeting
from meetings.models import MeetingStatus
from scheduling import actions, invitations, reminders
from scheduling.models import Invitation, PartStat, ReminderDelivery, ScheduledMeeting
from scheduling.tasks import send_due_reminders
from tests.scheduling.conftest import schedule

FIRST = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)  # the weekly fixture's first occurrence (09:00 Berlin)
BEFORE = FIRST - timedelta(minutes=10)


def recipients() -> list[str]:
    return sorted(message.to[0] for message in mail.outbox)


@pytest.mark.django_db
def test_everyone_gets_one_reminder_even_when_beat_runs_twice(weekly: ScheduledMeeting) -> None:
    assert reminders.do_send_due_reminders(BEFORE) == 3
    assert reminders.do_send_due_reminders(BEFORE) == 0
    assert reminders.do_send_due_reminders(BEFORE + timedelta(minutes=5)) == 0
    assert recipients() == ["ext@partner.example", "ivy@example.com", "olivia@example.com"]
    message = mail.outbox[0]
    assert message.subject.startswith("Reminder: Planning @ Mon, Mar 1, 2027, 09:00")
    assert "https://testserver/m/" in message.body
    assert ReminderDelivery.objects.count() == 3


@pytest.mark.django_db
def test_each_occurrence_gets_its_own_reminders(weekly: ScheduledMeeting) -> None:
    reminders.do_send_due_reminders(BEFORE)
    reminders.do_send_due_reminders(BEFORE + timedelta(days=7))
    assert len(mail.outbox) == 6
    assert ReminderDelivery.objects.values("recurrence_id").distinct().count() == 2


@pytest.mark.django_db
def test_nothing_is_sent_too_early_or_after_the_start(weekly: ScheduledMeeting) -> None:
    assert reminders.do_send_due_reminders(FIRST - timedelta(minutes=16)) == 0
    assert reminders.do_send_due_reminders(FIRST) == 0
    with override_settings(SCHEDULING_REMINDER_MINUTES=60):
        assert reminders.do_send_due_reminders(FIRST - timedelta(minutes=59)) == 3
    assert mail.outbox


@pytest.mark.django_db
def test_people_who_declined_and_cancelled_occurrences_get_none(weekly: ScheduledMeeting, invitee: User) -> None:
    ivy = Invitation.objects.get(user=invitee)
    actions.do_respond(ivy, PartStat.DECLINED, FIRST)
    actions.do_cancel_occurrence(weekly, FIRST + timedelta(days=7))
    mail.outbox.clear()
    reminders.do_send_due_reminders(BEFORE)
    assert recipients() == ["ext@partner.example", "olivia@example.com"]
    mail.outbox.clear()
    assert reminders.do_send_due_reminders(BEFORE + timedelta(days=7)) == 0
    actions.do_respond(Invitation.objects.get(email="ext@partner.example"), PartStat.DECLINED)
    reminders.do_send_due_reminders(BEFORE + timedelta(days=14))
    assert recipients() == ["ivy@example.com", "olivia@example.com"]


@pytest.mark.django_db
def test_a_worker_dying_before_commit_loses_nothing_and_duplicates_nothing(weekly: ScheduledMeeting) -> None:
    real = invitations.send_reminder
    calls = {"count": 0}

    def dies_once(*args: object, **kwargs: object) -> None:
        calls["count"] += 1
        if calls["count"] == 2:
            raise RuntimeError("worker lost")
        real(*args, **kwargs)  # type: ignore[arg-type]

    with mock.patch.object(invitations, "send_reminder", dies_once), pytest.raises(RuntimeError):
        reminders.do_send_due_reminders(BEFORE)
    assert ReminderDelivery.objects.count() == 1  # the failed claim was rolled back with its email
    assert reminders.do_send_due_reminders(BEFORE) == 2
    assert len(mail.outbox) == 3
    assert len(set(recipients())) == 3


@pytest.mark.django_db
def test_the_beat_task_runs_through_celery(weekly: ScheduledMeeting) -> None:
    with mock.patch("scheduling.reminders.timezone.now", return_value=BEFORE):
        assert send_due_reminders.apply().get() == 3
        assert send_due_reminders.apply().get() == 0
    assert len(mail.outbox) == 3


@pytest.mark.django_db
def test_an_ended_meeting_is_reopened_for_the_next_occurrence(weekly: ScheduledMeeting) -> None:
    meeting = weekly.meeting
    do_end_meeting(meeting)
    meeting.refresh_from_db()
    assert meeting.status == MeetingStatus.ENDED
    reminders.do_send_due_reminders(BEFORE)
    meeting.refresh_from_db()
    assert (meeting.status, meeting.ended_at) == (MeetingStatus.SCHEDULED, None)


@pytest.fixture
def committed_weekly(transactional_db: None, berlin_owner: User, invitee: User) -> ScheduledMeeting:
    series = schedule(
        berlin_owner,
        ("ivy@example.com", "ext@partner.example"),
        recurrence={"frequency": "weekly", "weekdays": ["MO"], "count": 10},
    )
    mail.outbox.clear()
    return series


def test_two_beats_at_the_same_moment_send_each_reminder_once(committed_weekly: ScheduledMeeting) -> None:
    """Two concurrent runs, each in its own thread and database connection, started together."""
    start = threading.Barrier(4)
    sent: list[int] = []
    errors: list[BaseException] = []

    def beat() -> None:
        try:
            start.wait(timeout=10)
            sent.append(reminders.do_send_due_reminders(BEFORE))
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=beat) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sum(sent) == 3
    assert ReminderDelivery.objects.count() == 3
    assert recipients() == ["ext@partner.example", "ivy@example.com", "olivia@example.com"]

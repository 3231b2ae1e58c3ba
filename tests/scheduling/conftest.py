"""Scheduling fixtures: an invitee with an account, and helpers that schedule through the actions.

The role fixtures (owner = organizer, member, outsider) come from tests/conftest.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from django.core import mail
from icalendar import Calendar

from accounts.access import profile_of
from accounts.models import User
from scheduling import actions
from scheduling.models import ScheduledMeeting
from tests.factories import make_user

# The real SMTP server (aiosmtpd) and Celery worker subprocess of the email tests, shared here.
from tests.test_mail import celery_worker, smtp_inbox  # noqa: F401


@pytest.fixture
def invitee(db: None) -> User:
    """A platform user who gets invited (in New York, while the organizer plans in Berlin)."""
    user = make_user(username="ivy", email="ivy@example.com")
    profile = profile_of(user)
    profile.time_zone = "America/New_York"
    profile.save()
    return user


@pytest.fixture
def berlin_owner(owner: User) -> User:
    profile = profile_of(owner)
    profile.time_zone = "Europe/Berlin"
    profile.save()
    return owner


def schedule(organizer: User, invitees: tuple[str, ...] = (), **fields: Any) -> ScheduledMeeting:
    """Schedules through the domain action (so emails are sent as in production)."""
    recurrence = fields.pop("recurrence", None)
    changes = actions.ScheduleChanges(
        title=fields.pop("title", "Planning"),
        time_zone=fields.pop("time_zone", "Europe/Berlin"),
        start=fields.pop("start", datetime(2027, 3, 1, 9, 0)),
        recurrence=actions.RecurrenceInput(**recurrence) if recurrence else None,
        **fields,
    )
    series = actions.do_schedule_meeting(organizer, changes, [actions.Invitee(email) for email in invitees])
    series.refresh_from_db()
    return series


@pytest.fixture
def weekly(berlin_owner: User, invitee: User) -> ScheduledMeeting:
    """Mondays 09:00-10:00 Europe/Berlin, 10 times from 2027-03-01 (across the March DST change),
    inviting ``invitee`` and an external address. The invitation emails are cleared."""
    series = schedule(
        berlin_owner,
        ("ivy@example.com", "ext@partner.example"),
        recurrence={"frequency": "weekly", "weekdays": ["MO"], "count": 10},
    )
    mail.outbox.clear()
    return series


def parse_ics(data: bytes | str) -> Calendar:
    calendar = Calendar.from_ical(data if isinstance(data, str) else data.decode())
    assert isinstance(calendar, Calendar)
    return calendar

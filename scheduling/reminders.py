"""Reminders before each occurrence, sent exactly once per occurrence and recipient.

The beat task runs every minute and looks for occurrences starting within the next
``SCHEDULING_REMINDER_MINUTES``. For each recipient (the organizer and every invitee who has not
declined that occurrence) it first *claims* the reminder by inserting a ``ReminderDelivery`` row,
which a unique constraint allows only once, and queues the email in the same transaction (the
email task is sent when it commits). A second beat, a retried task or a restarted worker finds
the row already there and sends nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.access import profile_of
from scheduling import actions, invitations, occurrences
from scheduling.models import Invitation, PartStat, ReminderDelivery, ScheduledMeeting, SeriesStatus


@dataclass(frozen=True)
class Recipient:
    email: str
    name: str
    invitation: Invitation | None


def lead_time() -> timedelta:
    return timedelta(minutes=int(settings.SCHEDULING_REMINDER_MINUTES))


def due_series(now: datetime) -> list[ScheduledMeeting]:
    return list(
        ScheduledMeeting.objects.filter(status=SeriesStatus.CONFIRMED, start__lte=now + lead_time() + timedelta(days=1))
        .filter(Q(last_end__isnull=True) | Q(last_end__gt=now))
        .select_related("meeting", "organizer")
    )


def recipients(series: ScheduledMeeting, occurrence: occurrences.Occurrence) -> list[Recipient]:
    found = [Recipient(series.organizer.email.lower(), profile_of(series.organizer).name, None)]
    rid = occurrence.recurrence_id.astimezone(UTC)
    for invitation in series.invitations.select_related("user").prefetch_related("occurrence_responses"):
        answers = {
            answer.recurrence_id.astimezone(UTC): answer.partstat for answer in invitation.occurrence_responses.all()
        }
        if answers.get(rid, invitation.partstat) != PartStat.DECLINED:
            found.append(Recipient(invitation.email, invitation.name, invitation))
    return found


def claim_and_send(series: ScheduledMeeting, occurrence: occurrences.Occurrence, recipient: Recipient) -> bool:
    """Sends one reminder unless it was claimed before; True when this call sent it."""
    with transaction.atomic():
        _, created = ReminderDelivery.objects.get_or_create(
            series=series, recurrence_id=occurrence.recurrence_id.astimezone(UTC), email=recipient.email
        )
        if created:
            invitations.send_reminder(series, occurrence, recipient.email, recipient.invitation)
    return created


def do_send_due_reminders(now: datetime | None = None) -> int:
    """Sends the reminders that are due; returns how many this run sent."""
    now = now or timezone.now()
    sent = 0
    for series in due_series(now):
        upcoming = [
            item for item in occurrences.occurrences_between(series, now, now + lead_time()) if item.start > now
        ]
        if upcoming:
            actions.do_reopen_meeting(series)
        for occurrence in upcoming:
            for recipient in recipients(series, occurrence):
                sent += claim_and_send(series, occurrence, recipient)
    return sent

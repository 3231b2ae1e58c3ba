"""Scheduled meetings (a series of occurrences), their invitations, RSVP and reminders.

Times are stored as aware datetimes (UTC in the database) together with the organizer's IANA
time zone name: the recurrence is expanded in that zone, so an occurrence keeps its local
wall-clock time across daylight-saving transitions.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models

from accounts.models import validate_time_zone
from meetings.models import Meeting


class Frequency(models.TextChoices):
    NONE = "none", "Does not repeat"
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"
    MONTHLY = "monthly", "Monthly"


class MonthlyBy(models.TextChoices):
    MONTH_DAY = "month_day", "On the same day of the month"
    WEEKDAY = "weekday", "On the same weekday of the month (e.g. the 2nd Tuesday)"
    LAST_WEEKDAY = "last_weekday", "On the last such weekday of the month"


class SeriesStatus(models.TextChoices):
    CONFIRMED = "confirmed", "Confirmed"
    CANCELLED = "cancelled", "Cancelled"


def new_uid() -> str:
    return f"{uuid.uuid4()}@conference"


class ScheduledMeeting(models.Model):
    """A planned meeting, once or recurring. All occurrences share one join link (``meeting``)."""

    uid = models.CharField(max_length=255, unique=True, editable=False, default=new_uid)
    organizer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="scheduled_meetings")
    meeting = models.OneToOneField(Meeting, on_delete=models.CASCADE, related_name="schedule")
    title = models.CharField(max_length=200)
    description = models.TextField(max_length=5000, blank=True)
    time_zone = models.CharField(max_length=64, validators=[validate_time_zone])
    start = models.DateTimeField(help_text="Start of the first occurrence.")
    duration = models.DurationField(default=timedelta(hours=1))
    frequency = models.CharField(max_length=10, choices=Frequency.choices, default=Frequency.NONE)
    interval = models.PositiveSmallIntegerField(default=1)
    weekdays = models.CharField(max_length=27, blank=True, help_text="Weekly: days as MO,TU,WE,TH,FR,SA,SU.")
    monthly_by = models.CharField(max_length=12, choices=MonthlyBy.choices, blank=True)
    count = models.PositiveIntegerField(null=True, blank=True, help_text="Number of occurrences.")
    until = models.DateField(null=True, blank=True, help_text="Last day (inclusive, organizer's time zone).")
    excluded_dates = models.JSONField(default=list, blank=True, help_text="Local dates (YYYY-MM-DD) left out.")
    sequence = models.PositiveIntegerField(default=0, help_text="iCalendar SEQUENCE, raised on every change.")
    status = models.CharField(max_length=10, choices=SeriesStatus.choices, default=SeriesStatus.CONFIRMED)
    last_end = models.DateTimeField(null=True, blank=True, help_text="End of the last occurrence; empty if endless.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["start", "id"]
        indexes = [
            models.Index(fields=["organizer", "status"]),
            models.Index(fields=["status", "last_end"]),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_recurring(self) -> bool:
        return self.frequency != Frequency.NONE


class OccurrenceChange(models.Model):
    """One occurrence edited on its own (moved, shortened, retitled): an iCalendar override."""

    series = models.ForeignKey(ScheduledMeeting, on_delete=models.CASCADE, related_name="changes")
    recurrence_id = models.DateTimeField(help_text="The original start of the occurrence.")
    start = models.DateTimeField()
    duration = models.DurationField()
    title = models.CharField(max_length=200, blank=True, help_text="Empty: the series' title.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["recurrence_id"]
        constraints = [
            models.UniqueConstraint(fields=["series", "recurrence_id"], name="scheduling_one_change_per_occurrence")
        ]

    def __str__(self) -> str:
        return f"{self.series_id} @ {self.recurrence_id:%Y-%m-%d %H:%M}Z"


class PartStat(models.TextChoices):
    """RFC 5545 participation status of an attendee."""

    NEEDS_ACTION = "NEEDS-ACTION", "No answer yet"
    ACCEPTED = "ACCEPTED", "Accepted"
    TENTATIVE = "TENTATIVE", "Maybe"
    DECLINED = "DECLINED", "Declined"


class Invitation(models.Model):
    """An attendee of a series: a user of the platform or an external email address."""

    series = models.ForeignKey(ScheduledMeeting, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    name = models.CharField(max_length=120, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="scheduling_invitations",
    )
    partstat = models.CharField(max_length=12, choices=PartStat.choices, default=PartStat.NEEDS_ACTION)
    responded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["email"]
        constraints = [models.UniqueConstraint(fields=["series", "email"], name="scheduling_invite_once")]
        indexes = [models.Index(fields=["user"])]

    def __str__(self) -> str:
        return f"{self.email} → {self.series_id} ({self.partstat})"


class OccurrenceResponse(models.Model):
    """An attendee's answer for one occurrence only (an iTIP REPLY with a RECURRENCE-ID)."""

    invitation = models.ForeignKey(Invitation, on_delete=models.CASCADE, related_name="occurrence_responses")
    recurrence_id = models.DateTimeField()
    partstat = models.CharField(max_length=12, choices=PartStat.choices)
    responded_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["recurrence_id"]
        constraints = [
            models.UniqueConstraint(fields=["invitation", "recurrence_id"], name="scheduling_one_answer_per_occurrence")
        ]

    def __str__(self) -> str:
        return f"{self.invitation_id} @ {self.recurrence_id:%Y-%m-%d %H:%M}Z: {self.partstat}"


class RsvpTokenUse(models.Model):
    """An RSVP link that was used: each link works once."""

    nonce = models.CharField(max_length=32, unique=True)
    invitation = models.ForeignKey(Invitation, on_delete=models.CASCADE, related_name="used_tokens")
    partstat = models.CharField(max_length=12, choices=PartStat.choices)
    used_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-used_at"]

    def __str__(self) -> str:
        return f"{self.nonce[:8]}… {self.partstat}"


class CalendarFeed(models.Model):
    """A user's secret calendar subscription. The URL is ``key`` plus an HMAC of it (not stored),
    so a database dump alone does not reveal usable feed URLs. Regenerating replaces ``key``."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feed")
    key = models.CharField(max_length=32, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["user_id"]

    def __str__(self) -> str:
        return f"feed of {self.user_id}"


class ReminderDelivery(models.Model):
    """A reminder claimed for one occurrence and one recipient. The unique constraint is what
    makes reminders go out exactly once, however many beat processes or retries run."""

    series = models.ForeignKey(ScheduledMeeting, on_delete=models.CASCADE, related_name="reminders")
    recurrence_id = models.DateTimeField()
    email = models.EmailField()
    claimed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-claimed_at"]
        constraints = [
            models.UniqueConstraint(fields=["series", "recurrence_id", "email"], name="scheduling_remind_once")
        ]

    def __str__(self) -> str:
        return f"{self.email} @ {self.recurrence_id:%Y-%m-%d %H:%M}Z"

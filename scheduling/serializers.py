"""REST API shapes of scheduled meetings, occurrences and invitations.

Input is validated here for types only; the domain rules (time zones, recurrence, caps) are
checked by ``scheduling.actions`` and refused with their stable codes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from scheduling import actions, ical, occurrences, recurrence
from scheduling.models import Invitation, PartStat, ScheduledMeeting


class WallClockDateTimeField(serializers.DateTimeField):
    """ISO 8601. In: without an offset it is a wall-clock time in the meeting's time zone; with one,
    an instant. Out: in the meeting's time zone, with its offset."""

    def enforce_timezone(self, value: datetime) -> datetime:
        return value


class RecurrenceSerializer(serializers.Serializer[dict[str, Any]]):
    frequency = serializers.ChoiceField(choices=recurrence.FREQUENCIES, default="none")
    interval = serializers.IntegerField(default=1, help_text="Every n days / weeks / months (1-99).")
    weekdays = serializers.ListField(
        child=serializers.ChoiceField(choices=recurrence.WEEKDAYS),
        default=list,
        max_length=7,
        help_text="Weekly: the days, e.g. ['MO', 'WE']. Default: the start's weekday.",
    )
    monthly_by = serializers.ChoiceField(
        choices=recurrence.MONTHLY_MODES,
        allow_blank=True,
        default="",
        help_text="Monthly: the same day of the month (default), the same n-th weekday, or the last weekday.",
    )
    count = serializers.IntegerField(
        allow_null=True, default=None, help_text=f"Number of occurrences (at most {recurrence.MAX_OCCURRENCES})."
    )
    until = serializers.DateField(
        allow_null=True,
        default=None,
        help_text=f"Last day (inclusive), local date; {recurrence.LAST_YEAR}-12-31 at the latest.",
    )
    excluded_dates = serializers.ListField(
        child=serializers.DateField(), default=list, max_length=recurrence.MAX_EXCLUDED_DATES
    )

    def to_input(self, data: dict[str, Any]) -> actions.RecurrenceInput:
        return actions.RecurrenceInput(**data)


class InviteeSerializer(serializers.Serializer[dict[str, Any]]):
    email = serializers.EmailField()
    name = serializers.CharField(max_length=120, required=False, allow_blank=True, default="")


class ScheduleWriteSerializer(serializers.Serializer[dict[str, Any]]):
    title = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    time_zone = serializers.CharField(
        max_length=64, required=False, help_text="IANA name, e.g. Europe/Berlin. Default: the organizer's."
    )
    start = WallClockDateTimeField(
        required=False,
        help_text=f"From {recurrence.EARLIEST_START:%Y-%m-%d} up to (not including) "
        f"{recurrence.LATEST_START:%Y-%m-%d}, UTC.",
    )
    duration_minutes = serializers.IntegerField(required=False, help_text="1 to 1440. Default 60.")
    end = WallClockDateTimeField(required=False, help_text="Instead of duration_minutes.")
    recurrence = RecurrenceSerializer(required=False)
    rrule = serializers.CharField(
        max_length=500, required=False, help_text="Instead of recurrence: an RRULE such as FREQ=WEEKLY;BYDAY=MO,WE"
    )
    allow_guests = serializers.BooleanField(required=False, help_text="External invitees join as guests.")

    def changes(self) -> actions.ScheduleChanges:
        data = self.validated_data
        return actions.ScheduleChanges(
            title=data.get("title"),
            description=data.get("description"),
            time_zone=data.get("time_zone"),
            start=data.get("start"),
            duration=actions.duration_from_minutes(data.get("duration_minutes")),
            end=data.get("end"),
            recurrence=actions.RecurrenceInput(**data["recurrence"]) if "recurrence" in data else None,
            rrule=data.get("rrule"),
            allow_guests=data.get("allow_guests"),
        )


class ScheduleCreateSerializer(ScheduleWriteSerializer):
    title = serializers.CharField(max_length=200)
    start = WallClockDateTimeField()
    invitees = serializers.ListField(child=InviteeSerializer(), required=False, max_length=actions.MAX_INVITEES)

    def invitees_input(self) -> list[actions.Invitee]:
        return [
            actions.Invitee(item["email"], item.get("name", "")) for item in self.validated_data.get("invitees", [])
        ]


class AttendeeSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    name = serializers.CharField()
    response = serializers.ChoiceField(source="partstat", choices=PartStat.choices)
    responded_at = serializers.DateTimeField(allow_null=True)
    is_user = serializers.SerializerMethodField()

    def get_is_user(self, invitation: Invitation) -> bool:
        return invitation.user_id is not None


class OccurrenceSerializer(serializers.Serializer[Any]):
    id = serializers.CharField(source="key", help_text="The original start in UTC: use it to edit or cancel.")
    series = serializers.IntegerField(source="series_id")
    title = serializers.CharField()
    start = WallClockDateTimeField()
    end = WallClockDateTimeField()
    changed = serializers.BooleanField(help_text="Edited on its own (moved, shortened or retitled).")


class RecurrenceOutSerializer(serializers.Serializer[dict[str, Any]]):
    frequency = serializers.CharField()
    interval = serializers.IntegerField()
    weekdays = serializers.ListField(child=serializers.CharField())
    monthly_by = serializers.CharField()
    count = serializers.IntegerField(allow_null=True)
    until = serializers.DateField(allow_null=True)
    excluded_dates = serializers.ListField(child=serializers.DateField())


class ScheduledMeetingSerializer(serializers.Serializer[ScheduledMeeting]):
    id = serializers.IntegerField()
    uid = serializers.CharField(help_text="The iCalendar UID, stable for the life of the series.")
    title = serializers.CharField()
    description = serializers.CharField()
    time_zone = serializers.CharField()
    start = serializers.SerializerMethodField()
    end = serializers.SerializerMethodField()
    duration_minutes = serializers.SerializerMethodField()
    recurrence = serializers.SerializerMethodField()
    rrule = serializers.SerializerMethodField()
    summary = serializers.SerializerMethodField()
    sequence = serializers.IntegerField()
    status = serializers.CharField()
    join_url = serializers.SerializerMethodField()
    meeting_code = serializers.CharField(source="meeting.code")
    next_occurrence = serializers.SerializerMethodField()
    attendees = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_start(self, series: ScheduledMeeting) -> datetime:
        return series.start.astimezone(occurrences.tz_of(series))

    def get_end(self, series: ScheduledMeeting) -> datetime:
        return self.get_start(series) + series.duration

    def get_duration_minutes(self, series: ScheduledMeeting) -> int:
        return int(series.duration.total_seconds() // 60)

    @extend_schema_field(RecurrenceOutSerializer)
    def get_recurrence(self, series: ScheduledMeeting) -> dict[str, Any]:
        return RecurrenceOutSerializer(
            {
                "frequency": series.frequency,
                "interval": series.interval,
                "weekdays": [day for day in series.weekdays.split(",") if day],
                "monthly_by": series.monthly_by,
                "count": series.count,
                "until": series.until,
                "excluded_dates": series.excluded_dates,
            }
        ).data

    def get_rrule(self, series: ScheduledMeeting) -> str | None:
        return occurrences.rrule_of(series)

    def get_summary(self, series: ScheduledMeeting) -> str:
        return occurrences.describe(series)

    def get_join_url(self, series: ScheduledMeeting) -> str:
        return ical.join_url(series)

    @extend_schema_field(OccurrenceSerializer(allow_null=True))
    def get_next_occurrence(self, series: ScheduledMeeting) -> dict[str, Any] | None:
        found = occurrences.next_occurrence(series, timezone.now())
        return OccurrenceSerializer(found).data if found else None

    @extend_schema_field(AttendeeSerializer(many=True))
    def get_attendees(self, series: ScheduledMeeting) -> list[dict[str, Any]]:
        return list(AttendeeSerializer(series.invitations.all(), many=True).data)


class InvitationSerializer(serializers.Serializer[Invitation]):
    """An invitation to the authenticated user."""

    id = serializers.IntegerField()
    response = serializers.ChoiceField(source="partstat", choices=PartStat.choices)
    responded_at = serializers.DateTimeField(allow_null=True)
    series = serializers.IntegerField(source="series_id")
    title = serializers.CharField(source="series.title")
    organizer = serializers.EmailField(source="series.organizer.email")
    status = serializers.CharField(source="series.status")
    start = serializers.SerializerMethodField()
    time_zone = serializers.CharField(source="series.time_zone")
    summary = serializers.SerializerMethodField()
    join_url = serializers.SerializerMethodField()

    def get_start(self, invitation: Invitation) -> datetime:
        series = invitation.series
        return series.start.astimezone(occurrences.tz_of(series))

    def get_summary(self, invitation: Invitation) -> str:
        return occurrences.describe(invitation.series)

    def get_join_url(self, invitation: Invitation) -> str:
        return ical.join_url(invitation.series)


class RespondSerializer(serializers.Serializer[dict[str, Any]]):
    response = serializers.ChoiceField(choices=PartStat.choices)
    occurrence = serializers.CharField(
        required=False, help_text="Answer for one occurrence only: its id (e.g. 20260302T080000Z)."
    )


class OccurrenceWriteSerializer(serializers.Serializer[dict[str, Any]]):
    start = WallClockDateTimeField(required=False)
    duration_minutes = serializers.IntegerField(required=False, help_text="1 to 1440.")
    end = WallClockDateTimeField(required=False)
    title = serializers.CharField(
        max_length=200, required=False, allow_blank=True, help_text="Empty: the series' title."
    )

    def changes(self) -> actions.OccurrenceChanges:
        data = self.validated_data
        return actions.OccurrenceChanges(
            start=data.get("start"),
            duration=actions.duration_from_minutes(data.get("duration_minutes")),
            end=data.get("end"),
            title=data.get("title"),
        )


class InviteSerializer(serializers.Serializer[dict[str, Any]]):
    invitees = serializers.ListField(child=InviteeSerializer(), min_length=1, max_length=actions.MAX_INVITEES)


class ReplyUploadSerializer(serializers.Serializer[dict[str, Any]]):
    file = serializers.FileField(help_text="The REPLY .ics from the attendee's calendar client.")


class FeedSerializer(serializers.Serializer[dict[str, Any]]):
    url = serializers.URLField(help_text="Subscribe to it in a calendar client. Keep it secret.")


class AgendaEntrySerializer(serializers.Serializer[Any]):
    occurrence = OccurrenceSerializer()
    role = serializers.ChoiceField(choices=["organizer", "invitee"])
    response = serializers.ChoiceField(
        choices=PartStat.choices, allow_null=True, help_text="The user's answer (invitees)."
    )
    join_url = serializers.URLField()
    time_zone = serializers.CharField()

"""Forms of the scheduling pages. They only collect input; ``scheduling.actions`` checks it and
its refusals are shown on the field they concern (``ERROR_FIELDS``)."""

from __future__ import annotations

import datetime as dt
import re
from datetime import datetime
from typing import Any

from django import forms

from accounts.models import time_zone_names
from scheduling import actions, occurrences, recurrence
from scheduling.models import Frequency, MonthlyBy, ScheduledMeeting

WEEKDAY_CHOICES = [
    ("MO", "Mon"),
    ("TU", "Tue"),
    ("WE", "Wed"),
    ("TH", "Thu"),
    ("FR", "Fri"),
    ("SA", "Sat"),
    ("SU", "Sun"),
]
ENDS_CHOICES = [("never", "Never"), ("count", "After a number of meetings"), ("until", "On a date")]

# Where a refusal from the actions (field names of the API) shows on the form.
ERROR_FIELDS = {
    "title": "title",
    "description": "description",
    "time_zone": "time_zone",
    "start": "date",
    "end": "end_time",
    "duration_minutes": "end_time",
    "rrule": "frequency",
    "recurrence.frequency": "frequency",
    "recurrence.interval": "interval",
    "recurrence.weekdays": "weekdays",
    "recurrence.monthly_by": "monthly_by",
    "recurrence.count": "count",
    "recurrence.until": "until",
    "recurrence.excluded_dates": "excluded_dates",
    "invitees": "invitees",
}


def date_input() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def time_input() -> forms.TimeInput:
    return forms.TimeInput(attrs={"type": "time"}, format="%H:%M")


def parse_dates(text: str) -> list[dt.date]:
    found = []
    for item in re.split(r"[\s,;]+", text.strip()):
        if not item:
            continue
        try:
            found.append(dt.date.fromisoformat(item))
        except ValueError as exc:
            raise forms.ValidationError(f"{item} is not a date like 2026-03-02.", code="invalid_date") from exc
    return found


class ScheduleForm(forms.Form):
    title = forms.CharField(max_length=200)
    description = forms.CharField(required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 3}))
    date = forms.DateField(widget=date_input())
    start_time = forms.TimeField(widget=time_input(), label="Starts")
    end_time = forms.TimeField(widget=time_input(), label="Ends")
    time_zone = forms.ChoiceField(choices=[])
    frequency = forms.ChoiceField(choices=Frequency.choices, label="Repeats", initial=Frequency.NONE)
    interval = forms.IntegerField(min_value=1, max_value=recurrence.MAX_INTERVAL, initial=1, label="Every")
    weekdays = forms.MultipleChoiceField(
        choices=WEEKDAY_CHOICES, required=False, widget=forms.CheckboxSelectMultiple, label="On"
    )
    monthly_by = forms.ChoiceField(choices=MonthlyBy.choices, required=False, initial=MonthlyBy.MONTH_DAY, label="On")
    ends = forms.ChoiceField(choices=ENDS_CHOICES, initial="never", widget=forms.RadioSelect, label="Ends")
    count = forms.IntegerField(min_value=1, required=False, label="Number of meetings")
    until = forms.DateField(required=False, widget=date_input(), label="Last day")
    excluded_dates = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "2026-04-06"}),
        label="Skip these dates",
        help_text="Dates without a meeting (YYYY-MM-DD), separated by commas or new lines.",
    )
    invitees = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "ana@example.com, Bo Lee <bo@example.org>"}),
        label="Invite",
        help_text="Emails of people with or without an account, separated by commas or new lines.",
    )
    allow_guests = forms.BooleanField(
        required=False, initial=True, label="People without an account may join (as guests)"
    )

    def __init__(self, *args: Any, time_zone: str = "UTC", with_invitees: bool = True, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        field = self.fields["time_zone"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(name, name.replace("_", " ")) for name in time_zone_names()]
        self.fields["time_zone"].initial = time_zone
        if not with_invitees:
            del self.fields["invitees"]

    @classmethod
    def for_series(cls, series: ScheduledMeeting, data: Any = None) -> ScheduleForm:
        tz = occurrences.tz_of(series)
        start = series.start.astimezone(tz)
        end = start + series.duration
        ends = "count" if series.count else ("until" if series.until else "never")
        initial = {
            "title": series.title,
            "description": series.description,
            "date": start.date(),
            "start_time": start.time(),
            "end_time": end.time(),
            "time_zone": series.time_zone,
            "frequency": series.frequency,
            "interval": series.interval,
            "weekdays": [day for day in series.weekdays.split(",") if day],
            "monthly_by": series.monthly_by or MonthlyBy.MONTH_DAY,
            "ends": ends,
            "count": series.count,
            "until": series.until,
            "excluded_dates": "\n".join(series.excluded_dates),
            "allow_guests": series.meeting.allow_guests,
        }
        return cls(data, initial=initial, time_zone=series.time_zone, with_invitees=False)

    def clean_excluded_dates(self) -> list[dt.date]:
        return parse_dates(self.cleaned_data.get("excluded_dates") or "")

    def clean_invitees(self) -> list[actions.Invitee]:
        return actions.parse_invitee_text(self.cleaned_data.get("invitees") or "")

    def changes(self) -> actions.ScheduleChanges:
        data = self.cleaned_data
        start = datetime.combine(data["date"], data["start_time"])
        end = datetime.combine(data["date"], data["end_time"])
        repeating = data["frequency"] != Frequency.NONE
        rule = actions.RecurrenceInput(frequency=data["frequency"])
        if repeating:
            rule = actions.RecurrenceInput(
                frequency=data["frequency"],
                interval=data["interval"] or 1,
                weekdays=list(data["weekdays"]) if data["frequency"] == Frequency.WEEKLY else [],
                monthly_by=(data["monthly_by"] or MonthlyBy.MONTH_DAY)
                if data["frequency"] == Frequency.MONTHLY
                else "",
                count=data["count"] if data["ends"] == "count" else None,
                until=data["until"] if data["ends"] == "until" else None,
                excluded_dates=data["excluded_dates"],
            )
        return actions.ScheduleChanges(
            title=data["title"],
            description=data["description"],
            time_zone=data["time_zone"],
            start=start,
            end=end,
            recurrence=rule,
            allow_guests=data["allow_guests"],
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("ends") == "count" and not data.get("count") and data.get("frequency") != Frequency.NONE:
            self.add_error("count", forms.ValidationError("How many meetings?", code="required"))
        if data.get("ends") == "until" and not data.get("until") and data.get("frequency") != Frequency.NONE:
            self.add_error("until", forms.ValidationError("Until which day?", code="required"))
        return data

    def add_action_error(self, field: str | None, message: str) -> None:
        target = ERROR_FIELDS.get(field or "")
        self.add_error(target if target in self.fields else None, message)


class OccurrenceForm(forms.Form):
    title = forms.CharField(max_length=200, required=False, help_text="Empty: the series' title.")
    date = forms.DateField(widget=date_input())
    start_time = forms.TimeField(widget=time_input(), label="Starts")
    end_time = forms.TimeField(widget=time_input(), label="Ends")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    @classmethod
    def for_occurrence(cls, occurrence: occurrences.Occurrence, data: Any = None) -> OccurrenceForm:
        initial = {
            "title": occurrence.title if occurrence.changed else "",
            "date": occurrence.start.date(),
            "start_time": occurrence.start.time(),
            "end_time": occurrence.end.time(),
        }
        return cls(data, initial=initial)

    def changes(self) -> actions.OccurrenceChanges:
        data = self.cleaned_data
        start = datetime.combine(data["date"], data["start_time"])
        end = datetime.combine(data["date"], data["end_time"])
        return actions.OccurrenceChanges(start=start, end=end, title=data["title"])

    def add_action_error(self, field: str | None, message: str) -> None:
        target = {"start": "date", "end": "end_time", "duration_minutes": "end_time", "title": "title"}.get(field or "")
        self.add_error(target, message)


class InviteForm(forms.Form):
    invitees = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "ana@example.com, Bo Lee <bo@example.org>"}),
        label="Invite more people",
    )

    def clean_invitees(self) -> list[actions.Invitee]:
        found = actions.parse_invitee_text(self.cleaned_data["invitees"])
        if not found:
            raise forms.ValidationError("Enter at least one email.", code="required")
        return found


class ReplyUploadForm(forms.Form):
    file = forms.FileField(label="Apply a reply (.ics)", help_text="A REPLY file an attendee's calendar sent you.")

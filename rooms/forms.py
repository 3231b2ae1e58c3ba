"""Forms of the breakout set-up page (``rooms.views``): rooms, settings, pre-assignments."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms

from meetings.models import BreakoutMode, BreakoutPlan, Room
from rooms import breakout_setup, breakouts
from rooms.breakout_state import MAX_ROOMS


class CreateRoomsForm(forms.Form):
    count = forms.IntegerField(min_value=1, max_value=MAX_ROOMS, required=False, label="Number of rooms")
    names = forms.CharField(
        required=False,
        label="Or their names",
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "Design\nOperations"}),
        help_text=f"One name per line (up to {MAX_ROOMS}). Replaces the rooms set up so far and their pre-assignments.",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        names = [line.strip() for line in data.get("names", "").splitlines() if line.strip()]
        if len(names) > MAX_ROOMS:
            self.add_error("names", f"At most {MAX_ROOMS} breakout rooms.")
        if any(len(name) > 80 for name in names):
            self.add_error("names", "A room name has at most 80 characters.")
        if not names and data.get("count") is None and not self.errors:
            raise forms.ValidationError("Give a number of rooms or their names.", code="count_or_names")
        data["room_names"] = names or None
        return data


class BreakoutSettingsForm(forms.Form):
    mode = forms.ChoiceField(choices=BreakoutMode.choices, label="How people get into rooms")
    allow_return = forms.BooleanField(required=False, label="Participants may return to the main room")
    duration_minutes = forms.IntegerField(
        min_value=1,
        max_value=1440,
        required=False,
        label="Close after (minutes)",
        help_text="Empty: the rooms stay open until a host closes them.",
    )
    countdown_seconds = forms.IntegerField(
        min_value=0,
        max_value=300,
        label="Closing countdown (seconds)",
        help_text="What people see before the rooms close.",
    )

    @classmethod
    def for_plan(cls, plan: BreakoutPlan, data: Any = None) -> BreakoutSettingsForm:
        initial = {
            "mode": plan.mode,
            "allow_return": plan.allow_return,
            "duration_minutes": plan.duration_minutes,
            "countdown_seconds": plan.countdown_seconds,
        }
        return cls(data, initial=initial, label_suffix="")

    def settings(self) -> breakouts.Settings:
        data = self.cleaned_data
        return breakouts.Settings(
            mode=data["mode"],
            allow_return=data["allow_return"],
            countdown_seconds=data["countdown_seconds"],
            duration_minutes=data["duration_minutes"],
            set_duration=True,
        )


class PreassignForm(forms.Form):
    lines = forms.CharField(
        required=False,
        label="Invitees and their rooms",
        widget=forms.Textarea(attrs={"rows": 6, "placeholder": "ada@example.com, Room 1\ngrace@example.com, 2"}),
        help_text="One per line: email, room (the room's name or number).",
    )
    file = forms.FileField(
        required=False,
        label="Or a CSV file",
        help_text="Columns email,room; a header line is optional.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )

    def __init__(self, rooms: Sequence[Room], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rooms = rooms

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        pairs: list[tuple[str, int]] = []
        sources = [("lines", data.get("lines", ""))]
        upload = data.get("file")
        if upload is not None:
            sources.append(("file", upload.read(breakout_setup.MAX_LIST_BYTES + 1)))
        for field, value in sources:
            try:
                text = breakout_setup.decode_list(value) if isinstance(value, bytes) else value
                if text.strip() or field == "file":
                    pairs += breakout_setup.parse_preassignments(text, self.rooms)
            except breakout_setup.PreassignmentListError as exc:
                for error in exc.errors:
                    self.add_error(field, str(error))
        if not pairs and not self.errors:
            raise forms.ValidationError("Type “email, room” lines or choose a CSV file.", code="empty")
        data["pairs"] = pairs
        return data

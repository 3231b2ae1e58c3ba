from __future__ import annotations

import re
from typing import Any

from django import forms
from django.conf import settings
from django.core.validators import validate_email

from meetings.actions import MeetingChanges
from meetings.codes import normalize_code
from meetings.models import Meeting


class JoinByCodeForm(forms.Form):
    code = forms.CharField(
        max_length=200, label="Meeting code or link", widget=forms.TextInput(attrs={"placeholder": "abc-defg-hij"})
    )

    def clean_code(self) -> str:
        code = normalize_code(self.cleaned_data["code"])
        if code is None:
            raise forms.ValidationError("Enter a code like abc-defg-hij.", code="invalid_code")
        return code


class MeetingSettingsForm(forms.Form):
    title = forms.CharField(max_length=200)
    passcode = forms.CharField(
        max_length=64,
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Leave empty to keep the current passcode.",
    )
    remove_passcode = forms.BooleanField(required=False, label="Remove the passcode")
    waiting_room = forms.BooleanField(required=False, help_text="People wait until a host admits them.")
    allow_guests = forms.BooleanField(required=False, help_text="People without an account may join with a name.")
    mute_on_entry = forms.BooleanField(required=False)
    recordings_for_invitees = forms.BooleanField(
        required=False,
        label="Share recordings with invitees",
        help_text="People invited to the scheduled meeting may watch and download its recordings.",
    )
    max_participants = forms.IntegerField(min_value=2, max_value=settings.MEETING_MAX_PARTICIPANTS_LIMIT)
    co_hosts = forms.CharField(
        required=False,
        label="Co-hosts",
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Emails of people who may run the meeting with you, separated by commas or new lines.",
    )

    @classmethod
    def for_meeting(cls, meeting: Meeting, data: Any = None) -> MeetingSettingsForm:
        initial = {
            "title": meeting.title,
            "waiting_room": meeting.waiting_room,
            "allow_guests": meeting.allow_guests,
            "mute_on_entry": meeting.mute_on_entry,
            "recordings_for_invitees": meeting.recordings_for_invitees,
            "max_participants": meeting.max_participants,
            "co_hosts": ", ".join(sorted(user.email for user in meeting.co_hosts.all())),
        }
        return cls(data, initial=initial, label_suffix="")

    def clean_co_hosts(self) -> list[str]:
        emails = [item for item in re.split(r"[\s,;]+", self.cleaned_data["co_hosts"]) if item]
        for email in emails:
            validate_email(email)
        return emails

    def changes(self) -> MeetingChanges:
        data = self.cleaned_data
        passcode: str | None = data["passcode"] or None
        if data["remove_passcode"]:
            passcode = ""
        return MeetingChanges(
            title=data["title"],
            passcode=passcode,
            waiting_room=data["waiting_room"],
            allow_guests=data["allow_guests"],
            mute_on_entry=data["mute_on_entry"],
            max_participants=data["max_participants"],
            co_host_emails=data["co_hosts"],
            recordings_for_invitees=data["recordings_for_invitees"],
        )

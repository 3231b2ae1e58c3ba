from __future__ import annotations

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse

from meetings.codes import new_code


class MeetingStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    LIVE = "live", "Live"
    ENDED = "ended", "Ended"


def default_max_participants() -> int:
    return int(settings.MEETING_DEFAULT_MAX_PARTICIPANTS)


class Meeting(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="owned_meetings")
    title = models.CharField(max_length=200)
    code = models.CharField(max_length=12, unique=True, editable=False, default=new_code)
    passcode_hash = models.CharField(max_length=128, blank=True, editable=False)
    waiting_room = models.BooleanField(default=True, help_text="People wait until a host admits them.")
    allow_guests = models.BooleanField(default=False, help_text="People without an account may join with a name.")
    mute_on_entry = models.BooleanField(default=False)
    max_participants = models.PositiveIntegerField(
        default=default_max_participants, validators=[MinValueValidator(2), MaxValueValidator(1000)]
    )
    status = models.CharField(max_length=10, choices=MeetingStatus.choices, default=MeetingStatus.SCHEDULED)
    co_hosts = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="co_hosted_meetings")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["owner", "-created_at"]), models.Index(fields=["status"])]

    def __str__(self) -> str:
        return f"{self.title} ({self.code})"

    def get_absolute_url(self) -> str:
        return reverse("meeting", kwargs={"code": self.code})

    @property
    def has_passcode(self) -> bool:
        return bool(self.passcode_hash)

    def set_passcode(self, passcode: str | None) -> None:
        self.passcode_hash = make_password(passcode) if passcode else ""

    def check_passcode(self, passcode: str) -> bool:
        return not self.passcode_hash or check_password(passcode, self.passcode_hash)

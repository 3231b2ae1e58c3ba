from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse

from meetings.codes import new_code
from meetings.topology import Topology


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
    recordings_for_invitees = models.BooleanField(
        default=False,
        help_text="People invited to the scheduled meeting may watch and download its recordings.",
    )
    max_participants = models.PositiveIntegerField(
        default=default_max_participants, validators=[MinValueValidator(2), MaxValueValidator(1000)]
    )
    status = models.CharField(max_length=10, choices=MeetingStatus.choices, default=MeetingStatus.SCHEDULED)
    locked = models.BooleanField(default=False, help_text="A locked meeting refuses newcomers (hosts excepted).")
    topology = models.CharField(
        max_length=4,
        choices=Topology.choices,
        default=Topology.MESH,
        editable=False,
        help_text="How the room's media travels now: peer-to-peer or through an SFU worker.",
    )
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


class ParticipantRole(models.TextChoices):
    HOST = "host", "Host"
    COHOST = "cohost", "Co-host"
    ATTENDEE = "attendee", "Attendee"


class ParticipantState(models.TextChoices):
    WAITING = "waiting", "In the waiting room"
    JOINED = "joined", "In the meeting"
    LEFT = "left", "Left"
    DENIED = "denied", "Denied entry"
    REMOVED = "removed", "Removed"


class LeaveReason(models.TextChoices):
    LEFT = "left", "Left"
    DISCONNECTED = "disconnected", "Lost connection"
    REMOVED = "removed", "Removed by a host"
    BANNED = "banned", "Removed and banned by a host"
    DENIED = "denied", "Denied by a host"
    ENDED = "ended", "Meeting ended"


HOST_ROLES = (ParticipantRole.HOST, ParticipantRole.COHOST)


class Participant(models.Model):
    """One person's presence in a meeting, from knocking to leaving.

    Signed-in people are identified by ``user``; guests by ``guest_key``, a random value kept in
    their session. ``channel_name`` is the WebSocket connection currently serving them.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="participants")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="participations"
    )
    guest_key = models.CharField(max_length=64, blank=True)
    display_name = models.CharField(max_length=80)
    role = models.CharField(max_length=10, choices=ParticipantRole.choices, default=ParticipantRole.ATTENDEE)
    state = models.CharField(max_length=10, choices=ParticipantState.choices, default=ParticipantState.WAITING)
    audio = models.BooleanField(default=True)
    video = models.BooleanField(default=True)
    screen = models.BooleanField(default=False)
    hand_raised_at = models.DateTimeField(null=True, blank=True)
    resume_token_hash = models.CharField(max_length=64, blank=True, editable=False)
    channel_name = models.CharField(max_length=200, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    joined_at = models.DateTimeField(null=True, blank=True)
    left_at = models.DateTimeField(null=True, blank=True)
    disconnected_at = models.DateTimeField(null=True, blank=True)
    leave_reason = models.CharField(max_length=12, choices=LeaveReason.choices, blank=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [
            models.Index(fields=["meeting", "state"]),
            models.Index(fields=["resume_token_hash"]),
            models.Index(fields=["state", "disconnected_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.display_name} in {self.meeting_id} ({self.state})"

    @property
    def is_host(self) -> bool:
        return self.role in HOST_ROLES


class BanReason(models.TextChoices):
    DENIED = "denied", "Denied entry"
    BANNED = "banned", "Removed and banned"


class MeetingBan(models.Model):
    """Someone a host denied or banned: they cannot come back into this meeting."""

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="bans")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE)
    guest_key = models.CharField(max_length=64, blank=True)
    display_name = models.CharField(max_length=80)
    reason = models.CharField(max_length=10, choices=BanReason.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["meeting", "user"]), models.Index(fields=["meeting", "guest_key"])]

    def __str__(self) -> str:
        return f"{self.display_name} {self.reason} from {self.meeting_id}"


class ChatMessage(models.Model):
    """A chat message, stored before it is broadcast. ``recipient`` is set for private messages."""

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="chat_messages")
    sender = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="sent_messages")
    recipient = models.ForeignKey(
        Participant, null=True, blank=True, on_delete=models.CASCADE, related_name="received_messages"
    )
    text = models.TextField(max_length=2000)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["meeting", "created_at"])]

    def __str__(self) -> str:
        return f"{self.sender_id}: {self.text[:40]}"

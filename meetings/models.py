from __future__ import annotations

import uuid

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
    recordings_for_invitees = models.BooleanField(
        default=False,
        help_text="People invited to the scheduled meeting may watch and download its recordings.",
    )
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
    #: The room the participant is in now (null while waiting or after leaving).
    room = models.ForeignKey("Room", null=True, blank=True, on_delete=models.SET_NULL, related_name="present")
    #: The breakout room a host assigned them to (or they chose), while breakout rooms exist.
    assigned_room = models.ForeignKey("Room", null=True, blank=True, on_delete=models.SET_NULL, related_name="assigned")
    state = models.CharField(max_length=10, choices=ParticipantState.choices, default=ParticipantState.WAITING)
    audio = models.BooleanField(default=True)
    video = models.BooleanField(default=True)
    screen = models.BooleanField(default=False)
    hand_raised_at = models.DateTimeField(null=True, blank=True)
    #: Asked the hosts to come to their breakout room (cleared when a host comes or rooms close).
    help_requested_at = models.DateTimeField(null=True, blank=True)
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
            models.Index(fields=["room", "state"]),
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
    #: Chat is kept with the room it was sent in (main or breakout).
    room = models.ForeignKey("Room", on_delete=models.CASCADE, related_name="chat_messages")
    sender = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="sent_messages")
    recipient = models.ForeignKey(
        Participant, null=True, blank=True, on_delete=models.CASCADE, related_name="received_messages"
    )
    text = models.TextField(max_length=2000)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["meeting", "created_at"]), models.Index(fields=["room", "created_at"])]

    def __str__(self) -> str:
        return f"{self.sender_id}: {self.text[:40]}"


class Topology(models.TextChoices):
    """How a room's media travels: peer-to-peer (mesh) or through an SFU worker."""

    MESH = "mesh", "peer-to-peer"
    SFU = "sfu", "SFU worker"


class RoomKind(models.TextChoices):
    MAIN = "main", "Main room"
    BREAKOUT = "breakout", "Breakout room"


class Room(models.Model):
    """A place people meet in: a meeting's main room, or one of its breakout rooms.

    Presence (``Participant.room``), chat, hands, media topology and the SFU room id
    (``str(room.id)``) belong to a room; the meeting keeps identity, code, settings and people.
    A breakout room lives from ``opened_at`` to ``closed_at``; closed rooms stay for their chat.
    """

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="rooms")
    kind = models.CharField(max_length=8, choices=RoomKind.choices, default=RoomKind.MAIN)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="breakouts")
    name = models.CharField(max_length=80)
    position = models.PositiveSmallIntegerField(default=0)
    topology = models.CharField(
        max_length=4,
        choices=Topology.choices,
        default=Topology.MESH,
        editable=False,
        help_text="How the room's media travels now: peer-to-peer or through an SFU worker.",
    )
    locked = models.BooleanField(default=False, help_text="A locked main room refuses newcomers (hosts excepted).")
    created_at = models.DateTimeField(auto_now_add=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["meeting", "kind", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["meeting"], condition=models.Q(kind="main"), name="meetings_room_one_main_per_meeting"
            ),
        ]
        indexes = [models.Index(fields=["meeting", "kind", "closed_at"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()}, meeting {self.meeting_id})"

    @property
    def is_main(self) -> bool:
        return self.kind == RoomKind.MAIN


class BreakoutMode(models.TextChoices):
    """How people get into breakout rooms (and where late joiners go)."""

    MANUAL = "manual", "Hosts assign people"
    AUTO = "auto", "Assign automatically"
    CHOOSE = "choose", "Participants choose"


class BreakoutPlan(models.Model):
    """A meeting's breakout settings and state (one per meeting; rooms are ``Room`` rows)."""

    meeting = models.OneToOneField(Meeting, on_delete=models.CASCADE, related_name="breakout_plan")
    mode = models.CharField(max_length=8, choices=BreakoutMode.choices, default=BreakoutMode.MANUAL)
    allow_return = models.BooleanField(default=True, help_text="Participants may go back to the main room.")
    duration_minutes = models.PositiveIntegerField(
        null=True, blank=True, help_text="Close the rooms automatically after this long."
    )
    countdown_seconds = models.PositiveIntegerField(
        default=60, help_text="How long people see a countdown before the rooms close."
    )
    opened_at = models.DateTimeField(null=True, blank=True)
    #: When open with a duration: the moment the closing countdown starts by itself.
    ends_at = models.DateTimeField(null=True, blank=True)
    #: While closing: the moment everyone is back in the main room.
    closing_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"breakouts of meeting {self.meeting_id}"

    @property
    def is_open(self) -> bool:
        return self.opened_at is not None


class BreakoutPreassignment(models.Model):
    """Someone invited by email, placed in a breakout room before the meeting (REST, CSV, UI)."""

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="breakout_preassignments")
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="preassignments")
    email = models.EmailField()

    class Meta:
        ordering = ["room", "email"]
        constraints = [
            models.UniqueConstraint(fields=["meeting", "email"], name="meetings_preassignment_one_room_per_email")
        ]

    def __str__(self) -> str:
        return f"{self.email} → {self.room_id}"

"""Presence in a meeting: hello, join (waiting room, passcode, lock, bans, capacity), placement
in a room, resume after a dropped connection, moves between rooms, leave, the host role's
hand-off, and expiry of the grace period.

These are synchronous domain functions (check → do in a transaction → notify on commit) that
the WebSocket consumer calls through ``database_sync_to_async``; they raise ``ProtocolError``
for refusals. Ids, not model instances, come in from the consumer.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Case, Count, IntegerField, QuerySet, Value, When
from django.http import Http404
from django.utils import timezone

from accounts.models import Profile
from meetings import access
from meetings.models import (
    BreakoutMode,
    BreakoutPlan,
    ChatMessage,
    LeaveReason,
    Meeting,
    MeetingStatus,
    Participant,
    ParticipantRole,
    ParticipantState,
    Room,
    Topology,
)
from meetings.recordings.actions import active_recording, end_active_recording
from meetings.signals import meeting_started, send_signal_on_commit
from rooms import events, guessing
from rooms.breakout_state import breakout_rooms, main_room, plan_of, rooms_by_occupancy, state_json
from rooms.events import (
    BreakoutStateJson,
    ChatMessageJson,
    Joined,
    RecordingStateJson,
    control_on_commit,
    hosts_group,
    participant_group,
    send_on_commit,
    send_to_room_on_commit,
)
from rooms.protocol import PROTOCOL_VERSION, ProtocolError
from rooms.shared_reads import SharedReads
from rooms.topology import media_config

CLOSE_REFUSED = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_TOO_MANY = 4429
CHAT_HISTORY = 200
#: Rooms from this size on share their newcomers' snapshot reads (``entry_snapshot``).
SHARED_VIEW_MIN_PEOPLE = 50
#: How old a shared read may be (it must also have started after the newcomer subscribed).
SHARED_VIEW_MAX_AGE = 2.0
LEAVE_STATES = {
    LeaveReason.REMOVED: ParticipantState.REMOVED,
    LeaveReason.BANNED: ParticipantState.REMOVED,
    LeaveReason.DENIED: ParticipantState.DENIED,
}


ENTRY_ERRORS: dict[access.EntryRefusal, Callable[[], ProtocolError]] = {
    access.EntryRefusal.BANNED: lambda: ProtocolError(
        "banned", "A host removed you from this meeting.", close_code=CLOSE_REFUSED
    ),
    access.EntryRefusal.LOCKED: lambda: ProtocolError(
        "locked", "The meeting is locked: no one new can join.", close_code=CLOSE_REFUSED
    ),
    access.EntryRefusal.WRONG_PASSCODE: lambda: ProtocolError(
        "wrong_passcode", "The passcode is not correct.", field="passcode"
    ),
    access.EntryRefusal.MEETING_FULL: lambda: ProtocolError(
        "meeting_full", "The meeting is full.", close_code=CLOSE_REFUSED
    ),
}


@dataclass(frozen=True)
class Identity:
    """Who is on a connection: a signed-in user, or a guest known by a key in their session."""

    user_id: int | None
    guest_key: str
    default_name: str

    def matches(self, participant: Participant) -> bool:
        if self.user_id is not None:
            return participant.user_id == self.user_id
        return participant.user_id is None and participant.guest_key == self.guest_key

    def participants(self, meeting_id: int) -> QuerySet[Participant]:
        """This person's participant rows in the meeting."""
        people = Participant.objects.filter(meeting_id=meeting_id)
        if self.user_id is not None:
            return people.filter(user_id=self.user_id)
        return people.filter(user__isnull=True, guest_key=self.guest_key)


@dataclass(frozen=True)
class JoinOutcome:
    participant_id: uuid.UUID
    meeting_id: int
    role: str
    waiting: bool
    resume_token: str
    snapshot: Joined | None
    replaced_channel: str | None


def grace_period() -> timedelta:
    return timedelta(seconds=float(settings.MEETING_RECONNECT_GRACE_SECONDS))


def hash_resume_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def identity_for(user: Any, session: Any) -> Identity:
    if user is not None and user.is_authenticated:
        profile = Profile.objects.filter(user_id=user.pk).first()
        name = profile.name if profile is not None else user.get_username()
        return Identity(user_id=user.pk, guest_key="", default_name=name)
    guest_key = ""
    if session is not None:
        guest_key = str(session.get("guest_key", ""))
    return Identity(user_id=None, guest_key=guest_key or f"conn-{secrets.token_urlsafe(12)}", default_name="")


def hello(
    user: Any, code: str, identity: Identity, client: guessing.ScopeRequest | None = None
) -> tuple[int, int, events.Hello]:
    """(meeting id, main room id, greeting) for a new connection, or a refusal that closes it.
    ``client``: whose code lookups to count (``rooms.guessing``)."""
    if client is not None and (wait := guessing.code_lookups_spent(client)) is not None:
        raise ProtocolError(
            "rate_limited",
            "Too many meeting codes tried; try again later.",
            close_code=CLOSE_TOO_MANY,
            retry_after=wait,
        )
    try:
        meeting = access.meeting_by_code(code)
        if meeting.code != code:
            raise Http404("No meeting with this code.")
    except Http404 as exc:
        if client is not None:
            guessing.count_code_miss(client)
        raise ProtocolError("not_found", "No meeting with this code.", close_code=CLOSE_NOT_FOUND) from exc
    policy = access.join_policy(user, meeting)
    if policy.refusal is not None:
        raise ProtocolError(policy.refusal.value, "You may not join this meeting.", close_code=CLOSE_REFUSED)
    main = main_room(meeting.pk)
    return (
        meeting.pk,
        main.pk,
        {
            "type": "hello",
            "protocol": PROTOCOL_VERSION,
            "meeting": {"code": meeting.code, "title": meeting.title, "status": meeting.status, "locked": main.locked},
            "you": {
                "as_host": policy.as_host,
                "as_guest": policy.as_guest,
                "through_waiting_room": policy.through_waiting_room,
                "needs_passcode": policy.needs_passcode,
                "name": identity.default_name,
            },
        },
    )


def joined_participants(meeting_id: int) -> QuerySet[Participant]:
    """Everyone in the meeting, in any of its rooms."""
    return Participant.objects.filter(meeting_id=meeting_id, state=ParticipantState.JOINED)


def room_participants(room_id: int) -> QuerySet[Participant]:
    return Participant.objects.filter(room_id=room_id, state=ParticipantState.JOINED)


def waiting_participants(meeting_id: int) -> QuerySet[Participant]:
    return Participant.objects.filter(meeting_id=meeting_id, state=ParticipantState.WAITING).order_by("created_at")


def hands_order(room_id: int) -> list[str]:
    raised = room_participants(room_id).filter(hand_raised_at__isnull=False).order_by("hand_raised_at")
    return [str(pid) for pid in raised.values_list("id", flat=True)]


def notify_waiting(meeting_id: int, *, joined: Sequence[Participant] = (), left: Sequence[uuid.UUID] = ()) -> None:
    """Tells the hosts who came into or went out of the waiting room: a delta, not the whole
    list (hosts get the list once, as ``waiting.list``, when they become hosts)."""
    if joined or left:
        event = events.waiting_changed([events.participant_json(p) for p in joined], [str(pid) for pid in left])
        send_on_commit(hosts_group(meeting_id), event)


def free_places(meeting: Meeting) -> int:
    """How many more people the meeting takes (``max_participants``; hosts count too). Exact
    only while the caller holds the meeting's row lock, as joins and admissions do."""
    return max(0, meeting.max_participants - joined_participants(meeting.pk).count())


def notify_hands(meeting_id: int, room_id: int) -> None:
    send_to_room_on_commit(meeting_id, room_id, events.hand(hands_order(room_id)))


def notify_breakouts(meeting_id: int) -> None:
    """The breakout state to everyone in the meeting, and the overview to its hosts."""
    from rooms.breakout_state import overview

    send_on_commit(events.meeting_group(meeting_id), events.breakouts(state_json(meeting_id)))
    send_on_commit(hosts_group(meeting_id), overview(meeting_id))


class ChatHistory:
    """A room's latest chat messages, read once; each participant sees those sent to everyone
    and their own private ones (also those of their other connections, by account)."""

    def __init__(self, room_id: int) -> None:
        latest = (
            ChatMessage.objects.filter(room_id=room_id)
            .select_related("sender", "recipient")
            .order_by("-created_at", "-id")[:CHAT_HISTORY]
        )
        self.messages = list(reversed(list(latest)))

    def visible_to(self, participant: Participant) -> list[ChatMessageJson]:
        return [events.chat_json(m) for m in self.messages if _may_see(m, participant)]


def _may_see(message: ChatMessage, participant: Participant) -> bool:
    if message.recipient_id is None or participant.pk in (message.sender_id, message.recipient_id):
        return True
    user_id = participant.user_id
    if user_id is None:
        return False
    return user_id in (message.sender.user_id, message.recipient.user_id if message.recipient else None)


def recording_state(meeting_id: int) -> RecordingStateJson:
    """What ``joined`` says about recording (and what ``recording`` events carry)."""
    recording = active_recording(meeting_id)
    return {"active": recording is not None, "started_at": events.iso(recording.started_at) if recording else None}


class RoomView:
    """What everyone entering one room sees, read once for all of them (a room opening or
    closing sends many people a snapshot at once)."""

    def __init__(self, room: Room, meeting: Meeting, breakouts: BreakoutStateJson | None = None) -> None:
        self.room = room
        self.meeting = meeting
        self.roster = events.roster_json(room_participants(room.pk).order_by("joined_at"))
        self.roster_ids = {person["id"] for person in self.roster}
        self.hands = hands_order(room.pk)
        self.chat = ChatHistory(room.pk)
        main = room if room.is_main else main_room(meeting.pk)
        self.recording: RecordingStateJson = (
            recording_state(meeting.pk) if room.is_main else {"active": False, "started_at": None}
        )
        self.locked = main.locked
        self.breakouts = breakouts if breakouts is not None else state_json(meeting.pk)

    def snapshot(self, participant: Participant) -> Joined:
        """Everything a participant needs when entering the room; deltas follow as events. A
        view read before the participant's own arrival was committed (a shared read, see
        ``rooms.shared_reads``) gets them added to its roster."""
        you = events.participant_json(participant)
        roster = self.roster if you["id"] in self.roster_ids else [*self.roster, you]
        return {
            "type": "joined",
            "you": you,
            "room": events.room_json(self.room),
            "roster": roster,
            "chat": self.chat.visible_to(participant),
            "hands": self.hands,
            "meeting": {
                "code": self.meeting.code,
                "title": self.meeting.title,
                "locked": self.locked,
                "mute_on_entry": self.meeting.mute_on_entry,
            },
            "media": media_config(self.room.topology),
            "recording": self.recording,
            "breakouts": {**self.breakouts, "assigned_room": participant.assigned_room_id},
        }


def snapshot(participant: Participant) -> Joined:
    assert participant.room is not None
    return RoomView(participant.room, participant.meeting).snapshot(participant)


#: Main-room views shared by the joins of this process (see ``rooms.shared_reads``).
SHARED_VIEWS: SharedReads[RoomView] = SharedReads(max_age=SHARED_VIEW_MAX_AGE)


def entry_snapshot(participant: Participant, subscribed_at: float | None) -> Joined:
    """The snapshot of someone entering the room their connection is subscribed to since
    ``subscribed_at`` (the main room; None: subscribed later, read afresh). In a big room a
    read another newcomer made since then serves this one too."""
    room = participant.room
    assert room is not None
    if subscribed_at is None or not room.is_main:
        return snapshot(participant)
    view = SHARED_VIEWS.get(room.pk, subscribed_at)
    if view is None:
        started = time.monotonic()
        view = RoomView(room, participant.meeting)
        if len(view.roster) >= SHARED_VIEW_MIN_PEOPLE:
            SHARED_VIEWS.put(room.pk, started, view)
    return view.snapshot(participant)


def _new_resume_token(participant: Participant) -> str:
    token = secrets.token_urlsafe(32)
    participant.resume_token_hash = hash_resume_token(token)
    return token


def mark_live(meeting: Meeting) -> None:
    if meeting.status == MeetingStatus.SCHEDULED:
        meeting.status = MeetingStatus.LIVE
        meeting.started_at = timezone.now()
        meeting.save(update_fields=["status", "started_at", "updated_at"])
        send_signal_on_commit(meeting_started, Meeting, meeting_id=meeting.pk)


def _continue(participant: Participant, meeting: Meeting, channel_name: str) -> tuple[JoinOutcome, Participant]:
    """The same participant on a new connection (a resume, or the same person coming back
    before their grace period ended, e.g. after reloading the page): same id, role, room."""
    previous = participant.channel_name
    new_token = _new_resume_token(participant)
    participant.channel_name = channel_name
    participant.disconnected_at = None
    if participant.room_id is None:
        participant.room = main_room(meeting.pk)
    participant.save(update_fields=["channel_name", "disconnected_at", "resume_token_hash", "room"])
    participant.meeting = meeting
    outcome = JoinOutcome(
        participant_id=participant.id,
        meeting_id=meeting.pk,
        role=participant.role,
        waiting=False,
        resume_token=new_token,
        snapshot=None,
        replaced_channel=previous if previous and previous != channel_name else None,
    )
    return outcome, participant


def _resumable(meeting: Meeting, identity: Identity, token: str | None) -> Participant | None:
    present = identity.participants(meeting.pk).select_for_update().filter(state=ParticipantState.JOINED)
    if token:
        resumed = present.filter(resume_token_hash=hash_resume_token(token)).first()
        if resumed is not None:
            return resumed
    if identity.guest_key.startswith("conn-"):
        return None  # a guest without a session: nothing says it is the same person
    return present.order_by("-joined_at").first()


def entry_room(
    meeting: Meeting, participant: Participant, email: str | None, main: Room | None = None
) -> tuple[Room, BreakoutPlan]:
    """Where someone entering the meeting goes: the main room, or, while breakout rooms are
    open, their (pre-)assigned room, or by the active rule (``auto``: the emptiest room); and
    the meeting's breakout plan it was decided by."""
    main = main if main is not None else main_room(meeting.pk)
    plan = plan_of(meeting.pk)
    if not plan.is_open or plan.closing_at is not None or participant.is_host:
        return main, plan
    rooms = breakout_rooms(meeting.pk)
    if email:
        preassigned = rooms.filter(preassignments__email__iexact=email).first()
        if preassigned is not None:
            participant.assigned_room = preassigned
            return preassigned, plan
    if plan.mode == BreakoutMode.AUTO:
        emptiest = rooms_by_occupancy(rooms).first()
        if emptiest is not None:
            participant.assigned_room = emptiest
            return emptiest, plan
    return main, plan


def _user_email(user: Any) -> str | None:
    email = getattr(user, "email", "") if user is not None and user.is_authenticated else ""
    return str(email) or None


@dataclass(frozen=True)
class JoinRequest:
    """What a connection's ``join`` message asks for."""

    display_name: str | None
    passcode: str | None
    resume_token: str | None
    channel_name: str


def do_join(
    meeting_id: int,
    user: Any,
    identity: Identity,
    *,
    display_name: str | None,
    passcode: str | None,
    resume_token: str | None,
    channel_name: str,
    subscribed_at: float | None = None,
    client: guessing.ScopeRequest | None = None,
) -> JoinOutcome:
    """Someone joins (or comes back on a new connection): the checks and writes under the
    meeting's row lock, then (after the commit, outside the lock) their snapshot of the room,
    which ``subscribed_at`` allows to share with other newcomers (``entry_snapshot``)."""
    if client is not None and (wait := guessing.passcode_attempts_spent(client, meeting_id)) is not None:
        raise ProtocolError(
            "too_many_attempts",
            "Too many wrong passcodes from here; try again later.",
            close_code=CLOSE_TOO_MANY,
            retry_after=wait,
        )
    request = JoinRequest(display_name, passcode, resume_token, channel_name)
    try:
        # A resume carries no new guess: its passcode (if any) is checked in the lock, as before.
        verified = passcode is not None and not resume_token and _passcode_verified(meeting_id, user, passcode)
        with transaction.atomic():
            outcome, participant = _join(meeting_id, user, identity, request, passcode_verified=verified)
    except ProtocolError as exc:
        if exc.code == "wrong_passcode" and client is not None:
            guessing.count_wrong_passcode(client, meeting_id)
        raise
    if participant is None:
        return outcome
    return replace(outcome, snapshot=entry_snapshot(participant, subscribed_at))


def _passcode_verified(meeting_id: int, user: Any, passcode: str) -> bool:
    """A passcode sent with a join is checked before the meeting's row is locked (hashing it
    takes ~0.25 s, and other joins of the meeting waited behind each guess). A wrong one is
    refused here; True when it is right and needed."""
    meeting = Meeting.objects.get(pk=meeting_id)
    if not access.join_policy(user, meeting).needs_passcode:
        return False
    if not meeting.check_passcode(passcode):
        raise ENTRY_ERRORS[access.EntryRefusal.WRONG_PASSCODE]()
    return True


def _join(
    meeting_id: int, user: Any, identity: Identity, request: JoinRequest, *, passcode_verified: bool = False
) -> tuple[JoinOutcome, Participant | None]:
    meeting = Meeting.objects.select_for_update().get(pk=meeting_id)
    policy = access.join_policy(user, meeting)
    if policy.refusal is not None:
        raise ProtocolError(policy.refusal.value, "You may not join this meeting.", close_code=CLOSE_REFUSED)
    expire_stale(meeting.pk)
    returning = _resumable(meeting, identity, request.resume_token)
    if returning is not None:
        return _continue(returning, meeting, request.channel_name)
    main = main_room(meeting.pk)
    refusal = access.entry_refusal(
        meeting,
        policy,
        banned=access.is_banned(meeting, identity.user_id, identity.guest_key),
        locked=main.locked,
        passcode=request.passcode,
        present=joined_participants(meeting.pk).count(),
        passcode_verified=passcode_verified,
    )
    if refusal is not None:
        raise ENTRY_ERRORS[refusal]()
    host = policy.as_host
    name = request.display_name or identity.default_name
    if not name:
        raise ProtocolError("invalid", "display_name: a name is required to join as a guest.", field="display_name")

    owner = access.is_owner(user, meeting)
    if owner:
        role = ParticipantRole.HOST
    elif host:
        role = ParticipantRole.COHOST
    else:
        role = ParticipantRole.ATTENDEE
    waiting = policy.through_waiting_room
    participant = Participant(
        meeting=meeting,
        user_id=identity.user_id,
        guest_key="" if identity.user_id is not None else identity.guest_key,
        display_name=name,
        role=role,
        state=ParticipantState.WAITING if waiting else ParticipantState.JOINED,
        audio=not (meeting.mute_on_entry and not host),
        channel_name=request.channel_name,
        joined_at=None if waiting else timezone.now(),
    )
    token = _new_resume_token(participant)
    if waiting:
        participant.save()
        notify_waiting(meeting.pk, joined=[participant])
        return JoinOutcome(participant.id, meeting.pk, role, True, token, None, None), None
    participant.room, plan = entry_room(meeting, participant, _user_email(user), main)
    participant.save()
    if owner:
        _take_host_back(meeting.pk, participant)
    mark_live(meeting)
    _announce_entry(participant, plan)
    return JoinOutcome(participant.id, meeting.pk, participant.role, False, token, None, None), participant


def _announce_entry(participant: Participant, plan: BreakoutPlan) -> None:
    assert participant.room is not None
    count = room_participants(participant.room.pk).count()
    send_to_room_on_commit(participant.meeting_id, participant.room.pk, events.roster_joined(participant, count))
    if not participant.room.is_main or plan.is_open:
        notify_breakouts(participant.meeting_id)


@transaction.atomic
def admitted_snapshot(participant_id: uuid.UUID) -> tuple[Joined, str] | None:
    """The room as an admitted participant first sees it, with a fresh resume token."""
    participant = (
        Participant.objects.select_for_update(of=("self",))
        .select_related("meeting", "room")
        .filter(pk=participant_id)
        .first()
    )
    if participant is None or participant.state != ParticipantState.JOINED or participant.room is None:
        return None
    token = _new_resume_token(participant)
    participant.save(update_fields=["resume_token_hash"])
    return snapshot(participant), token


def admit(target: Participant) -> None:
    """A waiting participant enters (in the caller's transaction)."""
    meeting = target.meeting
    target.state = ParticipantState.JOINED
    target.joined_at = timezone.now()
    target.room, plan = entry_room(meeting, target, _user_email(target.user))
    target.save(update_fields=["state", "joined_at", "room", "assigned_room"])
    _announce_entry(target, plan)
    control_on_commit(participant_group(target.id), "admitted")


def _take_host_back(meeting_id: int, owner: Participant) -> None:
    """The owner is back: whoever held the host role meanwhile goes back to what they were."""
    designated = set(Meeting.co_hosts.through.objects.filter(meeting_id=meeting_id).values_list("user_id", flat=True))
    stand_ins = joined_participants(meeting_id).filter(role=ParticipantRole.HOST).exclude(pk=owner.pk)
    for stand_in in stand_ins.select_for_update():
        stand_in.role = ParticipantRole.COHOST if stand_in.user_id in designated else ParticipantRole.ATTENDEE
        stand_in.save(update_fields=["role"])
        _announce_role(stand_in)


def _announce_role(participant: Participant) -> None:
    if participant.room_id is not None:
        send_to_room_on_commit(participant.meeting_id, participant.room_id, events.roster_updated(participant))
    control_on_commit(participant_group(participant.id), "role", role=participant.role)


def ensure_a_host(meeting_id: int) -> None:
    """When no host is left in the meeting, the host role passes on: to the earliest co-host,
    else the earliest signed-in participant, else the earliest guest. The owner takes it back
    on return (``_take_host_back``)."""
    present = joined_participants(meeting_id)
    if present.filter(role=ParticipantRole.HOST).exists():
        return
    successor = (
        present.annotate(
            preference=Case(
                When(role=ParticipantRole.COHOST, then=Value(0)),
                When(user__isnull=False, then=Value(1)),
                default=Value(2),
                output_field=IntegerField(),
            )
        )
        .order_by("preference", "joined_at", "created_at")
        .first()
    )
    if successor is None:
        return
    successor.role = ParticipantRole.HOST
    successor.save(update_fields=["role"])
    _announce_role(successor)


def leave(participant: Participant, reason: LeaveReason) -> None:
    """Takes a participant out of the meeting (in the caller's transaction) and tells the others."""
    was_waiting = participant.state == ParticipantState.WAITING
    had_hand = participant.hand_raised_at is not None
    room_id = participant.room_id
    participant.state = LEAVE_STATES.get(reason, ParticipantState.LEFT)
    participant.leave_reason = reason
    participant.left_at = timezone.now()
    participant.hand_raised_at = None
    participant.help_requested_at = None
    participant.screen = False
    participant.resume_token_hash = ""
    participant.room = None
    participant.save(
        update_fields=[
            "state", "leave_reason", "left_at", "hand_raised_at", "help_requested_at", "screen",
            "resume_token_hash", "room",
        ]
    )  # fmt: skip
    meeting_id = participant.meeting_id
    if was_waiting or room_id is None:
        notify_waiting(meeting_id, left=[participant.id])
        return
    count = room_participants(room_id).count()
    send_to_room_on_commit(meeting_id, room_id, events.roster_left(participant.id, str(reason), count))
    if had_hand:
        notify_hands(meeting_id, room_id)
    if participant.role == ParticipantRole.HOST:
        ensure_a_host(meeting_id)
    if not room_participants(room_id).exists():
        # An empty room starts over: the next people meet peer-to-peer until the threshold.
        Room.objects.filter(pk=room_id, topology=Topology.SFU).update(topology=Topology.MESH)
    if plan_of(meeting_id).is_open:
        notify_breakouts(meeting_id)
    if not joined_participants(meeting_id).exists():
        Meeting.objects.filter(pk=meeting_id, status=MeetingStatus.LIVE).update(status=MeetingStatus.SCHEDULED)
        # Nobody left to record: the capture ends (the worker queues the composition when its
        # room closes), and the next people in this meeting can record again.
        end_active_recording(meeting_id)


@dataclass(frozen=True)
class Move:
    participant: Participant
    to: Room


def move(moves: Iterable[Move], meeting: Meeting) -> None:
    """Moves people between the meeting's rooms (in the caller's transaction, rows locked by the
    caller). Each mover gets a ``moved`` control with its new room's snapshot (its resume token
    stays valid); the rooms they
    left and entered get ``roster.left`` / ``roster.joined`` (or one ``roster.batch`` when several
    people move at once)."""
    moves = [m for m in moves if m.participant.room_id != m.to.pk]
    if not moves:
        return
    left: dict[int, list[str]] = {}
    entered: dict[int, list[Participant]] = {}
    hands: set[int] = set()
    origins: dict[uuid.UUID, int | None] = {}
    for item in moves:
        participant = item.participant
        origins[participant.id] = participant.room_id
        if participant.room_id is not None:
            left.setdefault(participant.room_id, []).append(str(participant.id))
            if participant.hand_raised_at is not None:
                hands.add(participant.room_id)
        if participant.hand_raised_at is not None:
            hands.add(item.to.pk)
        participant.room = item.to
        participant.help_requested_at = None
        entered.setdefault(item.to.pk, []).append(participant)
    # One UPDATE per (room, assignment), not one per person (nor a 200-branch CASE).
    by_target: dict[tuple[int, int | None], list[uuid.UUID]] = {}
    for item in moves:
        by_target.setdefault((item.to.pk, item.participant.assigned_room_id), []).append(item.participant.id)
    for (room_id, assigned_id), ids in by_target.items():
        Participant.objects.filter(pk__in=ids).update(
            room_id=room_id, assigned_room_id=assigned_id, help_requested_at=None
        )
    breakouts = state_json(meeting.pk)
    views: dict[int, RoomView] = {}
    for item in moves:
        if item.to.pk not in views:
            views[item.to.pk] = RoomView(item.to, meeting, breakouts)
    regroups: list[events.Regroup] = []
    controls: list[tuple[str, dict[str, Any]]] = []
    for item in moves:
        participant = item.participant
        snapshot = views[item.to.pk].snapshot(participant)
        if participant.channel_name and participant.disconnected_at is None:
            regroups.append(events.Regroup(participant.channel_name, origins.get(participant.id), item.to.pk))
        controls.append(
            (participant_group(participant.id), {"action": "moved", "room": item.to.pk, "snapshot": snapshot})
        )
    events.regroup_then_control_on_commit(meeting.pk, regroups, controls)
    counts = dict(
        Participant.objects.filter(room_id__in={*left, *entered}, state=ParticipantState.JOINED)
        .values_list("room_id")
        .annotate(n=Count("id"))
        .values_list("room_id", "n")
    )
    for room_id, left_ids in left.items():
        count = counts.get(room_id, 0)
        if len(left_ids) == 1:
            send_to_room_on_commit(meeting.pk, room_id, events.roster_left(uuid.UUID(left_ids[0]), "moved", count))
        else:
            send_to_room_on_commit(meeting.pk, room_id, events.roster_batch([], left_ids, "moved", count))
        if not room_participants(room_id).exists():
            Room.objects.filter(pk=room_id, topology=Topology.SFU).update(topology=Topology.MESH)
    for room_id, people in entered.items():
        count = counts.get(room_id, 0)
        if len(people) == 1:
            send_to_room_on_commit(meeting.pk, room_id, events.roster_joined(people[0], count))
        else:
            people_json = [events.participant_json(p) for p in people]
            send_to_room_on_commit(meeting.pk, room_id, events.roster_batch(people_json, [], "moved", count))
    for room_id in hands:
        notify_hands(meeting.pk, room_id)
    notify_breakouts(meeting.pk)


@transaction.atomic
def do_leave(participant_id: uuid.UUID, reason: LeaveReason = LeaveReason.LEFT) -> None:
    participant = Participant.objects.select_for_update().filter(pk=participant_id).first()
    if participant is None or participant.state not in (ParticipantState.JOINED, ParticipantState.WAITING):
        return
    leave(participant, reason)


@transaction.atomic
def do_mark_disconnected(participant_id: uuid.UUID, channel_name: str) -> bool:
    """The connection dropped. Waiting people leave at once; participants keep their place for
    the grace period. Returns True when a grace period started."""
    participant = Participant.objects.select_for_update().filter(pk=participant_id).first()
    if participant is None or participant.channel_name != channel_name:
        return False  # already resumed on another connection
    if participant.state == ParticipantState.WAITING:
        leave(participant, LeaveReason.LEFT)
        return False
    if participant.state != ParticipantState.JOINED:
        return False
    participant.disconnected_at = timezone.now()
    participant.save(update_fields=["disconnected_at"])
    return True


def expire_stale(meeting_id: int | None = None) -> int:
    """Participants whose grace period ran out leave with reason ``disconnected``."""
    deadline = timezone.now() - grace_period()
    stale = Participant.objects.select_for_update(skip_locked=True).filter(
        state=ParticipantState.JOINED, disconnected_at__isnull=False, disconnected_at__lte=deadline
    )
    if meeting_id is not None:
        stale = stale.filter(meeting_id=meeting_id)
    count = 0
    for participant in stale:
        leave(participant, LeaveReason.DISCONNECTED)
        count += 1
    return count


@transaction.atomic
def do_expire_participant(participant_id: uuid.UUID) -> bool:
    deadline = timezone.now() - grace_period()
    participant = (
        Participant.objects.select_for_update()
        .filter(pk=participant_id, state=ParticipantState.JOINED, disconnected_at__lte=deadline)
        .first()
    )
    if participant is None:
        return False
    leave(participant, LeaveReason.DISCONNECTED)
    return True


@transaction.atomic
def do_expire_stale() -> int:
    return expire_stale()


def in_room(participant_id: uuid.UUID, *, lock: bool = False) -> Participant:
    """The participant, who must be in a room of the meeting (not waiting, not gone)."""
    query = Participant.objects.select_for_update(of=("self",)) if lock else Participant.objects.all()
    participant = (
        query.select_related("meeting", "room").filter(pk=participant_id, state=ParticipantState.JOINED).first()
    )
    if participant is None or participant.room is None:
        raise ProtocolError("not_joined", "Join the meeting first.")
    return participant


def other_in_meeting(meeting_id: int, participant_id: uuid.UUID, *, lock: bool = False) -> Participant:
    query = joined_participants(meeting_id)
    if lock:
        query = query.select_for_update(of=("self",))
    target = query.select_related("meeting").filter(pk=participant_id).first()
    if target is None:
        raise ProtocolError("no_such_participant", "No such participant in this meeting.", field="participant_id")
    return target

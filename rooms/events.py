"""Events to clients: group names, one typed constructor per outgoing event type, and sending
through the channel layer after the database transaction commits.

Every event a client can receive is a ``TypedDict`` here (the schema; mypy checks each
constructor, and ``EVENT_SCHEMAS`` validates any message in tests) and is built by the one
function named after it. docs/protocol.md documents each type; a test fails on a type that is
sent but not documented.

Groups: ``room_group`` (everyone in one room: roster, chat, hands, media, reactions, recording),
``meeting_group`` (everyone in the meeting, in any room: breakout state, broadcasts, the end),
``hosts_group`` (hosts and co-hosts: waiting room, breakout overview, help requests) and
``participant_group`` (one participant's connection). The first three go through the web
processes' fan-out (``rooms.fanout``: one publish per event, whatever the room's size), the
last through the channel layer. Messages carry
``{"type": "room.event", "room": <room id or None>, "event": <client JSON>}``; the consumer
forwards ``event`` to its client if it is still in that room (see ``MeetingConsumer.room_event``).
A few control messages (``room.control``) change the consumer's own state (admitted, moved,
removed, role changed, replaced, ended).
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any, Literal, NotRequired

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.db.models import QuerySet
from pydantic import ConfigDict, TypeAdapter, with_config
from typing_extensions import TypedDict

from meetings.models import ChatMessage, Participant, Room
from rooms import fanout

FORBID = ConfigDict(extra="forbid")


def meeting_group(meeting_id: int) -> str:
    return f"meeting.{meeting_id}"


def room_group(meeting_id: int, room_id: int) -> str:
    return f"room.{meeting_id}.{room_id}"


def hosts_group(meeting_id: int) -> str:
    return f"meeting.{meeting_id}.hosts"


def participant_group(participant_id: uuid.UUID | str) -> str:
    return f"participant.{uuid.UUID(str(participant_id)).hex}"


def iso(value: Any) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


# --- Objects inside events ------------------------------------------------------------------


@with_config(FORBID)
class ParticipantJson(TypedDict):
    id: str
    name: str
    role: str
    guest: bool
    audio: bool
    video: bool
    screen: bool
    hand: str | None
    joined_at: str | None


ChatMessageJson = TypedDict(
    "ChatMessageJson",
    {"id": int, "from": str, "from_name": str, "to": str | None, "text": str, "sent_at": str | None},
)
ChatMessageJson.__pydantic_config__ = FORBID  # type: ignore[attr-defined]


@with_config(FORBID)
class RoomJson(TypedDict):
    id: int
    kind: Literal["main", "breakout"]
    name: str
    position: int


@with_config(FORBID)
class RoomCountJson(RoomJson):
    count: int


@with_config(FORBID)
class RoomPeopleJson(RoomJson):
    participants: list[ParticipantJson]


@with_config(FORBID)
class HelpRequestJson(TypedDict):
    participant_id: str
    name: str
    room_id: int
    at: str | None


@with_config(FORBID)
class MediaConfigJson(TypedDict):
    topology: Literal["mesh", "sfu"]
    ice_servers: list[dict[str, Any]]
    audio_slots: NotRequired[int]
    video_slots: NotRequired[int]


@with_config(FORBID)
class RecordingStateJson(TypedDict):
    active: bool
    started_at: str | None


@with_config(FORBID)
class BreakoutStateJson(TypedDict):
    state: Literal["none", "ready", "open", "closing"]
    mode: Literal["manual", "auto", "choose"]
    allow_return: bool
    countdown_seconds: int
    duration_minutes: int | None
    opened_at: str | None
    ends_at: str | None
    closing_at: str | None
    rooms: list[RoomCountJson]


@with_config(FORBID)
class JoinedBreakoutsJson(BreakoutStateJson):
    assigned_room: int | None


@with_config(FORBID)
class MeetingInfoJson(TypedDict):
    code: str
    title: str
    locked: bool
    mute_on_entry: bool


@with_config(FORBID)
class HelloMeetingJson(TypedDict):
    code: str
    title: str
    status: str
    locked: bool


@with_config(FORBID)
class HelloYouJson(TypedDict):
    as_host: bool
    as_guest: bool
    through_waiting_room: bool
    needs_passcode: bool
    name: str


# --- Events ---------------------------------------------------------------------------------


@with_config(FORBID)
class Hello(TypedDict):
    type: Literal["hello"]
    protocol: int
    meeting: HelloMeetingJson
    you: HelloYouJson


@with_config(FORBID)
class Waiting(TypedDict):
    type: Literal["waiting"]
    participant_id: str


@with_config(FORBID)
class Joined(TypedDict):
    type: Literal["joined"]
    you: ParticipantJson
    room: RoomJson
    roster: list[ParticipantJson]
    chat: list[ChatMessageJson]
    hands: list[str]
    meeting: MeetingInfoJson
    media: MediaConfigJson
    recording: RecordingStateJson
    breakouts: JoinedBreakoutsJson
    resume_token: NotRequired[str]
    roster_total: NotRequired[int]


@with_config(FORBID)
class RosterJoined(TypedDict):
    type: Literal["roster.joined"]
    participant: ParticipantJson
    count: NotRequired[int]


@with_config(FORBID)
class RosterLeft(TypedDict):
    type: Literal["roster.left"]
    participant_id: str
    reason: str
    count: NotRequired[int]


@with_config(FORBID)
class RosterBatch(TypedDict):
    type: Literal["roster.batch"]
    joined: list[ParticipantJson]
    left: list[str]
    reason: str
    updated: NotRequired[list[ParticipantJson]]
    count: NotRequired[int]


@with_config(FORBID)
class RosterUpdated(TypedDict):
    type: Literal["roster.updated"]
    participant: ParticipantJson


@with_config(FORBID)
class MediaStateEvent(TypedDict):
    type: Literal["media.state"]
    participant_id: str
    audio: bool
    video: bool
    screen: bool
    by: NotRequired[str]


ChatMessageEvent = TypedDict(
    "ChatMessageEvent",
    {
        "type": Literal["chat.message"],
        "id": int,
        "from": str,
        "from_name": str,
        "to": str | None,
        "text": str,
        "sent_at": str | None,
    },
)
ChatMessageEvent.__pydantic_config__ = FORBID  # type: ignore[attr-defined]


@with_config(FORBID)
class Reaction(TypedDict):
    type: Literal["reaction"]
    counts: dict[str, int]
    window_ms: int


@with_config(FORBID)
class Hand(TypedDict):
    type: Literal["hand"]
    hands: list[str]


SignalEvent = TypedDict("SignalEvent", {"type": Literal["signal"], "from": str, "kind": str, "data": dict[str, Any]})
SignalEvent.__pydantic_config__ = FORBID  # type: ignore[attr-defined]


@with_config(FORBID)
class WaitingList(TypedDict):
    type: Literal["waiting.list"]
    waiting: list[ParticipantJson]


@with_config(FORBID)
class WaitingChanged(TypedDict):
    type: Literal["waiting.changed"]
    joined: list[ParticipantJson]
    left: list[str]


@with_config(FORBID)
class Muted(TypedDict):
    type: Literal["muted"]
    by: str


@with_config(FORBID)
class Removed(TypedDict):
    type: Literal["removed"]
    reason: str


@with_config(FORBID)
class MeetingLocked(TypedDict):
    type: Literal["meeting.locked"]
    locked: bool


@with_config(FORBID)
class MeetingEnded(TypedDict):
    type: Literal["meeting.ended"]
    by: str | None


@with_config(FORBID)
class MediaTopology(MediaConfigJson):
    type: Literal["media.topology"]


@with_config(FORBID)
class MediaAnswer(TypedDict):
    type: Literal["media.answer"]
    sdp: str


@with_config(FORBID)
class MediaSlots(TypedDict):
    type: Literal["media.slots"]
    slots: dict[str, Any]


@with_config(FORBID)
class MediaFailed(TypedDict):
    type: Literal["media.failed"]
    code: str | None
    message: str | None


@with_config(FORBID)
class Speaker(TypedDict):
    type: Literal["speaker"]
    participant_id: str | None


@with_config(FORBID)
class RecordingEvent(RecordingStateJson):
    type: Literal["recording"]
    by: str | None


@with_config(FORBID)
class Pong(TypedDict):
    type: Literal["pong"]
    id: str | None


@with_config(FORBID)
class ErrorEvent(TypedDict):
    type: Literal["error"]
    code: str
    message: str
    field: NotRequired[str]
    retry_after: NotRequired[float]  # seconds (``busy``): send the message again after this


@with_config(FORBID)
class Breakouts(BreakoutStateJson):
    type: Literal["breakouts"]


@with_config(FORBID)
class BreakoutsOverview(TypedDict):
    type: Literal["breakouts.overview"]
    rooms: list[RoomPeopleJson]
    main: list[ParticipantJson]
    unassigned: list[str]
    help: list[HelpRequestJson]


BroadcastEvent = TypedDict(
    "BroadcastEvent",
    {"type": Literal["broadcast"], "from": str, "from_name": str, "text": str, "sent_at": str | None},
)
BroadcastEvent.__pydantic_config__ = FORBID  # type: ignore[attr-defined]


@with_config(FORBID)
class HelpRequested(TypedDict):
    type: Literal["help.requested"]
    participant_id: str
    name: str
    room_id: int
    room_name: str


#: Every event type a client may receive, with its schema (validated in tests).
EVENT_SCHEMAS: dict[str, TypeAdapter[Any]] = {
    name: TypeAdapter(schema)
    for name, schema in {
        "hello": Hello,
        "waiting": Waiting,
        "joined": Joined,
        "roster.joined": RosterJoined,
        "roster.left": RosterLeft,
        "roster.updated": RosterUpdated,
        "roster.batch": RosterBatch,
        "media.state": MediaStateEvent,
        "chat.message": ChatMessageEvent,
        "reaction": Reaction,
        "hand": Hand,
        "signal": SignalEvent,
        "waiting.list": WaitingList,
        "waiting.changed": WaitingChanged,
        "muted": Muted,
        "removed": Removed,
        "meeting.locked": MeetingLocked,
        "meeting.ended": MeetingEnded,
        "media.topology": MediaTopology,
        "media.answer": MediaAnswer,
        "media.slots": MediaSlots,
        "media.failed": MediaFailed,
        "speaker": Speaker,
        "recording": RecordingEvent,
        "pong": Pong,
        "error": ErrorEvent,
        "breakouts": Breakouts,
        "breakouts.overview": BreakoutsOverview,
        "broadcast": BroadcastEvent,
        "help.requested": HelpRequested,
    }.items()
}


# --- Constructors of the objects ----------------------------------------------------------

#: The participant columns a client sees (``participant_json`` / ``roster_json``).
PARTICIPANT_FIELDS = (
    "id",
    "display_name",
    "role",
    "user_id",
    "audio",
    "video",
    "screen",
    "hand_raised_at",
    "joined_at",
)


def participant_json(participant: Participant) -> ParticipantJson:
    return _participant_row_json({name: getattr(participant, name) for name in PARTICIPANT_FIELDS})


def roster_json(participants: QuerySet[Participant]) -> list[ParticipantJson]:
    """Like ``participant_json`` for every row, from plain column values: a join snapshot of a
    large room builds no model instances (that was a third of a join storm's CPU)."""
    return [_participant_row_json(row) for row in participants.values(*PARTICIPANT_FIELDS)]


def _participant_row_json(row: dict[str, Any]) -> ParticipantJson:
    return {
        "id": str(row["id"]),
        "name": row["display_name"],
        "role": row["role"],
        "guest": row["user_id"] is None,
        "audio": row["audio"],
        "video": row["video"],
        "screen": row["screen"],
        "hand": iso(row["hand_raised_at"]),
        "joined_at": iso(row["joined_at"]),
    }


def room_json(room: Room) -> RoomJson:
    return {
        "id": room.pk,
        "kind": "breakout" if room.kind == "breakout" else "main",
        "name": room.name,
        "position": room.position,
    }


def chat_json(message: ChatMessage, sender_name: str | None = None) -> ChatMessageJson:
    return {
        "id": message.pk,
        "from": str(message.sender_id),
        "from_name": sender_name if sender_name is not None else message.sender.display_name,
        "to": str(message.recipient_id) if message.recipient_id else None,
        "text": message.text,
        "sent_at": iso(message.created_at),
    }


# --- Constructors of the events ---------------------------------------------------------------


def waiting(participant_id: uuid.UUID) -> Waiting:
    return {"type": "waiting", "participant_id": str(participant_id)}


def roster_joined(participant: Participant, count: int) -> RosterJoined:
    """``count``: how many people are in the room now (also sizes the fan-out's batching)."""
    return {"type": "roster.joined", "participant": participant_json(participant), "count": count}


def roster_left(participant_id: uuid.UUID, reason: str, count: int) -> RosterLeft:
    return {"type": "roster.left", "participant_id": str(participant_id), "reason": reason, "count": count}


def roster_batch(joined: list[ParticipantJson], left: list[str], reason: str, count: int | None = None) -> RosterBatch:
    batch: RosterBatch = {"type": "roster.batch", "joined": joined, "left": left, "reason": reason}
    if count is not None:
        batch["count"] = count
    return batch


def roster_updated(participant: Participant) -> RosterUpdated:
    return {"type": "roster.updated", "participant": participant_json(participant)}


def media_state(participant: Participant, by: uuid.UUID | None = None) -> MediaStateEvent:
    event: MediaStateEvent = {
        "type": "media.state",
        "participant_id": str(participant.id),
        "audio": participant.audio,
        "video": participant.video,
        "screen": participant.screen,
    }
    if by is not None:
        event["by"] = str(by)
    return event


def chat_message(message: ChatMessage, sender_name: str) -> ChatMessageEvent:
    return {"type": "chat.message", **chat_json(message, sender_name)}


def reaction(counts: dict[str, int], window_ms: int) -> Reaction:
    return {"type": "reaction", "counts": counts, "window_ms": window_ms}


def hand(hands: list[str]) -> Hand:
    return {"type": "hand", "hands": hands}


def signal(sender: uuid.UUID, kind: str, data: dict[str, Any]) -> SignalEvent:
    return {"type": "signal", "from": str(sender), "kind": kind, "data": data}


def waiting_list(people: list[ParticipantJson]) -> WaitingList:
    return {"type": "waiting.list", "waiting": people}


def waiting_changed(joined: list[ParticipantJson], left: list[str]) -> WaitingChanged:
    return {"type": "waiting.changed", "joined": joined, "left": left}


def muted(by: str) -> Muted:
    return {"type": "muted", "by": by}


def removed(reason: str) -> Removed:
    return {"type": "removed", "reason": reason}


def meeting_locked(locked: bool) -> MeetingLocked:
    return {"type": "meeting.locked", "locked": locked}


def meeting_ended(by: str | None) -> MeetingEnded:
    return {"type": "meeting.ended", "by": by}


def media_topology(config: MediaConfigJson) -> MediaTopology:
    return {"type": "media.topology", **config}


def media_answer(sdp: str) -> MediaAnswer:
    return {"type": "media.answer", "sdp": sdp}


def media_slots(slots: dict[str, Any]) -> MediaSlots:
    return {"type": "media.slots", "slots": slots}


def media_failed(code: str | None, message: str | None) -> MediaFailed:
    return {"type": "media.failed", "code": code, "message": message}


def speaker(participant_id: str | None) -> Speaker:
    return {"type": "speaker", "participant_id": participant_id}


def recording(state: RecordingStateJson, by: uuid.UUID | None) -> RecordingEvent:
    return {"type": "recording", **state, "by": str(by) if by else None}


def pong(request_id: str | None) -> Pong:
    return {"type": "pong", "id": request_id}


def error(code: str, message: str, field: str | None = None, retry_after: float | None = None) -> ErrorEvent:
    body: ErrorEvent = {"type": "error", "code": code, "message": message}
    if field is not None:
        body["field"] = field
    if retry_after is not None:
        body["retry_after"] = retry_after
    return body


def breakouts(state: BreakoutStateJson) -> Breakouts:
    return {"type": "breakouts", **state}


def breakouts_overview(
    rooms: list[RoomPeopleJson], main: list[ParticipantJson], unassigned: list[str], help: list[HelpRequestJson]
) -> BreakoutsOverview:
    return {"type": "breakouts.overview", "rooms": rooms, "main": main, "unassigned": unassigned, "help": help}


def broadcast(sender: Participant, text: str, sent_at: Any) -> BroadcastEvent:
    return {
        "type": "broadcast",
        "from": str(sender.id),
        "from_name": sender.display_name,
        "text": text,
        "sent_at": iso(sent_at),
    }


def help_requested(participant: Participant, room: Room) -> HelpRequested:
    return {
        "type": "help.requested",
        "participant_id": str(participant.id),
        "name": participant.display_name,
        "room_id": room.pk,
        "room_name": room.name,
    }


# --- Sending ------------------------------------------------------------------------------------


def _send_now(group: str, message: dict[str, Any]) -> None:
    if fanout.meeting_of(group) is not None:
        fanout.publish_sync(group, message)
        return
    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(layer.group_send)(group, message)


def send_on_commit(group: str, event: Any, room: int | None = None) -> None:
    """Sends ``event`` to every client in ``group`` once the current transaction commits.
    ``room``: only consumers still in that room pass it on (events of a room a participant has
    just left may still be queued for it)."""
    message = {"type": "room.event", "room": room, "event": event}
    transaction.on_commit(lambda: _send_now(group, message))


def send_to_room_on_commit(meeting_id: int, room_id: int, event: Any) -> None:
    send_on_commit(room_group(meeting_id, room_id), event, room=room_id)


@dataclass(frozen=True)
class Regroup:
    """A connection moving from one room's group to another's."""

    channel_name: str
    old_room: int | None
    new_room: int


def regroup_then_control_on_commit(
    meeting_id: int, regroups: list[Regroup], controls: list[tuple[str, dict[str, Any]]]
) -> None:
    """Once the transaction commits: moves the connections to their new rooms' groups (one
    publish on the meeting's fan-out channel, in the same stream as the rooms' events: no event
    of the new room published after it misses them, none of the old room reaches them), then
    sends the control messages (``(group, fields)``, over the channel layer) that tell each
    consumer, concurrently but bounded."""
    moves = [
        (r.channel_name, room_group(meeting_id, r.old_room) if r.old_room else None, room_group(meeting_id, r.new_room))
        for r in regroups
    ]

    async def run(layer: Any) -> None:
        await _bounded([layer.group_send(group, {"type": "room.control", **fields}) for group, fields in controls])

    def send() -> None:
        fanout.regroup_sync(meeting_id, moves)
        layer = get_channel_layer()
        if layer is not None:
            async_to_sync(run)(layer)

    transaction.on_commit(send)


#: Concurrent channel-layer calls of one fan-out: enough to overlap the round trips, few enough
#: to stay inside the Redis connection pool (an unbounded gather raised MaxConnectionsError).
CONCURRENT_CALLS = 16


async def _bounded(calls: list[Any]) -> None:
    gate = asyncio.Semaphore(CONCURRENT_CALLS)

    async def one(call: Any) -> None:
        async with gate:
            await call

    await asyncio.gather(*(one(call) for call in calls))


def send_control_now(group: str, action: str, **fields: Any) -> None:
    _send_now(group, {"type": "room.control", "action": action, **fields})


def control_on_commit(group: str, action: str, **fields: Any) -> None:
    """Sends a control message that the consumers in ``group`` act on themselves."""
    message = {"type": "room.control", "action": action, **fields}
    transaction.on_commit(lambda: _send_now(group, message))

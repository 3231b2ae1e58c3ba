"""The meeting WebSocket protocol: message schemas validated at the edge (pydantic).

Every client message is a JSON object with a ``type``; unknown types and bad fields are
answered with an ``error`` message carrying a stable ``code``. See docs/protocol.md.
"""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from rooms import events
from rooms.events import ErrorEvent

PROTOCOL_VERSION = 1
MAX_FRAME_BYTES = 64 * 1024
MAX_SIGNAL_BYTES = 32 * 1024
MAX_CHAT_CHARS = 2000
REACTIONS = ("👍", "👏", "❤️", "😂", "😮", "🎉")


def _printable(value: str) -> str:
    if any(ord(ch) < 32 and ch not in "\n\t" for ch in value):
        raise ValueError("control characters are not allowed")
    return value


def _small_json(value: dict[str, Any]) -> dict[str, Any]:
    if len(json.dumps(value, separators=(",", ":"))) > MAX_SIGNAL_BYTES:
        raise ValueError(f"signal data is limited to {MAX_SIGNAL_BYTES} bytes")
    return value


DisplayName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80), AfterValidator(_printable)
]
ChatText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_CHAT_CHARS), AfterValidator(_printable)
]


class ClientMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Ping(ClientMessage):
    type: Literal["ping"]
    id: Annotated[str, Field(max_length=64)] | None = None


class Join(ClientMessage):
    type: Literal["join"]
    display_name: DisplayName | None = None
    passcode: Annotated[str, Field(max_length=64)] | None = None
    resume_token: Annotated[str, Field(max_length=128)] | None = None


class Leave(ClientMessage):
    type: Literal["leave"]


class ChatSend(ClientMessage):
    type: Literal["chat.send"]
    text: ChatText
    to: uuid.UUID | None = None


class ReactionSend(ClientMessage):
    type: Literal["reaction.send"]
    emoji: Literal["👍", "👏", "❤️", "😂", "😮", "🎉"]


class HandRaise(ClientMessage):
    type: Literal["hand.raise"]


class HandLower(ClientMessage):
    type: Literal["hand.lower"]
    participant_id: uuid.UUID | None = None


class MediaState(ClientMessage):
    type: Literal["media.state"]
    audio: bool
    video: bool
    screen: bool


class Signal(ClientMessage):
    type: Literal["signal"]
    to: uuid.UUID
    kind: Literal["offer", "answer", "candidate", "restart", "reset"]
    data: Annotated[dict[str, Any], AfterValidator(_small_json)]


MediaRole = Literal["audio", "camera-high", "camera-low", "screen"]
Mid = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
ParticipantKey = Annotated[str, StringConstraints(pattern=r"^[0-9a-f-]{32,36}$")]


class MediaOffer(ClientMessage):
    """SFU meetings: the browser's offer to the worker (answered with ``media.answer``)."""

    type: Literal["media.offer"]
    sdp: Annotated[str, StringConstraints(min_length=1, max_length=MAX_FRAME_BYTES - 4096)]
    roles: Annotated[dict[Mid, MediaRole], Field(max_length=16)] | None = None
    #: A new RTCPeerConnection (first one, or after a failure): the worker starts this peer over.
    restart: bool = False


class MediaIce(ClientMessage):
    type: Literal["media.ice"]
    candidate: Annotated[dict[str, Any], AfterValidator(_small_json)] | None


class MediaView(ClientMessage):
    """SFU meetings: the videos this browser shows (``tiles``; null = follow the speakers), the
    one on the stage, and tile heights in pixels, so the worker sends only those, in the fitting
    quality."""

    type: Literal["media.view"]
    tiles: Annotated[list[ParticipantKey], Field(max_length=100)] | None = None
    stage: ParticipantKey | None = None
    sizes: Annotated[dict[ParticipantKey, Annotated[int, Field(ge=0, le=4320)]], Field(max_length=100)] = {}


class HostAdmit(ClientMessage):
    type: Literal["host.admit"]
    participant_id: uuid.UUID


class HostDeny(ClientMessage):
    type: Literal["host.deny"]
    participant_id: uuid.UUID


class HostAdmitAll(ClientMessage):
    type: Literal["host.admit_all"]


class HostMute(ClientMessage):
    type: Literal["host.mute"]
    participant_id: uuid.UUID


class HostMuteAll(ClientMessage):
    type: Literal["host.mute_all"]


class HostRemove(ClientMessage):
    type: Literal["host.remove"]
    participant_id: uuid.UUID
    ban: bool = False


class HostLock(ClientMessage):
    type: Literal["host.lock"]


class HostUnlock(ClientMessage):
    type: Literal["host.unlock"]


class HostEnd(ClientMessage):
    type: Literal["host.end"]


class HostRecordStart(ClientMessage):
    type: Literal["host.record.start"]


class HostRecordStop(ClientMessage):
    type: Literal["host.record.stop"]


class HostMakeCohost(ClientMessage):
    type: Literal["host.make_cohost"]
    participant_id: uuid.UUID


RoomName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80), AfterValidator(_printable)
]
BroadcastText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500), AfterValidator(_printable)
]


class BreakoutCreate(ClientMessage):
    """Exactly one of ``count`` or ``names``. More than 50 rooms is the domain's refusal
    (``too_many_rooms``), the same over REST."""

    type: Literal["breakout.create"]
    count: Annotated[int, Field(ge=1, le=10_000)] | None = None
    names: Annotated[list[RoomName], Field(min_length=1, max_length=1000)] | None = None

    @model_validator(mode="after")
    def _one_of(self) -> BreakoutCreate:
        if (self.count is None) == (self.names is None):
            raise ValueError("give either count or names")
        return self


class BreakoutSettings(ClientMessage):
    type: Literal["breakout.settings"]
    mode: Literal["manual", "auto", "choose"] | None = None
    allow_return: bool | None = None
    duration_minutes: Annotated[int, Field(ge=1, le=1440)] | None = None
    countdown_seconds: Annotated[int, Field(ge=0, le=300)] | None = None
    # ``duration_minutes: null`` removes the duration; leaving it out keeps it (model_fields_set).


class BreakoutAssign(ClientMessage):
    type: Literal["breakout.assign"]
    assignments: Annotated[dict[uuid.UUID, Annotated[int, Field(ge=1)] | None], Field(min_length=1, max_length=1000)]


class BreakoutAutoAssign(ClientMessage):
    type: Literal["breakout.auto_assign"]


class BreakoutOpen(ClientMessage):
    type: Literal["breakout.open"]


class BreakoutClose(ClientMessage):
    type: Literal["breakout.close"]
    now: bool = False


class BreakoutBroadcast(ClientMessage):
    type: Literal["breakout.broadcast"]
    text: BroadcastText


class BreakoutVisit(ClientMessage):
    type: Literal["breakout.visit"]
    room_id: Annotated[int, Field(ge=1)]


class BreakoutChoose(ClientMessage):
    type: Literal["breakout.choose"]
    room_id: Annotated[int, Field(ge=1)]


class BreakoutReturn(ClientMessage):
    type: Literal["breakout.return"]


class BreakoutHelp(ClientMessage):
    type: Literal["breakout.help"]


BreakoutMessage = (
    BreakoutCreate | BreakoutSettings | BreakoutAssign | BreakoutAutoAssign | BreakoutOpen | BreakoutClose
    | BreakoutBroadcast | BreakoutVisit | BreakoutChoose | BreakoutReturn | BreakoutHelp
)  # fmt: skip

HostMessage = (
    HostAdmit | HostDeny | HostAdmitAll | HostMute | HostMuteAll | HostRemove | HostLock | HostUnlock | HostEnd
    | HostMakeCohost | HostRecordStart | HostRecordStop
)  # fmt: skip
ParticipantMessage = (
    Leave | ChatSend | ReactionSend | HandRaise | HandLower | MediaState | Signal | MediaOffer | MediaIce | MediaView
)  # fmt: skip
AnyClientMessage = Annotated[
    Ping | Join | ParticipantMessage | HostMessage | BreakoutMessage, Field(discriminator="type")
]
_client_adapter: TypeAdapter[AnyClientMessage] = TypeAdapter(AnyClientMessage)


class ProtocolError(Exception):
    """A refusal to send to the client as an ``error`` message."""

    def __init__(
        self,
        code: str,
        message: str,
        field: str | None = None,
        close_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.close_code = close_code
        self.retry_after = retry_after

    def to_message(self) -> ErrorEvent:
        return events.error(self.code, self.message, self.field, self.retry_after)


def parse_client_message(data: Any) -> AnyClientMessage:
    if not isinstance(data, dict):
        raise ProtocolError("invalid", "A message must be a JSON object.")
    if not isinstance(data.get("type"), str):
        raise ProtocolError("invalid", "A message needs a string 'type'.", field="type")
    try:
        return _client_adapter.validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        if first["type"] == "union_tag_invalid":
            raise ProtocolError("unknown_type", f"Unknown message type {data['type']!r}.") from exc
        location = ".".join(str(part) for part in first["loc"][1:]) or None
        message = first["msg"].removeprefix("Value error, ")
        raise ProtocolError("invalid", f"{location or 'message'}: {message}", field=location) from exc


def error_message(code: str, message: str, field: str | None = None) -> ErrorEvent:
    return events.error(code, message, field)

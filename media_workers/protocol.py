"""The versioned message protocol between the web tier and the SFU workers (docs/protocol.md,
"Web ⇄ SFU worker").

Three kinds of message travel over the channel layer, each a JSON-able dict:

- a **request** ``{"type": "sfu.request", "v": 1, "id", "reply_to", "method", ...}``, sent to the
  shared control channel (``room.assign``) or to a worker's own channel (everything else);
- its **response** ``{"type": "sfu.response", "v": 1, "id", "ok", "result" | "error"}``, sent to
  the request's ``reply_to`` channel and matched by ``id``;
- a **notification** ``{"type": "sfu.notify", "v": 1, "event", "room_id", ...}``, sent to the
  room's group ``sfu.room.<room_id>``.

Requests are validated here, at the edge; a bad one is answered with an error with a stable code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

PROTOCOL_VERSION = 1
CONTROL_CHANNEL = "sfu.control"
MAX_SDP_CHARS = 100_000

RoomId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
PeerId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
RequestId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
# Channel names as the channel layer accepts them (process-local names contain "!").
ChannelName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.!-]{1,99}$")]
Sdp = Annotated[str, Field(min_length=1, max_length=MAX_SDP_CHARS)]
Mid = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
#: What an offered m-line carries (the worker's producer roles); without roles the worker infers them.
Role = Literal["audio", "camera-high", "camera-low", "screen"]
Roles = Annotated[dict[Mid, Role], Field(max_length=16)]


class ErrorCode:
    """Stable error codes a worker answers with (the web adds ``sfu_timeout``)."""

    BAD_REQUEST = "bad_request"
    UNSUPPORTED_VERSION = "unsupported_version"
    UNKNOWN_METHOD = "unknown_method"
    SFU_UNAVAILABLE = "sfu_unavailable"
    WORKER_DRAINING = "worker_draining"
    UNKNOWN_ROOM = "unknown_room"
    UNKNOWN_PEER = "unknown_peer"
    ROOM_BUSY = "room_busy"
    PEER_EXISTS = "peer_exists"
    MEDIA_UNAVAILABLE = "media_unavailable"
    MEDIA_ERROR = "media_error"
    INTERNAL_ERROR = "internal_error"


def room_group(room_id: str) -> str:
    """The channel-layer group that receives a room's notifications."""
    return f"sfu.room.{room_id}"


class ProtocolError(Exception):
    """A refusal with a stable code; becomes an error response."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Request(_Message):
    type: Literal["sfu.request"]
    v: Literal[1]
    id: RequestId
    reply_to: ChannelName


class AssignRoom(_Request):
    """Which worker serves this room? Sent to the control channel; any live worker answers."""

    method: Literal["room.assign"]
    room_id: RoomId


class Ping(_Request):
    """Liveness and load of one worker."""

    method: Literal["worker.ping"]


class JoinRoom(_Request):
    """A peer's first offer: opens the room on this worker if needed; answered with the SDP answer."""

    method: Literal["room.join"]
    room_id: RoomId
    peer_id: PeerId
    sdp: Sdp
    roles: Roles | None = None


class Renegotiate(_Request):
    method: Literal["room.renegotiate"]
    room_id: RoomId
    peer_id: PeerId
    sdp: Sdp
    roles: Roles | None = None


class IceCandidate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    candidate: Annotated[str, Field(max_length=1024)]
    sdp_mid: Annotated[str | None, Field(alias="sdpMid", max_length=64)] = None
    sdp_mline_index: Annotated[int | None, Field(alias="sdpMLineIndex", ge=0, le=255)] = None


class AddIce(_Request):
    """A trickled ICE candidate; ``candidate: null`` means the end of candidates."""

    method: Literal["room.ice"]
    room_id: RoomId
    peer_id: PeerId
    candidate: IceCandidate | None


class View(BaseModel):
    """What a subscriber shows: the peers whose video is on screen (``null``: follow the
    speakers), the one on stage (their screen share too), and tile heights in pixels."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    tiles: Annotated[list[PeerId], Field(max_length=100)] | None = None
    stage: PeerId | None = None
    sizes: Annotated[dict[PeerId, Annotated[int, Field(ge=0, le=4320)]], Field(max_length=100)] = {}


class SetView(_Request):
    method: Literal["room.view"]
    room_id: RoomId
    peer_id: PeerId
    view: View


class LeaveRoom(_Request):
    method: Literal["room.leave"]
    room_id: RoomId
    peer_id: PeerId


class CloseRoom(_Request):
    method: Literal["room.close"]
    room_id: RoomId


class RoomStats(_Request):
    method: Literal["room.stats"]
    room_id: RoomId


class StartRecording(_Request):
    """Records the room's tracks into ``<SFU_RECORDINGS_DIR>/<recording_id>/`` from now on."""

    method: Literal["room.record.start"]
    room_id: RoomId
    recording_id: Annotated[int, Field(gt=0)]


class StopRecording(_Request):
    """Ends the recording; its composition is queued (Celery task ``recordings.compose``)."""

    method: Literal["room.record.stop"]
    room_id: RoomId


RoomRequest = (
    JoinRoom | Renegotiate | AddIce | SetView | LeaveRoom | CloseRoom | RoomStats | StartRecording | StopRecording
)  # fmt: skip
Request = AssignRoom | Ping | RoomRequest
METHODS = frozenset(
    {"room.assign", "worker.ping", "room.join", "room.renegotiate", "room.ice", "room.view", "room.leave"}
    | {"room.close", "room.stats", "room.record.start", "room.record.stop"}
)
_REQUEST = TypeAdapter[Request](Annotated[Request, Field(discriminator="method")])


def reply_address(raw: Mapping[str, Any]) -> tuple[str, str] | None:
    """``(id, reply_to)`` of a message that may be invalid, when both look usable."""
    request_id, reply_to = raw.get("id"), raw.get("reply_to")
    try:
        TypeAdapter(RequestId).validate_python(request_id)
        TypeAdapter(ChannelName).validate_python(reply_to)
    except ValidationError:
        return None
    return str(request_id), str(reply_to)


def parse_request(raw: object) -> Request:
    """Validates a request; raises ``ProtocolError`` with a stable code when it is refused."""
    if not isinstance(raw, Mapping):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "A request must be an object.")
    if raw.get("v") != PROTOCOL_VERSION:
        raise ProtocolError(
            ErrorCode.UNSUPPORTED_VERSION, f"Protocol version {raw.get('v')!r} is not {PROTOCOL_VERSION}."
        )
    if raw.get("method") not in METHODS:
        raise ProtocolError(ErrorCode.UNKNOWN_METHOD, f"Unknown method {raw.get('method')!r}.")
    try:
        return _REQUEST.validate_python(dict(raw))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"][1:]) or "message"
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{where}: {first['msg']}") from exc


def ok_response(request_id: str, result: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "sfu.response", "v": PROTOCOL_VERSION, "id": request_id, "ok": True, "result": dict(result)}


def error_response(request_id: str, code: str, message: str) -> dict[str, Any]:
    return {
        "type": "sfu.response",
        "v": PROTOCOL_VERSION,
        "id": request_id,
        "ok": False,
        "error": {"code": code, "message": message},
    }


def notification(event: str, room_id: str, **fields: Any) -> dict[str, Any]:
    """``slots.changed``, ``speaker.changed``, ``peer.failed``, ``room.moved`` or ``room.ended``."""
    return {"type": "sfu.notify", "v": PROTOCOL_VERSION, "event": event, "room_id": room_id, **fields}

"""The meeting WebSocket protocol: message schemas validated at the edge (pydantic).

Every client message is a JSON object with a ``type``; unknown types and bad fields are
answered with an ``error`` message carrying a stable ``code``. See docs/protocol.md.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

PROTOCOL_VERSION = 1


class ClientMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Ping(ClientMessage):
    type: Literal["ping"]
    id: Annotated[str, Field(max_length=64)] | None = None


AnyClientMessage = Annotated[Ping, Field(discriminator="type")]
_client_adapter: TypeAdapter[AnyClientMessage] = TypeAdapter(AnyClientMessage)


class ProtocolError(Exception):
    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    def to_message(self) -> dict[str, Any]:
        return error_message(self.code, self.message, self.field)


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
        raise ProtocolError("invalid", f"{location or 'message'}: {first['msg']}", field=location) from exc


def error_message(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "error", "code": code, "message": message}
    if field is not None:
        body["field"] = field
    return body

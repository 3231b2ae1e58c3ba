"""Every event a test client receives is checked here: it must have a schema in
``rooms.events.EVENT_SCHEMAS``, validate against it, and be documented in docs/protocol.md."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from rooms.events import EVENT_SCHEMAS

PROTOCOL_DOC = Path(__file__).resolve().parent.parent / "docs" / "protocol.md"


@functools.cache
def documented_server_types() -> frozenset[str]:
    """The types in the "Server → client" tables of docs/protocol.md."""
    types: set[str] = set()
    server = False
    for line in PROTOCOL_DOC.read_text().splitlines():
        if "Server → client" in line:
            server = True
        elif "Client → server" in line or line.startswith("## "):
            server = False
        elif server and line.startswith("| `"):
            first_cell = line.split("|")[1]
            types.update(re.findall(r"`([a-z_.]+)`", first_cell))
    return frozenset(types)


def check_event(message: dict[str, Any]) -> None:
    kind = message.get("type")
    assert isinstance(kind, str), f"an event without a type: {message}"
    assert kind in documented_server_types(), f"event type {kind!r} is not documented in docs/protocol.md"
    schema = EVENT_SCHEMAS.get(kind)
    assert schema is not None, f"event type {kind!r} has no schema in rooms.events.EVENT_SCHEMAS"
    try:
        schema.validate_python(message, strict=False)
    except ValidationError as exc:
        raise AssertionError(f"{kind} does not match its schema: {exc}\n{message}") from exc

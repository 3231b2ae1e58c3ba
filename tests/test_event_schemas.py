"""The outgoing events: one schema each, all documented, and the check refuses what is not."""

from __future__ import annotations

import uuid

import pytest

from rooms import events
from rooms.events import EVENT_SCHEMAS
from tests.event_schemas import check_event, documented_server_types


def test_every_event_type_has_a_schema_and_is_documented() -> None:
    assert set(EVENT_SCHEMAS) == set(documented_server_types())


def test_a_valid_event_passes() -> None:
    check_event(dict(events.roster_left(uuid.UUID(int=1), "left", 3)))
    check_event(dict(events.error("invalid", "bad", field="text")))


@pytest.mark.parametrize(
    ("message", "complaint"),
    [
        ({"type": "roster.secret", "x": 1}, "not documented"),
        ({"type": "roster.left", "participant_id": "a"}, "does not match"),
        ({"type": "roster.left", "participant_id": "a", "reason": "left", "extra": True}, "does not match"),
        ({"type": "hand", "hands": "not a list"}, "does not match"),
        ({"no": "type"}, "without a type"),
    ],
)
def test_an_undocumented_or_malformed_event_fails(message: dict[str, object], complaint: str) -> None:
    with pytest.raises(AssertionError, match=complaint):
        check_event(message)

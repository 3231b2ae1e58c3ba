"""Events to meeting rooms: group names, the JSON shape of participants and chat messages,
and sending through the channel layer after the database transaction commits.

Channel-layer messages carry ``{"type": "room.event", "event": <client JSON>}``; the consumer
forwards ``event`` to its client (see ``MeetingConsumer.room_event``). A few control messages
(``room.control``) change the consumer's own state (admitted, removed, role changed, replaced).
"""

from __future__ import annotations

import uuid
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.db.models import QuerySet

from meetings.models import ChatMessage, Participant


def meeting_group(meeting_id: int) -> str:
    return f"meeting.{meeting_id}"


def hosts_group(meeting_id: int) -> str:
    return f"meeting.{meeting_id}.hosts"


def participant_group(participant_id: uuid.UUID | str) -> str:
    return f"participant.{uuid.UUID(str(participant_id)).hex}"


def iso(value: Any) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


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


def participant_json(participant: Participant) -> dict[str, Any]:
    return _participant_row_json({name: getattr(participant, name) for name in PARTICIPANT_FIELDS})


def roster_json(participants: QuerySet[Participant]) -> list[dict[str, Any]]:
    """Like ``participant_json`` for every row, from plain column values: a join snapshot of a
    large room builds no model instances (that was a third of a join storm's CPU)."""
    return [_participant_row_json(row) for row in participants.values(*PARTICIPANT_FIELDS)]


def _participant_row_json(row: dict[str, Any]) -> dict[str, Any]:
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


def chat_json(message: ChatMessage, sender_name: str | None = None) -> dict[str, Any]:
    return {
        "id": message.pk,
        "from": str(message.sender_id),
        "from_name": sender_name if sender_name is not None else message.sender.display_name,
        "to": str(message.recipient_id) if message.recipient_id else None,
        "text": message.text,
        "sent_at": iso(message.created_at),
    }


def _send_now(group: str, message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(layer.group_send)(group, message)


def send_on_commit(group: str, event: dict[str, Any]) -> None:
    """Sends ``event`` to every client in ``group`` once the current transaction commits."""
    message = {"type": "room.event", "event": event}
    transaction.on_commit(lambda: _send_now(group, message))


def control_on_commit(group: str, action: str, **fields: Any) -> None:
    """Sends a control message that the consumers in ``group`` act on themselves."""
    message = {"type": "room.control", "action": action, **fields}
    transaction.on_commit(lambda: _send_now(group, message))

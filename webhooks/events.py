"""The events webhooks carry, and their payloads.

Every request body is one event: ``{"id": <uuid>, "type": <name>, "created_at": <ISO UTC>,
"data": {...}}``. ``id`` is the same for every webhook receiving the event and for redeliveries,
so receivers can drop duplicates. Data holds ids and plain values, never model instances;
times are ISO 8601 in UTC (``2026-11-27T09:00:00Z``); URLs are absolute (``SITE_URL``).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from meetings.models import BreakoutPlan, Meeting, Room
from meetings.recordings.models import Recording


class Event(StrEnum):
    MEETING_STARTED = "meeting.started"
    MEETING_ENDED = "meeting.ended"
    RECORDING_READY = "recording.ready"
    BREAKOUT_OPENED = "breakout.opened"
    BREAKOUT_CLOSED = "breakout.closed"
    PING = "ping"


#: Events a webhook can subscribe to (``ping`` is sent on request, to one webhook).
SUBSCRIBABLE: tuple[str, ...] = (
    Event.MEETING_STARTED,
    Event.MEETING_ENDED,
    Event.RECORDING_READY,
    Event.BREAKOUT_OPENED,
    Event.BREAKOUT_CLOSED,
)


def utc_iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def absolute(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def meeting_data(meeting: Meeting) -> dict[str, Any]:
    return {
        "meeting": {
            "code": meeting.code,
            "title": meeting.title,
            "status": meeting.status,
            "started_at": utc_iso(meeting.started_at),
            "ended_at": utc_iso(meeting.ended_at),
            "join_url": absolute(meeting.get_absolute_url()),
            "api_url": absolute(reverse("meeting-detail", kwargs={"code": meeting.code})),
        }
    }


def recording_data(recording: Recording) -> dict[str, Any]:
    meeting = recording.meeting
    return {
        "recording": {
            "id": recording.pk,
            "meeting": {"code": meeting.code, "title": meeting.title},
            "started_at": utc_iso(recording.started_at),
            "ended_at": utc_iso(recording.ended_at),
            "duration_seconds": recording.duration_seconds,
            "size_bytes": recording.size_bytes,
            "sha256": recording.sha256,
            "api_url": absolute(reverse("recording-detail", kwargs={"pk": recording.pk})),
        }
    }


def breakout_data(meeting: Meeting, rooms: list[Room], plan: BreakoutPlan | None) -> dict[str, Any]:
    """A session of breakout rooms: the meeting, the rooms, and when it opened (with its planned
    end while open, ``ends_at``) or closed (``closed_at``)."""
    opened = [room.opened_at for room in rooms if room.opened_at is not None]
    closed = [room.closed_at for room in rooms if room.closed_at is not None]
    return {
        **meeting_data(meeting),
        "breakouts": {
            "opened_at": utc_iso(min(opened, default=None)),
            "ends_at": utc_iso(plan.ends_at) if plan is not None and plan.is_open else None,
            "closed_at": utc_iso(max(closed, default=None)),
            "rooms": [{"id": room.pk, "name": room.name, "position": room.position} for room in rooms],
            "api_url": absolute(reverse("meeting-breakouts", kwargs={"code": meeting.code})),
        },
    }


def ping_data(webhook_id: int) -> dict[str, Any]:
    return {"webhook_id": webhook_id, "message": "A test event: your endpoint is reachable."}


def envelope(event: Event, data: dict[str, Any], event_id: uuid.UUID | None = None) -> dict[str, Any]:
    """The request body of one event (built once, delivered as it is to each webhook)."""
    return {
        "id": str(event_id or uuid.uuid4()),
        "type": str(event),
        "created_at": utc_iso(timezone.now()),
        "data": data,
    }

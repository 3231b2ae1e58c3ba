"""``breakout.opened`` and ``breakout.closed`` come from the real write paths (REST, and the beat
task that ends a countdown) and reach the meeting owner's active webhooks that subscribe to them,
delivered to a real HTTP receiver and recorded in the delivery log."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from pytest_django import DjangoCaptureOnCommitCallbacks
from rest_framework.test import APIClient

from accounts.models import User
from meetings.actions import do_end_meeting
from meetings.models import BreakoutPlan, Meeting, Room
from rooms.tasks import breakout_deadlines
from tests.webhooks.conftest import MakeWebhook
from tests.webhooks.receiver import Receiver
from webhooks.events import SUBSCRIBABLE
from webhooks.models import DeliveryStatus, Webhook, WebhookDelivery

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]

Capture = DjangoCaptureOnCommitCallbacks


@pytest.fixture
def subscribed(make_webhook: MakeWebhook, member: User) -> dict[str, Webhook]:
    return {
        "breakouts": make_webhook(events=["breakout.opened", "breakout.closed"], path="/breakouts"),
        "meetings only": make_webhook(events=["meeting.started", "meeting.ended"], path="/meetings-only"),
        "co-host's": make_webhook(user=member, path="/cohost"),
    }


def post(api: APIClient, meeting: Meeting, what: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = api.post(f"/api/v1/meetings/{meeting.code}/breakouts/{what}/", body or {}, format="json")
    assert response.status_code == 200, response.content
    data = response.json()
    assert isinstance(data, dict)
    return data


def bodies(receiver: Receiver) -> list[dict[str, Any]]:
    return [json.loads(request.body) for request in receiver.requests]


def test_the_events_can_be_subscribed_to() -> None:
    assert {"breakout.opened", "breakout.closed"} <= set(SUBSCRIBABLE)


def test_opening_and_closing_breakout_rooms_reach_the_owners_subscribed_webhooks(
    owner_api: APIClient,
    meeting: Meeting,
    receiver: Receiver,
    subscribed: dict[str, Webhook],
    django_capture_on_commit_callbacks: Capture,
) -> None:
    rooms = [room["id"] for room in post(owner_api, meeting, "rooms", {"names": ["Design", "Ops"]})["rooms"]]
    response = owner_api.patch(f"/api/v1/meetings/{meeting.code}/breakouts/", {"duration_minutes": 15}, format="json")
    assert response.status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        post(owner_api, meeting, "open")
    with django_capture_on_commit_callbacks(execute=True):
        post(owner_api, meeting, "close", {"now": True})

    assert [(request.path, request.headers["conference-event"]) for request in receiver.requests] == [
        ("/breakouts", "breakout.opened"),
        ("/breakouts", "breakout.closed"),
    ]
    opened, closed = bodies(receiver)
    design, ops = Room.objects.filter(pk__in=rooms).order_by("position")
    assert design.opened_at is not None
    assert design.closed_at is not None
    expected_rooms = [
        {"id": design.pk, "name": "Design", "position": 1},
        {"id": ops.pk, "name": "Ops", "position": 2},
    ]
    api_url = f"https://testserver/api/v1/meetings/{meeting.code}/breakouts/"
    assert opened["data"]["meeting"]["code"] == meeting.code
    assert opened["data"]["meeting"]["title"] == "Weekly sync"
    assert opened["data"]["breakouts"] == {
        "opened_at": design.opened_at.isoformat().replace("+00:00", "Z"),
        "ends_at": (design.opened_at + timedelta(minutes=15)).isoformat().replace("+00:00", "Z"),
        "closed_at": None,
        "rooms": expected_rooms,
        "api_url": api_url,
    }
    assert closed["data"]["breakouts"] == {
        "opened_at": design.opened_at.isoformat().replace("+00:00", "Z"),
        "ends_at": None,
        "closed_at": design.closed_at.isoformat().replace("+00:00", "Z"),
        "rooms": expected_rooms,
        "api_url": api_url,
    }

    deliveries = WebhookDelivery.objects.order_by("created_at", "id")
    assert [(d.webhook_id, d.event, d.status) for d in deliveries] == [
        (subscribed["breakouts"].pk, "breakout.opened", DeliveryStatus.SUCCEEDED),
        (subscribed["breakouts"].pk, "breakout.closed", DeliveryStatus.SUCCEEDED),
    ]
    assert [d.payload["id"] for d in deliveries] == [opened["id"], closed["id"]]


def test_a_countdown_ended_by_the_beat_task_sends_breakout_closed(
    owner_api: APIClient,
    meeting: Meeting,
    receiver: Receiver,
    subscribed: dict[str, Webhook],
    django_capture_on_commit_callbacks: Capture,
) -> None:
    post(owner_api, meeting, "rooms", {"count": 1})
    with django_capture_on_commit_callbacks(execute=True):
        post(owner_api, meeting, "open")
    with django_capture_on_commit_callbacks(execute=True):
        assert post(owner_api, meeting, "close")["state"] == "closing"
    assert [request.headers["conference-event"] for request in receiver.requests] == ["breakout.opened"]

    BreakoutPlan.objects.filter(meeting=meeting).update(closing_at=timezone.now() - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert breakout_deadlines() == 1
    assert [request.headers["conference-event"] for request in receiver.requests] == [
        "breakout.opened",
        "breakout.closed",
    ]
    assert WebhookDelivery.objects.filter(event="breakout.closed", status=DeliveryStatus.SUCCEEDED).count() == 1


def test_ending_the_meeting_with_the_rooms_open_sends_breakout_closed(
    owner_api: APIClient,
    meeting: Meeting,
    receiver: Receiver,
    subscribed: dict[str, Webhook],
    django_capture_on_commit_callbacks: Capture,
) -> None:
    post(owner_api, meeting, "rooms", {"count": 2})
    with django_capture_on_commit_callbacks(execute=True):
        post(owner_api, meeting, "open")
    with django_capture_on_commit_callbacks(execute=True):
        do_end_meeting(meeting)
    assert [(request.path, request.headers["conference-event"]) for request in receiver.requests] == [
        ("/breakouts", "breakout.opened"),
        ("/meetings-only", "meeting.ended"),
        ("/breakouts", "breakout.closed"),
    ]
    closed = bodies(receiver)[-1]["data"]
    assert closed["meeting"]["status"] == "ended"
    assert [room["name"] for room in closed["breakouts"]["rooms"]] == ["Room 1", "Room 2"]


@pytest.mark.usefixtures("subscribed")
def test_a_refused_open_sends_nothing(
    owner_api: APIClient, meeting: Meeting, receiver: Receiver, django_capture_on_commit_callbacks: Capture
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_api.post(f"/api/v1/meetings/{meeting.code}/breakouts/open/", {}, format="json")
    assert response.json()["code"] == "no_rooms"
    assert receiver.requests == []
    assert not WebhookDelivery.objects.exists()

"""Events come from the real write paths: a participant joining through the room code starts the
meeting, the host ending it ends it, composition marking a recording ready. Each event reaches
the meeting owner's active webhooks that subscribe to it — and no one else's."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import pytest
from pytest_django import DjangoCaptureOnCommitCallbacks

from accounts.models import User
from meetings.actions import do_end_meeting
from meetings.models import Meeting
from meetings.recordings.models import Recording, RecordingStatus
from meetings.recordings.tasks import compose
from meetings.signals import meeting_started
from rooms import host_controls
from rooms import presence as room
from tests.webhooks.conftest import MakeWebhook
from tests.webhooks.receiver import Receiver
from webhooks.models import Webhook, WebhookDelivery

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery", "subscribed")]

Capture = DjangoCaptureOnCommitCallbacks
Join = Callable[[User], room.JoinOutcome]


@pytest.fixture
def subscribed(make_webhook: MakeWebhook, owner: User, member: User, outsider: User) -> dict[str, Webhook]:
    """The owner's webhooks for every event and for some, and the ones that must get nothing."""
    inactive = make_webhook(path="/inactive")
    Webhook.objects.filter(pk=inactive.pk).update(active=False)
    return {
        "all": make_webhook(path="/all"),
        "recordings only": make_webhook(events=["recording.ready"], path="/recordings-only"),
        "meetings only": make_webhook(events=["meeting.started", "meeting.ended"], path="/meetings-only"),
        "inactive": inactive,
        "co-host's": make_webhook(user=member, path="/cohost"),
        "outsider's": make_webhook(user=outsider, path="/outsider"),
    }


@pytest.fixture
def join(meeting: Meeting, django_capture_on_commit_callbacks: Capture) -> Join:
    """Enters the meeting's room as the consumer does (``room.do_join``), then runs the commit's callbacks."""

    def enter(user: User) -> room.JoinOutcome:
        with django_capture_on_commit_callbacks(execute=True):
            return room.do_join(
                meeting.pk,
                user,
                room.identity_for(user, None),
                display_name=None,
                passcode=None,
                resume_token=None,
                channel_name=f"test.{user.pk}",
            )

    return enter


def events_at(receiver: Receiver) -> list[tuple[str, str]]:
    return [(request.path, request.headers["conference-event"]) for request in receiver.requests]


def payload(receiver: Receiver, index: int = -1) -> dict[str, Any]:
    loaded = json.loads(receiver.requests[index].body)
    assert isinstance(loaded, dict)
    return loaded


def test_the_first_person_in_starts_the_meeting_for_the_owners_subscribed_webhooks(
    meeting: Meeting, owner: User, join: Join, receiver: Receiver, subscribed: dict[str, Webhook]
) -> None:
    join(owner)

    assert sorted(events_at(receiver)) == [("/all", "meeting.started"), ("/meetings-only", "meeting.started")]
    body = payload(receiver)
    meeting.refresh_from_db()
    assert meeting.started_at is not None
    assert body["type"] == "meeting.started"
    assert body["data"]["meeting"]["code"] == meeting.code
    assert body["data"]["meeting"]["status"] == "live"
    assert body["data"]["meeting"]["started_at"] == meeting.started_at.isoformat().replace("+00:00", "Z")
    assert body["data"]["meeting"]["api_url"] == f"https://testserver/api/v1/meetings/{meeting.code}/"
    deliveries = WebhookDelivery.objects.all()
    assert {delivery.webhook_id for delivery in deliveries} == {subscribed["all"].pk, subscribed["meetings only"].pk}
    assert len({delivery.event_id for delivery in deliveries}) == 1  # one event, one id for every webhook


def test_a_second_person_joining_starts_nothing_again(
    owner: User, member: User, join: Join, receiver: Receiver
) -> None:
    join(owner)
    join(member)
    assert [event for _, event in events_at(receiver)] == ["meeting.started"] * 2


def test_the_host_ending_the_meeting_ends_it_once_for_the_owners_subscribed_webhooks(
    meeting: Meeting, owner: User, join: Join, receiver: Receiver, django_capture_on_commit_callbacks: Capture
) -> None:
    host = join(owner)
    receiver.requests.clear()

    with django_capture_on_commit_callbacks(execute=True):
        host_controls.do_end(host.participant_id)
    with django_capture_on_commit_callbacks(execute=True):
        do_end_meeting(meeting)  # already ended: no second event

    assert sorted(events_at(receiver)) == [("/all", "meeting.ended"), ("/meetings-only", "meeting.ended")]
    data = payload(receiver)["data"]["meeting"]
    assert (data["code"], data["status"]) == (meeting.code, "ended")
    assert data["ended_at"].endswith("Z")


def test_a_failing_listener_neither_breaks_the_join_nor_the_other_listeners(
    owner: User, join: Join, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(**kwargs: Any) -> None:
        raise RuntimeError("listener bug")

    meeting_started.connect(broken, dispatch_uid="test.broken")
    try:
        with caplog.at_level(logging.ERROR, logger="meetings.signals"):
            outcome = join(owner)
    finally:
        meeting_started.disconnect(dispatch_uid="test.broken")

    assert outcome.snapshot is not None
    assert ("/all", "meeting.started") in events_at(receiver)
    assert "listener bug" in caplog.text


@pytest.fixture
def composed(spooled: Callable[[], Recording], django_capture_on_commit_callbacks: Capture) -> Recording:
    recording = spooled()
    with django_capture_on_commit_callbacks(execute=True):
        assert compose.apply(args=(recording.pk,)).get() == RecordingStatus.READY
    recording.refresh_from_db()
    return recording


def test_a_composed_recording_is_ready_for_the_owners_subscribed_webhooks(
    receiver: Receiver, composed: Recording
) -> None:
    assert sorted(events_at(receiver)) == [("/all", "recording.ready"), ("/recordings-only", "recording.ready")]
    data = payload(receiver)["data"]["recording"]
    assert data["id"] == composed.pk
    assert data["meeting"]["code"] == composed.meeting.code
    assert data["size_bytes"] == composed.size_bytes
    assert data["duration_seconds"] == composed.duration_seconds
    assert data["sha256"] == composed.sha256
    assert data["api_url"] == f"https://testserver/api/v1/recordings/{composed.pk}/"


def test_a_failed_composition_sends_nothing(
    receiver: Receiver,
    make_recording: Callable[..., Recording],
    spool: object,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    recording = make_recording()  # no tracks in the spool: the input problem fails it
    with django_capture_on_commit_callbacks(execute=True):
        assert compose.apply(args=(recording.pk,)).get() == RecordingStatus.FAILED
    assert receiver.requests == []
    assert not WebhookDelivery.objects.exists()

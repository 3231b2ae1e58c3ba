"""Delivery to a real HTTP server on 127.0.0.1: the signed request, success on 2xx, retries with
backoff, giving up, timeouts, redirects not followed, private targets refused at delivery time.

The task runs in this process (eager); with ``fast_retries`` the backoff is 0, so a retry runs
at once (the schedule itself is tested without a server at the end of this file)."""

from __future__ import annotations

import json
import socket
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from pytest_django.fixtures import Settings as SettingsWrapper

from accounts.models import User
from tests.webhooks.conftest import MakeWebhook, fake_dns
from tests.webhooks.receiver import Receiver, Reply
from webhooks import actions
from webhooks.delivery import MAX_BACKOFF_SECONDS, backoff_seconds
from webhooks.events import Event
from webhooks.models import DeliveryStatus, Webhook, WebhookDelivery
from webhooks.signatures import verify_signature
from webhooks.tasks import deliver

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery", "fast_retries")]

DATA = {"meeting": {"code": "abc-defg-hij", "title": "Weekly sync"}}


@pytest.fixture
def webhook(make_webhook: MakeWebhook) -> Webhook:
    return make_webhook(path="/hooks/conference?source=test")


def new_delivery(owner: User) -> WebhookDelivery:
    [delivery] = actions.do_send_event(owner.pk, Event.MEETING_ENDED, DATA)
    return delivery


def run(delivery: WebhookDelivery) -> WebhookDelivery:
    deliver.apply(args=(delivery.pk,)).get()
    delivery.refresh_from_db()
    return delivery


def test_the_event_arrives_signed_with_its_headers_and_payload(
    webhook: Webhook, owner: User, receiver: Receiver
) -> None:
    delivery = run(new_delivery(owner))

    [request] = receiver.requests
    assert (request.method, request.path) == ("POST", "/hooks/conference?source=test")
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"] == "Conference-Webhooks/1.0"
    assert request.headers["conference-event"] == "meeting.ended"
    assert request.headers["conference-delivery"] == str(delivery.pk)
    assert request.headers["host"] == f"127.0.0.1:{receiver.port}"
    assert verify_signature(webhook.secret, request.body, request.headers["conference-signature"])
    timestamp = int(request.headers["conference-signature"].split(",")[0].removeprefix("t="))
    assert abs(time.time() - timestamp) < 60
    body = json.loads(request.body)
    assert body == delivery.payload
    assert (body["id"], body["type"], body["data"]) == (str(delivery.event_id), "meeting.ended", DATA)
    assert body["created_at"].endswith("Z")
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert (delivery.attempts, delivery.response_status, delivery.response_body) == (1, 200, "thanks")
    assert delivery.delivered_at is not None
    assert delivery.next_attempt_at is None
    assert delivery.last_error == ""


def test_a_500_then_a_200_succeeds_on_the_second_attempt_with_both_recorded(
    webhook: Webhook, owner: User, receiver: Receiver
) -> None:
    receiver.answer(Reply(status=500, body=b"database down"))

    delivery = run(new_delivery(owner))

    assert len(receiver.wait_for(2)) == 2
    assert receiver.requests[0].body == receiver.requests[1].body
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert delivery.attempts == 2
    assert [(entry["attempt"], entry["status_code"]) for entry in delivery.attempt_log] == [(1, 500), (2, 200)]
    assert delivery.attempt_log[0]["error"] == "HTTP 500: not a 2xx answer"
    assert delivery.attempt_log[1]["error"] == ""
    assert (delivery.response_status, delivery.last_error) == (200, "")


def test_it_gives_up_after_the_last_attempt(
    webhook: Webhook, owner: User, receiver: Receiver, settings: SettingsWrapper
) -> None:
    settings.WEBHOOKS_MAX_ATTEMPTS = 3
    receiver.answer(*[Reply(status=503, body=b"busy")] * 5)

    delivery = run(new_delivery(owner))

    assert len(receiver.requests) == 3
    assert delivery.status == DeliveryStatus.FAILED
    assert (delivery.attempts, delivery.response_status, delivery.response_body) == (3, 503, "busy")
    assert delivery.last_error == "HTTP 503: not a 2xx answer"
    assert delivery.next_attempt_at is None
    assert delivery.delivered_at is None
    assert [entry["status_code"] for entry in delivery.attempt_log] == [503, 503, 503]


def test_a_timeout_counts_as_a_failed_attempt(
    webhook: Webhook, owner: User, receiver: Receiver, settings: SettingsWrapper
) -> None:
    settings.WEBHOOKS_MAX_ATTEMPTS = 1
    settings.WEBHOOKS_TIMEOUT_SECONDS = 1
    receiver.answer(Reply(status=200, delay=10))

    delivery = run(new_delivery(owner))

    assert len(receiver.requests) == 1
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.response_status is None
    assert delivery.last_error.startswith("timed out after 1 s")
    assert delivery.attempt_log[0]["duration_ms"] < 5000


def test_a_redirect_is_not_followed(
    webhook: Webhook, owner: User, receiver: Receiver, settings: SettingsWrapper
) -> None:
    settings.WEBHOOKS_MAX_ATTEMPTS = 1
    receiver.answer(Reply(status=302, headers={"Location": receiver.url("/elsewhere")}))

    delivery = run(new_delivery(owner))

    assert [request.path for request in receiver.requests] == ["/hooks/conference?source=test"]
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.response_status == 302
    assert "redirects are not followed" in delivery.last_error


def test_a_refused_connection_is_a_failed_attempt(
    make_webhook: MakeWebhook, owner: User, settings: SettingsWrapper
) -> None:
    settings.WEBHOOKS_MAX_ATTEMPTS = 1
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    Webhook.objects.filter(pk=make_webhook().pk).update(url=f"http://127.0.0.1:{closed_port}/hook")

    delivery = run(new_delivery(owner))

    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.last_error.startswith("ConnectError")


def test_a_target_that_became_private_is_refused_at_delivery(
    webhook: Webhook, owner: User, receiver: Receiver, settings: SettingsWrapper
) -> None:
    settings.WEBHOOKS_MAX_ATTEMPTS = 1
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False  # registered while allowed; DNS could change likewise

    delivery = run(new_delivery(owner))

    assert receiver.requests == []
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.last_error.startswith("refused: 127.0.0.1 is a loopback, private or link-local address")


def test_a_host_name_that_resolves_to_nat64_of_loopback_is_refused_at_delivery(
    receiver: Receiver, private_targets: None, owner: User, settings: SettingsWrapper, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A DNS answer of 64:ff9b::7f00:1 is 127.0.0.1 behind a NAT64 gateway: nothing is sent."""
    changes = actions.WebhookChanges(url=f"http://hooks.example.com:{receiver.port}/hook", events=[Event.MEETING_ENDED])
    actions.do_create_webhook(owner, changes)
    settings.WEBHOOKS_MAX_ATTEMPTS = 1
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False
    fake_dns(monkeypatch, "hooks.example.com", ["64:ff9b::7f00:1"])

    delivery = run(new_delivery(owner))

    assert receiver.requests == []
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.last_error == (
        "refused: hooks.example.com is a loopback, private or link-local address (64:ff9b::7f00:1); "
        "webhooks may only call public addresses."
    )


def test_a_long_answer_is_kept_as_a_short_excerpt(webhook: Webhook, owner: User, receiver: Receiver) -> None:
    receiver.answer(Reply(status=200, body=b"x" * 100_000))
    delivery = run(new_delivery(owner))
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert delivery.response_body == "x" * 500


def test_a_message_for_a_delivery_not_yet_due_does_nothing(webhook: Webhook, owner: User, receiver: Receiver) -> None:
    delivery = new_delivery(owner)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() + timedelta(minutes=5))

    assert deliver.apply(args=(delivery.pk,)).get() == "skipped"

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, receiver.requests) == (DeliveryStatus.PENDING, 0, [])


def test_a_duplicate_message_for_a_finished_delivery_sends_nothing_again(
    webhook: Webhook, owner: User, receiver: Receiver
) -> None:
    delivery = run(new_delivery(owner))
    assert deliver.apply(args=(delivery.pk,)).get() == "skipped"
    assert len(receiver.requests) == 1


def test_deliveries_of_a_deactivated_webhook_end_failed(webhook: Webhook, owner: User, receiver: Receiver) -> None:
    delivery = new_delivery(owner)
    Webhook.objects.filter(pk=webhook.pk).update(active=False)

    delivery = run(delivery)

    assert receiver.requests == []
    assert (delivery.status, delivery.attempts, delivery.last_error) == (
        DeliveryStatus.FAILED,
        0,
        "the webhook is inactive",
    )


def test_a_failure_schedules_the_next_attempt_after_the_backoff(
    webhook: Webhook, owner: User, receiver: Receiver, settings: SettingsWrapper
) -> None:
    settings.WEBHOOKS_BACKOFF_SECONDS = 30
    receiver.answer(Reply(status=500))
    before = timezone.now()

    delivery = run(new_delivery(owner))

    assert len(receiver.requests) == 1  # the retry's message came at once (eager) and found it not due
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 1)
    assert delivery.next_attempt_at is not None
    wait = (delivery.next_attempt_at - before).total_seconds()
    assert 30 * 0.75 - 1 <= wait <= 30 + 5


def test_the_backoff_doubles_from_the_base_up_to_the_cap() -> None:
    waits = [backoff_seconds(attempt, 30, jitter=lambda: 0.0) for attempt in range(1, 10)]
    assert waits == [30, 60, 120, 240, 480, 960, MAX_BACKOFF_SECONDS, MAX_BACKOFF_SECONDS, MAX_BACKOFF_SECONDS]
    assert MAX_BACKOFF_SECONDS == 1800


def test_the_jitter_takes_off_at_most_a_quarter() -> None:
    assert backoff_seconds(3, 30, jitter=lambda: 1.0) == 90
    assert backoff_seconds(3, 30, jitter=lambda: 0.5) == 105
    assert all(90 <= backoff_seconds(3, 30) <= 120 for _ in range(200))

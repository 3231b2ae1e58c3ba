"""REST API around deliveries: rotate the secret, ping, the delivery log, redeliver — the owner
only (others 404, anonymous 401). Pings are delivered for real to the loopback receiver."""

from __future__ import annotations

import json
import uuid

import pytest
from pytest_django import DjangoCaptureOnCommitCallbacks
from rest_framework.test import APIClient

from accounts.models import User
from tests.webhooks.conftest import MakeWebhook
from tests.webhooks.receiver import Receiver, Reply
from webhooks.models import DeliveryStatus, Webhook, WebhookDelivery
from webhooks.signatures import verify_signature

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery", "fast_retries")]


@pytest.fixture
def webhook(make_webhook: MakeWebhook) -> Webhook:
    return make_webhook()


def delivery_of(webhook: Webhook, status: str = DeliveryStatus.FAILED) -> WebhookDelivery:
    """A delivery as the log keeps it (nothing is sent)."""
    return WebhookDelivery.objects.create(
        webhook=webhook, event="ping", event_id=uuid.uuid4(), payload={"type": "ping"}, status=status
    )


def ping(client: APIClient, webhook: Webhook, capture: DjangoCaptureOnCommitCallbacks) -> WebhookDelivery:
    with capture(execute=True):
        response = client.post(f"/api/v1/webhooks/{webhook.pk}/ping/")
    assert response.status_code == 202, response.content
    return WebhookDelivery.objects.get(pk=response.json()["id"])


def test_ping_delivers_a_signed_test_event(
    owner_api: APIClient,
    webhook: Webhook,
    receiver: Receiver,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    delivery = ping(owner_api, webhook, django_capture_on_commit_callbacks)

    [request] = receiver.wait_for(1)
    assert request.headers["conference-event"] == "ping"
    assert verify_signature(webhook.secret, request.body, request.headers["conference-signature"])
    assert json.loads(request.body)["data"]["webhook_id"] == webhook.pk
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_status) == (DeliveryStatus.SUCCEEDED, 1, 200)


def test_a_rotated_secret_is_shown_once_and_signs_the_next_request(
    owner_api: APIClient,
    webhook: Webhook,
    receiver: Receiver,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    old = webhook.secret

    response = owner_api.post(f"/api/v1/webhooks/{webhook.pk}/rotate-secret/")

    assert response.status_code == 200
    new = response.json()["secret"]
    assert new != old
    assert new.startswith("whsec_")
    ping(owner_api, webhook, django_capture_on_commit_callbacks)
    [request] = receiver.wait_for(1)
    assert verify_signature(new, request.body, request.headers["conference-signature"])
    assert not verify_signature(old, request.body, request.headers["conference-signature"])


def test_the_delivery_log_is_paginated_latest_first(
    owner_api: APIClient,
    webhook: Webhook,
    receiver: Receiver,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    receiver.answer(Reply(status=500, body=b"boom"), Reply(status=500), Reply(status=500))
    first = ping(owner_api, webhook, django_capture_on_commit_callbacks)
    second = ping(owner_api, webhook, django_capture_on_commit_callbacks)

    page = owner_api.get(f"/api/v1/webhooks/{webhook.pk}/deliveries/", {"page_size": 1}).json()

    assert page["count"] == 2
    assert [row["id"] for row in page["results"]] == [second.pk]
    older = owner_api.get(page["next"]).json()["results"][0]
    assert older["id"] == first.pk
    assert older["status"] == "succeeded"
    assert [entry["status_code"] for entry in older["attempt_log"]] == [500, 500, 500, 200]
    assert older["payload"]["type"] == "ping"


def test_redelivery_sends_the_same_event_again_as_a_new_delivery(
    owner_api: APIClient,
    webhook: Webhook,
    receiver: Receiver,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    original = ping(owner_api, webhook, django_capture_on_commit_callbacks)

    with django_capture_on_commit_callbacks(execute=True):
        response = owner_api.post(f"/api/v1/webhooks/{webhook.pk}/deliveries/{original.pk}/redeliver/")

    assert response.status_code == 202, response.content
    again = WebhookDelivery.objects.get(pk=response.json()["id"])
    assert again.pk != original.pk
    assert (again.event_id, again.payload, again.status) == (original.event_id, original.payload, "succeeded")
    first, second = receiver.wait_for(2)
    assert first.body == second.body
    assert (first.headers["conference-delivery"], second.headers["conference-delivery"]) == (
        str(original.pk),
        str(again.pk),
    )


def test_a_pending_delivery_cannot_be_redelivered(owner_api: APIClient, webhook: Webhook) -> None:
    pending = delivery_of(webhook, DeliveryStatus.PENDING)
    response = owner_api.post(f"/api/v1/webhooks/{webhook.pk}/deliveries/{pending.pk}/redeliver/")
    assert (response.status_code, response.json()["code"]) == (409, "delivery_pending")


def test_an_inactive_webhook_is_neither_pinged_nor_redelivered_to(
    owner_api: APIClient, webhook: Webhook, receiver: Receiver
) -> None:
    done = delivery_of(webhook)
    Webhook.objects.filter(pk=webhook.pk).update(active=False)

    answers = [
        owner_api.post(f"/api/v1/webhooks/{webhook.pk}/ping/"),
        owner_api.post(f"/api/v1/webhooks/{webhook.pk}/deliveries/{done.pk}/redeliver/"),
    ]

    assert [(answer.status_code, answer.json()["code"]) for answer in answers] == [(409, "webhook_inactive")] * 2
    assert WebhookDelivery.objects.count() == 1
    assert receiver.requests == []


@pytest.mark.parametrize("who", ["member_api", "outsider_api"])
def test_other_people_cannot_rotate_ping_read_or_redeliver(
    request: pytest.FixtureRequest, who: str, webhook: Webhook, receiver: Receiver
) -> None:
    done = delivery_of(webhook)
    client: APIClient = request.getfixturevalue(who)
    base = f"/api/v1/webhooks/{webhook.pk}"
    secret = webhook.secret

    answers = [
        client.post(f"{base}/rotate-secret/"),
        client.post(f"{base}/ping/"),
        client.get(f"{base}/deliveries/"),
        client.post(f"{base}/deliveries/{done.pk}/redeliver/"),
    ]

    assert [answer.status_code for answer in answers] == [404] * 4
    webhook.refresh_from_db()
    assert webhook.secret == secret
    assert WebhookDelivery.objects.count() == 1
    assert receiver.requests == []


def test_a_delivery_of_another_webhook_is_not_found(
    owner_api: APIClient, webhook: Webhook, make_webhook: MakeWebhook, outsider: User
) -> None:
    theirs = make_webhook(user=outsider)
    done = delivery_of(theirs)
    response = owner_api.post(f"/api/v1/webhooks/{webhook.pk}/deliveries/{done.pk}/redeliver/")
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/v1/webhooks/1/rotate-secret/"),
        ("post", "/api/v1/webhooks/1/ping/"),
        ("get", "/api/v1/webhooks/1/deliveries/"),
        ("post", "/api/v1/webhooks/1/deliveries/1/redeliver/"),
    ],
)
def test_anonymous_callers_are_refused(anon_api: APIClient, method: str, path: str) -> None:
    response = getattr(anon_api, method)(path)
    assert (response.status_code, response.json()["code"]) == (401, "not_authenticated")

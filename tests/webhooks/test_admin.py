"""Admin pages for webhooks: every model registered, lists with filters and search, a webhook's
page with its latest deliveries first (and no secret), the "Redeliver" action, the same URL
checks as the API."""

from __future__ import annotations

import uuid

import pytest
from django.apps import apps
from django.contrib import admin
from django.test import Client
from pytest_django import DjangoCaptureOnCommitCallbacks
from pytest_django.fixtures import Settings as SettingsWrapper

from accounts.models import User
from tests.webhooks.conftest import MakeWebhook
from tests.webhooks.receiver import Receiver
from webhooks.models import DeliveryStatus, Webhook, WebhookDelivery

pytestmark = pytest.mark.django_db


@pytest.fixture
def webhook(make_webhook: MakeWebhook) -> Webhook:
    return make_webhook()


def logged(webhook: Webhook, event: str, status: str = DeliveryStatus.FAILED) -> WebhookDelivery:
    return WebhookDelivery.objects.create(
        webhook=webhook, event=event, event_id=uuid.uuid4(), payload={"type": event}, status=status
    )


def test_every_webhooks_model_is_registered() -> None:
    models = list(apps.get_app_config("webhooks").get_models())
    assert models
    assert [model for model in models if model not in admin.site._registry] == []


WEBHOOKS, DELIVERIES = "/admin/webhooks/webhook/", "/admin/webhooks/webhookdelivery/"


@pytest.mark.parametrize(
    ("url", "query"),
    [
        (WEBHOOKS, {}),
        (WEBHOOKS, {"q": "olivia"}),
        (WEBHOOKS, {"active__exact": "1"}),
        (DELIVERIES, {}),
        (DELIVERIES, {"q": "olivia"}),
        (DELIVERIES, {"status__exact": "failed"}),
        (DELIVERIES, {"event": "meeting.ended"}),
    ],
)
def test_the_lists_load_with_search_and_filters(
    admin_client: Client, webhook: Webhook, url: str, query: dict[str, str]
) -> None:
    logged(webhook, "meeting.ended")
    assert admin_client.get(url, query).status_code == 200


def test_a_webhooks_page_shows_its_latest_deliveries_first_and_not_its_secret(
    admin_client: Client, webhook: Webhook
) -> None:
    logged(webhook, "meeting.started")
    logged(webhook, "recording.ready", status=DeliveryStatus.SUCCEEDED)

    page = admin_client.get(f"/admin/webhooks/webhook/{webhook.pk}/change/").content.decode()

    inline = page[page.lower().index("latest 20 deliveries") :]
    assert inline.index("recording.ready") < inline.index("meeting.started")
    assert webhook.secret not in page
    log_link = f"{DELIVERIES}?webhook__id__exact={webhook.pk}"
    assert f'<a href="{log_link}">All 2 deliveries</a>' in page
    assert admin_client.get(log_link).status_code == 200


def test_the_delivery_log_shows_an_attempt(admin_client: Client, webhook: Webhook) -> None:
    delivery = logged(webhook, "meeting.ended")
    WebhookDelivery.objects.filter(pk=delivery.pk).update(last_error="HTTP 500: not a 2xx answer", response_status=500)
    page = admin_client.get(f"/admin/webhooks/webhookdelivery/{delivery.pk}/change/").content.decode()
    assert "HTTP 500: not a 2xx answer" in page


@pytest.mark.usefixtures("eager_celery", "fast_retries")
def test_redeliver_sends_the_selected_deliveries_again(
    admin_client: Client,
    webhook: Webhook,
    receiver: Receiver,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    failed = logged(webhook, "meeting.ended")
    pending = logged(webhook, "meeting.started", status=DeliveryStatus.PENDING)

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/webhooks/webhookdelivery/",
            {"action": "redeliver", "_selected_action": [failed.pk, pending.pk]},
            follow=True,
        )

    assert "1 delivery(ies) queued again" in response.content.decode()
    assert "still being attempted" in response.content.decode()
    [request] = receiver.wait_for(1)
    assert request.headers["conference-event"] == "meeting.ended"
    again = WebhookDelivery.objects.exclude(pk__in=[failed.pk, pending.pk]).get()
    assert (again.event_id, again.status) == (failed.event_id, DeliveryStatus.SUCCEEDED)


def test_an_admin_cannot_point_a_webhook_at_a_private_address(
    admin_client: Client, owner: User, settings: SettingsWrapper
) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False
    response = admin_client.post(
        "/admin/webhooks/webhook/add/",
        {
            "owner": owner.pk,
            "url": "http://169.254.169.254/latest/",
            "events": ["meeting.ended"],
            "active": "on",
            "deliveries-TOTAL_FORMS": "0",
            "deliveries-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert "loopback, private or link-local" in response.content.decode()
    assert not Webhook.objects.exists()


def test_an_admin_adds_a_webhook_with_a_generated_secret(admin_client: Client, owner: User) -> None:
    response = admin_client.post(
        "/admin/webhooks/webhook/add/",
        {
            "owner": owner.pk,
            "url": "https://93.184.215.14/hooks",
            "events": ["meeting.ended", "recording.ready"],
            "active": "on",
            "deliveries-TOTAL_FORMS": "0",
            "deliveries-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    webhook = Webhook.objects.get()
    assert webhook.events == ["meeting.ended", "recording.ready"]
    assert webhook.secret.startswith("whsec_")

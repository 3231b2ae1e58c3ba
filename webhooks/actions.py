"""Write paths for webhooks: check_* (validate), do_* (change data in a transaction), and the
notify step: deliveries are queued as Celery tasks after the commit, never before.

Refusals are ``ApiError`` values with stable codes (``invalid_url``, ``unsupported_scheme``,
``private_target``, ``no_events``, ``unknown_event``, ``too_many_webhooks``, ``webhook_inactive``,
``delivery_pending``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from conference.api import ApiError
from webhooks import access, targets
from webhooks.events import SUBSCRIBABLE, Event, envelope, ping_data
from webhooks.models import DeliveryStatus, Webhook, WebhookDelivery
from webhooks.signatures import new_secret
from webhooks.tasks import queue_delivery

MAX_WEBHOOKS_PER_OWNER = 20


@dataclass
class WebhookChanges:
    """Fields an owner may set. ``None`` means "leave as it is" (for updates)."""

    url: str | None = None
    description: str | None = None
    events: list[str] | None = None
    active: bool | None = None


def check_url(url: str) -> str:
    try:
        return targets.check_registration(url, allow_private=settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS)
    except targets.TargetRefused as exc:
        raise ApiError(exc.code, exc.message, field="url") from exc


def check_events(events: Iterable[str]) -> list[str]:
    chosen = list(dict.fromkeys(events))
    if not chosen:
        raise ApiError("no_events", "Subscribe to at least one event.", field="events")
    unknown = [name for name in chosen if name not in SUBSCRIBABLE]
    if unknown:
        raise ApiError(
            "unknown_event",
            f"Unknown event {', '.join(unknown)}; choose from {', '.join(SUBSCRIBABLE)}.",
            field="events",
        )
    return chosen


def _apply(webhook: Webhook, changes: WebhookChanges) -> None:
    if changes.url is not None:
        webhook.url = check_url(changes.url)
    if changes.events is not None:
        webhook.events = check_events(changes.events)
    if changes.description is not None:
        webhook.description = changes.description.strip()
    if changes.active is not None:
        webhook.active = changes.active


@transaction.atomic
def do_create_webhook(owner: User, changes: WebhookChanges) -> Webhook:
    """A new webhook with a fresh secret (the caller shows it to the owner once)."""
    User.objects.select_for_update().filter(pk=owner.pk).first()  # one creation at a time per owner
    if Webhook.objects.filter(owner=owner).count() >= MAX_WEBHOOKS_PER_OWNER:
        raise ApiError("too_many_webhooks", f"An account may have at most {MAX_WEBHOOKS_PER_OWNER} webhooks.")
    webhook = Webhook(owner=owner)
    _apply(webhook, changes)
    if not webhook.url:
        raise ApiError("required", "A webhook needs a URL.", field="url")
    webhook.events = check_events(webhook.events)
    webhook.save()
    return webhook


@transaction.atomic
def do_update_webhook(webhook: Webhook, changes: WebhookChanges) -> Webhook:
    _apply(webhook, changes)
    webhook.save()
    return webhook


def do_delete_webhook(webhook: Webhook) -> None:
    """The webhook and its delivery log go; a delivery in flight finds its row gone and stops."""
    webhook.delete()


def do_rotate_secret(webhook: Webhook) -> Webhook:
    """A new secret at once; the old one no longer signs anything (the caller shows the new one)."""
    webhook.secret = new_secret()
    webhook.save(update_fields=["secret", "updated_at"])
    return webhook


def _queue_on_commit(deliveries: list[WebhookDelivery]) -> None:
    for delivery in deliveries:
        transaction.on_commit(lambda delivery_id=delivery.pk: queue_delivery(delivery_id), robust=True)  # type: ignore[misc]


def _new_delivery(webhook: Webhook, event: str, event_id: uuid.UUID, payload: dict[str, Any]) -> WebhookDelivery:
    return WebhookDelivery.objects.create(
        webhook=webhook, event=event, event_id=event_id, payload=payload, next_attempt_at=timezone.now()
    )


def _event_delivery(webhook: Webhook, payload: dict[str, Any]) -> WebhookDelivery:
    """A delivery of a new event (``envelope``): its name and id come from the payload."""
    return _new_delivery(webhook, payload["type"], uuid.UUID(payload["id"]), payload)


def check_active(webhook: Webhook) -> None:
    if not webhook.active:
        raise ApiError("webhook_inactive", "This webhook is inactive; activate it first.", status_code=409)


@transaction.atomic
def do_ping(webhook: Webhook) -> WebhookDelivery:
    """Queues a ``ping`` event to this webhook only."""
    check_active(webhook)
    delivery = _event_delivery(webhook, envelope(Event.PING, ping_data(webhook.pk)))
    _queue_on_commit([delivery])
    return delivery


@transaction.atomic
def do_redeliver(delivery: WebhookDelivery) -> WebhookDelivery:
    """The same event (same id and payload) again, as a new delivery with fresh attempts."""
    webhook = delivery.webhook
    check_active(webhook)
    if delivery.status == DeliveryStatus.PENDING:
        raise ApiError("delivery_pending", "This delivery is still being attempted.", status_code=409)
    again = _new_delivery(webhook, delivery.event, delivery.event_id, delivery.payload)
    _queue_on_commit([again])
    return again


@transaction.atomic
def do_send_event(owner_id: int, event: Event, data: dict[str, Any]) -> list[WebhookDelivery]:
    """One event to each of the owner's active webhooks that subscribe to it (one event id)."""
    receiving = access.webhooks_receiving(owner_id, event)
    if not receiving:
        return []
    payload = envelope(event, data)
    deliveries = [_event_delivery(webhook, payload) for webhook in receiving]
    _queue_on_commit(deliveries)
    return deliveries

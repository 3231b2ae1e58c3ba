"""Who may see and manage webhooks, and who receives an event.

A webhook belongs to its owner alone; everyone else is told it does not exist (404).
"""

from __future__ import annotations

from typing import TypeVar

from django.db.models import Model, QuerySet
from django.http import Http404

from meetings.access import AnyUser
from webhooks.models import Webhook, WebhookDelivery

T = TypeVar("T", bound=Model)


def _as_id(value: int | str) -> int | None:
    text = str(value)
    return int(text) if text.isdigit() and len(text) < 19 else None


def webhooks_owned_by(user: AnyUser) -> QuerySet[Webhook]:
    if not user.is_authenticated:
        return Webhook.objects.none()
    return Webhook.objects.filter(owner_id=user.pk)


def _one(queryset: QuerySet[T], object_id: int | str, what: str) -> T:
    pk = _as_id(object_id)
    found = None if pk is None else queryset.filter(pk=pk).first()
    if found is None:
        raise Http404(f"No {what} with this id.")
    return found


def access_webhook_by_id(user: AnyUser, webhook_id: int | str) -> Webhook:
    return _one(webhooks_owned_by(user), webhook_id, "webhook")


def access_delivery_of_webhook(webhook: Webhook, delivery_id: int | str) -> WebhookDelivery:
    return _one(webhook.deliveries.all(), delivery_id, "delivery")


def webhooks_receiving(owner_id: int, event: str) -> list[Webhook]:
    """The owner's active webhooks that subscribe to ``event`` (the meeting's owner's, for
    meeting and recording events). Filtered here, not in SQL: JSON containment is not on SQLite."""
    active = Webhook.objects.filter(owner_id=owner_id, active=True).order_by("pk")
    return [webhook for webhook in active if event in webhook.events]

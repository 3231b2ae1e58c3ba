"""Celery tasks of webhooks: one attempt of one delivery (by id), and the sweep of lost ones."""

from __future__ import annotations

from celery import shared_task

from webhooks import delivery

DELIVER_TASK = "webhooks.deliver"


@shared_task(name=DELIVER_TASK, acks_late=True, ignore_result=True)
def deliver(delivery_id: int) -> str:
    """Attempts delivery ``delivery_id`` if it is due; a failure queues the next attempt after
    its backoff (the row says when, so an early or duplicate message does nothing)."""
    result = delivery.attempt(delivery_id)
    if result.retry_in is not None:
        deliver.apply_async((delivery_id,), countdown=result.retry_in)
    return result.status


def queue_delivery(delivery_id: int) -> None:
    deliver.delay(delivery_id)


@shared_task(name="webhooks.requeue_stale")
def requeue_stale() -> list[int]:
    """Pending deliveries whose time passed long ago (their message was lost) are queued again."""
    return delivery.requeue_stale(queue_delivery)

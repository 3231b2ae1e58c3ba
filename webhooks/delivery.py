"""Running one delivery attempt: claim → check the target → signed POST → record → when next.

The state lives in the ``WebhookDelivery`` row (attempts, ``next_attempt_at``, the last answer, the
attempt log); a Celery message only says "try delivery N now". An attempt first claims the row:
it must be pending and due, and the claim moves ``next_attempt_at`` past the attempt's longest
duration (a lease). A second message for the same delivery (a broker redelivery, the beat sweep
racing a countdown) finds it not due and does nothing; a worker that dies mid-attempt leaves a
lease that expires, and the sweep queues the delivery again.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from webhooks import targets, transport
from webhooks.events import utc_iso
from webhooks.models import DeliveryStatus, WebhookDelivery
from webhooks.signatures import SIGNATURE_HEADER, signature_header

logger = logging.getLogger(__name__)

USER_AGENT = "Conference-Webhooks/1.0"
EVENT_HEADER = "Conference-Event"
DELIVERY_HEADER = "Conference-Delivery"
# Kept under the Redis broker's visibility timeout (1 hour): a countdown longer than that makes
# the broker hand the waiting message out a second time.
MAX_BACKOFF_SECONDS = 30 * 60
EARLY_TOLERANCE = timedelta(seconds=5)  # clock differences between the machines running workers
LEASE_MARGIN = timedelta(seconds=30)
STALE_AFTER = timedelta(minutes=5)
RESPONSE_EXCERPT_CHARS = 500
ERROR_CHARS = 1000

Queue = Callable[[int], None]


def backoff_seconds(failed_attempts: int, base: float, jitter: Callable[[], float] = random.random) -> float:
    """How long to wait after the ``failed_attempts``-th failure: ``base * 2 ** (n - 1)``, capped at
    30 minutes, less up to 25 % at random (receivers that failed together are not retried together)."""
    delay = min(MAX_BACKOFF_SECONDS, base * 2 ** (failed_attempts - 1))
    return float(delay * (1 - 0.25 * jitter()))


def request_body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class Claim:
    delivery_id: int
    attempt: int
    url: str
    secret: str
    event: str
    body: bytes


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    excerpt: str
    error: str

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True)
class Result:
    status: str  # the delivery's status after the attempt, or "skipped" (not claimed)
    retry_in: float | None = None


def claim(delivery_id: int, now: datetime) -> Claim | None:
    """Takes the attempt if the delivery is pending and due (and its webhook active)."""
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(of=("self",))
            .select_related("webhook")
            .filter(pk=delivery_id, status=DeliveryStatus.PENDING)
            .first()
        )
        if delivery is None:
            return None
        if delivery.next_attempt_at is not None and delivery.next_attempt_at > now + EARLY_TOLERANCE:
            return None
        if not delivery.webhook.active:
            delivery.status = DeliveryStatus.FAILED
            delivery.last_error = "the webhook is inactive"
            delivery.next_attempt_at = None
            delivery.save(update_fields=["status", "last_error", "next_attempt_at"])
            return None
        delivery.attempts += 1
        lease = timedelta(seconds=settings.WEBHOOKS_TIMEOUT_SECONDS) * 3 + LEASE_MARGIN  # connect, write, read
        delivery.next_attempt_at = now + lease
        delivery.save(update_fields=["attempts", "next_attempt_at"])
        return Claim(
            delivery_id=delivery.pk,
            attempt=delivery.attempts,
            url=delivery.webhook.url,
            secret=delivery.webhook.secret,
            event=delivery.event,
            body=request_body(delivery.payload),
        )


def send(claimed: Claim, now: datetime) -> Outcome:
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        EVENT_HEADER: claimed.event,
        DELIVERY_HEADER: str(claimed.delivery_id),
        SIGNATURE_HEADER: signature_header(claimed.secret, int(now.timestamp()), claimed.body),
    }
    try:
        destination = targets.destination(claimed.url, allow_private=settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS)
        answer = transport.post(destination, claimed.body, headers, timeout=settings.WEBHOOKS_TIMEOUT_SECONDS)
    except targets.TargetRefused as exc:
        return Outcome(None, "", f"refused: {exc.message}")
    except transport.TransportError as exc:
        return Outcome(None, "", str(exc))
    if 200 <= answer.status_code < 300:
        error = ""
    elif 300 <= answer.status_code < 400:
        error = f"HTTP {answer.status_code}: redirects are not followed; use the final URL"
    else:
        error = f"HTTP {answer.status_code}: not a 2xx answer"
    return Outcome(answer.status_code, answer.excerpt, error)


def record(claimed: Claim, outcome: Outcome, started_at: datetime, finished_at: datetime) -> Result:
    """Writes the attempt's outcome; the delivery succeeds, fails for good, or waits for the next."""
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().filter(pk=claimed.delivery_id).first()
        if delivery is None:  # the webhook was deleted meanwhile
            return Result("gone")
        entry = {
            "attempt": claimed.attempt,
            "at": utc_iso(started_at),
            "status_code": outcome.status_code,
            "error": outcome.error[:ERROR_CHARS],
            "duration_ms": int((finished_at - started_at).total_seconds() * 1000),
        }
        delivery.attempt_log = [*delivery.attempt_log, entry]
        delivery.response_status = outcome.status_code
        delivery.response_body = outcome.excerpt[:RESPONSE_EXCERPT_CHARS]
        delivery.last_error = outcome.error[:ERROR_CHARS]
        retry_in = None
        if outcome.succeeded:
            delivery.status = DeliveryStatus.SUCCEEDED
            delivery.delivered_at = finished_at
            delivery.next_attempt_at = None
        elif delivery.attempts >= settings.WEBHOOKS_MAX_ATTEMPTS:
            delivery.status = DeliveryStatus.FAILED
            delivery.next_attempt_at = None
        else:
            retry_in = backoff_seconds(delivery.attempts, settings.WEBHOOKS_BACKOFF_SECONDS)
            delivery.next_attempt_at = finished_at + timedelta(seconds=retry_in)
        delivery.save()
    if not outcome.succeeded:
        logger.warning("webhook delivery %s attempt %s failed: %s", delivery.pk, claimed.attempt, outcome.error)
    return Result(delivery.status, retry_in)


def attempt(delivery_id: int) -> Result:
    started = timezone.now()
    claimed = claim(delivery_id, started)
    if claimed is None:
        return Result("skipped")
    clock = time.monotonic()
    outcome = send(claimed, started)
    finished = started + timedelta(seconds=time.monotonic() - clock)
    return record(claimed, outcome, started, finished)


def requeue_stale(queue: Queue, now: datetime | None = None) -> list[int]:
    """Pending deliveries due for more than ``STALE_AFTER`` (their message was lost: a broker
    restart, a worker killed mid-attempt) are queued again; their time is set to now, so the
    next sweep leaves them to this message."""
    now = now or timezone.now()
    with transaction.atomic():
        stale = WebhookDelivery.objects.select_for_update(skip_locked=True).filter(
            status=DeliveryStatus.PENDING, next_attempt_at__lt=now - STALE_AFTER
        )
        ids = list(stale.values_list("pk", flat=True)[:1000])
        WebhookDelivery.objects.filter(pk__in=ids).update(next_attempt_at=now)
        for delivery_id in ids:
            transaction.on_commit(lambda delivery_id=delivery_id: queue(delivery_id), robust=True)  # type: ignore[misc]
    return ids

"""The beat sweep ``webhooks.requeue_stale``: pending deliveries whose time passed long ago (their
message was lost) are queued again — once — and then delivered."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from pytest_django import DjangoCaptureOnCommitCallbacks

from accounts.models import User
from tests.webhooks.conftest import MakeWebhook
from tests.webhooks.receiver import Receiver
from webhooks import actions
from webhooks.delivery import STALE_AFTER, requeue_stale
from webhooks.events import Event
from webhooks.models import DeliveryStatus, WebhookDelivery
from webhooks.tasks import requeue_stale as requeue_stale_task

pytestmark = pytest.mark.django_db


def lost_delivery(owner: User, due: timedelta) -> WebhookDelivery:
    """A pending delivery whose message never arrived (on-commit callbacks do not run here)."""
    [delivery] = actions.do_send_event(owner.pk, Event.MEETING_STARTED, {"meeting": {"code": "abc-defg-hij"}})
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() - due)
    return delivery


def test_only_deliveries_overdue_for_long_are_queued_again_and_only_once(
    make_webhook: MakeWebhook, owner: User, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    make_webhook()
    stale = lost_delivery(owner, STALE_AFTER + timedelta(minutes=1))
    lost_delivery(owner, timedelta(seconds=30))  # late, but maybe just a busy queue
    done = lost_delivery(owner, timedelta(hours=1))
    WebhookDelivery.objects.filter(pk=done.pk).update(status=DeliveryStatus.FAILED)
    queued: list[int] = []

    with django_capture_on_commit_callbacks(execute=True):
        first = requeue_stale(queued.append)
    with django_capture_on_commit_callbacks(execute=True):
        second = requeue_stale(queued.append)  # its time is now: this sweep leaves it to that message

    assert (first, second, queued) == ([stale.pk], [], [stale.pk])
    stale.refresh_from_db()
    assert stale.next_attempt_at is not None
    assert timezone.now() - stale.next_attempt_at < timedelta(minutes=1)


@pytest.mark.usefixtures("eager_celery")
def test_the_beat_task_delivers_what_it_queues(
    make_webhook: MakeWebhook,
    owner: User,
    receiver: Receiver,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    make_webhook()
    stale = lost_delivery(owner, timedelta(hours=2))
    assert "requeue-stale-webhook-deliveries" in settings.CELERY_BEAT_SCHEDULE

    with django_capture_on_commit_callbacks(execute=True):
        assert requeue_stale_task.apply().get() == [stale.pk]

    [request] = receiver.wait_for(1)
    assert request.headers["conference-delivery"] == str(stale.pk)
    stale.refresh_from_db()
    assert (stale.status, stale.attempts) == (DeliveryStatus.SUCCEEDED, 1)

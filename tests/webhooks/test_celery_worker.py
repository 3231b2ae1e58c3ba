"""The production path end to end: the meeting is ended through the API, the signal's receiver
queues a delivery after the commit, a real Celery worker process (``celery -A conference worker``)
takes it from Redis and POSTs it to the real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from meetings.models import Meeting
from tests.celery_workers import celery_worker_process, wait_until
from tests.webhooks.conftest import MakeWebhook
from tests.webhooks.receiver import Receiver
from webhooks.models import DeliveryStatus, WebhookDelivery
from webhooks.signatures import verify_signature

pytestmark = pytest.mark.django_db(transaction=True)

QUEUE = "webhooks-worker-test"  # its own queue: no other test's messages, no other worker


@pytest.fixture
def worker(tmp_path: Path, private_targets: None) -> Iterator[subprocess.Popen[bytes]]:
    log = tmp_path / "celery-worker.log"
    with celery_worker_process(
        log, queue=QUEUE, DJANGO_SETTINGS_MODULE="tests.settings", WEBHOOKS_ALLOW_PRIVATE_TARGETS="true"
    ) as process:
        yield process
    print(f"--- Celery worker log ---\n{log.read_text(errors='replace')[-4000:]}")


def test_a_celery_worker_delivers_the_meeting_ended_event_to_a_real_receiver(
    owner_api: APIClient,
    meeting: Meeting,
    make_webhook: MakeWebhook,
    receiver: Receiver,
    worker: subprocess.Popen[bytes],
) -> None:
    webhook = make_webhook(events=["meeting.ended"])

    response = owner_api.post(f"/api/v1/meetings/{meeting.code}/end/")

    assert response.status_code == 200, response.content
    [request] = receiver.wait_for(1, timeout=60)
    assert verify_signature(webhook.secret, request.body, request.headers["conference-signature"])
    body = json.loads(request.body)
    assert (body["type"], body["data"]["meeting"]["code"]) == ("meeting.ended", meeting.code)
    delivery = WebhookDelivery.objects.get(webhook=webhook)
    assert request.headers["conference-delivery"] == str(delivery.pk)

    def succeeded() -> bool:
        delivery.refresh_from_db()
        return delivery.status == DeliveryStatus.SUCCEEDED

    wait_until(succeeded, 30, "the worker to record the delivery", worker)
    assert (delivery.attempts, delivery.response_status) == (1, 200)

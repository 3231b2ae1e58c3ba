"""A finished recording is handed to the web side as a Celery task sent by name over the real
broker (the worker imports nothing of the web tier): the message on Redis names the task
``recordings.compose`` and carries the recording id."""

from __future__ import annotations

import base64
import json

import pytest
import redis

from media_workers.recording.composition import COMPOSE_TASK, CompositionQueue
from tests.media_workers.control_helpers import redis_url

pytestmark = pytest.mark.asyncio

QUEUE = "celery"  # Celery's default queue: the web's worker consumes it


async def test_the_compose_task_is_sent_by_name_with_the_recording_id() -> None:
    client = redis.Redis.from_url(redis_url())
    try:
        client.delete(QUEUE)
        await CompositionQueue(redis_url()).send(31)
        raw = client.rpop(QUEUE)
    finally:
        client.close()
    assert raw is not None, "no message reached the broker"
    assert isinstance(raw, bytes)
    message = json.loads(raw)
    assert message["headers"]["task"] == COMPOSE_TASK == "recordings.compose"
    args, kwargs, _ = json.loads(base64.b64decode(message["body"]))
    assert (args, kwargs) == ([31], {})


async def test_a_broker_that_is_down_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    queue = CompositionQueue("redis://127.0.0.1:1/0", retries=0)  # nothing listens on port 1
    await queue.send(32)
    assert "could not queue its composition" in caplog.text

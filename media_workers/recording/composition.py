"""Hands a finished recording to the web side's composition: the Celery task
``recordings.compose`` sent by name over the broker (Redis), so the worker imports nothing of
the web tier. Sending is blocking I/O: it runs in a thread, never on the event loop."""

from __future__ import annotations

import asyncio
import logging

from celery import Celery

logger = logging.getLogger(__name__)

COMPOSE_TASK = "recordings.compose"


class CompositionQueue:
    def __init__(self, broker_url: str, *, retries: int = 3) -> None:
        self._app = Celery("media_workers", broker=broker_url, set_as_current=False)
        self._app.conf.broker_connection_retry_on_startup = retries > 0
        self._app.conf.broker_connection_timeout = 2.0  # the broker is the local Redis
        self._retry_policy = {"max_retries": retries, "interval_start": 0.2, "interval_step": 0.5}

    def send_now(self, recording_id: int) -> None:
        self._app.send_task(
            COMPOSE_TASK,
            args=[recording_id],
            retry=self._retry_policy["max_retries"] > 0,
            retry_policy=self._retry_policy,
        )

    async def send(self, recording_id: int) -> None:
        """Queues the composition; failures are logged (the web's sweep finds stuck recordings)."""
        try:
            await asyncio.to_thread(self.send_now, recording_id)
        except Exception:
            logger.exception("recording %s: could not queue its composition", recording_id)
        else:
            logger.info("recording %s: composition queued", recording_id)

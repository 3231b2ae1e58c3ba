"""Celery tasks of recordings. ``recordings.compose`` is sent by name (``send_task``) by the SFU
worker's recorder, which imports no Django: its only argument is the recording id."""

from __future__ import annotations

import logging

from celery import Task, shared_task
from django.conf import settings
from django.db import transaction

from meetings.recordings import actions, composition
from meetings.recordings.ffmpeg import FfmpegError

logger = logging.getLogger(__name__)

COMPOSE_TASK = "recordings.compose"
RETRY_BASE_SECONDS = 30


def retry_delay(retries: int) -> int:
    """Exponential backoff: 30 s, 60 s, 120 s, … capped at one hour."""
    return int(min(3600, RETRY_BASE_SECONDS * 2**retries))


@shared_task(name=COMPOSE_TASK, bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def compose(self: Task[[int], str], recording_id: int) -> str:
    """Composes recording ``recording_id`` (idempotent: every run starts over cleanly)."""
    try:
        return composition.compose_recording(recording_id)
    except (FfmpegError, OSError) as exc:
        attempts_left = settings.RECORDINGS_MAX_ATTEMPTS - 1 - self.request.retries
        if attempts_left <= 0:
            composition.mark_failed(recording_id, f"composition failed: {exc}")
            return "failed"
        logger.warning("recording %s: composition failed, retrying: %s", recording_id, exc)
        raise self.retry(exc=exc, countdown=retry_delay(self.request.retries)) from exc


def queue_composition(recording_id: int) -> None:
    compose.delay(recording_id)


def queue_composition_on_commit(recording_id: int) -> None:
    transaction.on_commit(lambda: queue_composition(recording_id))


@shared_task(name="recordings.delete_expired")
def delete_expired() -> int:
    """Retention: recordings older than ``RECORDING_RETENTION_DAYS`` go, files and rows."""
    return actions.do_delete_expired()


@shared_task(name="recordings.sweep_stuck")
def sweep_stuck() -> dict[str, list[int]]:
    """Recordings stuck in processing (old heartbeat) are queued again or failed."""
    queued, failed = actions.do_sweep_stuck(queue_composition)
    return {"queued": queued, "failed": failed}

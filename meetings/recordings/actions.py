"""Write paths for recordings: delete, queue a composition again, retention and the stuck sweep.

Files are removed and tasks are queued after the database commit, never before.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from meetings.models import Meeting
from meetings.recordings import storage
from meetings.recordings.models import Recording, RecordingStatus

Queue = Callable[[int], None]


def do_delete_recording(recording: Recording) -> None:
    names, recording_id = [recording.file_name, recording.thumbnail_name], recording.pk
    with transaction.atomic():
        recording.delete()
        transaction.on_commit(lambda: storage.delete_files(names, recording_id))


def do_requeue_composition(recording_ids: list[int], queue: Queue) -> int:
    """Puts recordings back to pending (a fresh run with fresh attempts) and queues them."""
    with transaction.atomic():
        count = (
            Recording.objects.filter(pk__in=recording_ids)
            .exclude(status=RecordingStatus.PROCESSING)
            .update(
                status=RecordingStatus.PENDING, progress=0, attempts=0, failure_reason="", updated_at=timezone.now()
            )
        )
        for recording_id in recording_ids:
            transaction.on_commit(lambda recording_id=recording_id: queue(recording_id))  # type: ignore[misc]
    return count


def do_delete_expired(now: datetime | None = None) -> int:
    """Deletes recordings (files and rows) older than ``RECORDING_RETENTION_DAYS`` (0: keep all)."""
    days = settings.RECORDING_RETENTION_DAYS
    if days <= 0:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    expired = Recording.objects.filter(
        started_at__lt=cutoff, status__in=[RecordingStatus.READY, RecordingStatus.FAILED]
    )
    count = 0
    for recording in expired.iterator():
        do_delete_recording(recording)
        count += 1
    return count


def do_sweep_stuck(queue: Queue, now: datetime | None = None) -> tuple[list[int], list[int]]:
    """Recordings whose composition stopped giving signs of life (processing with an old heartbeat,
    or ended and still pending): queued again, or failed once they used all their attempts.
    Returns (queued ids, failed ids)."""
    now = now or timezone.now()
    cutoff = now - timedelta(minutes=settings.RECORDINGS_STUCK_MINUTES)
    stale = Q(status=RecordingStatus.PROCESSING) & (Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True))
    never_started = Q(status=RecordingStatus.PENDING, ended_at__lt=cutoff) & (
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True)
    )
    queued: list[int] = []
    failed: list[int] = []
    with transaction.atomic():
        for recording in Recording.objects.select_for_update(skip_locked=True).filter(stale | never_started):
            if recording.attempts >= settings.RECORDINGS_MAX_ATTEMPTS:
                recording.status = RecordingStatus.FAILED
                recording.failure_reason = (
                    f"composition stopped responding after {recording.attempts} attempts; see the Celery worker's log"
                )
                failed.append(recording.pk)
            else:
                queued.append(recording.pk)
            # The sweep counts as a sign of life, so the next sweep leaves it to the new run.
            recording.heartbeat_at = now
            recording.save(update_fields=["status", "failure_reason", "heartbeat_at", "updated_at"])
        for recording_id in queued:
            transaction.on_commit(lambda recording_id=recording_id: queue(recording_id))  # type: ignore[misc]
    return queued, failed


# --- Recording in a meeting (started and stopped by a host in the room) -----------------------


def active_recording(meeting_id: int) -> Recording | None:
    """The meeting's recording that is capturing now (started, not ended)."""
    return Recording.objects.filter(
        meeting_id=meeting_id, ended_at__isnull=True, status=RecordingStatus.PENDING
    ).first()


@transaction.atomic
def do_begin_recording(meeting_id: int, user_id: int | None) -> Recording:
    """A new recording row for the meeting, unless one is capturing already (``already_recording``)."""
    Meeting.objects.select_for_update().filter(pk=meeting_id).first()  # one start at a time per meeting
    if active_recording(meeting_id) is not None:
        raise RecordingConflict("already_recording", "This meeting is already being recorded.")
    return Recording.objects.create(meeting_id=meeting_id, started_by_id=user_id, started_at=timezone.now())


def do_end_recording(recording_id: int) -> None:
    """The capture is over; composition takes it from here (queued by the worker)."""
    Recording.objects.filter(pk=recording_id, ended_at__isnull=True).update(
        ended_at=timezone.now(), updated_at=timezone.now()
    )


def end_active_recording(meeting_id: int) -> None:
    """The meeting ended or emptied while recording: the capture is over."""
    Recording.objects.filter(meeting_id=meeting_id, ended_at__isnull=True, status=RecordingStatus.PENDING).update(
        ended_at=timezone.now(), updated_at=timezone.now()
    )


def do_abandon_recording(recording_id: int, reason: str) -> None:
    """The worker could not start capturing: the row ends failed, with why."""
    now = timezone.now()
    Recording.objects.filter(pk=recording_id).update(
        status=RecordingStatus.FAILED, failure_reason=reason[:2000], ended_at=now, updated_at=now
    )


class RecordingConflict(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

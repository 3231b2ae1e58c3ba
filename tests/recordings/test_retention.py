"""Retention: recordings older than RECORDING_RETENTION_DAYS are deleted, files and rows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone
from pytest_django import DjangoCaptureOnCommitCallbacks
from pytest_django.fixtures import Settings as SettingsWrapper

from meetings.recordings.models import Recording, RecordingStatus
from meetings.recordings.tasks import compose, delete_expired

pytestmark = pytest.mark.django_db


def test_old_recordings_are_deleted_with_their_files_and_recent_ones_kept(
    spooled: Callable[[], Recording],
    settings: SettingsWrapper,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    settings.RECORDING_RETENTION_DAYS = 30
    old, recent = spooled(), spooled()
    compose.apply(args=(old.pk,)).get()
    Recording.objects.filter(pk=old.pk).update(started_at=timezone.now() - timedelta(days=31))
    Recording.objects.filter(pk=recent.pk).update(
        started_at=timezone.now() - timedelta(days=29), status=RecordingStatus.READY
    )
    old.refresh_from_db()
    video = Path(default_storage.path(old.file_name))
    assert video.exists()

    with django_capture_on_commit_callbacks(execute=True):
        assert delete_expired() == 1

    assert not Recording.objects.filter(pk=old.pk).exists()
    assert not video.exists()
    assert Recording.objects.filter(pk=recent.pk).exists()


def test_zero_days_keeps_everything(make_recording: Callable[..., Recording], settings: SettingsWrapper) -> None:
    settings.RECORDING_RETENTION_DAYS = 0
    make_recording(status=RecordingStatus.READY, started_at=timezone.now() - timedelta(days=3650))

    assert delete_expired() == 0
    assert Recording.objects.count() == 1


def test_a_recording_being_composed_is_not_deleted(
    make_recording: Callable[..., Recording], settings: SettingsWrapper
) -> None:
    settings.RECORDING_RETENTION_DAYS = 1
    make_recording(status=RecordingStatus.PROCESSING, started_at=timezone.now() - timedelta(days=3))

    assert delete_expired() == 0

"""Admin pages for recordings: list with filters and search, and the retry action."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client
from pytest_django import DjangoCaptureOnCommitCallbacks

from meetings.recordings.models import Recording, RecordingStatus
from tests.factories import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_() -> Client:
    client = Client()
    client.force_login(make_user(username="root", email="root@example.com", is_staff=True, is_superuser=True))
    return client


def test_the_admin_lists_filters_and_searches_recordings(
    admin_client_: Client, make_recording: Callable[..., Recording]
) -> None:
    recording = make_recording(status=RecordingStatus.FAILED, failure_reason="track file a.webm is missing")

    assert admin_client_.get("/admin/recordings/recording/?status__exact=failed").status_code == 200
    assert admin_client_.get("/admin/recordings/recording/?q=Weekly").status_code == 200
    page = admin_client_.get(f"/admin/recordings/recording/{recording.pk}/change/").content.decode()
    assert "track file a.webm is missing" in page


def test_retry_composition_queues_failed_recordings_again(
    admin_client_: Client,
    make_recording: Callable[..., Recording],
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
    eager_celery: None,
    spool: object,
) -> None:
    failed = make_recording(status=RecordingStatus.FAILED, failure_reason="boom", attempts=5)

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_.post(
            "/admin/recordings/recording/",
            {"action": "retry_composition", "_selected_action": [failed.pk]},
        )

    assert response.status_code == 302
    failed.refresh_from_db()
    # Queued and run at once (eager): no spool folder, so it fails again with the reason.
    assert failed.status == RecordingStatus.FAILED
    assert failed.attempts == 1
    assert failed.failure_reason == "the manifest manifest.json is missing"

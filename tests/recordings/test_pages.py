"""The recordings page, delete with confirmation, and the link from the dashboard."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client
from pytest_django import DjangoCaptureOnCommitCallbacks

from meetings.recordings.models import Recording, RecordingStatus
from meetings.recordings.tasks import compose

pytestmark = pytest.mark.django_db


def test_the_dashboard_links_to_the_recordings_page(owner_client: Client) -> None:
    assert 'href="/recordings/"' in owner_client.get("/dashboard/").content.decode()


def test_the_page_shows_a_ready_recording_with_player_download_and_delete(
    owner_client: Client, spooled: Callable[[], Recording]
) -> None:
    recording = spooled()
    compose.apply(args=(recording.pk,)).get()

    page = owner_client.get("/recordings/").content.decode()

    assert "Weekly sync" in page
    assert "<video controls" in page
    assert "/recordings/file/" in page
    assert 'aria-label="Download the recording of Weekly sync"' in page
    assert f'href="/recordings/{recording.pk}/delete"' in page


def test_the_page_shows_progress_of_a_recording_being_composed(
    member_client: Client, make_recording: Callable[..., Recording]
) -> None:
    make_recording(status=RecordingStatus.PROCESSING, progress=37)

    page = member_client.get("/recordings/").content.decode()

    assert '<progress max="100" value="37"' in page
    assert 'data-status="processing"' in page
    assert "js/recordings/progress.js" in page


def test_an_outsider_sees_no_recordings_and_cannot_delete(
    outsider_client: Client, make_recording: Callable[..., Recording]
) -> None:
    recording = make_recording()

    assert "Weekly sync" not in outsider_client.get("/recordings/").content.decode()
    assert outsider_client.get(f"/recordings/{recording.pk}/delete").status_code == 404
    assert outsider_client.post(f"/recordings/{recording.pk}/delete").status_code == 404
    assert Recording.objects.filter(pk=recording.pk).exists()


def test_deleting_asks_for_confirmation_first(
    owner_client: Client,
    make_recording: Callable[..., Recording],
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    recording = make_recording(status=RecordingStatus.FAILED, failure_reason="track file x is missing")

    confirm = owner_client.get(f"/recordings/{recording.pk}/delete")
    assert confirm.status_code == 200
    assert "Delete this recording?" in confirm.content.decode()
    assert Recording.objects.filter(pk=recording.pk).exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(f"/recordings/{recording.pk}/delete")
    assert response.status_code == 302
    assert not Recording.objects.filter(pk=recording.pk).exists()


def test_signed_out_visitors_are_sent_to_sign_in() -> None:
    response = Client().get("/recordings/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]

"""REST API /api/v1/recordings/: the meeting's owner and co-hosts list, retrieve (with fresh
signed links) and delete; a member who is not co-host and an outsider get 404."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.test import Client
from pytest_django import DjangoCaptureOnCommitCallbacks
from rest_framework.test import APIClient

from accounts.models import User
from meetings.models import Meeting
from meetings.recordings.models import Recording, RecordingStatus
from meetings.recordings.storage import spool_folder
from meetings.recordings.tasks import compose
from tests.conftest import api_client_for
from tests.factories import make_meeting, make_user

pytestmark = pytest.mark.django_db


def test_the_owner_lists_the_meetings_recordings(
    owner_api: APIClient, make_recording: Callable[..., Recording], meeting: Meeting
) -> None:
    first = make_recording(status=RecordingStatus.PROCESSING, progress=40)
    other_meeting = make_meeting(owner=meeting.owner, title="Other")
    make_recording(meeting=other_meeting)

    response = owner_api.get("/api/v1/recordings/", {"meeting": meeting.code})

    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [first.pk]
    row = response.json()["results"][0]
    assert row["meeting"] == meeting.code
    assert row["meeting_title"] == "Weekly sync"
    assert row["status"] == "processing"
    assert row["progress"] == 40
    assert row["play_url"] is None
    assert row["download_url"] is None


def test_a_co_host_sees_the_recordings_too(member_api: APIClient, make_recording: Callable[..., Recording]) -> None:
    recording = make_recording()

    assert member_api.get(f"/api/v1/recordings/{recording.pk}/").status_code == 200


def test_retrieving_a_ready_recording_gives_fresh_signed_links_that_work(
    owner_api: APIClient, spooled: Callable[[], Recording]
) -> None:
    recording = spooled()
    compose.apply(args=(recording.pk,)).get()

    data = owner_api.get(f"/api/v1/recordings/{recording.pk}/").json()

    assert data["status"] == "ready"
    assert data["duration_seconds"] == pytest.approx(7.0, abs=1.0)
    assert data["download_url"].startswith("http://testserver/recordings/file/")
    response = Client().get(data["play_url"].removeprefix("http://testserver"), HTTP_RANGE="bytes=0-9")
    assert response.status_code == 206


def test_an_outsider_and_a_member_who_is_not_co_host_get_404(
    outsider_api: APIClient, make_recording: Callable[..., Recording], meeting: Meeting
) -> None:
    recording = make_recording()
    attendee = make_user(username="ada", email="ada@example.com")  # in the meeting, not a co-host
    attendee_api = api_client_for(attendee)

    for client in (outsider_api, attendee_api):
        assert client.get(f"/api/v1/recordings/{recording.pk}/").status_code == 404
        assert client.get("/api/v1/recordings/", {"meeting": meeting.code}).json()["results"] == []
        response = client.delete(f"/api/v1/recordings/{recording.pk}/")
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
    assert Recording.objects.filter(pk=recording.pk).exists()


def test_anonymous_requests_are_refused(anon_api: APIClient) -> None:
    assert anon_api.get("/api/v1/recordings/").status_code == 401


def test_the_owner_deletes_a_recording_and_its_files_after_commit(
    owner_api: APIClient,
    spooled: Callable[[], Recording],
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    recording = spooled()
    compose.apply(args=(recording.pk,)).get()
    recording.refresh_from_db()
    video = Path(default_storage.path(recording.file_name))

    with django_capture_on_commit_callbacks(execute=True):
        response = owner_api.delete(f"/api/v1/recordings/{recording.pk}/")

    assert response.status_code == 204
    assert not Recording.objects.filter(pk=recording.pk).exists()
    assert not video.exists()
    assert not spool_folder(recording.pk).exists()


def test_the_recordings_endpoints_are_in_the_openapi_schema(owner: User) -> None:
    schema = Client().get("/api/schema/", HTTP_ACCEPT="application/json").json()

    assert "/api/v1/recordings/" in schema["paths"]
    assert set(schema["paths"]["/api/v1/recordings/{id}/"]) >= {"get", "delete"}
    assert "meeting" in {p["name"] for p in schema["paths"]["/api/v1/recordings/"]["get"]["parameters"]}

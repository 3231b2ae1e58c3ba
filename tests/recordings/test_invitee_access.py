"""Invitees of a scheduled meeting watch and download its recordings when the meeting shares
them (``recordings_for_invitees``), and only then; they never delete them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import User
from meetings.models import Meeting, MeetingStatus
from meetings.recordings.links import LinkKind, signed_url
from meetings.recordings.models import Recording, RecordingStatus
from scheduling.models import Invitation, PartStat, ScheduledMeeting
from tests.conftest import api_client_for, logged_in
from tests.factories import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def invitee(meeting: Meeting, owner: User) -> User:
    user = make_user(username="ines", email="ines@example.com")
    series = ScheduledMeeting.objects.create(
        organizer=owner,
        meeting=meeting,
        title=meeting.title,
        time_zone="Europe/Paris",
        start=datetime(2026, 11, 27, 9, 0, tzinfo=UTC),
    )
    Invitation.objects.create(series=series, email=user.email, user=user, partstat=PartStat.DECLINED)
    return user


@pytest.fixture
def ready_recording(make_recording: Callable[..., Recording]) -> Recording:
    return make_recording(
        status=RecordingStatus.READY, file_name="recordings/x/recording.mp4", duration_ms=7000, size_bytes=10
    )


def share(meeting: Meeting, shared: bool) -> None:
    meeting.recordings_for_invitees = shared
    meeting.save(update_fields=["recordings_for_invitees"])


def listed_ids(user: User) -> list[int]:
    response = api_client_for(user).get("/api/v1/recordings/")
    assert response.status_code == 200
    return [row["id"] for row in response.json()["results"]]


def test_an_invitee_sees_nothing_while_the_meeting_does_not_share_recordings(
    invitee: User, ready_recording: Recording
) -> None:
    assert listed_ids(invitee) == []
    assert api_client_for(invitee).get(f"/api/v1/recordings/{ready_recording.pk}/").status_code == 404
    link = Client().get(signed_url(ready_recording.pk, LinkKind.PLAY, invitee.pk))
    assert link.status_code == 404
    assert logged_in(invitee).get(reverse("recordings")).context["rows"] == []


def test_an_invitee_lists_and_opens_shared_recordings_but_cannot_delete_them(
    meeting: Meeting, invitee: User, ready_recording: Recording
) -> None:
    share(meeting, True)

    assert listed_ids(invitee) == [ready_recording.pk]
    detail = api_client_for(invitee).get(f"/api/v1/recordings/{ready_recording.pk}/").json()
    assert detail["can_delete"] is False
    assert detail["play_url"]
    assert detail["download_url"]

    refused = api_client_for(invitee).delete(f"/api/v1/recordings/{ready_recording.pk}/")
    assert refused.status_code == 403
    assert refused.json()["code"] == "not_host"
    assert logged_in(invitee).post(reverse("delete_recording", args=[ready_recording.pk])).status_code == 404
    assert Recording.objects.filter(pk=ready_recording.pk).exists()


def test_the_page_offers_delete_to_hosts_only(
    meeting: Meeting, invitee: User, member: User, ready_recording: Recording
) -> None:
    share(meeting, True)
    delete_url = reverse("delete_recording", args=[ready_recording.pk])

    assert delete_url not in logged_in(invitee).get(reverse("recordings")).content.decode()
    assert delete_url in logged_in(member).get(reverse("recordings")).content.decode()
    assert api_client_for(member).get(f"/api/v1/recordings/{ready_recording.pk}/").json()["can_delete"] is True


def test_outsiders_and_invitees_of_other_meetings_still_see_nothing(
    meeting: Meeting, invitee: User, outsider: User, ready_recording: Recording, owner: User
) -> None:
    share(meeting, True)
    other = Meeting.objects.create(owner=owner, title="Other", recordings_for_invitees=True)
    Recording.objects.create(meeting=other, started_at=datetime(2026, 11, 27, tzinfo=UTC))

    assert listed_ids(outsider) == []
    assert listed_ids(invitee) == [ready_recording.pk]
    assert Client().get(signed_url(ready_recording.pk, LinkKind.PLAY, outsider.pk)).status_code == 404


def test_a_link_stops_working_when_the_invitation_is_withdrawn(
    meeting: Meeting, invitee: User, ready_recording: Recording
) -> None:
    share(meeting, True)
    url = signed_url(ready_recording.pk, LinkKind.DOWNLOAD, invitee.pk)
    Invitation.objects.filter(user=invitee).delete()

    assert Client().get(url).status_code == 404


def test_a_link_stops_working_when_the_host_stops_sharing(
    meeting: Meeting, invitee: User, ready_recording: Recording
) -> None:
    share(meeting, True)
    url = signed_url(ready_recording.pk, LinkKind.PLAY, invitee.pk)
    share(meeting, False)

    assert Client().get(url).status_code == 404


def test_the_owner_turns_sharing_on_over_rest_even_after_the_meeting_ended(
    meeting: Meeting, owner_api: APIClient, member_api: APIClient, outsider_api: APIClient
) -> None:
    meeting.status = MeetingStatus.ENDED
    meeting.save(update_fields=["status"])
    url = f"/api/v1/meetings/{meeting.code}/"

    assert outsider_api.patch(url, {"recordings_for_invitees": True}, format="json").status_code == 404
    changed = owner_api.patch(url, {"recordings_for_invitees": True}, format="json")
    assert changed.status_code == 200
    assert changed.json()["recordings_for_invitees"] is True
    meeting.refresh_from_db()
    assert meeting.recordings_for_invitees is True

    other_change = owner_api.patch(url, {"title": "Renamed"}, format="json")
    assert other_change.status_code == 409
    assert other_change.json()["code"] == "meeting_ended"


def test_the_settings_page_turns_sharing_on(meeting: Meeting, owner: User) -> None:
    response = logged_in(owner).post(
        reverse("meeting_settings", args=[meeting.code]),
        {
            "title": meeting.title,
            "max_participants": 10,
            "recordings_for_invitees": "on",
            "co_hosts": "marco@example.com",
        },
    )

    assert response.status_code == 302
    meeting.refresh_from_db()
    assert meeting.recordings_for_invitees is True
    form = logged_in(owner).get(reverse("meeting_settings", args=[meeting.code])).context["form"]
    assert form.initial["recordings_for_invitees"] is True

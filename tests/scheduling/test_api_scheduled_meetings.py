"""/api/v1/scheduled-meetings/: schedule, read, change and cancel a series; bad input refused."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.core import mail
from rest_framework.test import APIClient

from accounts.models import User
from meetings.models import MeetingStatus
from scheduling.models import Invitation, ScheduledMeeting, SeriesStatus
from tests.conftest import api_client_for

pytestmark = pytest.mark.django_db

URL = "/api/v1/scheduled-meetings/"

WEEKLY = {
    "title": "Team sync",
    "description": "Agenda in the doc.",
    "time_zone": "Europe/Berlin",
    "start": "2027-03-01T09:00:00",
    "duration_minutes": 45,
    "recurrence": {"frequency": "weekly", "weekdays": ["MO", "WE"], "count": 6},
    "invitees": [{"email": "ivy@example.com"}, {"email": "Guest@Partner.example", "name": "Gus"}],
}


def create(client: APIClient, **overrides: Any) -> Any:
    return client.post(URL, {**WEEKLY, **overrides}, format="json")


def field_error(response: Any, field: str) -> str:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid"
    return str(body["fields"][field][0]["code"])


def test_an_organizer_schedules_a_weekly_meeting_and_invites_people(owner_api: APIClient, invitee: User) -> None:
    response = create(owner_api)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["title"] == "Team sync"
    assert body["start"] == "2027-03-01T09:00:00+01:00"
    assert body["end"] == "2027-03-01T09:45:00+01:00"
    assert body["rrule"] == "FREQ=WEEKLY;WKST=MO;BYDAY=MO,WE;COUNT=6"
    assert body["summary"] == "Every week on Mon, Wed, 6 times"
    assert body["sequence"] == 0
    assert body["join_url"].endswith(f"/m/{body['meeting_code']}")
    assert {(a["email"], a["response"], a["is_user"]) for a in body["attendees"]} == {
        ("ivy@example.com", "NEEDS-ACTION", True),
        ("guest@partner.example", "NEEDS-ACTION", False),
    }
    series = ScheduledMeeting.objects.get(pk=body["id"])
    assert series.meeting.allow_guests is True
    assert Invitation.objects.get(email="ivy@example.com").user == invitee
    assert sorted(message.to[0] for message in mail.outbox) == ["guest@partner.example", "ivy@example.com"]


def test_an_aware_start_is_an_instant_shown_in_the_meetings_time_zone(owner_api: APIClient) -> None:
    response = create(owner_api, start="2027-03-01T08:00:00Z", recurrence={"frequency": "none"}, invitees=[])
    assert response.json()["start"] == "2027-03-01T09:00:00+01:00"


def test_the_time_zone_defaults_to_the_organizers(owner_api: APIClient, berlin_owner: User) -> None:
    payload = {key: value for key, value in WEEKLY.items() if key != "time_zone"}
    response = owner_api.post(URL, payload, format="json")
    assert response.json()["time_zone"] == "Europe/Berlin"


def test_an_rrule_can_be_given_instead(owner_api: APIClient) -> None:
    payload = {**WEEKLY, "start": "2027-03-29T09:00:00", "rrule": "FREQ=MONTHLY;BYDAY=-1MO;UNTIL=20270628T070000Z"}
    del payload["recurrence"]
    response = owner_api.post(URL, payload, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["recurrence"]["monthly_by"] == "last_weekday"
    assert body["recurrence"]["until"] == "2027-06-28"
    assert body["summary"] == "Every month on the last Monday, until Jun 28, 2027"


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"time_zone": "Mars/Olympus"}, "time_zone", "unknown_time_zone"),
        ({"end": "2027-03-01T08:00:00"}, "end", "end_before_start"),
        ({"duration_minutes": 0}, "duration_minutes", "out_of_range"),
        ({"duration_minutes": 2000}, "duration_minutes", "out_of_range"),
        ({"start": "2027-03-28T02:30:00"}, "start", "nonexistent_time"),
        ({"start": "yesterday"}, "start", "invalid"),
        ({"recurrence": {"frequency": "weekly", "count": 100000}}, "recurrence.count", "too_many_occurrences"),
        ({"recurrence": {"frequency": "daily", "until": "2040-01-01"}}, "recurrence.until", "too_many_occurrences"),
        ({"recurrence": {"frequency": "daily", "until": "2027-02-01"}}, "recurrence.until", "until_before_start"),
        ({"recurrence": {"frequency": "weekly", "weekdays": ["TU"]}}, "start", "start_not_in_rule"),
        ({"recurrence": {"frequency": "weekly", "weekdays": ["XX"]}}, "recurrence.weekdays.0", "invalid_choice"),
        ({"recurrence": {"frequency": "hourly"}}, "recurrence.frequency", "invalid_choice"),
        ({"recurrence": {"frequency": "daily", "interval": 0}}, "recurrence.interval", "out_of_range"),
        (
            {"recurrence": {"frequency": "daily", "count": 3, "until": "2027-04-01"}},
            "recurrence.count",
            "count_and_until",
        ),
        (
            {"recurrence": {"frequency": "daily", "excluded_dates": ["2027-03-01T10:00:00"]}},
            "recurrence.excluded_dates.0",
            "invalid",
        ),
        (
            {"recurrence": {"frequency": "weekly", "excluded_dates": ["2027-03-02"]}},
            "recurrence.excluded_dates",
            "not_an_occurrence",
        ),
        ({"recurrence": {"frequency": "none", "count": 3}}, "recurrence.frequency", "not_recurring"),
        ({"recurrence": None, "rrule": "FREQ=YEARLY"}, "rrule", "unsupported_rrule"),
        ({"recurrence": None, "rrule": "FREQ=WEEKLY;BYSETPOS=1"}, "rrule", "unsupported_rrule"),
        ({"recurrence": None, "rrule": "garbage"}, "rrule", "invalid_rrule"),
        ({"recurrence": None, "rrule": "FREQ=DAILY;COUNT=5000"}, "rrule", "too_many_occurrences"),
        ({"rrule": "FREQ=DAILY"}, "rrule", "rrule_and_recurrence"),
        ({"title": "  "}, "title", "blank"),
        ({"invitees": [{"email": "not-an-email"}]}, "invitees.0.email", "invalid"),
    ],
)
def test_bad_input_is_refused_with_the_field_and_a_stable_code_and_nothing_changes(
    owner_api: APIClient, overrides: dict[str, Any], field: str, code: str
) -> None:
    payload = {**WEEKLY, **overrides}
    payload = {key: value for key, value in payload.items() if value is not None}
    response = owner_api.post(URL, payload, format="json")
    assert field_error(response, field) == code, response.json()
    assert not ScheduledMeeting.objects.exists()
    assert mail.outbox == []


def test_the_list_shows_only_the_organizers_own(owner_api: APIClient, outsider_api: APIClient) -> None:
    create(owner_api)
    assert [item["title"] for item in owner_api.get(URL).json()["results"]] == ["Team sync"]
    assert outsider_api.get(URL).json()["results"] == []


def test_someone_elses_series_is_missing_even_for_an_invitee(
    owner_api: APIClient, outsider_api: APIClient, invitee: User
) -> None:
    series_id = create(owner_api).json()["id"]
    invitee_api = api_client_for(invitee)
    for client in (outsider_api, invitee_api):
        assert client.get(f"{URL}{series_id}/").status_code == 404
        assert client.patch(f"{URL}{series_id}/", {"title": "Mine"}, format="json").status_code == 404
        assert client.delete(f"{URL}{series_id}/").status_code == 404
        assert client.get(f"{URL}{series_id}/occurrences/").status_code == 404
    assert ScheduledMeeting.objects.get().title == "Team sync"


def test_anonymous_callers_are_refused(anon_api: APIClient, owner_api: APIClient) -> None:
    series_id = create(owner_api).json()["id"]
    assert anon_api.get(URL).status_code == 401
    assert anon_api.post(URL, WEEKLY, format="json").status_code == 401
    assert anon_api.get(f"{URL}{series_id}/").status_code == 401


def test_an_update_raises_the_sequence_and_sends_new_requests(owner_api: APIClient) -> None:
    series_id = create(owner_api).json()["id"]
    mail.outbox.clear()
    response = owner_api.patch(f"{URL}{series_id}/", {"start": "2027-03-01T10:00:00", "title": "Sync"}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["sequence"], body["start"], body["title"]) == (1, "2027-03-01T10:00:00+01:00", "Sync")
    assert len(mail.outbox) == 2
    assert all(message.subject.startswith("Updated invitation: Sync") for message in mail.outbox)
    assert ScheduledMeeting.objects.get().meeting.title == "Sync"


def test_an_update_that_changes_nothing_sends_nothing(owner_api: APIClient) -> None:
    series_id = create(owner_api).json()["id"]
    mail.outbox.clear()
    response = owner_api.patch(f"{URL}{series_id}/", {"title": "Team sync"}, format="json")
    assert response.json()["sequence"] == 0
    assert mail.outbox == []


def test_a_bad_update_changes_nothing(owner_api: APIClient) -> None:
    series_id = create(owner_api).json()["id"]
    mail.outbox.clear()
    response = owner_api.patch(f"{URL}{series_id}/", {"time_zone": "Nowhere/Town", "title": "X"}, format="json")
    assert field_error(response, "time_zone") == "unknown_time_zone"
    series = ScheduledMeeting.objects.get()
    assert (series.title, series.sequence, series.time_zone) == ("Team sync", 0, "Europe/Berlin")
    assert mail.outbox == []


def test_cancelling_sends_cancellations_and_ends_the_meeting(owner_api: APIClient) -> None:
    series_id = create(owner_api).json()["id"]
    mail.outbox.clear()
    assert owner_api.delete(f"{URL}{series_id}/").status_code == 204
    series = ScheduledMeeting.objects.get()
    assert (series.status, series.sequence) == (SeriesStatus.CANCELLED, 1)
    assert series.meeting.status == MeetingStatus.ENDED
    assert len(mail.outbox) == 2
    assert all(message.subject.startswith("Cancelled: Team sync") for message in mail.outbox)
    # Cancelling again changes nothing; a cancelled series cannot be edited.
    assert owner_api.delete(f"{URL}{series_id}/").status_code == 204
    assert len(mail.outbox) == 2
    response = owner_api.patch(f"{URL}{series_id}/", {"title": "Again"}, format="json")
    assert (response.status_code, response.json()["code"]) == (409, "meeting_cancelled")


def test_next_occurrence_is_reported(owner_api: APIClient) -> None:
    body = create(owner_api, start="2030-01-07T09:00:00", recurrence={"frequency": "weekly"}).json()
    assert body["next_occurrence"]["start"] == "2030-01-07T09:00:00+01:00"
    assert body["next_occurrence"]["id"] == datetime(2030, 1, 7, 8, tzinfo=UTC).strftime("%Y%m%dT%H%M%SZ")


def test_deleting_the_meeting_cancels_its_schedule_for_the_invitees(owner_api: APIClient) -> None:
    body = create(owner_api).json()
    mail.outbox.clear()
    assert owner_api.delete(f"/api/v1/meetings/{body['meeting_code']}/").status_code == 204
    assert not ScheduledMeeting.objects.exists()
    assert sorted(message.to[0] for message in mail.outbox) == ["guest@partner.example", "ivy@example.com"]
    assert all(message.subject.startswith("Cancelled: Team sync") for message in mail.outbox)
    assert all(b"METHOD:CANCEL" in message.attachments[0][1] for message in mail.outbox)

"""Occurrences over the API: a series expanded over a date range, one occurrence edited or
cancelled, and the agenda across every meeting of the user."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from rest_framework.test import APIClient

from accounts.models import User
from scheduling.models import OccurrenceChange, ScheduledMeeting
from tests.conftest import api_client_for

pytestmark = pytest.mark.django_db


def url(series: ScheduledMeeting, suffix: str = "") -> str:
    return f"/api/v1/scheduled-meetings/{series.pk}/occurrences/{suffix}"


def starts(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["start"] for item in response.json()]


def test_a_series_is_expanded_over_a_range_across_the_dst_change(
    owner_api: APIClient, weekly: ScheduledMeeting
) -> None:
    response = owner_api.get(url(weekly), {"start": "2027-03-15", "end": "2027-04-13"})
    assert starts(response) == [
        "2027-03-15T09:00:00+01:00",
        "2027-03-22T09:00:00+01:00",
        "2027-03-29T09:00:00+02:00",
        "2027-04-05T09:00:00+02:00",
        "2027-04-12T09:00:00+02:00",
    ]
    first = response.json()[0]
    assert first == {
        "id": "20270315T080000Z",
        "series": weekly.pk,
        "title": "Planning",
        "start": "2027-03-15T09:00:00+01:00",
        "end": "2027-03-15T10:00:00+01:00",
        "changed": False,
    }


@pytest.mark.parametrize(
    ("params", "field", "code"),
    [
        ({"start": "soon"}, "start", "invalid"),
        ({"start": "2027-03-01", "end": "2027-02-01"}, "end", "end_before_start"),
        ({"start": "2027-03-01", "end": "2029-03-01"}, "end", "range_too_long"),
    ],
)
def test_bad_ranges_are_refused(
    owner_api: APIClient, weekly: ScheduledMeeting, params: dict[str, str], field: str, code: str
) -> None:
    response = owner_api.get(url(weekly), params)
    assert response.status_code == 400
    assert response.json()["fields"][field][0]["code"] == code


def test_one_occurrence_is_moved_and_invitees_are_told(owner_api: APIClient, weekly: ScheduledMeeting) -> None:
    response = owner_api.patch(
        url(weekly, "20270315T080000Z/"), {"start": "2027-03-16T14:00:00", "title": "Moved"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json() == {
        "id": "20270315T080000Z",
        "series": weekly.pk,
        "title": "Moved",
        "start": "2027-03-16T14:00:00+01:00",
        "end": "2027-03-16T15:00:00+01:00",
        "changed": True,
    }
    assert len(mail.outbox) == 2
    assert starts(owner_api.get(url(weekly), {"start": "2027-03-14", "end": "2027-03-23"})) == [
        "2027-03-16T14:00:00+01:00",
        "2027-03-22T09:00:00+01:00",
    ]
    weekly.refresh_from_db()
    assert weekly.sequence == 1


def test_one_occurrence_is_cancelled(owner_api: APIClient, weekly: ScheduledMeeting) -> None:
    assert owner_api.delete(url(weekly, "20270322T080000Z/")).status_code == 204
    assert starts(owner_api.get(url(weekly), {"start": "2027-03-14", "end": "2027-03-30"})) == [
        "2027-03-15T09:00:00+01:00",
        "2027-03-29T09:00:00+02:00",
    ]
    weekly.refresh_from_db()
    assert weekly.excluded_dates == ["2027-03-22"]
    assert [message.subject.split(":")[0] for message in mail.outbox] == ["Cancelled", "Cancelled"]
    # Gone is gone: it cannot be cancelled or edited again.
    response = owner_api.delete(url(weekly, "20270322T080000Z/"))
    assert (response.status_code, response.json()["fields"]["recurrence_id"][0]["code"]) == (400, "unknown_occurrence")


@pytest.mark.parametrize(
    ("payload", "field", "code"),
    [
        ({"end": "2027-03-15T08:00:00"}, "end", "end_before_start"),
        ({"duration_minutes": 5000}, "duration_minutes", "out_of_range"),
        ({"start": "2027-03-28T02:15:00"}, "start", "nonexistent_time"),
        ({"start": "not a time"}, "start", "invalid"),
    ],
)
def test_bad_occurrence_changes_are_refused_and_change_nothing(
    owner_api: APIClient, weekly: ScheduledMeeting, payload: dict[str, Any], field: str, code: str
) -> None:
    response = owner_api.patch(url(weekly, "20270315T080000Z/"), payload, format="json")
    assert response.status_code == 400
    assert response.json()["fields"][field][0]["code"] == code
    assert not OccurrenceChange.objects.exists()
    assert mail.outbox == []


def test_an_occurrence_that_does_not_exist_is_refused(owner_api: APIClient, weekly: ScheduledMeeting) -> None:
    assert owner_api.patch(url(weekly, "20270316T080000Z/"), {"title": "x"}, format="json").status_code == 400
    assert owner_api.patch(url(weekly, "garbage/"), {"title": "x"}, format="json").status_code == 404


def test_others_cannot_touch_occurrences(
    outsider_api: APIClient, anon_api: APIClient, invitee: User, weekly: ScheduledMeeting
) -> None:
    for client, expected in ((outsider_api, 404), (api_client_for(invitee), 404), (anon_api, 401)):
        assert client.get(url(weekly)).status_code == expected
        assert client.patch(url(weekly, "20270315T080000Z/"), {"title": "x"}, format="json").status_code == expected
        assert client.delete(url(weekly, "20270315T080000Z/")).status_code == expected
    assert not OccurrenceChange.objects.exists()


def test_the_agenda_covers_hosted_and_invited_meetings(
    owner_api: APIClient, outsider_api: APIClient, anon_api: APIClient, invitee: User, weekly: ScheduledMeeting
) -> None:
    invitee_api = api_client_for(invitee)
    response = invitee_api.get("/api/v1/occurrences/", {"start": "2027-03-01", "end": "2027-03-16"})
    assert response.status_code == 200
    items = response.json()
    assert [(item["occurrence"]["start"], item["role"], item["response"]) for item in items] == [
        ("2027-03-01T09:00:00+01:00", "invitee", "NEEDS-ACTION"),
        ("2027-03-08T09:00:00+01:00", "invitee", "NEEDS-ACTION"),
        ("2027-03-15T09:00:00+01:00", "invitee", "NEEDS-ACTION"),
    ]
    assert items[0]["time_zone"] == "Europe/Berlin"
    assert items[0]["join_url"].startswith("https://testserver/m/")
    organizer_items = owner_api.get("/api/v1/occurrences/", {"start": "2027-03-01", "end": "2027-03-16"}).json()
    assert {item["role"] for item in organizer_items} == {"organizer"}
    assert outsider_api.get("/api/v1/occurrences/", {"start": "2027-03-01", "end": "2027-03-16"}).json() == []
    assert anon_api.get("/api/v1/occurrences/").status_code == 401

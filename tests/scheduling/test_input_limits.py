"""Limits on what a schedule may say: durations, the window of start times (and of "until"),
and titles without control characters (they go into email subjects). Every bad value is a 400
naming its field that changes nothing; a good value right next to each limit still works."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from django.test import Client
from rest_framework.test import APIClient

from scheduling.models import OccurrenceChange, ScheduledMeeting
from tests.scheduling.test_api_scheduled_meetings import URL, WEEKLY, create, field_error
from tests.scheduling.test_pages import FORM

pytestmark = pytest.mark.django_db

ONCE = {**WEEKLY, "recurrence": {"frequency": "none"}}

CONTROL_TITLES = [
    "Team sync\r\nBcc: everyone@example.com",
    "Team\nsync",
    "Team\rsync",
    "Team\tsync",
    "Team\x00sync",
    "Team\x1bsync",
    "Team\x7fsync",
    "Team\x85sync",
    "Team\u2028sync",
]


def create_once(client: APIClient, **overrides: Any) -> Any:
    return client.post(URL, {**ONCE, **overrides}, format="json")


# --- Duration -------------------------------------------------------------------------------


@pytest.mark.parametrize("minutes", [-99999999999999999999, 99999999999999999999, -1, 0, 1441, 2**63])
def test_a_duration_out_of_bounds_is_refused_on_its_field(owner_api: APIClient, minutes: int) -> None:
    response = create(owner_api, duration_minutes=minutes)
    assert field_error(response, "duration_minutes") == "out_of_range"
    assert "24 hours" in response.json()["fields"]["duration_minutes"][0]["message"]
    assert not ScheduledMeeting.objects.exists()
    assert mail.outbox == []


@pytest.mark.parametrize("minutes", [1, 1440])
def test_the_shortest_and_longest_durations_are_accepted(owner_api: APIClient, minutes: int) -> None:
    response = create(owner_api, duration_minutes=minutes)
    assert response.status_code == 201, response.content
    assert response.json()["duration_minutes"] == minutes
    assert ScheduledMeeting.objects.get().duration.total_seconds() == minutes * 60


def test_a_huge_duration_does_not_change_a_series_or_an_occurrence(
    owner_api: APIClient, weekly: ScheduledMeeting
) -> None:
    huge = -99999999999999999999
    response = owner_api.patch(f"{URL}{weekly.pk}/", {"duration_minutes": huge}, format="json")
    assert field_error(response, "duration_minutes") == "out_of_range"
    occurrence = f"{URL}{weekly.pk}/occurrences/20270315T080000Z/"
    response = owner_api.patch(occurrence, {"duration_minutes": huge}, format="json")
    assert field_error(response, "duration_minutes") == "out_of_range"
    weekly.refresh_from_db()
    assert (weekly.duration.total_seconds(), weekly.sequence) == (3600, 0)
    assert not OccurrenceChange.objects.exists()
    assert mail.outbox == []


# --- Start, end and until -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"start": "9999-12-31T23:59:00"}, "start"),
        ({"start": "9999-12-31T23:59:00", "time_zone": "America/New_York"}, "start"),
        ({"start": "9999-12-31T23:59:00", "recurrence": {"frequency": "daily", "count": 3}}, "start"),
        ({"start": "0001-01-01T00:00:00", "time_zone": "Pacific/Kiritimati"}, "start"),
        ({"start": "0001-01-01T00:00:00+14:00"}, "start"),
        ({"start": "9999-12-31T23:59:00-12:00"}, "start"),
        ({"start": "1969-12-31T23:59:00Z"}, "start"),
        ({"start": "1970-01-01T00:30:00", "time_zone": "Europe/Berlin"}, "start"),  # 1969-12-31T23:30Z
        ({"start": "9000-01-01T00:00:00Z"}, "start"),
        ({"start": "8999-12-31T23:00:00", "time_zone": "America/New_York"}, "start"),  # 9000-01-01T04:00Z
        ({"end": "9999-12-31T23:59:00", "time_zone": "America/New_York"}, "end"),
        ({"end": "0001-01-01T00:00:00+14:00"}, "end"),
    ],
)
def test_a_start_or_end_outside_the_window_is_refused_on_its_field(
    owner_api: APIClient, overrides: dict[str, Any], field: str
) -> None:
    response = create_once(owner_api, **overrides)
    assert field_error(response, field) == "out_of_range"
    assert not ScheduledMeeting.objects.exists()
    assert mail.outbox == []


@pytest.mark.parametrize(
    ("start", "time_zone", "expected"),
    [
        ("1970-01-01T00:00:00Z", "UTC", "1970-01-01T00:00:00Z"),
        ("1970-01-01T09:00:00", "Asia/Tokyo", "1970-01-01T00:00:00Z"),
        ("8999-12-31T23:59:00Z", "UTC", "8999-12-31T23:59:00Z"),
        ("8999-12-31T18:59:00", "America/New_York", "8999-12-31T23:59:00Z"),
    ],
)
def test_starts_at_the_edges_of_the_window_are_accepted(
    owner_api: APIClient, start: str, time_zone: str, expected: str
) -> None:
    response = create_once(owner_api, start=start, time_zone=time_zone, duration_minutes=1440)
    assert response.status_code == 201, response.content
    series = ScheduledMeeting.objects.get()
    assert series.start.strftime("%Y-%m-%dT%H:%M:%SZ") == expected
    assert len(mail.outbox) == 2  # the invitations could be built and sent


def test_a_recurring_series_may_run_until_the_last_year(owner_api: APIClient) -> None:
    response = create(
        owner_api,
        start="8999-06-07T09:00:00",
        time_zone="America/New_York",
        recurrence={"frequency": "monthly", "until": "9000-12-31"},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["recurrence"]["until"] == "9000-12-31"
    assert body["rrule"] == "FREQ=MONTHLY;BYMONTHDAY=7;UNTIL=90001231T140000Z"
    assert ScheduledMeeting.objects.get().last_end is not None


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        (
            {"start": "8999-06-07T09:00:00", "recurrence": {"frequency": "monthly", "until": "9999-12-31"}},
            "recurrence.until",
            "out_of_range",
        ),
        (
            {"start": "8999-06-07T09:00:00", "recurrence": {"frequency": "monthly", "until": "9001-01-01"}},
            "recurrence.until",
            "out_of_range",
        ),
        (
            {"start": "8999-06-07T09:00:00", "recurrence": None, "rrule": "FREQ=MONTHLY;UNTIL=99991231T235959Z"},
            "rrule",
            "out_of_range",
        ),
        (
            {
                "start": "8999-06-07T09:00:00",
                "time_zone": "Pacific/Kiritimati",
                "recurrence": None,
                "rrule": "FREQ=MONTHLY;UNTIL=99991231T235959Z",
            },
            "rrule",
            "out_of_range",
        ),
        (
            {"start": "9999-12-31T09:00:00", "recurrence": {"frequency": "daily", "until": "9999-12-31"}},
            "start",
            "out_of_range",
        ),
        (
            {"recurrence": {"frequency": "weekly", "weekdays": ["MO"], "excluded_dates": ["0001-01-01"]}},
            "recurrence.excluded_dates",
            "not_an_occurrence",
        ),
        (
            {"recurrence": {"frequency": "weekly", "weekdays": ["MO"], "excluded_dates": ["9999-12-27"]}},
            "recurrence.excluded_dates",
            "not_an_occurrence",
        ),
    ],
)
def test_an_until_after_the_last_year_is_refused(
    owner_api: APIClient, overrides: dict[str, Any], field: str, code: str
) -> None:
    payload = {key: value for key, value in {**WEEKLY, **overrides}.items() if value is not None}
    response = owner_api.post(URL, payload, format="json")
    assert field_error(response, field) == code, response.json()
    assert not ScheduledMeeting.objects.exists()
    assert mail.outbox == []


def test_a_series_or_an_occurrence_cannot_be_moved_out_of_the_window(
    owner_api: APIClient, weekly: ScheduledMeeting
) -> None:
    series_url = f"{URL}{weekly.pk}/"
    response = owner_api.patch(series_url, {"start": "9999-12-31T23:59:00"}, format="json")
    assert field_error(response, "start") == "out_of_range"
    response = owner_api.patch(
        series_url, {"start": "0001-01-01T00:00:00", "time_zone": "Pacific/Kiritimati"}, format="json"
    )
    assert field_error(response, "start") == "out_of_range"
    occurrence = f"{series_url}occurrences/20270315T080000Z/"
    for start in ("9999-12-31T23:59:00", "0001-01-01T00:00:00+14:00"):
        response = owner_api.patch(occurrence, {"start": start}, format="json")
        assert field_error(response, "start") == "out_of_range"
    response = owner_api.patch(occurrence, {"end": "9999-12-31T23:59:00"}, format="json")
    assert field_error(response, "end") == "out_of_range"
    weekly.refresh_from_db()
    assert (weekly.start.isoformat(), weekly.time_zone, weekly.sequence) == (
        "2027-03-01T08:00:00+00:00",
        "Europe/Berlin",
        0,
    )
    assert not OccurrenceChange.objects.exists()
    assert mail.outbox == []


@pytest.mark.parametrize("key", ["00010101T000000Z", "99991231T235959Z"])
def test_occurrence_ids_at_the_ends_of_the_calendar_are_unknown(
    owner_api: APIClient, weekly: ScheduledMeeting, key: str
) -> None:
    response = owner_api.patch(f"{URL}{weekly.pk}/occurrences/{key}/", {"title": "x"}, format="json")
    assert field_error(response, "recurrence_id") == "unknown_occurrence"
    response = owner_api.delete(f"{URL}{weekly.pk}/occurrences/{key}/")
    assert field_error(response, "recurrence_id") == "unknown_occurrence"
    weekly.refresh_from_db()
    assert (weekly.sequence, weekly.excluded_dates) == (0, [])


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "0001-01-01", "end": "0001-02-01"}, "start"),
        ({"start": "9999-12-01T00:00:00+14:00", "end": "9999-12-31"}, "start"),
    ],
)
def test_ranges_at_the_ends_of_the_calendar_are_refused(
    owner_api: APIClient, weekly: ScheduledMeeting, params: dict[str, str], field: str
) -> None:
    for path in (f"{URL}{weekly.pk}/occurrences/", "/api/v1/occurrences/"):
        response = owner_api.get(path, params)
        assert response.status_code == 400, response.content
        assert response.json()["fields"][field][0]["code"] == "out_of_range"
    response = owner_api.get(f"{URL}{weekly.pk}/occurrences/", {"start": "2027-03-01", "end": "2027-03-02"})
    assert [item["id"] for item in response.json()] == ["20270301T080000Z"]


def test_the_form_refuses_a_date_outside_the_window(owner_client: Client) -> None:
    changes = {"date": "9999-12-31", "start_time": "23:00", "end_time": "23:30", "frequency": "none"}
    response = owner_client.post("/schedule/", {**FORM, **changes, "time_zone": "America/New_York"})
    assert response.status_code == 400
    assert "1970" in " ".join(response.context["form"].errors["date"])
    response = owner_client.post("/schedule/", {**FORM, **changes, "date": "0001-01-01", "time_zone": "Asia/Tokyo"})
    assert response.status_code == 400
    assert "1970" in " ".join(response.context["form"].errors["date"])
    response = owner_client.post("/schedule/", {**FORM, "ends": "until", "until": "9999-12-31"})
    assert response.status_code == 400
    assert "9000" in " ".join(response.context["form"].errors["until"])
    assert not ScheduledMeeting.objects.exists()
    assert mail.outbox == []
    response = owner_client.post("/schedule/", {**FORM, **changes, "date": "8999-12-31", "time_zone": "UTC"})
    assert response.status_code == 302
    assert ScheduledMeeting.objects.get().start.year == 8999


# --- Titles ---------------------------------------------------------------------------------


@pytest.mark.parametrize("title", CONTROL_TITLES)
def test_a_title_with_control_characters_is_refused(owner_api: APIClient, title: str) -> None:
    response = create(owner_api, title=title)
    assert field_error(response, "title") in ("control_characters", "null_characters_not_allowed")
    assert not ScheduledMeeting.objects.exists()
    assert mail.outbox == []


def test_a_title_with_other_unicode_and_edge_whitespace_is_accepted(owner_api: APIClient) -> None:
    response = create(owner_api, title="  Café – 会議 ✓ (Q3)\n")
    assert response.status_code == 201, response.content
    assert ScheduledMeeting.objects.get().title == "Café – 会議 ✓ (Q3)"
    assert all(message.subject.startswith("Invitation: Café – 会議 ✓ (Q3) @") for message in mail.outbox)


@pytest.mark.parametrize("title", CONTROL_TITLES)
def test_a_title_with_control_characters_does_not_change_a_series_or_an_occurrence(
    owner_api: APIClient, weekly: ScheduledMeeting, title: str
) -> None:
    response = owner_api.patch(f"{URL}{weekly.pk}/", {"title": title}, format="json")
    assert field_error(response, "title") in ("control_characters", "null_characters_not_allowed")
    occurrence = f"{URL}{weekly.pk}/occurrences/20270315T080000Z/"
    response = owner_api.patch(occurrence, {"title": title}, format="json")
    assert field_error(response, "title") in ("control_characters", "null_characters_not_allowed")
    weekly.refresh_from_db()
    assert (weekly.title, weekly.sequence) == ("Planning", 0)
    assert weekly.meeting.title == "Planning"
    assert not OccurrenceChange.objects.exists()
    assert mail.outbox == []


def test_the_forms_refuse_a_title_with_a_line_break(owner_client: Client, weekly: ScheduledMeeting) -> None:
    response = owner_client.post("/schedule/", {**FORM, "title": "Design\r\nreview"})
    assert response.status_code == 400
    assert "control characters" in " ".join(response.context["form"].errors["title"])
    edit = {**FORM, "date": "2027-03-01", "weekdays": ["MO"], "interval": "1", "count": "10", "excluded_dates": ""}
    edit.pop("invitees")
    response = owner_client.post(f"/schedule/{weekly.pk}/edit/", {**edit, "title": "Design\nreview"})
    assert response.status_code == 400
    assert "control characters" in " ".join(response.context["form"].errors["title"])
    path = f"/schedule/{weekly.pk}/occurrences/20270308T080000Z/"
    response = owner_client.post(
        path, {"title": "Moved\tagain", "date": "2027-03-09", "start_time": "10:00", "end_time": "11:00"}
    )
    assert response.status_code == 400
    assert "control characters" in " ".join(response.context["form"].errors["title"])
    assert list(ScheduledMeeting.objects.values_list("title", "sequence")) == [("Planning", 0)]
    assert not OccurrenceChange.objects.exists()
    assert mail.outbox == []
    response = owner_client.post(f"/schedule/{weekly.pk}/edit/", {**edit, "title": "Design review"})
    assert response.status_code == 302
    weekly.refresh_from_db()
    assert weekly.title == "Design review"

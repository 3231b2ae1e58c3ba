"""Scheduling pages: the form with its recurrence builder, a series' page, editing one occurrence,
the agenda, invitations; refusals for people who must not get in; strict CSP (no inline code)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from accounts.models import User
from scheduling.models import Invitation, OccurrenceChange, PartStat, ScheduledMeeting, SeriesStatus
from tests.conftest import logged_in
from tests.scheduling.test_api_invitations import reply_ics

pytestmark = pytest.mark.django_db

FORM = {
    "title": "Design review",
    "description": "",
    "date": "2027-03-02",
    "start_time": "14:00",
    "end_time": "15:30",
    "time_zone": "Europe/Berlin",
    "frequency": "weekly",
    "interval": "2",
    "weekdays": ["TU", "TH"],
    "monthly_by": "month_day",
    "ends": "count",
    "count": "6",
    "until": "",
    "excluded_dates": "2027-03-04",
    "invitees": "ivy@example.com, Bo Lee <bo@example.org>",
    "allow_guests": "on",
}


def assert_strict_csp(html: str) -> None:
    assert " style=" not in html
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>(?!</script>)", html.replace('type="application/json"', "")), (
        "inline script"
    )


def test_the_form_offers_time_zones_and_the_recurrence_builder(owner_client: Client, berlin_owner: User) -> None:
    response = owner_client.get("/schedule/")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<option value="Europe/Berlin" selected>' in html
    assert 'name="weekdays"' in html
    assert 'data-show-for="weekly"' in html
    assert "js/scheduling/form.js" in html
    assert "css/scheduling.css" in html
    assert_strict_csp(html)


def test_scheduling_from_the_form_creates_the_series_and_invites(owner_client: Client, invitee: User) -> None:
    response = owner_client.post("/schedule/", FORM)
    series = ScheduledMeeting.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/schedule/{series.pk}/"
    assert (series.frequency, series.interval, series.weekdays, series.count) == ("weekly", 2, "TU,TH", 6)
    assert series.excluded_dates == ["2027-03-04"]
    assert series.duration.total_seconds() == 90 * 60
    assert set(Invitation.objects.values_list("email", "name")) == {
        ("ivy@example.com", ""),
        ("bo@example.org", "Bo Lee"),
    }
    assert len(mail.outbox) == 2
    page = owner_client.get(response["Location"]).content.decode()
    assert "Design review" in page
    assert "Every 2 weeks on Tue, Thu, 6 times" in page
    assert "No answer yet" in page
    assert_strict_csp(page)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"end_time": "13:00"}, "end_time", "The end must be after the start."),
        ({"time_zone": "Mars/Base"}, "time_zone", "Select a valid choice."),
        ({"weekdays": ["WE"]}, "date", "must fall on one of the chosen weekdays"),
        ({"count": "5000"}, "count", "at most 1000 occurrences"),
        ({"ends": "until", "until": "2027-01-01"}, "until", "before the first meeting"),
        ({"excluded_dates": "2027-03-03"}, "excluded_dates", "no meeting on 2027-03-03"),
        ({"excluded_dates": "March 3"}, "excluded_dates", "not a date"),
        (
            {"date": "2027-03-28", "start_time": "02:30", "end_time": "03:30", "weekdays": ["SU"]},
            "date",
            "does not exist",
        ),
        ({"invitees": "not an email"}, "invitees", "is not an email address"),
    ],
)
def test_bad_input_on_the_form_is_shown_on_its_field_and_changes_nothing(
    owner_client: Client, changes: dict[str, Any], field: str, message: str
) -> None:
    response = owner_client.post("/schedule/", {**FORM, **changes})
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert field in errors, errors
    assert message in " ".join(errors[field])
    assert not ScheduledMeeting.objects.exists()
    assert mail.outbox == []


def test_scheduling_pages_need_sign_in(client: Client, weekly: ScheduledMeeting) -> None:
    for path in ("/schedule/", "/schedule/agenda/", "/schedule/invitations/", f"/schedule/{weekly.pk}/"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith("/accounts/login/")


def test_a_series_page_is_for_the_organizer_and_invitees(
    weekly: ScheduledMeeting, owner_client: Client, outsider_client: Client, invitee: User
) -> None:
    organizer_page = owner_client.get(f"/schedule/{weekly.pk}/").content.decode()
    assert "Edit the series" in organizer_page
    assert "Cancel this one" in organizer_page
    invitee_page = logged_in(invitee).get(f"/schedule/{weekly.pk}/").content.decode()
    assert "Your answer" in invitee_page
    assert "Edit the series" not in invitee_page
    assert outsider_client.get(f"/schedule/{weekly.pk}/").status_code == 404
    assert outsider_client.get("/schedule/999999/").status_code == 404


def test_only_the_organizer_changes_a_series(
    weekly: ScheduledMeeting, owner_client: Client, outsider_client: Client, invitee: User
) -> None:
    invitee_client = logged_in(invitee)
    edit = {**FORM, "date": "2027-03-01", "weekdays": ["MO"], "interval": "1", "count": "10", "excluded_dates": ""}
    edit.pop("invitees")
    for client in (outsider_client, invitee_client):
        assert client.get(f"/schedule/{weekly.pk}/edit/").status_code == 404
        assert client.post(f"/schedule/{weekly.pk}/edit/", edit).status_code == 404
        assert client.post(f"/schedule/{weekly.pk}/cancel/").status_code == 404
        assert client.post(f"/schedule/{weekly.pk}/invite/", {"invitees": "x@y.example"}).status_code == 404
        assert client.post(f"/schedule/{weekly.pk}/occurrences/20270308T080000Z/cancel/").status_code == 404
    weekly.refresh_from_db()
    assert (weekly.sequence, weekly.status) == (0, SeriesStatus.CONFIRMED)
    form = owner_client.get(f"/schedule/{weekly.pk}/edit/").content.decode()
    assert 'value="Planning"' in form
    response = owner_client.post(f"/schedule/{weekly.pk}/edit/", edit)
    assert response.status_code == 302
    weekly.refresh_from_db()
    assert (weekly.title, weekly.sequence) == ("Design review", 1)


def test_one_occurrence_is_edited_and_cancelled_from_the_page(weekly: ScheduledMeeting, owner_client: Client) -> None:
    path = f"/schedule/{weekly.pk}/occurrences/20270308T080000Z/"
    assert owner_client.get(path).status_code == 200
    bad = owner_client.post(path, {"title": "", "date": "2027-03-09", "start_time": "10:00", "end_time": "09:00"})
    assert bad.status_code == 400
    assert not OccurrenceChange.objects.exists()
    response = owner_client.post(
        path, {"title": "Moved", "date": "2027-03-09", "start_time": "10:00", "end_time": "11:00"}
    )
    assert response.status_code == 302
    assert OccurrenceChange.objects.get().title == "Moved"
    assert owner_client.post(f"/schedule/{weekly.pk}/occurrences/20270315T080000Z/cancel/").status_code == 302
    weekly.refresh_from_db()
    assert weekly.excluded_dates == ["2027-03-15"]
    assert owner_client.get(f"/schedule/{weekly.pk}/occurrences/20270315T080000Z/").status_code == 404


def test_inviting_uninviting_and_replies_from_the_page(weekly: ScheduledMeeting, owner_client: Client) -> None:
    owner_client.post(f"/schedule/{weekly.pk}/invite/", {"invitees": "new@example.org"})
    assert Invitation.objects.filter(email="new@example.org").exists()
    upload = SimpleUploadedFile("reply.ics", reply_ics(weekly, "new@example.org", "ACCEPTED"))
    page = owner_client.post(f"/schedule/{weekly.pk}/reply/", {"file": upload}, follow=True).content.decode()
    assert "Reply applied: new@example.org" in page
    assert Invitation.objects.get(email="new@example.org").partstat == PartStat.ACCEPTED
    broken = SimpleUploadedFile("reply.ics", b"garbage")
    page = owner_client.post(f"/schedule/{weekly.pk}/reply/", {"file": broken}, follow=True).content.decode()
    assert "The reply was not applied" in page
    invitation = Invitation.objects.get(email="new@example.org")
    owner_client.post(f"/schedule/{weekly.pk}/invitations/{invitation.pk}/remove/")
    assert not Invitation.objects.filter(email="new@example.org").exists()


def test_the_agenda_and_the_invitations_pages(
    weekly: ScheduledMeeting, owner_client: Client, outsider_client: Client, invitee: User
) -> None:
    from datetime import UTC, datetime
    from unittest import mock

    invitee_client = logged_in(invitee)
    with mock.patch("scheduling.views.timezone.now", return_value=datetime(2027, 2, 27, tzinfo=UTC)):
        agenda = invitee_client.get("/schedule/agenda/").content.decode()
    assert agenda.count(">Planning</a>") == 4
    assert "03:00–04:00" in agenda  # shown in the invitee's time zone (New York)
    assert "/schedule/feed/" in agenda
    assert_strict_csp(agenda)
    assert "Nothing planned" in outsider_client.get("/schedule/agenda/").content.decode()
    invitations = invitee_client.get("/schedule/invitations/").content.decode()
    assert "Planning" in invitations
    assert "No answer yet" in invitations
    invitation = Invitation.objects.get(user=invitee)
    response = invitee_client.post(f"/schedule/invitations/{invitation.pk}/respond/", {"response": "ACCEPTED"})
    assert response.status_code == 302
    invitation.refresh_from_db()
    assert invitation.partstat == PartStat.ACCEPTED
    assert "Accepted" in owner_client.get("/schedule/invitations/").content.decode()
    assert (
        outsider_client.post(f"/schedule/invitations/{invitation.pk}/respond/", {"response": "DECLINED"}).status_code
        == 404
    )
    invitation.refresh_from_db()
    assert invitation.partstat == PartStat.ACCEPTED


def test_regenerating_the_feed_from_the_agenda(owner_client: Client, client: Client) -> None:
    before = re.search(r'value="(http[^"]+\.ics)"', owner_client.get("/schedule/agenda/").content.decode())
    assert before
    owner_client.post("/schedule/feed/regenerate/")
    after = re.search(r'value="(http[^"]+\.ics)"', owner_client.get("/schedule/agenda/").content.decode())
    assert after
    assert before.group(1) != after.group(1)
    assert client.get(before.group(1).removeprefix("http://testserver")).status_code == 404
    assert client.get(after.group(1).removeprefix("http://testserver")).status_code == 200
    assert client.post("/schedule/feed/regenerate/").status_code == 302


def test_the_dashboard_shows_upcoming_meetings(owner_client: Client, owner: User) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from scheduling import actions

    actions.do_schedule_meeting(
        owner,
        actions.ScheduleChanges(title="Tomorrow's sync", time_zone="UTC", start=timezone.now() + timedelta(days=1)),
    )
    html = owner_client.get("/dashboard/").content.decode()
    assert "Upcoming" in html
    assert "Tomorrow&#x27;s sync" in html

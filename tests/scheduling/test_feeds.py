"""Calendar feeds (secret URL per user) and the per-meeting .ics download, with ETag and
Last-Modified so calendar clients poll cheaply."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import User
from scheduling import actions, feeds
from scheduling.models import Invitation, PartStat, ScheduledMeeting
from tests.conftest import api_client_for, logged_in
from tests.scheduling.conftest import parse_ics, schedule

pytestmark = pytest.mark.django_db


def feed_path(user: User) -> str:
    return f"/schedule/feed/{feeds.feed_token(feeds.feed_of(user))}.ics"


def uids(content: bytes) -> list[str]:
    return [str(event["UID"]) for event in parse_ics(content).walk("VEVENT")]


def test_a_feed_lists_hosted_and_invited_meetings(
    client: Client, weekly: ScheduledMeeting, invitee: User, owner: User, outsider: User
) -> None:
    other = schedule(outsider, (), title="Not ours")
    for user in (owner, invitee):
        response = client.get(feed_path(user))
        assert response.status_code == 200
        assert response["Content-Type"] == "text/calendar; charset=utf-8"
        calendar = parse_ics(response.content)
        assert "METHOD" not in calendar
        assert str(calendar["X-WR-CALNAME"]) == "Conference meetings"
        assert uids(response.content) == [weekly.uid]
    assert uids(client.get(feed_path(outsider)).content) == [other.uid]


def test_declined_and_cancelled_meetings_leave_the_feed(
    client: Client, weekly: ScheduledMeeting, invitee: User, owner: User
) -> None:
    actions.do_respond(Invitation.objects.get(user=invitee), PartStat.DECLINED)
    assert uids(client.get(feed_path(invitee)).content) == []
    actions.do_cancel_series(weekly)
    assert uids(client.get(feed_path(owner)).content) == []


def test_a_wrong_token_is_refused(client: Client, weekly: ScheduledMeeting, owner: User) -> None:
    token = feeds.feed_token(feeds.feed_of(owner))
    key, _, signature = token.partition(".")
    for wrong in (f"{key}.{'0' * 32}", f"{key}x.{signature}", key, "nothing", f"{key}.{signature[:-1]}"):
        response = client.get(f"/schedule/feed/{wrong}.ics")
        assert response.status_code == 404, wrong
        assert b"BEGIN:VCALENDAR" not in response.content


def test_regenerating_the_url_disables_the_old_one(
    client: Client, weekly: ScheduledMeeting, owner: User, owner_api: APIClient
) -> None:
    old = feed_path(owner)
    assert client.get(old).status_code == 200
    response = owner_api.post("/api/v1/calendar-feed/regenerate/")
    assert response.status_code == 200
    new_url = response.json()["url"]
    assert new_url.startswith("https://testserver/schedule/feed/")
    assert client.get(old).status_code == 404
    assert client.get(new_url.removeprefix("https://testserver")).status_code == 200
    assert owner_api.get("/api/v1/calendar-feed/").json()["url"] == new_url


def test_the_feed_url_api_needs_a_user(anon_api: APIClient) -> None:
    assert anon_api.get("/api/v1/calendar-feed/").status_code == 401
    assert anon_api.post("/api/v1/calendar-feed/regenerate/").status_code == 401


def test_clients_poll_cheaply_with_etag_and_last_modified(
    client: Client, weekly: ScheduledMeeting, invitee: User
) -> None:
    path = feed_path(invitee)
    first = client.get(path)
    etag, last_modified = first["ETag"], first["Last-Modified"]
    assert etag.startswith('"')
    assert client.get(path, HTTP_IF_NONE_MATCH=etag).status_code == 304
    assert client.get(path, HTTP_IF_MODIFIED_SINCE=last_modified).status_code == 304
    same = client.get(path)
    assert same.content == first.content  # same data, same bytes (DTSTAMP is the last change)
    # Any change (here: another attendee answers) gives a new version.
    actions.do_respond(Invitation.objects.get(email="ext@partner.example"), PartStat.ACCEPTED)
    changed = client.get(path, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200
    assert changed["ETag"] != etag
    assert b"PARTSTAT=ACCEPTED" in changed.content


def test_a_meeting_downloads_as_ics_for_organizer_and_invitees_only(
    weekly: ScheduledMeeting, owner_client: Client, outsider_client: Client, client: Client, invitee: User
) -> None:
    path = f"/schedule/{weekly.pk}/invite.ics"
    for allowed in (owner_client, logged_in(invitee)):
        response = allowed.get(path)
        assert response.status_code == 200
        assert uids(response.content) == [weekly.uid]
        assert allowed.get(path, HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304
    assert outsider_client.get(path).status_code == 404
    anonymous = client.get(path)
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/accounts/login/")


def test_the_api_download_is_for_the_organizer(
    owner_api: APIClient, outsider_api: APIClient, invitee: User, weekly: ScheduledMeeting
) -> None:
    path = f"/api/v1/scheduled-meetings/{weekly.pk}/ics/"
    response = owner_api.get(path)
    assert response.status_code == 200
    assert uids(response.content) == [weekly.uid]
    assert outsider_api.get(path).status_code == 404
    assert api_client_for(invitee).get(path).status_code == 404

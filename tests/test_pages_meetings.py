from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from accounts.models import User
from meetings.models import Meeting, MeetingStatus

pytestmark = pytest.mark.django_db


def room_config(html: str) -> dict[str, Any]:
    match = re.search(r'<script id="room-config" type="application/json">(.*?)</script>', html, re.S)
    assert match, "the room page carries its configuration"
    config: dict[str, Any] = json.loads(match.group(1))
    return config


def test_the_home_page_offers_join_and_sign_in(client: Client) -> None:
    html = client.get("/").content.decode()
    assert "Join a meeting" in html
    assert "Sign in" in html


def test_the_home_page_sends_signed_in_people_to_their_dashboard(owner_client: Client) -> None:
    assert owner_client.get("/").url == "/dashboard/"  # type: ignore[attr-defined]


def test_the_dashboard_lists_owned_and_co_hosted_meetings(
    member_client: Client, meeting: Meeting, outsider: User
) -> None:
    Meeting.objects.create(owner=outsider, title="Not yours")
    html = member_client.get("/dashboard/").content.decode()
    assert "Weekly sync" in html
    assert "Co-host" in html
    assert "Not yours" not in html


def test_the_dashboard_requires_sign_in(client: Client) -> None:
    response = client.get("/dashboard/")
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")  # type: ignore[attr-defined]


def test_an_instant_meeting_is_created_and_opened(owner_client: Client, owner: User) -> None:
    response = owner_client.post("/meetings/new/")
    meeting = Meeting.objects.get(owner=owner)
    assert response.url == f"/m/{meeting.code}"  # type: ignore[attr-defined]
    assert meeting.title == "olivia's meeting"
    page = owner_client.get(response.url).content.decode()  # type: ignore[attr-defined]
    config = room_config(page)
    assert (config["code"], config["as_host"], config["display_name"]) == (meeting.code, True, "olivia")


def test_instant_meetings_need_sign_in_and_post(client: Client, owner_client: Client) -> None:
    assert client.post("/meetings/new/").status_code == 302
    assert owner_client.get("/meetings/new/").status_code == 405
    assert Meeting.objects.count() == 0


def test_join_by_code_normalizes_what_people_type(client: Client, meeting: Meeting) -> None:
    response = client.get("/join/", {"code": f"  https://example.org/m/{meeting.code.upper()} "})
    assert response.url == f"/m/{meeting.code}"  # type: ignore[attr-defined]


def test_join_by_code_rejects_garbage(client: Client) -> None:
    response = client.get("/join/", {"code": "<script>"})
    assert response.status_code == 400
    assert "Enter a code like abc-defg-hij" in response.content.decode()
    assert "<script>" not in response.content.decode()


class TestMeetingPage:
    def test_it_opens_the_room_with_what_joining_needs(self, outsider_client: Client, meeting: Meeting) -> None:
        html = outsider_client.get(f"/m/{meeting.code}").content.decode()
        assert "Weekly sync" in html
        assert "A host will let you in" in html
        assert room_config(html) == {
            "ws_url": f"/ws/meetings/{meeting.code}/",
            "code": meeting.code,
            "title": "Weekly sync",
            "display_name": "oscar",
            "is_guest": False,
            "needs_passcode": False,
            "as_host": False,
        }
        assert '<script type="module" src="/static/js/room/main.js">' in html

    def test_guests_are_asked_to_sign_in_when_not_allowed(self, client: Client, meeting: Meeting) -> None:
        html = client.get(f"/m/{meeting.code}").content.decode()
        assert "This meeting is for signed-in people" in html

    def test_guests_give_a_name_when_guests_are_allowed(self, client: Client, meeting: Meeting) -> None:
        meeting.allow_guests = True
        meeting.waiting_room = False
        meeting.save()
        html = client.get(f"/m/{meeting.code}").content.decode()
        assert 'id="display-name"' in html
        assert room_config(html)["is_guest"] is True
        assert client.session["guest_key"]

    def test_it_says_when_a_meeting_ended(self, client: Client, meeting: Meeting) -> None:
        meeting.status = MeetingStatus.ENDED
        meeting.save()
        assert "This meeting has ended" in client.get(f"/m/{meeting.code}").content.decode()

    def test_it_redirects_to_the_canonical_code(self, client: Client, meeting: Meeting) -> None:
        assert client.get(f"/m/{meeting.code.upper()}").url == f"/m/{meeting.code}"  # type: ignore[attr-defined]

    def test_unknown_codes_are_404(self, client: Client, db: None) -> None:
        assert client.get("/m/abc-defg-hij").status_code == 404
        assert client.get("/m/nonsense").status_code == 404

    def test_lookups_are_throttled_with_retry_after(self, client: Client, meeting: Meeting) -> None:
        limit = int(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["code_lookup"].split("/")[0])  # type: ignore[index]
        for index in range(limit):
            assert client.get("/m/zzz-zzzz-zzz" if index % 2 else "/m/guess").status_code == 404
        response = client.get(f"/m/{meeting.code}")
        assert response.status_code == 429
        assert int(response["Retry-After"]) >= 1
        assert "Too many requests" in response.content.decode()

    def test_it_asks_for_the_passcode_but_never_renders_it(
        self, owner_client: Client, outsider_client: Client, meeting: Meeting
    ) -> None:
        meeting.set_passcode("unique-passcode-987")
        meeting.save()
        for client, asked in ((owner_client, False), (outsider_client, True)):
            html = client.get(f"/m/{meeting.code}").content.decode()
            assert room_config(html)["needs_passcode"] is asked
            assert ('id="passcode"' in html) is asked
            assert "unique-passcode-987" not in html
            assert meeting.passcode_hash not in html


class TestSettings:
    def test_the_owner_changes_settings(self, owner_client: Client, meeting: Meeting, outsider: User) -> None:
        form = {
            "title": "Renamed",
            "waiting_room": "",
            "allow_guests": "on",
            "max_participants": "8",
            "co_hosts": "oscar@example.com",
            "passcode": "abcd",
        }
        response = owner_client.post(f"/m/{meeting.code}/settings", form)
        assert response.status_code == 302
        meeting.refresh_from_db()
        assert (meeting.title, meeting.waiting_room, meeting.allow_guests, meeting.max_participants) == (
            "Renamed",
            False,
            True,
            8,
        )
        assert list(meeting.co_hosts.all()) == [outsider]
        assert meeting.check_passcode("abcd")

    def test_it_shows_field_errors(self, owner_client: Client, meeting: Meeting) -> None:
        response = owner_client.post(
            f"/m/{meeting.code}/settings", {"title": "", "max_participants": "1", "co_hosts": "ghost@example.com"}
        )
        assert response.status_code == 400
        meeting.refresh_from_db()
        assert meeting.title == "Weekly sync"

    def test_it_reports_unknown_co_hosts_on_the_field(self, owner_client: Client, meeting: Meeting) -> None:
        response = owner_client.post(
            f"/m/{meeting.code}/settings", {"title": "x", "max_participants": "5", "co_hosts": "ghost@example.com"}
        )
        assert response.status_code == 400
        assert "No active account with the email ghost@example.com" in response.content.decode()

    @pytest.mark.parametrize("who", ["member_client", "outsider_client"])
    def test_only_the_owner_may_open_settings(self, request: pytest.FixtureRequest, who: str, meeting: Meeting) -> None:
        client: Client = request.getfixturevalue(who)
        assert client.get(f"/m/{meeting.code}/settings").status_code == 404
        assert (
            client.post(f"/m/{meeting.code}/settings", {"title": "Hijack", "max_participants": "5"}).status_code == 404
        )
        meeting.refresh_from_db()
        assert meeting.title == "Weekly sync"

    def test_anonymous_is_sent_to_sign_in(self, client: Client, meeting: Meeting) -> None:
        assert client.get(f"/m/{meeting.code}/settings").status_code == 302


class TestEndAndDelete:
    def test_the_settings_page_offers_end_and_delete(self, owner_client: Client, meeting: Meeting) -> None:
        html = owner_client.get(f"/m/{meeting.code}/settings").content.decode()
        assert f'action="/m/{meeting.code}/end"' in html
        assert f'action="/m/{meeting.code}/delete"' in html
        owner_client.post(f"/m/{meeting.code}/end")
        html = owner_client.get(f"/m/{meeting.code}/settings").content.decode()
        assert f'action="/m/{meeting.code}/end"' not in html
        assert f'action="/m/{meeting.code}/delete"' in html

    def test_the_owner_ends_and_deletes(self, owner_client: Client, meeting: Meeting) -> None:
        owner_client.post(f"/m/{meeting.code}/end")
        meeting.refresh_from_db()
        assert meeting.status == MeetingStatus.ENDED
        assert owner_client.post(f"/m/{meeting.code}/delete").url == "/dashboard/"  # type: ignore[attr-defined]
        assert not Meeting.objects.exists()

    @pytest.mark.parametrize("action", ["end", "delete"])
    def test_others_cannot(
        self, outsider_client: Client, member_client: Client, client: Client, meeting: Meeting, action: str
    ) -> None:
        assert outsider_client.post(f"/m/{meeting.code}/{action}").status_code == 404
        assert member_client.post(f"/m/{meeting.code}/{action}").status_code == 404
        assert client.post(f"/m/{meeting.code}/{action}").status_code == 302
        meeting.refresh_from_db()
        assert meeting.status == MeetingStatus.SCHEDULED

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from accounts.models import ApiToken, User
from meetings.codes import is_valid_code
from meetings.models import Meeting, MeetingStatus
from tests.factories import make_meeting, make_meetings

pytestmark = pytest.mark.django_db

LIST = "/api/v1/meetings/"


def detail(meeting: Meeting, suffix: str = "") -> str:
    return f"/api/v1/meetings/{meeting.code}/{suffix}"


def field_codes(body: dict[str, Any], field: str) -> list[str]:
    return [error["code"] for error in body["fields"][field]]


class TestList:
    def test_it_lists_only_the_owners_meetings(self, owner_api: APIClient, meeting: Meeting, outsider: User) -> None:
        make_meeting(owner=outsider)
        response = owner_api.get(LIST)
        assert response.status_code == 200
        body = response.json()
        assert body["count"] == 1
        assert [item["code"] for item in body["results"]] == [meeting.code]
        assert body["results"][0]["co_hosts"] == ["marco@example.com"]
        assert body["results"][0]["join_url"] == f"http://testserver/m/{meeting.code}"

    def test_it_paginates(self, owner_api: APIClient, owner: User) -> None:
        make_meetings(7, owner=owner)
        body = owner_api.get(LIST, {"page_size": 5}).json()
        assert body["count"] == 7
        assert len(body["results"]) == 5
        assert body["next"] is not None
        second = owner_api.get(LIST, {"page_size": 5, "page": 2}).json()
        assert len(second["results"]) == 2

    def test_it_filters_by_status_and_searches_titles(self, owner_api: APIClient, owner: User) -> None:
        make_meeting(owner=owner, title="Board review", status=MeetingStatus.ENDED)
        make_meeting(owner=owner, title="Design crit")
        ended = owner_api.get(LIST, {"status": "ended"}).json()
        assert [item["title"] for item in ended["results"]] == ["Board review"]
        found = owner_api.get(LIST, {"search": "crit"}).json()
        assert [item["title"] for item in found["results"]] == ["Design crit"]

    def test_it_rejects_an_unknown_status_filter(self, owner_api: APIClient) -> None:
        response = owner_api.get(LIST, {"status": "bogus"})
        assert response.status_code == 400
        assert response.json()["code"] == "invalid"
        assert "status" in response.json()["fields"]

    def test_it_refuses_anonymous_requests(self, anon_api: APIClient, meeting: Meeting) -> None:
        response = anon_api.get(LIST)
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"
        assert response["WWW-Authenticate"].startswith("Bearer")

    def test_it_shows_an_outsider_nothing(self, outsider_api: APIClient, meeting: Meeting) -> None:
        assert outsider_api.get(LIST).json()["count"] == 0


class TestCreate:
    def test_it_creates_a_meeting_with_safe_defaults(self, owner_api: APIClient, owner: User) -> None:
        response = owner_api.post(LIST, {"title": "Kick-off"})
        assert response.status_code == 201, response.json()
        body = response.json()
        assert is_valid_code(body["code"])
        assert body["waiting_room"] is True
        assert body["allow_guests"] is False
        assert body["has_passcode"] is False
        assert body["status"] == "scheduled"
        assert "passcode" not in body
        assert Meeting.objects.get(code=body["code"]).owner == owner

    def test_it_stores_the_passcode_hashed(self, owner_api: APIClient) -> None:
        body = owner_api.post(LIST, {"title": "Secret", "passcode": "s3cret-pass"}).json()
        assert body["has_passcode"] is True
        stored = Meeting.objects.get(code=body["code"])
        assert "s3cret-pass" not in stored.passcode_hash
        assert stored.check_passcode("s3cret-pass")
        assert not stored.check_passcode("wrong")

    def test_it_sets_co_hosts_by_email(self, owner_api: APIClient, member: User) -> None:
        body = owner_api.post(LIST, {"title": "Pair", "co_hosts": ["MARCO@example.com"]}).json()
        assert body["co_hosts"] == ["marco@example.com"]
        assert list(Meeting.objects.get(code=body["code"]).co_hosts.all()) == [member]

    def test_it_rejects_unknown_co_hosts_and_changes_nothing(self, owner_api: APIClient) -> None:
        response = owner_api.post(LIST, {"title": "Pair", "co_hosts": ["nobody@example.com"]})
        assert response.status_code == 400
        assert field_codes(response.json(), "co_hosts") == ["unknown_user"]
        assert Meeting.objects.count() == 0

    @pytest.mark.parametrize(
        ("payload", "field", "code"),
        [
            ({}, "title", "required"),
            ({"title": ""}, "title", "blank"),
            ({"title": "x" * 201}, "title", "max_length"),
            ({"title": "t", "max_participants": 1}, "max_participants", "min_value"),
            ({"title": "t", "max_participants": 5000}, "max_participants", "max_value"),
            ({"title": "t", "max_participants": "many"}, "max_participants", "invalid"),
            ({"title": "t", "waiting_room": "perhaps"}, "waiting_room", "invalid"),
            ({"title": "t", "co_hosts": ["not-an-email"]}, "co_hosts.0", "invalid"),
            ({"title": "t", "passcode": "p" * 65}, "passcode", "max_length"),
        ],
    )
    def test_it_rejects_bad_fields(self, owner_api: APIClient, payload: dict[str, Any], field: str, code: str) -> None:
        response = owner_api.post(LIST, payload, format="json")
        assert response.status_code == 400
        body = response.json()
        assert body["code"] == "invalid"
        assert field_codes(body, field) == [code]
        assert Meeting.objects.count() == 0

    def test_it_rejects_malformed_json(self, owner_api: APIClient) -> None:
        response = owner_api.generic("POST", LIST, "{not json", content_type="application/json")
        assert response.status_code == 400
        assert response.json()["code"] == "parse_error"

    def test_it_rejects_json_nested_too_deeply_and_stores_nothing(self, owner_api: APIClient) -> None:
        nested = "[" * 20_000 + "]" * 20_000  # 40 KB: deeper than Python's recursion limit
        response = owner_api.generic("POST", LIST, nested, content_type="application/json")
        assert response.status_code == 400
        assert response.json()["code"] == "parse_error"
        assert Meeting.objects.count() == 0

    def test_it_ignores_read_only_fields(self, owner_api: APIClient) -> None:
        body = owner_api.post(LIST, {"title": "t", "code": "aaa-aaaa-aaa", "status": "live"}).json()
        assert body["code"] != "aaa-aaaa-aaa"
        assert body["status"] == "scheduled"

    def test_it_refuses_anonymous_creation(self, anon_api: APIClient) -> None:
        assert anon_api.post(LIST, {"title": "t"}).status_code == 401
        assert Meeting.objects.count() == 0


class TestRetrieveUpdateDelete:
    def test_the_owner_reads_updates_and_deletes(self, owner_api: APIClient, meeting: Meeting) -> None:
        assert owner_api.get(detail(meeting)).json()["title"] == "Weekly sync"
        response = owner_api.patch(detail(meeting), {"title": "Daily sync", "allow_guests": True, "co_hosts": []})
        assert response.status_code == 200
        meeting.refresh_from_db()
        assert (meeting.title, meeting.allow_guests, meeting.co_hosts.count()) == ("Daily sync", True, 0)
        assert owner_api.delete(detail(meeting)).status_code == 204
        assert not Meeting.objects.filter(pk=meeting.pk).exists()

    def test_an_empty_passcode_removes_it(self, owner_api: APIClient, meeting: Meeting) -> None:
        meeting.set_passcode("1234")
        meeting.save()
        assert owner_api.patch(detail(meeting), {"passcode": ""}).json()["has_passcode"] is False

    def test_a_full_update_replaces_fields(self, owner_api: APIClient, meeting: Meeting) -> None:
        payload = {
            "title": "Retro",
            "waiting_room": False,
            "allow_guests": True,
            "mute_on_entry": True,
            "max_participants": 12,
        }
        body = owner_api.put(detail(meeting), payload).json()
        assert {key: body[key] for key in payload} == payload

    @pytest.mark.parametrize("method", ["get", "patch", "put", "delete"])
    def test_an_outsider_gets_404_not_403(self, outsider_api: APIClient, meeting: Meeting, method: str) -> None:
        response = getattr(outsider_api, method)(detail(meeting), {"title": "Hijacked"})
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
        meeting.refresh_from_db()
        assert meeting.title == "Weekly sync"

    def test_a_co_host_cannot_manage_the_meeting_through_the_api(self, member_api: APIClient, meeting: Meeting) -> None:
        assert member_api.delete(detail(meeting)).status_code == 404
        assert Meeting.objects.filter(pk=meeting.pk).exists()

    @pytest.mark.parametrize("method", ["get", "patch", "delete"])
    def test_anonymous_gets_401(self, anon_api: APIClient, meeting: Meeting, method: str) -> None:
        assert getattr(anon_api, method)(detail(meeting)).status_code == 401

    def test_an_unknown_or_malformed_code_is_404(self, owner_api: APIClient) -> None:
        assert owner_api.get("/api/v1/meetings/zzz-zzzz-zzz/").status_code == 404
        response = owner_api.get("/api/v1/meetings/not-a-code/")
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"

    def test_bad_update_changes_nothing(self, owner_api: APIClient, meeting: Meeting) -> None:
        response = owner_api.patch(detail(meeting), {"title": "New", "co_hosts": ["ghost@example.com"]})
        assert response.status_code == 400
        meeting.refresh_from_db()
        assert meeting.title == "Weekly sync"
        assert meeting.co_hosts.count() == 1


class TestEnd:
    def test_the_owner_ends_a_meeting_once(self, owner_api: APIClient, meeting: Meeting) -> None:
        first = owner_api.post(detail(meeting, "end/"))
        assert first.status_code == 200
        assert first.json()["status"] == "ended"
        ended_at = first.json()["ended_at"]
        assert owner_api.post(detail(meeting, "end/")).json()["ended_at"] == ended_at

    def test_an_ended_meeting_cannot_be_edited(self, owner_api: APIClient, meeting: Meeting) -> None:
        owner_api.post(detail(meeting, "end/"))
        response = owner_api.patch(detail(meeting), {"title": "Again"})
        assert response.status_code == 409
        assert response.json()["code"] == "meeting_ended"

    def test_others_cannot_end_it(self, outsider_api: APIClient, anon_api: APIClient, meeting: Meeting) -> None:
        assert outsider_api.post(detail(meeting, "end/")).status_code == 404
        assert anon_api.post(detail(meeting, "end/")).status_code == 401
        meeting.refresh_from_db()
        assert meeting.status == MeetingStatus.SCHEDULED


class TestTokens:
    def test_a_revoked_token_is_refused(self, owner: User, meeting: Meeting) -> None:
        from tests.conftest import api_client_for

        client = api_client_for(owner)
        assert client.get(LIST).status_code == 200
        ApiToken.objects.filter(user=owner).update(revoked_at="2026-01-01T00:00:00Z")
        response = client.get(LIST)
        assert response.status_code == 401
        assert response.json()["code"] == "authentication_failed"

    def test_a_forged_token_is_refused(self, meeting: Meeting) -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION="Bearer cft_deadbeef_forged")
        assert client.get(LIST).status_code == 401

    def test_a_malformed_header_is_refused(self, meeting: Meeting) -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION="Bearer two parts")
        assert client.get(LIST).json()["code"] == "authentication_failed"

    def test_the_token_records_its_last_use(self, owner_api: APIClient, owner: User) -> None:
        owner_api.get(LIST)
        assert ApiToken.objects.get(user=owner).last_used_at is not None

    def test_session_authentication_needs_csrf_for_writes(self, owner: User) -> None:
        client = APIClient(enforce_csrf_checks=True)
        client.force_login(owner)
        assert client.get(LIST).status_code == 200
        response = client.post(LIST, {"title": "no csrf"})
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"


class TestChatExport:
    def test_the_owner_exports_public_chat_of_every_room(
        self, owner_api: APIClient, meeting: Meeting, outsider: User
    ) -> None:
        from meetings.models import ChatMessage, Participant, Room, RoomKind
        from tests.factories import main_room_of

        main = main_room_of(meeting)
        breakout = Room.objects.create(meeting=meeting, kind=RoomKind.BREAKOUT, parent=main, name="Room 1", position=1)
        ada = Participant.objects.create(meeting=meeting, user=outsider, display_name="Ada", state="joined")
        bob = Participant.objects.create(meeting=meeting, display_name="Bob", guest_key="g", state="joined")
        ChatMessage.objects.create(meeting=meeting, room=main, sender=ada, text="Hello all")
        ChatMessage.objects.create(meeting=meeting, room=main, sender=ada, recipient=bob, text="secret")
        ChatMessage.objects.create(meeting=meeting, room=breakout, sender=bob, text="In room one")
        body = owner_api.get(detail(meeting, "chat/")).json()
        assert [(row["room"], row["sender"], row["text"]) for row in body] == [
            ("Main room", "Ada", "Hello all"),
            ("Room 1", "Bob", "In room one"),
        ]
        text = owner_api.get(detail(meeting, "chat/"), {"format": "txt"})
        assert text["Content-Type"].startswith("text/plain")
        lines = text.content.decode().splitlines()
        assert [line.split("] ", 1)[1] for line in lines] == ["(Main room) Ada: Hello all", "(Room 1) Bob: In room one"]

    def test_others_cannot_export(
        self, outsider_api: APIClient, member_api: APIClient, anon_api: APIClient, meeting: Meeting
    ) -> None:
        assert outsider_api.get(detail(meeting, "chat/")).status_code == 404
        assert member_api.get(detail(meeting, "chat/")).status_code == 404
        assert anon_api.get(detail(meeting, "chat/")).status_code == 401

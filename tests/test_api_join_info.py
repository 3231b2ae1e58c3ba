from __future__ import annotations

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from accounts.models import User
from meetings.models import Meeting, MeetingStatus

pytestmark = pytest.mark.django_db


def url(code: str) -> str:
    return f"/api/v1/join-info/{code}/"


def test_it_tells_a_signed_in_person_how_they_join(outsider_api: APIClient, meeting: Meeting) -> None:
    body = outsider_api.get(url(meeting.code)).json()
    assert body["title"] == "Weekly sync"
    assert body["host"] == "olivia"
    assert body["may_join"] is True
    assert body["through_waiting_room"] is True
    assert body["as_host"] is False
    assert "passcode" not in body
    assert "passcode_hash" not in body


def test_it_tells_a_co_host_they_host(member_api: APIClient, meeting: Meeting) -> None:
    body = member_api.get(url(meeting.code)).json()
    assert (body["as_host"], body["through_waiting_room"], body["needs_passcode"]) == (True, False, False)


def test_it_refuses_guests_when_the_meeting_does_not_allow_them(anon_api: APIClient, meeting: Meeting) -> None:
    body = anon_api.get(url(meeting.code)).json()
    assert body["may_join"] is False
    assert body["refusal"] == "sign_in_required"


def test_it_admits_guests_when_allowed(anon_api: APIClient, meeting: Meeting) -> None:
    meeting.allow_guests = True
    meeting.set_passcode("2468")
    meeting.save()
    body = anon_api.get(url(meeting.code)).json()
    assert (body["may_join"], body["needs_passcode"], body["refusal"]) == (True, True, None)


def test_it_refuses_everyone_once_the_meeting_ended(owner_api: APIClient, meeting: Meeting) -> None:
    meeting.status = MeetingStatus.ENDED
    meeting.save()
    assert owner_api.get(url(meeting.code)).json()["refusal"] == "meeting_ended"


def test_it_accepts_codes_as_people_type_them(anon_api: APIClient, meeting: Meeting) -> None:
    typed = meeting.code.upper().replace("-", "")
    assert anon_api.get(url(typed)).json()["code"] == meeting.code


def test_an_unknown_code_is_404(anon_api: APIClient, db: None) -> None:
    response = anon_api.get(url("abc-defg-hij"))
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "detail": "No meeting with this code."}


def test_lookups_are_throttled_per_client(anon_api: APIClient, meeting: Meeting, outsider: User) -> None:
    limit = int(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["code_lookup"].split("/")[0])  # type: ignore[index]
    for _ in range(limit):
        assert anon_api.get(url("zzz-zzzz-zzz")).status_code == 404
    response = anon_api.get(url(meeting.code))
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert int(response["Retry-After"]) >= 1
    assert response.json()["retry_after"] >= 1
    # Another client is not affected.
    other = APIClient(REMOTE_ADDR="10.9.8.7")
    assert other.get(url(meeting.code)).status_code == 200

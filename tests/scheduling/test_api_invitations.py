"""Invitations over the API: the organizer invites and uninvites, invitees answer, and REPLY
files from calendar clients are applied."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from django.core import mail
from rest_framework.test import APIClient

from accounts.models import User
from scheduling.models import Invitation, OccurrenceResponse, PartStat, ScheduledMeeting
from tests.conftest import api_client_for

pytestmark = pytest.mark.django_db


def base(series: ScheduledMeeting) -> str:
    return f"/api/v1/scheduled-meetings/{series.pk}/"


def reply_ics(series: ScheduledMeeting, email: str, partstat: str, extra: str = "", method: str = "REPLY") -> bytes:
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Example Client//EN",
        f"METHOD:{method}",
        "BEGIN:VEVENT",
        f"UID:{series.uid}",
        "DTSTAMP:20270220T120000Z",
        "SEQUENCE:0",
        f"ATTENDEE;PARTSTAT={partstat};CN=Someone:mailto:{email}",
        "ORGANIZER:mailto:olivia@example.com",
        *([extra] if extra else []),
        "END:VEVENT",
        "END:VCALENDAR",
        "",
    ]
    return "\r\n".join(lines).encode()


def post_ics(client: APIClient, url: str, body: bytes) -> Any:
    """POSTs a raw text/calendar body (the client sends bytes as they are)."""
    return client.generic("POST", url, body, content_type="text/calendar")  # type: ignore[arg-type]


def test_the_organizer_sees_who_is_invited_and_their_answers(owner_api: APIClient, weekly: ScheduledMeeting) -> None:
    response = owner_api.get(base(weekly) + "invitations/")
    assert response.status_code == 200
    assert [(item["email"], item["response"]) for item in response.json()] == [
        ("ext@partner.example", "NEEDS-ACTION"),
        ("ivy@example.com", "NEEDS-ACTION"),
    ]


def test_inviting_more_people_sends_them_invitations_only(owner_api: APIClient, weekly: ScheduledMeeting) -> None:
    response = owner_api.post(
        base(weekly) + "invitations/",
        {"invitees": [{"email": "new@example.org", "name": "New"}, {"email": "ivy@example.com"}]},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert [item["email"] for item in response.json()] == ["new@example.org"]
    assert [message.to for message in mail.outbox] == [["new@example.org"]]
    weekly.refresh_from_db()
    assert weekly.sequence == 1


def test_bad_invitees_are_refused(owner_api: APIClient, weekly: ScheduledMeeting) -> None:
    response = owner_api.post(base(weekly) + "invitations/", {"invitees": [{"email": "nope"}]}, format="json")
    assert response.status_code == 400
    assert response.json()["fields"]["invitees.0.email"][0]["code"] == "invalid"
    response = owner_api.post(
        base(weekly) + "invitations/", {"invitees": [{"email": f"p{i}@example.org"} for i in range(199)]}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["fields"]["invitees"][0]["code"] == "too_many_invitees"
    assert Invitation.objects.count() == 2
    assert mail.outbox == []


def test_uninviting_sends_a_cancellation_to_that_person(owner_api: APIClient, weekly: ScheduledMeeting) -> None:
    invitation = Invitation.objects.get(email="ext@partner.example")
    assert owner_api.delete(base(weekly) + f"invitations/{invitation.pk}/").status_code == 204
    assert [(message.to, message.subject.split(":")[0]) for message in mail.outbox] == [
        (["ext@partner.example"], "Cancelled")
    ]
    assert not Invitation.objects.filter(pk=invitation.pk).exists()
    assert owner_api.delete(base(weekly) + f"invitations/{invitation.pk}/").status_code == 404


def test_others_cannot_manage_invitations(
    outsider_api: APIClient, anon_api: APIClient, invitee: User, weekly: ScheduledMeeting
) -> None:
    invitation = Invitation.objects.get(email="ext@partner.example")
    for client, expected in ((outsider_api, 404), (api_client_for(invitee), 404), (anon_api, 401)):
        assert client.get(base(weekly) + "invitations/").status_code == expected
        assert (
            client.post(
                base(weekly) + "invitations/", {"invitees": [{"email": "x@y.example"}]}, format="json"
            ).status_code
            == expected
        )
        assert client.delete(base(weekly) + f"invitations/{invitation.pk}/").status_code == expected
    assert Invitation.objects.count() == 2


def test_an_invitee_lists_and_answers_their_invitations(
    invitee: User, outsider_api: APIClient, weekly: ScheduledMeeting
) -> None:
    client = api_client_for(invitee)
    listed = client.get("/api/v1/invitations/").json()["results"]
    assert [(item["title"], item["response"], item["organizer"]) for item in listed] == [
        ("Planning", "NEEDS-ACTION", "olivia@example.com")
    ]
    invitation_id = listed[0]["id"]
    response = client.post(f"/api/v1/invitations/{invitation_id}/respond/", {"response": "ACCEPTED"}, format="json")
    assert (response.status_code, response.json()["response"]) == (200, "ACCEPTED")
    response = client.post(
        f"/api/v1/invitations/{invitation_id}/respond/",
        {"response": "DECLINED", "occurrence": "20270308T080000Z"},
        format="json",
    )
    assert response.status_code == 200
    assert OccurrenceResponse.objects.get().partstat == PartStat.DECLINED
    weekly.refresh_from_db()
    assert weekly.sequence == 0  # answers do not change the organizer's version
    ics = client.get(f"/api/v1/invitations/{invitation_id}/ics/")
    assert (ics.status_code, ics["Content-Type"]) == (200, "text/calendar; charset=utf-8")
    assert b"PARTSTAT=ACCEPTED" in ics.content
    # Someone else's invitation does not exist for them.
    assert outsider_api.get(f"/api/v1/invitations/{invitation_id}/").status_code == 404
    assert (
        outsider_api.post(
            f"/api/v1/invitations/{invitation_id}/respond/", {"response": "DECLINED"}, format="json"
        ).status_code
        == 404
    )


@pytest.mark.parametrize(
    ("payload", "field", "code"),
    [
        ({"response": "MAYBE"}, "response", "invalid_choice"),
        ({"response": "ACCEPTED", "occurrence": "20270309T080000Z"}, "recurrence_id", "unknown_occurrence"),
        ({"response": "ACCEPTED", "occurrence": "tomorrow"}, "occurrence", "unknown_occurrence"),
    ],
)
def test_bad_answers_are_refused(
    invitee: User, weekly: ScheduledMeeting, payload: dict[str, str], field: str, code: str
) -> None:
    invitation = Invitation.objects.get(user=invitee)
    response = api_client_for(invitee).post(f"/api/v1/invitations/{invitation.pk}/respond/", payload, format="json")
    assert response.status_code == 400
    assert response.json()["fields"][field][0]["code"] == code
    invitation.refresh_from_db()
    assert invitation.partstat == PartStat.NEEDS_ACTION


def test_a_reply_file_is_applied_as_body_or_upload(owner_api: APIClient, weekly: ScheduledMeeting) -> None:
    url = base(weekly) + "replies/"
    response = post_ics(owner_api, url, reply_ics(weekly, "ext@partner.example", "TENTATIVE"))
    assert response.status_code == 200, response.content
    assert [(item["email"], item["response"]) for item in response.json()] == [("ext@partner.example", "TENTATIVE")]
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile(
        "reply.ics",
        reply_ics(weekly, "IVY@example.com", "DECLINED", "RECURRENCE-ID;TZID=Europe/Berlin:20270315T090000"),
        content_type="text/calendar",
    )
    response = owner_api.post(url, {"file": upload}, format="multipart")
    assert response.status_code == 200, response.content
    answer = OccurrenceResponse.objects.get()
    assert (answer.invitation.email, answer.partstat, answer.recurrence_id) == (
        "ivy@example.com",
        "DECLINED",
        datetime.fromisoformat("2027-03-15T08:00:00+00:00"),
    )


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda s: b"this is not a calendar", "malformed_ics"),
        (lambda s: b"\xff\xfe\x00garbage", "malformed_ics"),
        (lambda s: reply_ics(s, "ext@partner.example", "ACCEPTED", method="REQUEST"), "not_a_reply"),
        (lambda s: reply_ics(s, "stranger@example.com", "ACCEPTED"), "unknown_attendee"),
        (lambda s: reply_ics(s, "ext@partner.example", "DELEGATED"), "invalid_partstat"),
        (
            lambda s: reply_ics(s, "ext@partner.example", "ACCEPTED").replace(s.uid.encode(), b"other@x"),
            "wrong_meeting",
        ),
        (
            lambda s: reply_ics(s, "ext@partner.example", "ACCEPTED", "RECURRENCE-ID:20270316T080000Z"),
            "unknown_occurrence",
        ),
        (
            lambda s: reply_ics(
                s, "ext@partner.example", "ACCEPTED", "ATTENDEE;PARTSTAT=ACCEPTED:mailto:ivy@example.com"
            ),
            "several_attendees",
        ),
    ],
)
def test_malformed_replies_are_refused_and_change_nothing(
    owner_api: APIClient, weekly: ScheduledMeeting, make: object, code: str
) -> None:
    assert callable(make)
    response = post_ics(owner_api, base(weekly) + "replies/", make(weekly))
    assert response.status_code == 400, response.content
    assert response.json()["fields"]["file"][0]["code"] == code
    assert set(Invitation.objects.values_list("partstat", flat=True)) == {PartStat.NEEDS_ACTION}


def test_only_the_organizer_may_apply_replies(
    outsider_api: APIClient, anon_api: APIClient, weekly: ScheduledMeeting
) -> None:
    body = reply_ics(weekly, "ext@partner.example", "ACCEPTED")
    assert post_ics(outsider_api, base(weekly) + "replies/", body).status_code == 404
    assert post_ics(anon_api, base(weekly) + "replies/", body).status_code == 401
    assert set(Invitation.objects.values_list("partstat", flat=True)) == {PartStat.NEEDS_ACTION}

"""RSVP links from the email: they work without signing in, once each; forged, altered, reused
and expired links are refused with a 400 and change nothing."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from unittest import mock

import pytest
from django.core import mail, signing
from django.test import Client

from conference.api import ApiError
from scheduling import actions, rsvp
from scheduling.models import Invitation, PartStat, ScheduledMeeting

pytestmark = pytest.mark.django_db


def links_in_email(email: str) -> dict[str, str]:
    message = next(item for item in mail.outbox if item.to == [email])
    found = re.findall(r"(Yes|Maybe|No):\s+https://testserver(/schedule/rsvp/\S+/)", str(message.body))
    return dict(found)


@pytest.fixture
def links(weekly: ScheduledMeeting) -> dict[str, str]:
    actions.do_update_series(weekly, actions.ScheduleChanges(description="Links, please"))
    return links_in_email("ext@partner.example")


def partstat(email: str = "ext@partner.example") -> str:
    return Invitation.objects.get(email=email).partstat


def test_opening_a_link_only_asks_for_confirmation(client: Client, links: dict[str, str]) -> None:
    page = client.get(links["Yes"])
    assert page.status_code == 200
    html = page.content.decode()
    assert "Confirm: Accepted" in html
    assert "Planning" in html
    assert partstat() == PartStat.NEEDS_ACTION  # link scanners only GET: nobody answered yet


def test_confirming_answers_without_signing_in(client: Client, links: dict[str, str], weekly: ScheduledMeeting) -> None:
    response = client.post(links["Maybe"])
    assert response.status_code == 200
    assert "Thank you" in response.content.decode()
    invitation = Invitation.objects.get(email="ext@partner.example")
    assert invitation.partstat == PartStat.TENTATIVE
    assert invitation.responded_at is not None
    weekly.refresh_from_db()
    assert weekly.sequence == 1  # the answer does not change the organizer's version


def test_each_link_works_once_and_another_answer_can_follow(client: Client, links: dict[str, str]) -> None:
    assert client.post(links["Yes"]).status_code == 200
    again = client.post(links["Yes"])
    assert again.status_code == 400
    assert 'data-code="token_used"' in again.content.decode()
    assert client.get(links["Yes"]).status_code == 400
    assert client.post(links["No"]).status_code == 200
    assert partstat() == PartStat.DECLINED


def test_a_forged_or_altered_link_is_refused(client: Client, links: dict[str, str], weekly: ScheduledMeeting) -> None:
    invitation = Invitation.objects.get(email="ext@partner.example")
    forged = signing.dumps({"i": invitation.pk, "p": "ACCEPTED", "n": "x" * 22}, salt="another-salt")
    altered = links["No"].replace("/rsvp/", "/rsvp/A")
    for path in (f"/schedule/rsvp/{forged}/", altered, "/schedule/rsvp/nonsense/"):
        response = client.post(path)
        assert response.status_code == 400, path
        assert 'data-code="invalid_token"' in response.content.decode()
    assert partstat() == PartStat.NEEDS_ACTION


def test_an_expired_link_is_refused(client: Client, links: dict[str, str]) -> None:
    later = time.time() + (rsvp.MAX_AGE + timedelta(days=1)).total_seconds()
    with mock.patch("django.core.signing.time.time", return_value=later):
        response = client.post(links["Yes"])
    assert response.status_code == 400
    assert 'data-code="expired_token"' in response.content.decode()
    assert partstat() == PartStat.NEEDS_ACTION


def test_links_of_a_removed_invitee_or_a_cancelled_meeting_do_not_work(
    client: Client, links: dict[str, str], weekly: ScheduledMeeting
) -> None:
    actions.do_cancel_series(weekly)
    response = client.post(links["Yes"])
    assert (response.status_code, 'data-code="meeting_cancelled"' in response.content.decode()) == (400, True)
    Invitation.objects.filter(email="ext@partner.example").delete()
    response = client.post(links["Yes"])
    assert (response.status_code, 'data-code="invalid_token"' in response.content.decode()) == (400, True)


def test_the_token_check_is_the_domain_rule(links: dict[str, str]) -> None:
    token = links["Yes"].removeprefix("/schedule/rsvp/").rstrip("/")
    invitation = actions.do_rsvp_by_token(token)
    assert invitation.partstat == PartStat.ACCEPTED
    with pytest.raises(ApiError) as caught:
        actions.do_rsvp_by_token(token)
    assert (caught.value.error_code, caught.value.field, caught.value.status_code) == ("token_used", "token", 400)

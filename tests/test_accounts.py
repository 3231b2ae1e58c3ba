from __future__ import annotations

import re

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client

from accounts.models import ApiToken, User
from accounts.tokens import hash_token
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def _link(body: str) -> str:
    match = re.search(r"http://testserver(/accounts/\S+)", body)
    assert match, body
    return match.group(1)


def test_sign_up_verifies_the_email_before_sign_in(client: Client) -> None:
    response = client.post(
        "/accounts/signup/",
        {"email": "new@example.com", "password1": "a-Long-passw0rd!", "password2": "a-Long-passw0rd!"},
    )
    assert response.status_code == 302
    user = get_user_model().objects.get(email="new@example.com")
    assert user.profile.time_zone == "UTC"
    assert len(mail.outbox) == 1
    assert client.get("/dashboard/").status_code == 302  # not signed in until verified
    confirm = _link(str(mail.outbox[0].body))
    client.post(confirm)
    assert EmailAddress.objects.get(email="new@example.com").verified
    client.post("/accounts/login/", {"login": "new@example.com", "password": "a-Long-passw0rd!"})
    assert client.get("/dashboard/").status_code == 200


def test_sign_in_and_out(client: Client, owner: User) -> None:
    bad = client.post("/accounts/login/", {"login": owner.email, "password": "wrong"})
    assert bad.status_code == 200
    assert "not correct" in bad.content.decode()
    assert client.post("/accounts/login/", {"login": owner.email, "password": PASSWORD}).status_code == 302
    assert client.get("/dashboard/").status_code == 200
    client.post("/accounts/logout/")
    assert client.get("/dashboard/").status_code == 302


def test_password_reset_by_email(client: Client, owner: User) -> None:
    client.post("/accounts/password/reset/", {"email": owner.email})
    assert len(mail.outbox) == 1
    form_url = client.get(_link(str(mail.outbox[0].body)), follow=True).redirect_chain[-1][0]
    client.post(form_url, {"password1": "Another-passw0rd!", "password2": "Another-passw0rd!"})
    owner.refresh_from_db()
    assert owner.check_password("Another-passw0rd!")


def test_password_reset_for_an_unknown_email_reveals_nothing(client: Client, db: None) -> None:
    response = client.post("/accounts/password/reset/", {"email": "nobody@example.com"})
    assert response.status_code == 302
    assert get_user_model().objects.count() == 0


class TestProfile:
    def test_it_saves_display_name_and_time_zone(self, owner_client: Client, owner: User) -> None:
        response = owner_client.post("/accounts/profile/", {"display_name": "Olivia", "time_zone": "America/New_York"})
        assert response.status_code == 302
        owner.profile.refresh_from_db()
        assert (owner.profile.display_name, owner.profile.time_zone) == ("Olivia", "America/New_York")

    def test_times_are_shown_in_the_users_time_zone(self, owner_client: Client, owner: User) -> None:
        owner.profile.time_zone = "Asia/Tokyo"
        owner.profile.save()
        response = owner_client.get("/accounts/profile/")
        assert response.context["TIME_ZONE"] == "Asia/Tokyo"

    def test_it_rejects_an_unknown_time_zone(self, owner_client: Client, owner: User) -> None:
        assert (
            owner_client.post("/accounts/profile/", {"display_name": "x", "time_zone": "Nowhere/Land"}).status_code
            == 400
        )
        owner.profile.refresh_from_db()
        assert owner.profile.display_name == ""

    def test_it_requires_sign_in(self, client: Client) -> None:
        assert client.get("/accounts/profile/").status_code == 302


class TestApiTokens:
    def test_a_token_is_shown_once_and_stored_hashed(self, owner_client: Client, owner: User) -> None:
        response = owner_client.post("/accounts/tokens/", {"name": "LMS"})
        secret = re.search(r'value="(cft_[^"]+)"', response.content.decode())
        assert secret
        token = ApiToken.objects.get(user=owner)
        assert token.key_hash == hash_token(secret.group(1))
        assert secret.group(1) not in owner_client.get("/accounts/tokens/").content.decode()
        assert token.prefix in owner_client.get("/accounts/tokens/").content.decode()

    def test_a_token_needs_a_name(self, owner_client: Client) -> None:
        assert owner_client.post("/accounts/tokens/", {"name": ""}).status_code == 400
        assert not ApiToken.objects.exists()

    def test_the_owner_revokes_a_token(self, owner_client: Client, owner: User) -> None:
        owner_client.post("/accounts/tokens/", {"name": "LMS"})
        token = ApiToken.objects.get(user=owner)
        assert owner_client.post(f"/accounts/tokens/{token.pk}/revoke/").status_code == 302
        token.refresh_from_db()
        assert not token.is_active

    def test_nobody_else_can_revoke_or_see_it(self, owner_client: Client, outsider_client: Client, owner: User) -> None:
        owner_client.post("/accounts/tokens/", {"name": "LMS"})
        token = ApiToken.objects.get(user=owner)
        assert outsider_client.post(f"/accounts/tokens/{token.pk}/revoke/").status_code == 404
        assert token.prefix not in outsider_client.get("/accounts/tokens/").content.decode()
        token.refresh_from_db()
        assert token.is_active

    def test_anonymous_is_sent_to_sign_in(self, client: Client) -> None:
        assert client.post("/accounts/tokens/", {"name": "x"}).status_code == 302
        assert not ApiToken.objects.exists()

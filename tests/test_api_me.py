from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.models import User

pytestmark = pytest.mark.django_db


def test_it_shows_the_users_own_profile(owner_api: APIClient, owner: User) -> None:
    body = owner_api.get("/api/v1/me/").json()
    assert body == {"email": "olivia@example.com", "name": "olivia", "display_name": "", "time_zone": "UTC"}


def test_it_updates_display_name_and_time_zone(owner_api: APIClient, owner: User) -> None:
    response = owner_api.patch("/api/v1/me/", {"display_name": "Olivia R.", "time_zone": "Europe/Berlin"})
    assert response.status_code == 200
    owner.profile.refresh_from_db()
    assert (owner.profile.display_name, owner.profile.time_zone) == ("Olivia R.", "Europe/Berlin")


def test_it_rejects_an_unknown_time_zone(owner_api: APIClient, owner: User) -> None:
    response = owner_api.patch("/api/v1/me/", {"time_zone": "Mars/Olympus"})
    assert response.status_code == 400
    assert response.json()["fields"]["time_zone"][0]["code"] == "unknown_time_zone"
    owner.profile.refresh_from_db()
    assert owner.profile.time_zone == "UTC"


def test_it_refuses_anonymous_requests(anon_api: APIClient) -> None:
    assert anon_api.get("/api/v1/me/").status_code == 401
    assert anon_api.patch("/api/v1/me/", {"display_name": "x"}).status_code == 401

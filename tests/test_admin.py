from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib import admin
from django.test import Client, RequestFactory
from django.utils import timezone

from accounts.models import ApiToken, User
from meetings.models import BreakoutPlan, BreakoutPreassignment, Meeting, Room, RoomKind
from rooms.breakout_state import main_room
from tests.factories import make_meeting, make_user

pytestmark = pytest.mark.django_db

PROJECT_APPS = ("accounts", "meetings", "scheduling", "recordings", "webhooks")


@pytest.fixture
def admin_client_(db: None) -> Client:
    superuser = make_user(username="root", email="root@example.com", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(superuser)
    return client


def test_every_project_model_is_registered() -> None:
    models = [model for app in PROJECT_APPS for model in apps.get_app_config(app).get_models()]
    assert models
    assert [model for model in models if model not in admin.site._registry] == []


def test_every_changelist_loads_with_search_and_filters(admin_client_: Client, meeting: Meeting) -> None:
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label not in PROJECT_APPS:
            continue
        url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        assert admin_client_.get(url).status_code == 200, url
        if model_admin.search_fields:
            assert admin_client_.get(url, {"q": "sync"}).status_code == 200, url
        request = RequestFactory().get(url)
        request.user = User.objects.get(username="root")
        addable = model_admin.has_add_permission(request)
        assert admin_client_.get(f"{url}add/").status_code == (200 if addable else 403), url


def test_meetings_are_searchable_by_code(admin_client_: Client, meeting: Meeting) -> None:
    html = admin_client_.get("/admin/meetings/meeting/", {"q": meeting.code}).content.decode()
    assert "Weekly sync" in html


def test_an_admin_creates_a_token_and_sees_it_once(admin_client_: Client, owner: User) -> None:
    response = admin_client_.post(
        "/admin/accounts/apitoken/add/", {"user": owner.pk, "name": "from admin"}, follow=True
    )
    assert "copy it now" in response.content.decode()
    token = ApiToken.objects.get(user=owner)
    assert token.prefix.startswith("cft_")
    assert len(token.key_hash) == 64


def test_an_admin_revokes_tokens_in_bulk(admin_client_: Client, owner: User) -> None:
    admin_client_.post("/admin/accounts/apitoken/add/", {"user": owner.pk, "name": "t"})
    token = ApiToken.objects.get()
    admin_client_.post("/admin/accounts/apitoken/", {"action": "revoke", "_selected_action": [token.pk]})
    token.refresh_from_db()
    assert not token.is_active


@pytest.mark.parametrize("who", ["owner_client", "client"])
def test_non_staff_cannot_enter(request: pytest.FixtureRequest, who: str, meeting: Meeting) -> None:
    client: Client = request.getfixturevalue(who)
    response = client.get("/admin/meetings/meeting/")
    assert response.status_code == 302
    assert "/admin/login/" in response.url  # type: ignore[attr-defined]


@pytest.fixture
def rooms_in_states(meeting: Meeting) -> dict[str, Room]:
    """A main room and breakout rooms set up, open and closed, of ``meeting``."""
    now = timezone.now()
    main = main_room(meeting.pk)

    def breakout(name: str, **times: object) -> Room:
        return Room.objects.create(meeting=meeting, kind=RoomKind.BREAKOUT, parent=main, name=name, **times)

    return {
        "main": main,
        "set up": breakout("Set-up room", position=1),
        "open": breakout("Open room", position=2, opened_at=now),
        "closed": breakout("Closed room", position=3, opened_at=now, closed_at=now),
    }


def test_the_meeting_page_shows_its_rooms_inline(
    admin_client_: Client, meeting: Meeting, rooms_in_states: dict[str, Room]
) -> None:
    html = admin_client_.get(f"/admin/meetings/meeting/{meeting.pk}/change/").content.decode()
    for name in ("Main room", "Set-up room", "Open room", "Closed room"):
        assert name in html
    assert f"/admin/meetings/room/{rooms_in_states['open'].pk}/change/" in html  # each row links to its room


@pytest.mark.parametrize(
    ("query", "shown"),
    [
        ({"kind__exact": "main"}, {"Main room"}),
        ({"kind__exact": "breakout"}, {"Set-up room", "Open room", "Closed room"}),
        ({"state": "setup"}, {"Set-up room"}),
        ({"state": "open"}, {"Open room"}),
        ({"state": "closed"}, {"Closed room"}),
    ],
)
def test_rooms_are_filtered_by_kind_and_state(
    admin_client_: Client, rooms_in_states: dict[str, Room], query: dict[str, str], shown: set[str]
) -> None:
    response = admin_client_.get("/admin/meetings/room/", query)
    assert response.status_code == 200
    rows = {room.name for room in response.context["cl"].result_list}
    assert rows == shown


def test_rooms_are_searchable_by_meeting_code(
    admin_client_: Client, owner: User, meeting: Meeting, rooms_in_states: dict[str, Room]
) -> None:
    other = make_meeting(owner=owner, title="Elsewhere")
    main_room(other.pk)
    response = admin_client_.get("/admin/meetings/room/", {"q": meeting.code})
    assert {room.meeting_id for room in response.context["cl"].result_list} == {meeting.pk}
    assert len(response.context["cl"].result_list) == 4


def test_breakout_plans_and_pre_assignments_list_with_their_meeting(
    admin_client_: Client, meeting: Meeting, rooms_in_states: dict[str, Room]
) -> None:
    BreakoutPlan.objects.create(meeting=meeting, mode="auto", duration_minutes=15)
    BreakoutPreassignment.objects.create(meeting=meeting, room=rooms_in_states["set up"], email="ada@example.com")
    plans = admin_client_.get("/admin/meetings/breakoutplan/", {"q": meeting.code}).content.decode()
    assert "Weekly sync" in plans
    assert "Assign automatically" in plans
    preassignments = admin_client_.get("/admin/meetings/breakoutpreassignment/", {"q": "ada@"}).content.decode()
    assert "ada@example.com" in preassignments
    assert "Set-up room" in preassignments

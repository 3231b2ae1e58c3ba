"""Breakout rooms over REST (``/api/v1/meetings/<code>/breakouts/…``): the owner and co-hosts
read the state, change the settings, set up rooms, assign and pre-assign people (JSON and CSV),
open, close and broadcast; everyone else is refused and nothing changes. The domain steps run
for real (the meeting row locked, people joined through ``rooms.presence.do_join``)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import msgpack  # type: ignore[import-untyped]
import pytest
import redis
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone
from pytest_django import DjangoCaptureOnCommitCallbacks
from rest_framework.test import APIClient

from accounts.access import profile_of
from accounts.models import User
from meetings.actions import do_end_meeting, do_reopen_meeting
from meetings.models import (
    BreakoutPlan,
    BreakoutPreassignment,
    Meeting,
    MeetingStatus,
    Participant,
    Room,
    RoomKind,
)
from rooms import breakout_setup, fanout
from rooms import presence as room
from rooms.breakout_state import main_room
from rooms.breakouts import lock_meeting
from rooms.events import meeting_group
from rooms.permissions import Action, Standing, actor_for_account
from rooms.protocol import ProtocolError
from rooms.tasks import breakout_deadlines
from tests.conftest import api_client_for
from tests.factories import make_meeting, save_meeting

pytestmark = pytest.mark.django_db

Capture = DjangoCaptureOnCommitCallbacks

#: Every breakout endpoint, with a body that would be valid once rooms exist.
ENDPOINTS: list[tuple[str, str, dict[str, Any]]] = [
    ("get", "", {}),
    ("patch", "", {"mode": "auto"}),
    ("post", "rooms/", {"count": 2}),
    ("post", "assign/", {"assignments": [{"participant_id": str(uuid.uuid4()), "room_id": None}]}),
    ("post", "auto-assign/", {}),
    ("post", "preassign/", {"preassignments": [{"email": "ada@example.com", "room_id": 1}]}),
    ("post", "open/", {}),
    ("post", "close/", {"now": True}),
    ("post", "broadcast/", {"text": "Hello"}),
]


def url(meeting: Meeting, suffix: str = "") -> str:
    return f"/api/v1/meetings/{meeting.code}/breakouts/{suffix}"


def call(api: APIClient, method: str, meeting: Meeting, suffix: str = "", body: Any = None, **kwargs: Any) -> Any:
    return getattr(api, method)(url(meeting, suffix), body if body is not None else {}, format="json", **kwargs)


def ok(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.content
    body = response.json()
    assert isinstance(body, dict)
    return body


def refusal(response: Any, status: int) -> str:
    assert response.status_code == status, response.content
    code = response.json()["code"]
    assert isinstance(code, str)
    return code


def field_codes(response: Any, field: str) -> list[str]:
    return [error["code"] for error in response.json()["fields"][field]]


def enter(meeting: Meeting, user: User | None = None, name: str | None = None) -> Participant:
    """Someone joins the meeting's room as the WebSocket consumer would make them."""
    identity = room.identity_for(user, None) if user is not None else room.Identity(None, f"key-{name}", "")
    outcome = room.do_join(
        meeting.pk,
        user or AnonymousUser(),
        identity,
        display_name=name,
        passcode=None,
        resume_token=None,
        channel_name=f"test.{uuid.uuid4().hex}",
    )
    return Participant.objects.get(pk=outcome.participant_id)


@pytest.fixture
def open_meeting(meeting: Meeting) -> Meeting:
    """The meeting, joinable without the waiting room, by guests too."""
    save_meeting(meeting, waiting_room=False, allow_guests=True)
    return meeting


@pytest.fixture
def people(open_meeting: Meeting) -> list[Participant]:
    """Three guests in the meeting's main room."""
    return [enter(open_meeting, name=name) for name in ("Ada", "Grace", "Linus")]


def make_rooms(api: APIClient, meeting: Meeting, **body: Any) -> list[int]:
    state = ok(call(api, "post", meeting, "rooms/", body or {"count": 2}))
    return [item["id"] for item in state["rooms"]]


def breakout_names(meeting: Meeting) -> list[str]:
    rooms = Room.objects.filter(meeting=meeting, kind=RoomKind.BREAKOUT, closed_at__isnull=True)
    return list(rooms.order_by("position").values_list("name", flat=True))


def assigned(*participants: Participant) -> list[int | None]:
    return [Participant.objects.get(pk=p.pk).assigned_room_id for p in participants]


def where(*participants: Participant) -> list[int | None]:
    return [Participant.objects.get(pk=p.pk).room_id for p in participants]


# --- Who may ------------------------------------------------------------------------------------


class TestRefusals:
    @pytest.mark.parametrize(("method", "suffix", "body"), ENDPOINTS)
    def test_anonymous_callers_get_401_and_change_nothing(
        self, anon_api: APIClient, meeting: Meeting, method: str, suffix: str, body: dict[str, Any]
    ) -> None:
        response = call(anon_api, method, meeting, suffix, body)
        assert refusal(response, 401) == "not_authenticated"
        assert not Room.objects.filter(kind=RoomKind.BREAKOUT).exists()
        assert not BreakoutPlan.objects.exists()

    @pytest.mark.parametrize(("method", "suffix", "body"), ENDPOINTS)
    def test_an_outsider_gets_404_as_for_the_meeting_itself(
        self, outsider_api: APIClient, meeting: Meeting, method: str, suffix: str, body: dict[str, Any]
    ) -> None:
        response = call(outsider_api, method, meeting, suffix, body)
        assert refusal(response, 404) == "not_found"
        assert not Room.objects.filter(kind=RoomKind.BREAKOUT).exists()
        assert not BreakoutPlan.objects.exists()

    @pytest.mark.parametrize(("method", "suffix", "body"), ENDPOINTS)
    def test_a_participant_in_the_meeting_is_no_host_and_gets_404(
        self, open_meeting: Meeting, outsider: User, outsider_api: APIClient, method: str, suffix: str, body: Any
    ) -> None:
        present = enter(open_meeting, outsider)
        assert present.role == "attendee"
        assert refusal(call(outsider_api, method, open_meeting, suffix, body), 404) == "not_found"
        assert not Room.objects.filter(kind=RoomKind.BREAKOUT).exists()

    @pytest.mark.parametrize(
        ("method", "suffix", "body"),
        [("patch", "", {"mode": "bogus"}), ("post", "rooms/", {"count": 0}), ("post", "broadcast/", {})],
    )
    def test_an_outsider_gets_404_before_the_body_is_looked_at(
        self, outsider_api: APIClient, meeting: Meeting, method: str, suffix: str, body: dict[str, Any]
    ) -> None:
        assert refusal(call(outsider_api, method, meeting, suffix, body), 404) == "not_found"

    def test_an_unknown_code_is_404(self, owner_api: APIClient) -> None:
        response = owner_api.get("/api/v1/meetings/zzz-zzzz-zzz/breakouts/")
        assert refusal(response, 404) == "not_found"

    def test_a_signed_in_browser_without_the_csrf_token_gets_403(self, owner: User, meeting: Meeting) -> None:
        browser = APIClient(enforce_csrf_checks=True)
        browser.force_login(owner)
        assert ok(browser.get(url(meeting)))["state"] == "none"  # reading needs no token
        response = browser.post(url(meeting, "rooms/"), {"count": 2}, format="json")
        assert refusal(response, 403) == "permission_denied"
        assert not Room.objects.filter(kind=RoomKind.BREAKOUT).exists()

    def test_a_co_host_may_do_what_the_owner_does(self, member_api: APIClient, meeting: Meeting) -> None:
        rooms = make_rooms(member_api, meeting, count=3)
        assert len(rooms) == 3
        assert ok(call(member_api, "patch", meeting, "", {"mode": "choose"}))["mode"] == "choose"

    def test_an_ended_meeting_refuses_changes_with_409(self, owner_api: APIClient, meeting: Meeting) -> None:
        Meeting.objects.filter(pk=meeting.pk).update(status=MeetingStatus.ENDED)
        assert refusal(call(owner_api, "post", meeting, "rooms/", {"count": 2}), 409) == "meeting_ended"
        assert not Room.objects.filter(kind=RoomKind.BREAKOUT).exists()
        assert ok(call(owner_api, "get", meeting))["state"] == "none"


class TestActorForAccount:
    def test_owner_co_host_others_and_anonymous_stand_where_the_rules_say(
        self, meeting: Meeting, owner: User, member: User, outsider: User
    ) -> None:
        assert actor_for_account(owner, meeting).standing == Standing.OWNER
        assert actor_for_account(member, meeting).standing == Standing.COHOST
        assert actor_for_account(outsider, meeting).standing == Standing.PARTICIPANT
        assert actor_for_account(AnonymousUser(), meeting).standing == Standing.GUEST

    def test_the_permission_check_refuses_a_non_host_account_before_any_change(
        self, meeting: Meeting, outsider: User
    ) -> None:
        def step(locked: Meeting) -> None:
            raise AssertionError("the step must not run")

        with pytest.raises(ProtocolError) as refused:
            breakout_setup.as_host(outsider, meeting, Action.MANAGE_BREAKOUTS, step)
        assert refused.value.code == "not_host"


# --- State and settings ---------------------------------------------------------------------------


class TestState:
    def test_a_meeting_without_rooms_has_the_default_state(self, owner_api: APIClient, meeting: Meeting) -> None:
        assert ok(call(owner_api, "get", meeting)) == {
            "state": "none",
            "mode": "manual",
            "allow_return": True,
            "countdown_seconds": 60,
            "duration_minutes": None,
            "opened_at": None,
            "ends_at": None,
            "closing_at": None,
            "rooms": [],
            "main": [],
            "unassigned": [],
            "help": [],
        }

    def test_hosts_see_who_is_in_assigned_to_and_pre_assigned_to_each_room(
        self, owner_api: APIClient, open_meeting: Meeting, people: list[Participant]
    ) -> None:
        ada, grace, linus = people
        first, second = make_rooms(owner_api, open_meeting)
        ok(
            call(
                owner_api,
                "post",
                open_meeting,
                "assign/",
                {"assignments": [{"participant_id": str(ada.pk), "room_id": first}]},
            )
        )
        ok(
            call(
                owner_api,
                "post",
                open_meeting,
                "preassign/",
                {"preassignments": [{"email": "Zoe@Example.com", "room_id": second}]},
            )
        )
        state = ok(call(owner_api, "get", open_meeting))
        assert state["state"] == "ready"
        assert [(r["name"], r["position"], r["kind"], r["count"]) for r in state["rooms"]] == [
            ("Room 1", 1, "breakout", 0),
            ("Room 2", 2, "breakout", 0),
        ]
        assert state["rooms"][0]["assigned"] == [str(ada.pk)]
        assert state["rooms"][1]["preassigned"] == ["zoe@example.com"]
        assert [person["name"] for person in state["main"]] == ["Ada", "Grace", "Linus"]
        assert state["unassigned"] == [str(grace.pk), str(linus.pk)]

        ok(call(owner_api, "post", open_meeting, "open/"))
        state = ok(call(owner_api, "get", open_meeting))
        assert state["state"] == "open"
        assert state["rooms"][0]["count"] == 1
        assert [person["id"] for person in state["rooms"][0]["participants"]] == [str(ada.pk)]
        assert {person["name"] for person in state["main"]} == {"Grace", "Linus"}


class TestSettings:
    def test_hosts_change_the_settings(self, owner_api: APIClient, meeting: Meeting) -> None:
        body = {"mode": "auto", "allow_return": False, "countdown_seconds": 0, "duration_minutes": 15}
        state = ok(call(owner_api, "patch", meeting, "", body))
        assert {key: state[key] for key in body} == body
        plan = BreakoutPlan.objects.get(meeting=meeting)
        assert (plan.mode, plan.allow_return, plan.countdown_seconds, plan.duration_minutes) == ("auto", False, 0, 15)

    def test_leaving_a_field_out_keeps_it_and_null_removes_the_duration(
        self, owner_api: APIClient, meeting: Meeting
    ) -> None:
        ok(call(owner_api, "patch", meeting, "", {"duration_minutes": 15, "countdown_seconds": 30}))
        assert ok(call(owner_api, "patch", meeting, "", {"mode": "choose"}))["duration_minutes"] == 15
        state = ok(call(owner_api, "patch", meeting, "", {"duration_minutes": None}))
        assert (state["duration_minutes"], state["countdown_seconds"], state["mode"]) == (None, 30, "choose")

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"mode": "everyone"}, "mode"),
            ({"countdown_seconds": 301}, "countdown_seconds"),
            ({"countdown_seconds": -1}, "countdown_seconds"),
            ({"duration_minutes": 0}, "duration_minutes"),
            ({"duration_minutes": 1441}, "duration_minutes"),
            ({"allow_return": "perhaps"}, "allow_return"),
        ],
    )
    def test_bad_values_are_refused_and_nothing_changes(
        self, owner_api: APIClient, meeting: Meeting, body: dict[str, Any], field: str
    ) -> None:
        response = call(owner_api, "patch", meeting, "", body)
        assert refusal(response, 400) == "invalid"
        assert field in response.json()["fields"]
        assert not BreakoutPlan.objects.exists()

    def test_a_new_duration_moves_the_end_of_open_rooms(
        self, owner_api: APIClient, open_meeting: Meeting, people: list[Participant]
    ) -> None:
        make_rooms(owner_api, open_meeting)
        opened = ok(call(owner_api, "post", open_meeting, "open/"))
        assert opened["ends_at"] is None
        state = ok(call(owner_api, "patch", open_meeting, "", {"duration_minutes": 10}))
        plan = BreakoutPlan.objects.get(meeting=open_meeting)
        assert plan.opened_at is not None
        assert plan.ends_at == plan.opened_at + timedelta(minutes=10)
        assert state["ends_at"] == plan.ends_at.isoformat().replace("+00:00", "Z")


# --- Rooms --------------------------------------------------------------------------------------


class TestCreateRooms:
    def test_a_count_makes_numbered_rooms(self, owner_api: APIClient, meeting: Meeting) -> None:
        state = ok(call(owner_api, "post", meeting, "rooms/", {"count": 3}))
        assert state["state"] == "ready"
        assert [room["name"] for room in state["rooms"]] == ["Room 1", "Room 2", "Room 3"]
        assert breakout_names(meeting) == ["Room 1", "Room 2", "Room 3"]
        assert set(Room.objects.filter(kind=RoomKind.BREAKOUT).values_list("parent_id", flat=True)) == {
            main_room(meeting.pk).pk
        }

    def test_names_make_named_rooms_and_replace_the_rooms_set_up(self, owner_api: APIClient, meeting: Meeting) -> None:
        make_rooms(owner_api, meeting, count=4)
        state = ok(call(owner_api, "post", meeting, "rooms/", {"names": ["Design", " Ops "]}))
        assert [(room["name"], room["position"]) for room in state["rooms"]] == [("Design", 1), ("Ops", 2)]
        assert breakout_names(meeting) == ["Design", "Ops"]

    def test_fifty_rooms_are_fine(self, owner_api: APIClient, meeting: Meeting) -> None:
        assert len(make_rooms(owner_api, meeting, count=50)) == 50

    @pytest.mark.parametrize("body", [{"count": 51}, {"names": [f"Team {i}" for i in range(51)]}])
    def test_fifty_one_rooms_are_too_many(self, owner_api: APIClient, meeting: Meeting, body: dict[str, Any]) -> None:
        make_rooms(owner_api, meeting, count=2)
        assert refusal(call(owner_api, "post", meeting, "rooms/", body), 400) == "too_many_rooms"
        assert breakout_names(meeting) == ["Room 1", "Room 2"]

    @pytest.mark.parametrize(
        "body", [{}, {"count": 2, "names": ["A"]}, {"count": 0}, {"names": []}, {"names": [""]}, {"names": ["x" * 81]}]
    )
    def test_a_bad_request_is_refused(self, owner_api: APIClient, meeting: Meeting, body: dict[str, Any]) -> None:
        assert refusal(call(owner_api, "post", meeting, "rooms/", body), 400) == "invalid"
        assert breakout_names(meeting) == []

    def test_rooms_cannot_change_while_open(
        self, owner_api: APIClient, open_meeting: Meeting, people: list[Participant]
    ) -> None:
        make_rooms(owner_api, open_meeting, count=2)
        ok(call(owner_api, "post", open_meeting, "open/"))
        assert refusal(call(owner_api, "post", open_meeting, "rooms/", {"count": 5}), 409) == "breakouts_open"
        assert breakout_names(open_meeting) == ["Room 1", "Room 2"]


class TestAssign:
    def test_hosts_assign_and_unassign_people(
        self, owner_api: APIClient, open_meeting: Meeting, people: list[Participant]
    ) -> None:
        ada, grace, linus = people
        first, second = make_rooms(owner_api, open_meeting)
        body = {
            "assignments": [
                {"participant_id": str(ada.pk), "room_id": first},
                {"participant_id": str(grace.pk), "room_id": second},
            ]
        }
        state = ok(call(owner_api, "post", open_meeting, "assign/", body))
        assert assigned(ada, grace, linus) == [first, second, None]
        assert [room["assigned"] for room in state["rooms"]] == [[str(ada.pk)], [str(grace.pk)]]
        assert where(ada, grace) == [main_room(open_meeting.pk).pk] * 2  # they move when the rooms open

        body = {"assignments": [{"participant_id": str(ada.pk), "room_id": None}]}
        state = ok(call(owner_api, "post", open_meeting, "assign/", body))
        assert assigned(ada, grace) == [None, second]
        assert str(ada.pk) in state["unassigned"]

    def test_an_unknown_participant_changes_nobody(
        self, owner_api: APIClient, open_meeting: Meeting, people: list[Participant]
    ) -> None:
        ada = people[0]
        first, _ = make_rooms(owner_api, open_meeting)
        stranger = uuid.uuid4()
        body = {
            "assignments": [
                {"participant_id": str(ada.pk), "room_id": first},
                {"participant_id": str(stranger), "room_id": first},
            ]
        }
        response = call(owner_api, "post", open_meeting, "assign/", body)
        assert refusal(response, 400) == "no_such_participant"
        assert str(stranger) in response.json()["detail"]
        assert assigned(ada) == [None]

    def test_someone_of_another_meeting_is_no_participant_here(
        self, owner: User, owner_api: APIClient, open_meeting: Meeting, people: list[Participant]
    ) -> None:
        other = make_meeting(owner=owner, waiting_room=False, allow_guests=True)
        elsewhere = enter(other, name="Eve")
        first, _ = make_rooms(owner_api, open_meeting)
        body = {"assignments": [{"participant_id": str(elsewhere.pk), "room_id": first}]}
        assert refusal(call(owner_api, "post", open_meeting, "assign/", body), 400) == "no_such_participant"
        assert assigned(elsewhere) == [None]

    def test_an_unknown_room_changes_nobody(
        self, owner: User, owner_api: APIClient, open_meeting: Meeting, people: list[Participant]
    ) -> None:
        ada, grace, _ = people
        first, _ = make_rooms(owner_api, open_meeting)
        other = make_meeting(owner=owner)
        foreign = ok(call(owner_api, "post", other, "rooms/", {"count": 1}))["rooms"][0]["id"]
        body = {
            "assignments": [
                {"participant_id": str(ada.pk), "room_id": first},
                {"participant_id": str(grace.pk), "room_id": foreign},
            ]
        }
        assert refusal(call(owner_api, "post", open_meeting, "assign/", body), 400) == "no_such_room"
        assert assigned(ada, grace) == [None, None]

    @pytest.mark.parametrize(
        "assignments",
        [
            [],
            [{"participant_id": "not-a-uuid", "room_id": 1}],
            [{"participant_id": "0b5e6c1a-3f0d-4b8e-9a1c-2d4f6e8a0b13", "room_id": 0}],
        ],
    )
    def test_a_malformed_list_is_refused(
        self, owner_api: APIClient, meeting: Meeting, assignments: list[dict[str, Any]]
    ) -> None:
        response = call(owner_api, "post", meeting, "assign/", {"assignments": assignments})
        assert refusal(response, 400) == "invalid"

    def test_a_participant_twice_in_one_list_is_refused(
        self, owner_api: APIClient, open_meeting: Meeting, people: list[Participant]
    ) -> None:
        first, second = make_rooms(owner_api, open_meeting)
        ada = str(people[0].pk)
        body = {"assignments": [{"participant_id": ada, "room_id": first}, {"participant_id": ada, "room_id": second}]}
        response = call(owner_api, "post", open_meeting, "assign/", body)
        assert refusal(response, 400) == "invalid"
        assert field_codes(response, "assignments") == ["duplicate_participant"]
        assert assigned(people[0]) == [None]

    def test_while_the_rooms_are_open_people_move_at_once(
        self, owner_api: APIClient, open_meeting: Meeting, people: list[Participant]
    ) -> None:
        ada, grace, _ = people
        first, second = make_rooms(owner_api, open_meeting)
        ok(call(owner_api, "post", open_meeting, "open/"))
        body = {
            "assignments": [
                {"participant_id": str(ada.pk), "room_id": second},
                {"participant_id": str(grace.pk), "room_id": first},
            ]
        }
        state = ok(call(owner_api, "post", open_meeting, "assign/", body))
        assert where(ada, grace) == [second, first]
        assert [room["count"] for room in state["rooms"]] == [1, 1]
        body = {"assignments": [{"participant_id": str(ada.pk), "room_id": None}]}
        ok(call(owner_api, "post", open_meeting, "assign/", body))
        assert where(ada) == [main_room(open_meeting.pk).pk]

    def test_auto_assign_spreads_everyone_but_the_hosts(
        self, owner: User, owner_api: APIClient, open_meeting: Meeting, people: list[Participant]
    ) -> None:
        host = enter(open_meeting, owner)
        first, second = make_rooms(owner_api, open_meeting)
        ok(call(owner_api, "post", open_meeting, "auto-assign/"))
        assert assigned(*people) == [first, second, first]
        assert assigned(host) == [None]

    def test_auto_assign_needs_rooms(self, owner_api: APIClient, open_meeting: Meeting) -> None:
        assert refusal(call(owner_api, "post", open_meeting, "auto-assign/"), 409) == "no_rooms"


# --- Pre-assignment -----------------------------------------------------------------------------


def preassigned(meeting: Meeting) -> dict[str, str]:
    rows = BreakoutPreassignment.objects.filter(meeting=meeting).select_related("room")
    return {row.email: row.room.name for row in rows}


def post_csv(api: APIClient, meeting: Meeting, text: str | bytes) -> Any:
    data = text.encode() if isinstance(text, str) else text
    return api.generic("POST", url(meeting, "preassign/"), data, content_type="text/csv")  # type: ignore[arg-type]


class TestPreassignJson:
    def test_hosts_pre_assign_invitees_of_a_scheduled_meeting(self, owner_api: APIClient, meeting: Meeting) -> None:
        assert meeting.status == MeetingStatus.SCHEDULED
        first, second = make_rooms(owner_api, meeting, names=["Design", "Ops"])
        body = {
            "preassignments": [
                {"email": "Ada@Example.com", "room_id": first},
                {"email": "grace@example.com", "room_id": second},
            ]
        }
        state = ok(call(owner_api, "post", meeting, "preassign/", body))
        assert preassigned(meeting) == {"ada@example.com": "Design", "grace@example.com": "Ops"}
        assert [room["preassigned"] for room in state["rooms"]] == [["ada@example.com"], ["grace@example.com"]]

    def test_a_second_list_moves_an_email_and_null_removes_one(self, owner_api: APIClient, meeting: Meeting) -> None:
        first, second = make_rooms(owner_api, meeting)
        body = {
            "preassignments": [
                {"email": "ada@example.com", "room_id": first},
                {"email": "grace@example.com", "room_id": first},
            ]
        }
        ok(call(owner_api, "post", meeting, "preassign/", body))
        body = {
            "preassignments": [
                {"email": "ada@example.com", "room_id": second},
                {"email": "GRACE@example.com", "room_id": None},
            ]
        }
        ok(call(owner_api, "post", meeting, "preassign/", body))
        assert preassigned(meeting) == {"ada@example.com": "Room 2"}

    def test_an_unknown_room_saves_nothing(self, owner_api: APIClient, meeting: Meeting) -> None:
        first, _ = make_rooms(owner_api, meeting)
        body = {
            "preassignments": [
                {"email": "ada@example.com", "room_id": first},
                {"email": "grace@example.com", "room_id": first + 1000},
            ]
        }
        assert refusal(call(owner_api, "post", meeting, "preassign/", body), 400) == "no_such_room"
        assert preassigned(meeting) == {}

    @pytest.mark.parametrize(
        ("item", "code"),
        [({"email": "not an email", "room_id": 1}, "invalid"), ({"room_id": 1}, "required")],
    )
    def test_a_bad_email_saves_nothing(
        self, owner_api: APIClient, meeting: Meeting, item: dict[str, Any], code: str
    ) -> None:
        first, _ = make_rooms(owner_api, meeting)
        body = {"preassignments": [{"email": "ada@example.com", "room_id": first}, {**item, "room_id": first}]}
        response = call(owner_api, "post", meeting, "preassign/", body)
        assert refusal(response, 400) == "invalid"
        assert field_codes(response, "preassignments.1.email") == [code]
        assert preassigned(meeting) == {}

    def test_someone_already_here_is_assigned_at_once(
        self, owner_api: APIClient, open_meeting: Meeting, outsider: User
    ) -> None:
        present = enter(open_meeting, outsider)
        first, _ = make_rooms(owner_api, open_meeting)
        body = {"preassignments": [{"email": outsider.email, "room_id": first}]}
        ok(call(owner_api, "post", open_meeting, "preassign/", body))
        assert assigned(present) == [first]

    def test_an_invitee_joining_while_the_rooms_are_open_goes_to_their_room(
        self, owner_api: APIClient, open_meeting: Meeting, people: list[Participant], outsider: User
    ) -> None:
        _, second = make_rooms(owner_api, open_meeting)
        ok(
            call(
                owner_api,
                "post",
                open_meeting,
                "preassign/",
                {"preassignments": [{"email": outsider.email, "room_id": second}]},
            )
        )
        ok(call(owner_api, "post", open_meeting, "open/"))
        late = enter(open_meeting, outsider)
        assert (late.room_id, late.assigned_room_id) == (second, second)


class TestPreassignCsv:
    def test_a_csv_body_places_people_by_room_name_or_number(self, owner_api: APIClient, meeting: Meeting) -> None:
        make_rooms(owner_api, meeting, names=["Design", "Ops", "Sales"])
        text = "email,room\nada@example.com,design\n\n Grace@Example.com , 2\nlinus@example.com,Sales\n"
        state = ok(post_csv(owner_api, meeting, text))
        assert preassigned(meeting) == {
            "ada@example.com": "Design",
            "grace@example.com": "Ops",
            "linus@example.com": "Sales",
        }
        assert [room["preassigned"] for room in state["rooms"]] == [
            ["ada@example.com"],
            ["grace@example.com"],
            ["linus@example.com"],
        ]

    def test_a_spreadsheet_export_with_a_byte_order_mark_and_semicolons_reads_too(
        self, owner_api: APIClient, meeting: Meeting
    ) -> None:
        make_rooms(owner_api, meeting, count=2)
        ok(post_csv(owner_api, meeting, "\ufeffEmail;Room\r\nada@example.com;Room 2\r\n".encode()))
        assert preassigned(meeting) == {"ada@example.com": "Room 2"}

    def test_a_multipart_upload_places_people(self, owner_api: APIClient, meeting: Meeting) -> None:
        make_rooms(owner_api, meeting, count=2)
        upload = SimpleUploadedFile("invitees.csv", b"ada@example.com,1\ngrace@example.com,Room 2\n", "text/csv")
        ok(owner_api.post(url(meeting, "preassign/"), {"file": upload}, format="multipart"))
        assert preassigned(meeting) == {"ada@example.com": "Room 1", "grace@example.com": "Room 2"}

    def test_every_bad_line_is_named_by_its_number_and_nothing_is_saved(
        self, owner_api: APIClient, meeting: Meeting
    ) -> None:
        make_rooms(owner_api, meeting, count=2)
        text = (
            "email,room\n"  # 1
            "ada@example.com,1\n"  # 2: fine
            "grace-at-example.com,1\n"  # 3
            "linus@example.com,Room 9\n"  # 4
            "just-one-column@example.com\n"  # 5
            "ADA@example.com,2\n"  # 6
        )
        response = post_csv(owner_api, meeting, text)
        assert refusal(response, 400) == "invalid"
        errors = response.json()["fields"]["file"]
        assert [(error["code"], error["message"].split(":")[0]) for error in errors] == [
            ("invalid_email", "Line 3"),
            ("no_such_room", "Line 4"),
            ("invalid_line", "Line 5"),
            ("duplicate_email", "Line 6"),
        ]
        assert "ada@example.com is already on line 2" in errors[3]["message"]
        assert "Room 9" in errors[1]["message"]
        assert preassigned(meeting) == {}

    @pytest.mark.parametrize(
        ("data", "code"),
        [
            (b"", "empty"),
            (b"email,room\n\n", "empty"),
            ("ada@example.com,Caf\u00e9".encode("latin-1"), "not_utf8"),
            (b'"ada@example.com,1\n', "invalid_line"),
            (b"x" * (breakout_setup.MAX_LIST_BYTES + 1), "too_large"),
        ],
    )
    def test_a_list_that_cannot_be_read_is_refused(
        self, owner_api: APIClient, meeting: Meeting, data: bytes, code: str
    ) -> None:
        make_rooms(owner_api, meeting, count=1)
        response = post_csv(owner_api, meeting, data)
        assert refusal(response, 400) == "invalid"
        assert field_codes(response, "file")[0] == code
        assert preassigned(meeting) == {}

    def test_a_multipart_request_without_a_file_is_refused(self, owner_api: APIClient, meeting: Meeting) -> None:
        make_rooms(owner_api, meeting, count=1)
        response = owner_api.post(url(meeting, "preassign/"), {"other": "x"}, format="multipart")
        assert refusal(response, 400) == "invalid"
        assert field_codes(response, "file") == ["required"]

    def test_the_errors_stop_after_twenty_lines(self, owner_api: APIClient, meeting: Meeting) -> None:
        make_rooms(owner_api, meeting, count=1)
        response = post_csv(owner_api, meeting, "".join(f"bad{i},1\n" for i in range(25)))
        errors = response.json()["fields"]["file"]
        assert len(errors) == 21
        assert errors[-1]["code"] == "more_errors"
        assert "5 more" in errors[-1]["message"]


# --- Open, close, broadcast ---------------------------------------------------------------------


class TestOpenAndClose:
    def test_open_needs_rooms(self, owner_api: APIClient, open_meeting: Meeting) -> None:
        assert refusal(call(owner_api, "post", open_meeting, "open/"), 409) == "no_rooms"
        assert not BreakoutPlan.objects.filter(meeting=open_meeting, opened_at__isnull=False).exists()

    def test_opening_moves_the_assigned_people_and_closing_now_brings_everyone_back(
        self, owner_api: APIClient, open_meeting: Meeting, people: list[Participant]
    ) -> None:
        ada, grace, linus = people
        first, second = make_rooms(owner_api, open_meeting)
        body = {
            "assignments": [
                {"participant_id": str(ada.pk), "room_id": first},
                {"participant_id": str(grace.pk), "room_id": second},
            ]
        }
        ok(call(owner_api, "post", open_meeting, "assign/", body))
        state = ok(call(owner_api, "post", open_meeting, "open/"))
        main = main_room(open_meeting.pk).pk
        assert state["state"] == "open"
        assert state["opened_at"] is not None
        assert where(ada, grace, linus) == [first, second, main]
        assert set(Room.objects.filter(pk__in=[first, second]).values_list("opened_at", flat=True)) != {None}
        assert refusal(call(owner_api, "post", open_meeting, "open/"), 409) == "breakouts_open"

        state = ok(call(owner_api, "post", open_meeting, "close/", {"now": True}))
        assert state["state"] == "none"
        assert state["rooms"] == []
        assert where(ada, grace, linus) == [main, main, main]
        assert assigned(ada, grace) == [None, None]
        assert None not in Room.objects.filter(pk__in=[first, second]).values_list("closed_at", flat=True)
        assert BreakoutPlan.objects.get(meeting=open_meeting).opened_at is None

    def test_close_needs_open_rooms(self, owner_api: APIClient, open_meeting: Meeting) -> None:
        make_rooms(owner_api, open_meeting)
        assert refusal(call(owner_api, "post", open_meeting, "close/"), 409) == "breakouts_not_open"

    def test_auto_mode_places_everyone_when_the_rooms_open(
        self, owner_api: APIClient, open_meeting: Meeting, people: list[Participant]
    ) -> None:
        first, second = make_rooms(owner_api, open_meeting)
        ok(call(owner_api, "patch", open_meeting, "", {"mode": "auto"}))
        ok(call(owner_api, "post", open_meeting, "open/"))
        assert sorted(room_id or 0 for room_id in where(*people)) == sorted([first, first, second])

    def test_close_starts_the_countdown_and_the_beat_task_closes_after_it(
        self, owner_api: APIClient, open_meeting: Meeting, people: list[Participant]
    ) -> None:
        ada = people[0]
        first, _ = make_rooms(owner_api, open_meeting)
        ok(call(owner_api, "patch", open_meeting, "", {"countdown_seconds": 30}))
        ok(
            call(
                owner_api,
                "post",
                open_meeting,
                "assign/",
                {"assignments": [{"participant_id": str(ada.pk), "room_id": first}]},
            )
        )
        ok(call(owner_api, "post", open_meeting, "open/"))
        before = timezone.now()
        state = ok(call(owner_api, "post", open_meeting, "close/"))
        plan = BreakoutPlan.objects.get(meeting=open_meeting)
        assert state["state"] == "closing"
        assert plan.closing_at is not None
        assert before + timedelta(seconds=29) <= plan.closing_at <= timezone.now() + timedelta(seconds=30)
        assert where(ada) == [first]  # still in the room during the countdown

        assert breakout_deadlines() == 0  # not due yet: nothing happens
        assert where(ada) == [first]
        BreakoutPlan.objects.filter(pk=plan.pk).update(closing_at=timezone.now() - timedelta(seconds=1))
        assert breakout_deadlines() == 1
        assert where(ada) == [main_room(open_meeting.pk).pk]
        assert ok(call(owner_api, "get", open_meeting))["state"] == "none"

    def test_closing_again_during_the_countdown_closes_at_once(
        self, owner_api: APIClient, open_meeting: Meeting, people: list[Participant]
    ) -> None:
        make_rooms(owner_api, open_meeting)
        ok(call(owner_api, "post", open_meeting, "open/"))
        assert ok(call(owner_api, "post", open_meeting, "close/"))["state"] == "closing"
        assert ok(call(owner_api, "post", open_meeting, "close/"))["state"] == "none"

    def test_the_duration_starts_the_countdown_by_itself_through_the_beat_task(
        self, owner_api: APIClient, open_meeting: Meeting, people: list[Participant]
    ) -> None:
        ada = people[0]
        first, _ = make_rooms(owner_api, open_meeting)
        ok(call(owner_api, "patch", open_meeting, "", {"duration_minutes": 5, "countdown_seconds": 10}))
        ok(
            call(
                owner_api,
                "post",
                open_meeting,
                "assign/",
                {"assignments": [{"participant_id": str(ada.pk), "room_id": first}]},
            )
        )
        state = ok(call(owner_api, "post", open_meeting, "open/"))
        plan = BreakoutPlan.objects.get(meeting=open_meeting)
        assert plan.opened_at is not None
        assert plan.ends_at == plan.opened_at + timedelta(minutes=5)
        assert state["ends_at"] is not None

        BreakoutPlan.objects.filter(pk=plan.pk).update(ends_at=timezone.now() - timedelta(seconds=1))
        assert breakout_deadlines() == 1
        plan.refresh_from_db()
        assert plan.closing_at is not None  # the countdown runs
        assert ok(call(owner_api, "get", open_meeting))["state"] == "closing"
        assert where(ada) == [first]

        BreakoutPlan.objects.filter(pk=plan.pk).update(closing_at=timezone.now() - timedelta(seconds=1))
        assert breakout_deadlines() == 1
        assert where(ada) == [main_room(open_meeting.pk).pk]
        assert BreakoutPlan.objects.get(pk=plan.pk).opened_at is None


class TestTheMeetingEnding:
    def test_ending_the_meeting_closes_open_rooms_and_the_next_occurrence_starts_in_the_main_room(
        self,
        owner_api: APIClient,
        open_meeting: Meeting,
        people: list[Participant],
        outsider: User,
        django_capture_on_commit_callbacks: Capture,
    ) -> None:
        first, _ = make_rooms(owner_api, open_meeting)
        body = {"preassignments": [{"email": outsider.email, "room_id": first}]}
        ok(call(owner_api, "post", open_meeting, "preassign/", body))
        ok(call(owner_api, "post", open_meeting, "open/"))
        with django_capture_on_commit_callbacks(execute=True):
            do_end_meeting(open_meeting)
        assert BreakoutPlan.objects.get(meeting=open_meeting).opened_at is None
        assert None not in Room.objects.filter(pk=first).values_list("closed_at", flat=True)

        assert do_reopen_meeting(open_meeting.pk)
        late = enter(open_meeting, outsider)
        assert late.room_id == main_room(open_meeting.pk).pk
        assert ok(call(owner_api, "get", open_meeting))["state"] == "none"

    def test_ending_a_meeting_whose_rooms_are_only_set_up_keeps_them(
        self, owner_api: APIClient, meeting: Meeting, django_capture_on_commit_callbacks: Capture
    ) -> None:
        make_rooms(owner_api, meeting, count=2)
        with django_capture_on_commit_callbacks(execute=True):
            do_end_meeting(meeting)
        assert breakout_names(meeting) == ["Room 1", "Room 2"]


@dataclass
class MeetingListener:
    """What a web process's fan-out hub hears of a meeting: a real subscription to the
    meeting's channel on the test Redis."""

    pubsub: Any
    group: str

    def received(self, timeout: float = 5) -> dict[str, Any]:
        """The next message published for the meeting's group."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            raw = self.pubsub.get_message(ignore_subscribe_messages=True, timeout=0.2)
            if raw is not None and raw["type"] == "message":
                envelope = msgpack.unpackb(raw["data"], raw=False)
                if envelope.get("g") == self.group:
                    return dict(envelope["m"])
        raise AssertionError(f"nothing published for {self.group} within {timeout} s")


@pytest.fixture
def meeting_listener(meeting: Meeting) -> Iterator[MeetingListener]:
    client = redis.Redis.from_url(settings.REDIS_URL)
    pubsub = client.pubsub()  # type: ignore[no-untyped-call]
    pubsub.subscribe(fanout.channel_name(meeting.pk))
    assert pubsub.get_message(timeout=5)["type"] == "subscribe"
    yield MeetingListener(pubsub, meeting_group(meeting.pk))
    pubsub.close()
    client.close()


class TestBroadcast:
    def test_a_host_not_in_the_meeting_broadcasts_under_their_name(
        self,
        owner: User,
        owner_api: APIClient,
        meeting: Meeting,
        meeting_listener: MeetingListener,
        django_capture_on_commit_callbacks: Capture,
    ) -> None:
        profile = profile_of(owner)
        profile.display_name = "Olivia"
        profile.save()
        with django_capture_on_commit_callbacks(execute=True):
            ok(call(owner_api, "post", meeting, "broadcast/", {"text": "  Five more minutes "}))
        event = meeting_listener.received()["event"]
        assert {key: event[key] for key in ("type", "from", "from_name", "text")} == {
            "type": "broadcast",
            "from": str(breakout_setup.NOBODY),
            "from_name": "Olivia",
            "text": "Five more minutes",
        }

    def test_a_host_in_the_meeting_broadcasts_as_their_participant(
        self,
        member: User,
        member_api: APIClient,
        open_meeting: Meeting,
        meeting_listener: MeetingListener,
        django_capture_on_commit_callbacks: Capture,
    ) -> None:
        host = enter(open_meeting, member, name="Marco")
        with django_capture_on_commit_callbacks(execute=True):
            ok(call(member_api, "post", open_meeting, "broadcast/", {"text": "Wrap up"}))
        event = meeting_listener.received()["event"]
        assert (event["from"], event["from_name"], event["text"]) == (str(host.pk), "Marco", "Wrap up")

    @pytest.mark.parametrize("text", ["", "   ", "x" * 501, "bell\x07"])
    def test_a_bad_text_is_refused(self, owner_api: APIClient, meeting: Meeting, text: str) -> None:
        response = call(owner_api, "post", meeting, "broadcast/", {"text": text})
        assert refusal(response, 400) == "invalid"
        assert "text" in response.json()["fields"]


# --- Two hosts at once (separate connections on PostgreSQL) ------------------------------------


def in_thread(work: Callable[[], Any]) -> Callable[[], None]:
    """``work`` on its own database connection (closed afterwards), its result or error kept."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = work()
        except BaseException as exc:  # reported by the test thread
            outcome["error"] = exc
        finally:
            connection.close()

    run.outcome = outcome  # type: ignore[attr-defined]
    return run


@pytest.mark.django_db(transaction=True)
class TestConcurrentHosts:
    def test_two_co_hosts_assigning_at_once_lose_no_assignment(
        self, owner: User, member: User, open_meeting: Meeting
    ) -> None:
        guests = [enter(open_meeting, name=f"Guest {i}") for i in range(16)]
        owner_api, member_api = api_client_for(owner), api_client_for(member)
        first, second = make_rooms(owner_api, open_meeting)
        start = threading.Barrier(2)

        def assigner(api: APIClient, who: list[Participant], rounds: list[int]) -> list[int]:
            statuses = []
            start.wait()
            for room_id in rounds:
                body = {"assignments": [{"participant_id": str(p.pk), "room_id": room_id} for p in who]}
                statuses.append(call(api, "post", open_meeting, "assign/", body).status_code)
            return statuses

        runs = [
            in_thread(lambda: assigner(owner_api, guests[:8], [first, second, first, second, first])),
            in_thread(lambda: assigner(member_api, guests[8:], [second, first, second, first, second])),
        ]
        threads = [threading.Thread(target=run) for run in runs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        for run in runs:
            assert "error" not in run.outcome, run.outcome  # type: ignore[attr-defined]
            assert run.outcome["result"] == [200] * 5  # type: ignore[attr-defined]
        assert assigned(*guests) == [first] * 8 + [second] * 8
        state = ok(call(owner_api, "get", open_meeting))
        assert [len(room["assigned"]) for room in state["rooms"]] == [8, 8]

    def test_a_rest_write_waits_for_the_meeting_lock_and_sees_what_was_done_under_it(
        self, owner: User, member: User, open_meeting: Meeting
    ) -> None:
        ada, grace = enter(open_meeting, name="Ada"), enter(open_meeting, name="Grace")
        member_api = api_client_for(member)
        first, second = make_rooms(api_client_for(owner), open_meeting)
        locked, release = threading.Event(), threading.Event()
        times: dict[str, float] = {}

        def hold_the_lock() -> None:
            with transaction.atomic():
                lock_meeting(open_meeting.pk)
                Participant.objects.filter(pk=ada.pk).update(assigned_room_id=first)
                locked.set()
                release.wait(10)
                times["committed"] = time.monotonic()

        def assign_over_rest() -> Any:
            locked.wait(10)
            body = {"assignments": [{"participant_id": str(grace.pk), "room_id": second}]}
            response = call(member_api, "post", open_meeting, "assign/", body)
            times["answered"] = time.monotonic()
            return response

        holder, writer = in_thread(hold_the_lock), in_thread(assign_over_rest)
        threads = [threading.Thread(target=holder), threading.Thread(target=writer)]
        for thread in threads:
            thread.start()
        locked.wait(10)
        time.sleep(0.5)
        assert "answered" not in times  # the REST write is waiting for the lock
        release.set()
        for thread in threads:
            thread.join(timeout=30)
        assert "error" not in holder.outcome, holder.outcome  # type: ignore[attr-defined]
        response = writer.outcome["result"]  # type: ignore[attr-defined]
        state = ok(response)
        assert times["answered"] >= times["committed"]
        assert [room["assigned"] for room in state["rooms"]] == [[str(ada.pk)], [str(grace.pk)]]
        assert assigned(ada, grace) == [first, second]


# --- The set-up page (/m/<code>/breakouts) ------------------------------------------------------


def page(meeting: Meeting) -> str:
    return f"/m/{meeting.code}/breakouts"


class TestSetupPage:
    def test_hosts_see_the_rooms_the_forms_and_the_pre_assignments(
        self, owner_api: APIClient, owner_client: Client, member_client: Client, meeting: Meeting
    ) -> None:
        first, _ = make_rooms(owner_api, meeting, names=["Design", "Ops"])
        ok(
            call(
                owner_api,
                "post",
                meeting,
                "preassign/",
                {"preassignments": [{"email": "ada@example.com", "room_id": first}]},
            )
        )
        for client in (owner_client, member_client):
            response = client.get(page(meeting))
            assert response.status_code == 200
            html = response.content.decode()
            assert "Design" in html
            assert "Ops" in html
            assert "ada@example.com" in html
            assert html.count('name="form"') == 4  # rooms, settings, pre-assign, one remove button
            assert html.count("csrfmiddlewaretoken") == 5  # and the sign-out button
            assert 'enctype="multipart/form-data"' in html

    def test_an_outsider_gets_404_and_changes_nothing(self, outsider_client: Client, meeting: Meeting) -> None:
        assert outsider_client.get(page(meeting)).status_code == 404
        response = outsider_client.post(page(meeting), {"form": "rooms", "count": "3"})
        assert response.status_code == 404
        assert breakout_names(meeting) == []

    def test_someone_signed_out_is_sent_to_sign_in(self, client: Client, meeting: Meeting) -> None:
        response = client.get(page(meeting))
        assert response.status_code == 302
        assert "/accounts/login/" in response["Location"]

    def test_a_post_without_the_csrf_token_is_refused(self, owner: User, meeting: Meeting) -> None:
        browser = Client(enforce_csrf_checks=True)
        browser.force_login(owner)
        assert browser.post(page(meeting), {"form": "rooms", "count": "3"}).status_code == 403
        assert breakout_names(meeting) == []

    def test_a_host_creates_rooms_by_count_or_by_name(self, owner_client: Client, meeting: Meeting) -> None:
        response = owner_client.post(page(meeting), {"form": "rooms", "count": "3"}, follow=True)
        assert response.redirect_chain == [(page(meeting), 302)]
        assert "3 breakout rooms set up." in response.content.decode()
        assert breakout_names(meeting) == ["Room 1", "Room 2", "Room 3"]
        owner_client.post(page(meeting), {"form": "rooms", "names": "Design\n\n Ops \n"})
        assert breakout_names(meeting) == ["Design", "Ops"]

    @pytest.mark.parametrize(
        ("fields", "message"),
        [
            ({}, "Give a number of rooms or their names."),
            ({"count": "51"}, "less than or equal to 50"),
            ({"names": "\n".join(f"Team {i}" for i in range(51))}, "At most 50 breakout rooms."),
        ],
    )
    def test_bad_rooms_are_refused_on_the_page(
        self, owner_client: Client, meeting: Meeting, fields: dict[str, str], message: str
    ) -> None:
        response = owner_client.post(page(meeting), {"form": "rooms", **fields})
        assert response.status_code == 400
        assert message in response.content.decode()
        assert breakout_names(meeting) == []

    def test_a_host_saves_the_settings(self, owner_client: Client, meeting: Meeting) -> None:
        fields = {"form": "settings", "mode": "choose", "duration_minutes": "20", "countdown_seconds": "15"}
        assert owner_client.post(page(meeting), fields).status_code == 302
        plan = BreakoutPlan.objects.get(meeting=meeting)
        assert (plan.mode, plan.allow_return, plan.duration_minutes, plan.countdown_seconds) == (
            "choose",
            False,
            20,
            15,
        )

    def test_a_host_pre_assigns_typed_lines_and_a_csv_file(self, owner_client: Client, meeting: Meeting) -> None:
        owner_client.post(page(meeting), {"form": "rooms", "names": "Design\nOps"})
        upload = SimpleUploadedFile("list.csv", b"email,room\nlinus@example.com,Ops\n", "text/csv")
        fields = {"form": "preassign", "lines": "ada@example.com, Design\ngrace@example.com, 2", "file": upload}
        response = owner_client.post(page(meeting), fields, follow=True)
        assert "3 invitees pre-assigned." in response.content.decode()
        assert preassigned(meeting) == {
            "ada@example.com": "Design",
            "grace@example.com": "Ops",
            "linus@example.com": "Ops",
        }

    def test_bad_lines_are_shown_with_their_numbers_and_nothing_is_saved(
        self, owner_client: Client, meeting: Meeting
    ) -> None:
        owner_client.post(page(meeting), {"form": "rooms", "count": "2"})
        upload = SimpleUploadedFile("list.csv", b"ada@example.com,7\n", "text/csv")
        fields = {"form": "preassign", "lines": "grace@example.com, 1\nnot-an-email, 2", "file": upload}
        response = owner_client.post(page(meeting), fields)
        assert response.status_code == 400
        html = response.content.decode()
        assert "Line 2: “not-an-email” is not an email address." in html
        assert "Line 1: no breakout room “7”" in html
        assert preassigned(meeting) == {}

    def test_a_host_removes_a_pre_assignment(self, owner_client: Client, meeting: Meeting) -> None:
        owner_client.post(page(meeting), {"form": "rooms", "count": "1"})
        owner_client.post(page(meeting), {"form": "preassign", "lines": "ada@example.com,1\ngrace@example.com,1"})
        response = owner_client.post(page(meeting), {"form": "remove", "email": "ada@example.com"}, follow=True)
        assert "ada@example.com is no longer pre-assigned." in response.content.decode()
        assert preassigned(meeting) == {"grace@example.com": "Room 1"}

    def test_the_domain_refusal_shows_while_the_rooms_are_open(
        self, owner_api: APIClient, owner_client: Client, open_meeting: Meeting, people: list[Participant]
    ) -> None:
        make_rooms(owner_api, open_meeting)
        ok(call(owner_api, "post", open_meeting, "open/"))
        assert "The breakout rooms are open now." in owner_client.get(page(open_meeting)).content.decode()
        response = owner_client.post(page(open_meeting), {"form": "rooms", "count": "4"})
        assert response.status_code == 400
        assert "Close the breakout rooms first." in response.content.decode()
        assert breakout_names(open_meeting) == ["Room 1", "Room 2"]

    def test_an_ended_meeting_shows_its_rooms_without_forms(
        self, owner_api: APIClient, owner_client: Client, meeting: Meeting
    ) -> None:
        make_rooms(owner_api, meeting)
        Meeting.objects.filter(pk=meeting.pk).update(status=MeetingStatus.ENDED)
        html = owner_client.get(page(meeting)).content.decode()
        assert "This meeting has ended" in html
        assert "Room 1" in html
        assert 'name="form"' not in html
        response = owner_client.post(page(meeting), {"form": "rooms", "count": "4"})
        assert response.status_code == 400
        assert breakout_names(meeting) == ["Room 1", "Room 2"]

    def test_hosts_find_the_page_from_the_dashboard_and_the_meeting_page(
        self, owner_client: Client, member_client: Client, outsider_client: Client, meeting: Meeting
    ) -> None:
        for client in (owner_client, member_client):
            assert page(meeting) in client.get("/dashboard/").content.decode()
        Meeting.objects.filter(pk=meeting.pk).update(status=MeetingStatus.ENDED)  # the page that renders meeting.html
        assert page(meeting) in member_client.get(f"/m/{meeting.code}").content.decode()
        assert page(meeting) not in outsider_client.get(f"/m/{meeting.code}").content.decode()

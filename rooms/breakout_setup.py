"""Breakout rooms run by a host's account from outside the live room: the REST API
(``rooms.api``) and the set-up page (``rooms.views``).

Every write goes through ``as_host``: ``rooms.permissions`` decides for the account, then one
transaction locks the meeting row (``rooms.breakouts.lock_meeting``, so two hosts acting at
once are serialised) and runs the domain step of ``rooms.breakouts``. ``host_state`` is what
hosts see: the breakout state everyone sees, plus who is in, assigned to and pre-assigned to
each room. ``parse_preassignments`` reads a pre-assignment list (CSV upload or "email, room"
lines) and reports every bad line by its number.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from typing_extensions import TypedDict

from accounts.access import profile_of
from meetings.access import AnyUser
from meetings.models import BreakoutPreassignment, Meeting, Participant, ParticipantRole, Room
from rooms.breakout_state import breakout_rooms, joined_in, overview, state_json
from rooms.breakouts import broadcast, lock_meeting
from rooms.events import HelpRequestJson, ParticipantJson, RoomPeopleJson
from rooms.permissions import OUTSIDE_THE_ROOMS, Action, actor_for_account, check

T = TypeVar("T")

#: Most rows one pre-assignment list may hold (and most pairs one request may send).
MAX_PREASSIGNMENTS = 1000
#: Largest pre-assignment file accepted.
MAX_LIST_BYTES = 256 * 1024
#: Most line errors reported for one list (the rest are counted).
MAX_REPORTED_ERRORS = 20
#: ``from`` of a broadcast sent by a host who is not in the meeting: nobody's participant id.
NOBODY = uuid.UUID(int=0)


def as_host(user: AnyUser, meeting: Meeting, action: Action, step: Callable[[Meeting], T]) -> T:
    """Runs ``step`` on the locked meeting if the account may take ``action`` (raises the
    refusal as ``ProtocolError`` otherwise; nothing is changed when the step refuses)."""
    check(actor_for_account(user, meeting), action, OUTSIDE_THE_ROOMS)
    with transaction.atomic():
        return step(lock_meeting(meeting.pk))


# --- What hosts see ---------------------------------------------------------------------------


class HostRoomJson(RoomPeopleJson):
    count: int
    #: Participant ids assigned to the room (they move in when the rooms open).
    assigned: list[str]
    #: Emails of invitees placed in the room before the meeting.
    preassigned: list[str]


class HostBreakoutState(TypedDict):
    state: str
    mode: str
    allow_return: bool
    countdown_seconds: int
    duration_minutes: int | None
    opened_at: str | None
    ends_at: str | None
    closing_at: str | None
    rooms: list[HostRoomJson]
    main: list[ParticipantJson]
    unassigned: list[str]
    help: list[HelpRequestJson]


def host_state(meeting_id: int) -> HostBreakoutState:
    state = state_json(meeting_id)
    people = overview(meeting_id)
    room_ids = [room["id"] for room in state["rooms"]]
    assigned: dict[int, list[str]] = {}
    for participant_id, room_id in (
        joined_in(meeting_id)
        .filter(assigned_room_id__in=room_ids)
        .order_by("joined_at", "created_at")
        .values_list("id", "assigned_room_id")
    ):
        assigned.setdefault(room_id, []).append(str(participant_id))
    preassigned: dict[int, list[str]] = {}
    for email, room_id in BreakoutPreassignment.objects.filter(room_id__in=room_ids).values_list("email", "room_id"):
        preassigned.setdefault(room_id, []).append(email)
    present = {room["id"]: room["participants"] for room in people["rooms"]}
    rooms: list[HostRoomJson] = [
        {
            "id": room["id"],
            "kind": room["kind"],
            "name": room["name"],
            "position": room["position"],
            "count": room["count"],
            "participants": present.get(room["id"], []),
            "assigned": assigned.get(room["id"], []),
            "preassigned": sorted(preassigned.get(room["id"], [])),
        }
        for room in state["rooms"]
    ]
    return {
        "state": state["state"],
        "mode": state["mode"],
        "allow_return": state["allow_return"],
        "countdown_seconds": state["countdown_seconds"],
        "duration_minutes": state["duration_minutes"],
        "opened_at": state["opened_at"],
        "ends_at": state["ends_at"],
        "closing_at": state["closing_at"],
        "rooms": rooms,
        "main": people["main"],
        "unassigned": people["unassigned"],
        "help": people["help"],
    }


def preassignments(meeting_id: int) -> list[BreakoutPreassignment]:
    """The pre-assignments to the current rooms, by room then email."""
    rooms = breakout_rooms(meeting_id)
    return list(
        BreakoutPreassignment.objects.filter(meeting_id=meeting_id, room__in=rooms)
        .select_related("room")
        .order_by("room__position", "room_id", "email")
    )


# --- Steps the domain does not have for an account ------------------------------------------


def broadcast_from(user: AnyUser, meeting: Meeting, text: str) -> None:
    """A broadcast by a host's account: from their participant if they are in the meeting,
    else under their name with ``from`` the nil id (nobody in the meeting)."""
    sender = joined_in(meeting.pk).filter(user_id=user.pk).order_by("-joined_at").first() if user.pk else None
    if sender is None:
        name = profile_of(user).name if user.is_authenticated else ""
        sender = Participant(id=NOBODY, meeting=meeting, display_name=name, role=ParticipantRole.HOST)
    broadcast(meeting, sender, text)


def remove_preassignments(meeting: Meeting, emails: Sequence[str]) -> int:
    """Takes these emails off their rooms (the meeting row locked by the caller)."""
    wanted = [email.strip().lower() for email in emails]
    deleted, _ = BreakoutPreassignment.objects.filter(meeting=meeting, email__in=wanted).delete()
    return deleted


# --- Pre-assignment lists ---------------------------------------------------------------------


@dataclass(frozen=True)
class LineError:
    line: int | None  # 1-based line of the list; None for the list as a whole
    code: str
    message: str

    def __str__(self) -> str:
        return self.message if self.line is None else f"Line {self.line}: {self.message}"


class PreassignmentListError(Exception):
    """A list with bad lines: nothing of it was applied."""

    def __init__(self, errors: list[LineError]) -> None:
        super().__init__("; ".join(str(error) for error in errors))
        self.errors = errors


def decode_list(data: bytes) -> str:
    if len(data) > MAX_LIST_BYTES:
        raise PreassignmentListError([LineError(None, "too_large", f"The file is over {MAX_LIST_BYTES // 1024} KiB.")])
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PreassignmentListError(
            [LineError(None, "not_utf8", "The file is not UTF-8 text (save it as CSV UTF-8).")]
        ) from exc


def _delimiter(text: str) -> str:
    """``,`` unless the first line has none and uses ``;`` or a tab (spreadsheets in some locales)."""
    first = text.lstrip().partition("\n")[0]
    if "," in first:
        return ","
    if ";" in first:
        return ";"
    return "\t" if "\t" in first else ","


def room_lookup(rooms: Sequence[Room]) -> Callable[[str], Room | None]:
    """A room by its name (any case) or its position (1, 2, …)."""
    by_name = {room.name.strip().casefold(): room for room in rooms}
    by_position = {room.position: room for room in rooms}

    def find(value: str) -> Room | None:
        key = value.strip()
        if key.casefold() in by_name:
            return by_name[key.casefold()]
        return by_position.get(int(key)) if key.isdigit() else None

    return find


def parse_preassignments(text: str, rooms: Sequence[Room]) -> list[tuple[str, int]]:
    """``email,room`` rows (an ``email,room`` header is optional; empty lines are skipped) as
    (email, room id) pairs. Raises ``PreassignmentListError`` naming every bad line."""
    find = room_lookup(rooms)
    pairs: list[tuple[str, int]] = []
    errors: list[LineError] = []
    seen: dict[str, int] = {}
    reader = csv.reader(io.StringIO(text), delimiter=_delimiter(text), skipinitialspace=True)
    first = True
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.append(LineError(reader.line_num, "invalid_csv", f"not valid CSV ({exc})."))
            break
        line = reader.line_num
        cells = [cell.strip() for cell in row]
        if not any(cells):
            continue
        if first and [cell.casefold() for cell in cells] == ["email", "room"]:
            first = False
            continue  # the header
        first = False
        if len(cells) != 2 or not cells[1]:
            errors.append(LineError(line, "invalid_line", "expected two columns: email,room."))
            continue
        email, room_name = cells[0].lower(), cells[1]
        try:
            validate_email(email)
        except ValidationError:
            errors.append(LineError(line, "invalid_email", f"“{cells[0]}” is not an email address."))
            continue
        room = find(room_name)
        if room is None:
            errors.append(LineError(line, "no_such_room", f"no breakout room “{room_name}” (give its name or number)."))
            continue
        if email in seen:
            errors.append(LineError(line, "duplicate_email", f"{email} is already on line {seen[email]}."))
            continue
        seen[email] = line
        pairs.append((email, room.pk))
    if len(pairs) > MAX_PREASSIGNMENTS:
        errors.append(LineError(None, "too_many_rows", f"At most {MAX_PREASSIGNMENTS} people per list."))
    if not pairs and not errors:
        errors.append(LineError(None, "empty", "The list has no “email,room” lines."))
    if errors:
        hidden = len(errors) - MAX_REPORTED_ERRORS
        shown = errors[:MAX_REPORTED_ERRORS]
        if hidden > 0:
            shown.append(LineError(None, "more_errors", f"… and {hidden} more lines with errors."))
        raise PreassignmentListError(shown)
    return pairs

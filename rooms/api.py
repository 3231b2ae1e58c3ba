"""REST API of the live rooms: recording control and breakout rooms of a meeting
(``/api/v1/meetings/<code>/…``). Hosts only (owner and co-hosts); anyone else gets 404, as for
the meeting itself. Refusals are the same stable codes as on the WebSocket."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import parsers, permissions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from conference.api import ApiError
from meetings import access
from meetings.models import BreakoutMode, Meeting
from rooms import breakout_setup, breakouts, recording_controls
from rooms.breakout_state import MAX_ROOMS, breakout_rooms
from rooms.permissions import Action
from rooms.protocol import ProtocolError

RECORDING_CONFLICTS = frozenset({"already_recording", "not_recording", "meeting_ended", "room_empty"})
#: Breakout refusals that are a conflict with the meeting's state (409); the others are 400.
BREAKOUT_CONFLICTS = frozenset({"breakouts_open", "breakouts_not_open", "no_rooms", "meeting_ended"})
UNAVAILABLE = frozenset({"sfu_unavailable", "sfu_timeout"})


def api_error(exc: ProtocolError, conflicts: frozenset[str] = frozenset()) -> ApiError:
    """The REST form of a refusal: 409 for a conflict with the meeting's state, 503 when no
    media server answers, 400 for bad input, 502 for a media server's own refusal."""
    if exc.code in conflicts:
        status = 409
    elif exc.code in UNAVAILABLE:
        status = 503
    else:
        status = 400
    # A field turns the body's code into "invalid" (conference.api): only for invalid input.
    field = exc.field if exc.code == "invalid" else None
    return ApiError(exc.code, exc.message, field=field, status_code=status)


class RecordingControlView(APIView):
    """Start or stop recording the meeting's main room."""

    permission_classes = [permissions.IsAuthenticated]
    action = "start"

    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request, code: str) -> Response:
        """Start recording the meeting (a peer-to-peer meeting moves to an SFU worker first), or
        stop it (it is then composed, see /api/v1/recordings/). The owner and co-hosts may.
        Refused with 409 ``already_recording`` / ``not_recording`` / ``meeting_ended`` /
        ``room_empty`` (nobody in the room), 503 when no media server answers."""
        meeting = access.access_hosted_meeting_by_code(request.user, code)
        user_id = request.user.pk
        assert user_id is not None  # a host of the meeting, so signed in
        try:
            recording_controls.run_from_sync(self.action, meeting.pk, user_id)
        except ProtocolError as exc:
            if exc.code in RECORDING_CONFLICTS or exc.code in UNAVAILABLE:
                raise api_error(exc, RECORDING_CONFLICTS) from exc
            raise ApiError(exc.code, exc.message, status_code=502) from exc
        return Response(status=204)


# --- Breakout rooms ---------------------------------------------------------------------------


def _printable(value: str) -> None:
    if any(ord(ch) < 32 and ch not in "\n\t" for ch in value):
        raise serializers.ValidationError("Control characters are not allowed.", code="invalid")


class ParticipantSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    name = serializers.CharField()
    role = serializers.CharField(help_text="host, cohost or attendee")
    guest = serializers.BooleanField()
    audio = serializers.BooleanField()
    video = serializers.BooleanField()
    screen = serializers.BooleanField()
    hand = serializers.DateTimeField(allow_null=True, help_text="When the hand went up; null: not raised.")
    joined_at = serializers.DateTimeField(allow_null=True)


class HelpRequestSerializer(serializers.Serializer[Any]):
    participant_id = serializers.UUIDField()
    name = serializers.CharField()
    room_id = serializers.IntegerField()
    at = serializers.DateTimeField(allow_null=True)


class BreakoutRoomSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    kind = serializers.CharField(help_text="Always breakout.")
    name = serializers.CharField()
    position = serializers.IntegerField(help_text="1, 2, … in the order the rooms were created.")
    count = serializers.IntegerField(help_text="How many people are in the room now.")
    participants = ParticipantSerializer(many=True, help_text="Who is in the room now.")
    assigned = serializers.ListField(
        child=serializers.UUIDField(), help_text="Participants assigned to the room (they move in when it opens)."
    )
    preassigned = serializers.ListField(
        child=serializers.EmailField(), help_text="Invitees placed in the room before the meeting, by email."
    )


class BreakoutStateSerializer(serializers.Serializer[Any]):
    state = serializers.ChoiceField(
        choices=["none", "ready", "open", "closing"],
        help_text="none: no rooms; ready: set up, not open; open; closing: the countdown runs until closing_at.",
    )
    mode = serializers.ChoiceField(choices=BreakoutMode.choices)
    allow_return = serializers.BooleanField()
    countdown_seconds = serializers.IntegerField()
    duration_minutes = serializers.IntegerField(allow_null=True)
    opened_at = serializers.DateTimeField(allow_null=True)
    ends_at = serializers.DateTimeField(
        allow_null=True, help_text="When an open session with a duration starts closing."
    )
    closing_at = serializers.DateTimeField(allow_null=True, help_text="While closing: when everyone is back.")
    rooms = BreakoutRoomSerializer(many=True)
    main = ParticipantSerializer(many=True, help_text="Who is in the main room now.")
    unassigned = serializers.ListField(
        child=serializers.UUIDField(), help_text="Participants (hosts aside) without a breakout room."
    )
    help = HelpRequestSerializer(many=True, help_text="Open requests for a host to come to a room.")


class BreakoutSettingsSerializer(serializers.Serializer[Any]):
    mode = serializers.ChoiceField(
        choices=BreakoutMode.choices,
        required=False,
        help_text="manual: late joiners land in the main room; auto: in the emptiest room; choose: participants pick.",
    )
    allow_return = serializers.BooleanField(required=False, help_text="Participants may go back to the main room.")
    duration_minutes = serializers.IntegerField(
        min_value=1,
        max_value=1440,
        allow_null=True,
        required=False,
        help_text="Close by themselves after; null: never.",
    )
    countdown_seconds = serializers.IntegerField(
        min_value=0, max_value=300, required=False, help_text="Countdown people see before the rooms close."
    )

    def settings(self) -> breakouts.Settings:
        data = self.validated_data
        return breakouts.Settings(
            mode=data.get("mode"),
            allow_return=data.get("allow_return"),
            countdown_seconds=data.get("countdown_seconds"),
            duration_minutes=data.get("duration_minutes"),
            set_duration="duration_minutes" in data,
        )


class CreateRoomsSerializer(serializers.Serializer[Any]):
    count = serializers.IntegerField(min_value=1, max_value=10_000, required=False, help_text=f"1–{MAX_ROOMS}.")
    names = serializers.ListField(
        child=serializers.CharField(max_length=80, validators=[_printable]),
        min_length=1,
        max_length=1000,
        required=False,
        help_text=f"1–{MAX_ROOMS} names, in order.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("count" in attrs) == ("names" in attrs):
            raise serializers.ValidationError("Give either count or names.", code="count_or_names")
        return attrs


class AssignmentSerializer(serializers.Serializer[Any]):
    participant_id = serializers.UUIDField()
    room_id = serializers.IntegerField(min_value=1, allow_null=True, help_text="null: no room (the main room).")


class AssignSerializer(serializers.Serializer[Any]):
    assignments = serializers.ListField(child=AssignmentSerializer(), min_length=1, max_length=1000)

    def validate_assignments(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        ids = [item["participant_id"] for item in value]
        if len(set(ids)) != len(ids):
            raise serializers.ValidationError("Each participant at most once.", code="duplicate_participant")
        return value


class PreassignmentSerializer(serializers.Serializer[Any]):
    email = serializers.EmailField()
    room_id = serializers.IntegerField(min_value=1, allow_null=True, help_text="null: remove the pre-assignment.")


class PreassignSerializer(serializers.Serializer[Any]):
    preassignments = serializers.ListField(
        child=PreassignmentSerializer(), min_length=1, max_length=breakout_setup.MAX_PREASSIGNMENTS
    )

    def validate_preassignments(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        emails = [item["email"].lower() for item in value]
        if len(set(emails)) != len(emails):
            raise serializers.ValidationError("Each email at most once.", code="duplicate_email")
        return value


class PreassignUploadSerializer(serializers.Serializer[Any]):
    file = serializers.FileField(help_text="CSV: email,room lines (room: its name or number); header optional.")


class CloseSerializer(serializers.Serializer[Any]):
    now = serializers.BooleanField(default=False, help_text="Close at once instead of after the countdown.")


class BroadcastSerializer(serializers.Serializer[Any]):
    text = serializers.CharField(max_length=500, validators=[_printable])


class CsvParser(parsers.BaseParser):
    """``text/csv`` bodies, as ``{"csv": <bytes>}`` (read at most one byte past the limit)."""

    media_type = "text/csv"

    def parse(
        self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> dict[str, bytes]:
        return {"csv": bytes(stream.read(breakout_setup.MAX_LIST_BYTES + 1))}


STATE_EXAMPLE = OpenApiExample(
    "Rooms set up, one person assigned",
    value={
        "state": "ready",
        "mode": "manual",
        "allow_return": True,
        "countdown_seconds": 60,
        "duration_minutes": 15,
        "opened_at": None,
        "ends_at": None,
        "closing_at": None,
        "rooms": [
            {
                "id": 811,
                "kind": "breakout",
                "name": "Room 1",
                "position": 1,
                "count": 0,
                "participants": [],
                "assigned": ["0b5e6c1a-3f0d-4b8e-9a1c-2d4f6e8a0b13"],
                "preassigned": ["ada@example.com"],
            }
        ],
        "main": [],
        "unassigned": [],
        "help": [],
    },
    response_only=True,
)


def validated(serializer_class: type[serializers.Serializer[Any]], request: Request) -> serializers.Serializer[Any]:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer


class BreakoutView(APIView):
    """Base of the breakout endpoints: the meeting (hosts only, 404 for anyone else, before the
    body is read), the domain step run as that host, and the new state in the answer."""

    permission_classes = [permissions.IsAuthenticated]
    meeting: Meeting

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        self.meeting = access.access_hosted_meeting_by_code(request.user, kwargs["code"])

    def state(self) -> Response:
        return Response(BreakoutStateSerializer(breakout_setup.host_state(self.meeting.pk)).data)

    def run(self, request: Request, action: Action, step: Callable[[Meeting], object]) -> Response:
        try:
            breakout_setup.as_host(request.user, self.meeting, action, step)
        except ProtocolError as exc:
            raise api_error(exc, BREAKOUT_CONFLICTS) from exc
        return self.state()


class BreakoutsView(BreakoutView):
    @extend_schema(responses=BreakoutStateSerializer, examples=[STATE_EXAMPLE])
    def get(self, request: Request, code: str) -> Response:
        """The meeting's breakout rooms: state, settings, and for each room who is in it, who is
        assigned to it and which invitees are pre-assigned to it. Hosts (owner, co-hosts) only."""
        return self.state()

    @extend_schema(request=BreakoutSettingsSerializer, responses=BreakoutStateSerializer)
    def patch(self, request: Request, code: str) -> Response:
        """Change the breakout settings (any of them; `duration_minutes: null` removes the
        duration). Changing the duration of open rooms moves their end."""
        settings = validated(BreakoutSettingsSerializer, request)
        assert isinstance(settings, BreakoutSettingsSerializer)
        changes = settings.settings()
        return self.run(request, Action.MANAGE_BREAKOUTS, lambda m: breakouts.change_settings(m, changes))


class BreakoutRoomsView(BreakoutView):
    @extend_schema(
        request=CreateRoomsSerializer,
        responses=BreakoutStateSerializer,
        examples=[
            OpenApiExample("Four rooms", value={"count": 4}, request_only=True),
            OpenApiExample("Named rooms", value={"names": ["Design", "Ops"]}, request_only=True),
        ],
    )
    def post(self, request: Request, code: str) -> Response:
        """Set up the breakout rooms: `count` rooms named Room 1, Room 2, … or one per name (1 to 50).
        Replaces the rooms set up so far (their assignments and pre-assignments go). Refused with
        400 `too_many_rooms`, 409 `breakouts_open` while the rooms are open."""
        data = validated(CreateRoomsSerializer, request).validated_data
        count, names = data.get("count"), data.get("names")
        return self.run(request, Action.MANAGE_BREAKOUTS, lambda m: breakouts.create_rooms(m, count, names))


class BreakoutAssignView(BreakoutView):
    @extend_schema(
        request=AssignSerializer,
        responses=BreakoutStateSerializer,
        examples=[
            OpenApiExample(
                "Assign one, unassign another",
                value={
                    "assignments": [
                        {"participant_id": "0b5e6c1a-3f0d-4b8e-9a1c-2d4f6e8a0b13", "room_id": 811},
                        {"participant_id": "7f1c2e3d-4a5b-4c6d-8e7f-9a0b1c2d3e4f", "room_id": None},
                    ]
                },
                request_only=True,
            )
        ],
    )
    def post(self, request: Request, code: str) -> Response:
        """Put people who are in the meeting into rooms (`room_id: null`: no room). While the
        rooms are open they move at once. All or nothing: 400 `no_such_participant` (not in the
        meeting now) or `no_such_room` changes nobody."""
        items = validated(AssignSerializer, request).validated_data["assignments"]
        assignments = {item["participant_id"]: item["room_id"] for item in items}
        return self.run(request, Action.MOVE_PEOPLE, lambda m: breakouts.assign(m, assignments))


class BreakoutAutoAssignView(BreakoutView):
    @extend_schema(request=None, responses=BreakoutStateSerializer)
    def post(self, request: Request, code: str) -> Response:
        """Spread everyone in the meeting but the hosts evenly over the rooms (409 `no_rooms`)."""
        return self.run(request, Action.MOVE_PEOPLE, breakouts.auto_assign)


class BreakoutPreassignView(BreakoutView):
    parser_classes = [parsers.JSONParser, CsvParser, parsers.MultiPartParser]

    @extend_schema(
        request={
            "application/json": PreassignSerializer,
            "text/csv": OpenApiTypes.STR,
            "multipart/form-data": PreassignUploadSerializer,
        },
        responses=BreakoutStateSerializer,
        examples=[
            OpenApiExample(
                "By room id",
                value={"preassignments": [{"email": "ada@example.com", "room_id": 811}]},
                request_only=True,
                media_type="application/json",
            ),
            OpenApiExample(
                "CSV",
                value="email,room\nada@example.com,Room 1\ngrace@example.com,2\n",
                request_only=True,
                media_type="text/csv",
            ),
        ],
    )
    def post(self, request: Request, code: str) -> Response:
        """Place invitees in rooms by email before the meeting (or during it): they go to their
        room when they join while the rooms are open; people already here are assigned now.
        JSON `{"preassignments": [{"email", "room_id"}]}` (`room_id: null` removes one), or a
        CSV list of `email,room` lines (room: its name or number; header optional) as a
        `text/csv` body or a multipart `file`. Replaces earlier pre-assignments of the same
        emails. A bad list changes nothing: 400 with one error per bad line in `fields.file`."""
        if request.content_type.startswith("application/json"):
            items = validated(PreassignSerializer, request).validated_data["preassignments"]
            pairs = [(item["email"].lower(), item["room_id"]) for item in items if item["room_id"] is not None]
            removed = [item["email"] for item in items if item["room_id"] is None]
        else:
            pairs, removed = self.uploaded_list(request), []

        def step(locked: Meeting) -> None:
            breakout_setup.remove_preassignments(locked, removed)
            if pairs:
                breakouts.preassign(locked, pairs)

        return self.run(request, Action.MANAGE_BREAKOUTS, step)

    def uploaded_list(self, request: Request) -> list[tuple[str, int]]:
        if request.content_type.startswith("text/csv"):
            body = request.data.get("csv") if isinstance(request.data, dict) else None
            data = body if isinstance(body, bytes) else b""
        else:
            upload = validated(PreassignUploadSerializer, request).validated_data["file"]
            data = upload.read(breakout_setup.MAX_LIST_BYTES + 1)
        try:
            return breakout_setup.parse_preassignments(
                breakout_setup.decode_list(data), list(breakout_rooms(self.meeting.pk))
            )
        except breakout_setup.PreassignmentListError as exc:
            raise serializers.ValidationError(
                {"file": [serializers.ErrorDetail(str(error), code=error.code) for error in exc.errors]}
            ) from exc


class BreakoutOpenView(BreakoutView):
    @extend_schema(request=None, responses=BreakoutStateSerializer)
    def post(self, request: Request, code: str) -> Response:
        """Open the rooms: assigned people move to theirs (`auto` mode also places the others).
        With a duration the closing countdown starts by itself at `ends_at`. Refused with 409
        `no_rooms` or `breakouts_open`."""
        return self.run(request, Action.MANAGE_BREAKOUTS, lambda m: breakouts.open_rooms(m))


class BreakoutCloseView(BreakoutView):
    @extend_schema(
        request=CloseSerializer,
        responses=BreakoutStateSerializer,
        examples=[OpenApiExample("At once", value={"now": True}, request_only=True)],
    )
    def post(self, request: Request, code: str) -> Response:
        """Start the closing countdown (`countdown_seconds`; then everyone is back in the main
        room), or close at once with `now: true` (or while closing already). 409
        `breakouts_not_open`."""
        now = validated(CloseSerializer, request).validated_data["now"]
        return self.run(request, Action.MANAGE_BREAKOUTS, lambda m: breakouts.close_rooms(m, now))


class BreakoutBroadcastView(BreakoutView):
    @extend_schema(
        request=BroadcastSerializer,
        responses=BreakoutStateSerializer,
        examples=[OpenApiExample("Reminder", value={"text": "Five more minutes"}, request_only=True)],
    )
    def post(self, request: Request, code: str) -> Response:
        """Show a message in every room of the meeting (1 to 500 characters)."""
        text = validated(BroadcastSerializer, request).validated_data["text"]
        user = request.user
        return self.run(request, Action.MANAGE_BREAKOUTS, lambda m: breakout_setup.broadcast_from(user, m, text))

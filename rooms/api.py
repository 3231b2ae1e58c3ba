"""REST API of the live rooms: recording control and breakout rooms of a meeting
(``/api/v1/meetings/<code>/…``). Hosts only (owner and co-hosts); anyone else gets 404, as for
the meeting itself. Refusals are the same stable codes as on the WebSocket."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import permissions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from conference.api import ApiError
from meetings import access
from rooms import recording_controls
from rooms.protocol import ProtocolError

RECORDING_CONFLICTS = frozenset({"already_recording", "not_recording", "meeting_ended", "room_empty"})
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

"""The meeting WebSocket through the full ASGI stack: origin check, session auth, access."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from channels.db import database_sync_to_async as sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from accounts.models import User
from conference.asgi import application
from meetings.models import Meeting, MeetingStatus
from tests.room_client import close_all_clients

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


@pytest_asyncio.fixture(autouse=True)
async def _clean_loop_state() -> AsyncIterator[None]:
    yield
    await close_all_clients()


ORIGIN = b"http://testserver"


@sync_to_async
def session_cookie(user: User | None) -> bytes:
    if user is None:
        return b""
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()


async def connect(code: str, user: User | None, origin: bytes = ORIGIN) -> tuple[WebsocketCommunicator, bool]:
    headers = [(b"origin", origin), (b"host", b"testserver")]
    cookie = await session_cookie(user)
    if cookie:
        headers.append((b"cookie", cookie))
    communicator = WebsocketCommunicator(application, f"/ws/meetings/{code}/", headers=headers)
    connected, _ = await communicator.connect()
    return communicator, connected


async def refusal(communicator: WebsocketCommunicator) -> tuple[dict[str, Any], int]:
    message = await communicator.receive_json_from()
    closed = await communicator.receive_output()
    assert closed["type"] == "websocket.close"
    return message, closed["code"]


async def test_a_participant_is_welcomed_with_their_role(
    owner: User, member: User, outsider: User, meeting: Meeting
) -> None:
    for user, as_host in ((owner, True), (member, True), (outsider, False)):
        communicator, connected = await connect(meeting.code, user)
        assert connected
        welcome = await communicator.receive_json_from()
        assert welcome["type"] == "hello"
        assert welcome["protocol"] == 1
        assert welcome["meeting"] == {
            "code": meeting.code,
            "title": "Weekly sync",
            "status": "scheduled",
            "locked": False,
        }
        assert welcome["you"]["as_host"] is as_host
        assert welcome["you"]["through_waiting_room"] is (not as_host)
        await communicator.disconnect()


@pytest.mark.parametrize("path", ["/ws/nowhere/", "/ws/meetings/NOT-A-CODE/", "/ws/meetings/abc-defg-hij/extra/", "/"])
async def test_a_path_that_is_no_websocket_of_ours_is_refused_quietly(
    path: str, caplog: pytest.LogCaptureFixture
) -> None:
    communicator = WebsocketCommunicator(application, path, headers=[(b"origin", ORIGIN), (b"host", b"testserver")])
    connected, _ = await communicator.connect()
    assert not connected
    assert [record for record in caplog.records if record.levelname in ("ERROR", "CRITICAL")] == []


async def test_a_foreign_origin_is_rejected(owner: User, meeting: Meeting) -> None:
    _communicator, connected = await connect(meeting.code, owner, origin=b"https://evil.example")
    assert not connected


async def test_a_guest_is_refused_when_guests_are_not_allowed(meeting: Meeting) -> None:
    communicator, connected = await connect(meeting.code, None)
    assert connected
    message, code = await refusal(communicator)
    assert message == {"type": "error", "code": "sign_in_required", "message": "You may not join this meeting."}
    assert code == 4403


async def test_a_guest_is_welcomed_when_guests_are_allowed(meeting: Meeting) -> None:
    meeting.allow_guests = True
    await sync_to_async(meeting.save)()
    communicator, _ = await connect(meeting.code, None)
    welcome = await communicator.receive_json_from()
    assert welcome["you"]["as_guest"] is True
    await communicator.disconnect()


async def test_an_ended_meeting_refuses_everyone(owner: User, meeting: Meeting) -> None:
    meeting.status = MeetingStatus.ENDED
    await sync_to_async(meeting.save)()
    communicator, _ = await connect(meeting.code, owner)
    message, _code = await refusal(communicator)
    assert message["code"] == "meeting_ended"


async def test_an_unknown_code_is_not_found(owner: User) -> None:
    communicator, _ = await connect("zzz-zzzz-zzz", owner)
    message, code = await refusal(communicator)
    assert (message["code"], code) == ("not_found", 4404)


async def test_bad_messages_get_errors_and_the_connection_stays(owner: User, meeting: Meeting) -> None:
    communicator, _ = await connect(meeting.code, owner)
    await communicator.receive_json_from()
    await communicator.send_to(text_data="{broken")
    assert (await communicator.receive_json_from())["code"] == "bad_json"
    await communicator.send_to(bytes_data=b"\x00\x01")
    assert (await communicator.receive_json_from())["code"] == "bad_json"
    await communicator.send_json_to(["not", "an", "object"])
    assert (await communicator.receive_json_from())["code"] == "invalid"
    await communicator.send_json_to({"type": "teleport"})
    assert (await communicator.receive_json_from())["code"] == "unknown_type"
    too_long = {"type": "ping", "id": "x" * 65}
    await communicator.send_json_to(too_long)
    error = await communicator.receive_json_from()
    assert (error["code"], error["field"]) == ("invalid", "id")
    await communicator.send_json_to({"type": "ping", "surprise": 1})
    assert (await communicator.receive_json_from())["field"] == "surprise"
    await communicator.send_json_to({"type": "ping", "id": "42"})
    assert await communicator.receive_json_from() == {"type": "pong", "id": "42"}
    await communicator.disconnect()

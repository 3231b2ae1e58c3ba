"""Abuse of the meeting WebSocket against a real daphne process (the in-process communicator
does not go through the WebSocket library, which is where close codes 1008 / 1009 failed): an
oversize frame, a deeply nested JSON frame and a flood each get their documented answer, the
server logs no traceback, and the other participant's connection and chat go on."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed

from accounts.models import User
from meetings.models import Meeting
from tests.factories import save_meeting
from tests.web_servers import Peer, WebProcess, guest_cookie, session_cookie, start_daphne

pytestmark = pytest.mark.django_db(transaction=True)


def close_code(peer: Peer) -> int | None:
    peer.wait_closed()
    return peer.ws.close_code


@pytest.fixture
def room(meeting: Meeting, owner: User, tmp_path: Path, servers: list[WebProcess]) -> tuple[WebProcess, Peer]:
    """A daphne process and the host in the meeting on it (the one who must be unaffected)."""
    save_meeting(meeting, waiting_room=False, allow_guests=True)
    server = start_daphne(tmp_path, "web")
    servers.append(server)
    host = Peer.connect(server, meeting.code, session_cookie(owner))
    host.join()
    return server, host


def guest(server: WebProcess, meeting: Meeting, name: str) -> Peer:
    peer = Peer.connect(server, meeting.code, guest_cookie())
    peer.join(display_name=name)
    return peer


def host_still_chats(host: Peer, text: str) -> None:
    host.send({"type": "chat.send", "text": text})
    host.expect("chat.message", text=text)


@pytest.mark.parametrize("size", [64 * 1024 + 1, 1_000_000])
def test_an_oversize_frame_closes_only_that_connection_with_4413(
    room: tuple[WebProcess, Peer], meeting: Meeting, size: int
) -> None:
    server, host = room
    mallory = guest(server, meeting, "Mallory")
    host.expect("roster.joined")
    mallory.ws.send("x" * size)
    assert close_code(mallory) == 4413
    host_still_chats(host, f"still here after {size} bytes")


def test_a_frame_over_the_websocket_limit_is_dropped_by_the_websocket_layer(
    room: tuple[WebProcess, Peer], meeting: Meeting
) -> None:
    server, host = room
    mallory = guest(server, meeting, "Mallory")
    with contextlib.suppress(ConnectionClosed):
        mallory.ws.send("x" * (2 * 1024 * 1024))
    # autobahn (daphne's WebSocket layer) refuses frames over 1 MiB before the application sees
    # them, by dropping the connection (1006 at the client), sometimes with a 1009 close first.
    assert close_code(mallory) in (1006, 1009)
    host_still_chats(host, "still here after 2 MiB")


def test_deeply_nested_json_is_bad_json_and_the_connection_stays(
    room: tuple[WebProcess, Peer], meeting: Meeting
) -> None:
    server, host = room
    mallory = guest(server, meeting, "Mallory")
    mallory.ws.send("[" * 20_000 + "]" * 20_000)
    assert mallory.expect("error")["code"] == "bad_json"
    mallory.send({"type": "chat.send", "text": "after the bad frame"})
    assert host.expect("chat.message", text="after the bad frame")["from"] == mallory.id


def test_a_flood_is_rate_limited_then_closed_with_4429(room: tuple[WebProcess, Peer], meeting: Meeting) -> None:
    server, host = room
    mallory = guest(server, meeting, "Mallory")
    try:
        for n in range(1500):  # far beyond what 50 a second refill, even on a slow machine
            mallory.send({"type": "ping", "id": str(n)})
    except ConnectionClosed:
        pass
    assert close_code(mallory) == 4429
    assert any(m["type"] == "error" and m["code"] == "rate_limited" for m in mallory.seen)
    host_still_chats(host, "still here after the flood")

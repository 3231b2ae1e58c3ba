"""The worker ⇄ web messages: every method parses, and bad messages are refused with codes."""

from __future__ import annotations

from typing import Any

import pytest

from media_workers import protocol as p


def request(method: str, **fields: Any) -> dict[str, Any]:
    return {"type": "sfu.request", "v": 1, "id": "r1", "reply_to": "specific.abc!def", "method": method, **fields}


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        (request("room.assign", room_id="m42"), p.AssignRoom),
        (request("worker.ping"), p.Ping),
        (request("room.join", room_id="m42", peer_id="p1", sdp="v=0\r\n"), p.JoinRoom),
        (request("room.join", room_id="m42", peer_id="p1", sdp="v=0\r\n", roles={"0": "audio"}), p.JoinRoom),
        (request("room.renegotiate", room_id="m42", peer_id="p1", sdp="v=0\r\n"), p.Renegotiate),
        (
            request(
                "room.ice",
                room_id="m42",
                peer_id="p1",
                candidate={"candidate": "candidate:1 1 udp 1 127.0.0.1 5000 typ host", "sdpMid": "0"},
            ),
            p.AddIce,
        ),
        (request("room.ice", room_id="m42", peer_id="p1", candidate=None), p.AddIce),
        (
            request(
                "room.view", room_id="m42", peer_id="p1", view={"tiles": ["p2"], "stage": "p3", "sizes": {"p2": 180}}
            ),
            p.SetView,
        ),
        (request("room.leave", room_id="m42", peer_id="p1"), p.LeaveRoom),
        (request("room.close", room_id="m42"), p.CloseRoom),
        (request("room.stats", room_id="m42"), p.RoomStats),
    ],
)
def test_every_method_parses(message: dict[str, Any], kind: type[p.Request]) -> None:
    parsed = p.parse_request(message)
    assert isinstance(parsed, kind)
    assert (parsed.id, parsed.reply_to) == ("r1", "specific.abc!def")


def test_ice_candidates_keep_the_browser_field_names() -> None:
    parsed = p.parse_request(
        request("room.ice", room_id="m", peer_id="p", candidate={"candidate": "c", "sdpMid": "1", "sdpMLineIndex": 1})
    )
    assert isinstance(parsed, p.AddIce)
    assert parsed.candidate is not None
    assert (parsed.candidate.sdp_mid, parsed.candidate.sdp_mline_index) == ("1", 1)


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("not an object", "bad_request"),
        ({**request("room.assign", room_id="m"), "v": 2}, "unsupported_version"),
        ({k: v for k, v in request("room.assign", room_id="m").items() if k != "v"}, "unsupported_version"),
        (request("room.explode", room_id="m"), "unknown_method"),
        (request("room.assign"), "bad_request"),
        (request("room.assign", room_id="../etc"), "bad_request"),
        (request("room.assign", room_id="m" * 65), "bad_request"),
        (request("room.assign", room_id="m", extra=1), "bad_request"),
        ({**request("room.assign", room_id="m"), "reply_to": "no spaces allowed"}, "bad_request"),
        ({**request("room.assign", room_id="m"), "id": ""}, "bad_request"),
        (request("room.join", room_id="m", peer_id="p"), "bad_request"),
        (request("room.join", room_id="m", peer_id="p", sdp=""), "bad_request"),
        (request("room.join", room_id="m", peer_id="p", sdp="x" * (p.MAX_SDP_CHARS + 1)), "bad_request"),
        (request("room.view", room_id="m", peer_id="p", view={"tiles": "p2"}), "bad_request"),
        (request("room.view", room_id="m", peer_id="p", view={"sizes": {"p2": -1}}), "bad_request"),
        (request("room.join", room_id="m", peer_id="p", sdp="v=0", roles={"0": "hologram"}), "bad_request"),
        ({**request("room.assign", room_id="m"), "type": "sfu.response"}, "bad_request"),
    ],
)
def test_bad_messages_are_refused_with_a_stable_code(message: object, code: str) -> None:
    with pytest.raises(p.ProtocolError) as refused:
        p.parse_request(message)
    assert refused.value.code == code
    assert refused.value.message


def test_a_refusal_names_the_bad_field() -> None:
    with pytest.raises(p.ProtocolError, match="room_id"):
        p.parse_request(request("room.assign", room_id="bad id"))


def test_a_refusal_can_be_answered_only_with_a_usable_address() -> None:
    assert p.reply_address(request("room.explode")) == ("r1", "specific.abc!def")
    assert p.reply_address({"id": "r1"}) is None
    assert p.reply_address({"id": "r1", "reply_to": "bad channel"}) is None
    assert p.reply_address({"id": 5, "reply_to": "sfu.reply"}) is None


def test_responses_and_notifications_have_one_shape() -> None:
    assert p.ok_response("r1", {"sdp": "x"}) == {
        "type": "sfu.response",
        "v": 1,
        "id": "r1",
        "ok": True,
        "result": {"sdp": "x"},
    }
    assert p.error_response("r1", "unknown_room", "gone")["error"] == {"code": "unknown_room", "message": "gone"}
    assert p.notification("speaker.changed", "m42", peer_id="p1") == {
        "type": "sfu.notify",
        "v": 1,
        "event": "speaker.changed",
        "room_id": "m42",
        "peer_id": "p1",
    }
    assert p.room_group("m42") == "sfu.room.m42"

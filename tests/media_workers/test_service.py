"""Request handling of a worker: dispatch to rooms in order, room lifecycle, drain and hand-back,
refusals with codes. The router is a fake (the media path has its own tests); the assignment
runs on the real test Redis."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from media_workers.assignment import Assignment
from media_workers.bus import Bus
from media_workers.consumer import SlotKind
from media_workers.errors import ALREADY_RECORDING, BAD_SDP, ICE_TIMEOUT, NOT_RECORDING, MediaError
from media_workers.notifier import Notifier
from media_workers.recording.room import RoomRecorder
from media_workers.registry import Load, Registry
from media_workers.router import SlotSource
from media_workers.service import RouterListener, WorkerService
from tests.media_workers.control_helpers import scratch_redis, wait_for, worker_config

pytestmark = pytest.mark.asyncio


class RecordingBus(Bus):
    """The transport, recorded instead of sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.groups: list[tuple[str, dict[str, Any]]] = []

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        self.sent.append((channel, message))

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        self.groups.append((group, message))

    def reply(self, request_id: str) -> dict[str, Any] | None:
        return next((m for _, m in self.sent if m.get("id") == request_id), None)

    def events(self, name: str) -> list[dict[str, Any]]:
        return [m for _, m in self.groups if m["event"] == name]


@dataclass
class FakeRouter:
    room_id: str
    listener: RouterListener
    calls: list[tuple[str, Any]] = field(default_factory=list)
    closed: bool = False
    gate: asyncio.Event | None = None
    close_gate: asyncio.Event | None = None
    recorder: RoomRecorder | None = None

    async def add_peer(self, peer_id: str, offer_sdp: str, roles: Mapping[str, str] | None = None) -> str:
        if self.gate is not None:
            await self.gate.wait()
        if offer_sdp == "garbage":
            raise MediaError(BAD_SDP, "The offer is not SDP.")
        self.calls.append(("add_peer", peer_id))
        return f"answer-for-{peer_id}"

    async def renegotiate(self, peer_id: str, offer_sdp: str, roles: Mapping[str, str] | None = None) -> str:
        self.calls.append(("renegotiate", roles))
        return "answer-2"

    async def add_ice_candidate(self, peer_id: str, candidate: Mapping[str, object]) -> None:
        self.calls.append(("ice", dict(candidate)))

    def set_view(
        self,
        peer_id: str,
        video_tiles: Sequence[str] | None,
        stage: str | None = None,
        sizes: Mapping[str, int] | None = None,
    ) -> None:
        self.calls.append(("view", (video_tiles, stage, sizes)))

    async def remove_peer(self, peer_id: str) -> None:
        self.calls.append(("remove_peer", peer_id))

    async def close(self) -> None:
        if self.close_gate is not None:
            await self.close_gate.wait()
        self.closed = True

    def stats(self) -> Mapping[str, int]:
        return {"packets_in": 10, "packets_out": 40, "peers": 1}

    def start_recording(self, recorder: RoomRecorder) -> None:
        if self.recorder is not None:
            raise MediaError(ALREADY_RECORDING, "already")
        self.recorder = recorder

    def stop_recording(self) -> Path:
        recorder, self.recorder = self.recorder, None
        if recorder is None:
            raise MediaError(NOT_RECORDING, "not recording")
        return recorder.stop()


@dataclass
class Harness:
    service: WorkerService
    bus: RecordingBus
    routers: dict[str, FakeRouter]
    assignment: Assignment
    composed: list[int]
    sequence: int = 0

    async def call(self, method: str, **fields: Any) -> dict[str, Any]:
        self.sequence += 1
        request_id = f"r{self.sequence}"
        message = {"type": "sfu.request", "v": 1, "id": request_id, "reply_to": "specific.web!1", "method": method}
        await self.service.handle({**message, **fields})
        await wait_for(lambda: self.bus.reply(request_id) is not None, f"the reply to {method}")
        reply = self.bus.reply(request_id)
        assert reply is not None
        return reply


@asynccontextmanager
async def harness(
    *, idle: str = "30", media: bool = True, recordings_dir: Path | None = None
) -> AsyncIterator[Harness]:
    async with scratch_redis() as (redis, keys):
        config = worker_config("w1", keys.prefix, SFU_ROOM_IDLE_SECONDS=idle)
        await Registry(redis, keys, config).beat(Load(peers=0, rooms=[], draining=False))
        bus = RecordingBus()
        notifier = Notifier(bus)
        notifier.start()
        routers: dict[str, FakeRouter] = {}

        def factory(room_id: str, listener: RouterListener) -> FakeRouter:
            routers[room_id] = FakeRouter(room_id, listener)
            return routers[room_id]

        assignment = Assignment(redis, keys)
        composed: list[int] = []

        async def compose(recording_id: int) -> None:
            composed.append(recording_id)

        config = dataclasses.replace(config, recordings_dir=recordings_dir or Path("/nonexistent"))
        service = WorkerService(config, bus, assignment, notifier, factory if media else None, compose)
        try:
            yield Harness(service, bus, routers, assignment, composed)
        finally:
            await asyncio.wait_for(service.close(), 10)
            await asyncio.wait_for(notifier.stop(), 10)


async def test_assign_answers_with_the_worker_and_ping_with_the_load() -> None:
    async with harness() as h:
        reply = await h.call("room.assign", room_id="m1")
        assert reply["ok"] is True
        assert reply["result"] == {
            "room_id": "m1",
            "worker_id": "w1",
            "channel": "sfu.worker.w1",
            "address": "127.0.0.1",
        }
        ping = await h.call("worker.ping")
        assert ping["result"]["worker_id"] == "w1"
        assert (ping["result"]["rooms"], ping["result"]["draining"]) == (0, False)


async def test_a_join_opens_the_room_and_requests_run_in_order() -> None:
    async with harness() as h:
        await h.call("room.assign", room_id="m1")
        joined = await h.call("room.join", room_id="m1", peer_id="ada", sdp="offer")
        assert joined["result"]["sdp"] == "answer-for-ada"
        candidate = {"candidate": "candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host", "sdpMid": "0"}
        assert (await h.call("room.ice", room_id="m1", peer_id="ada", candidate=candidate))["ok"]
        assert (await h.call("room.ice", room_id="m1", peer_id="ada", candidate=None))["ok"]
        view = {"tiles": ["bob"], "stage": "cid", "sizes": {"bob": 360}}
        assert (await h.call("room.view", room_id="m1", peer_id="ada", view=view))["ok"]
        roles = {"0": "audio", "1": "camera-high"}
        again = await h.call("room.renegotiate", room_id="m1", peer_id="ada", sdp="offer-2", roles=roles)
        assert again["result"]["sdp"] == "answer-2"
        stats = await h.call("room.stats", room_id="m1")
        assert stats["result"]["peer_ids"] == ["ada"]
        assert stats["result"]["media"]["packets_out"] == 40
        assert h.routers["m1"].calls == [
            ("add_peer", "ada"),
            ("ice", {**candidate, "sdpMLineIndex": None}),
            ("ice", {"candidate": ""}),
            ("view", (["bob"], "cid", {"bob": 360})),
            ("renegotiate", roles),
        ]
        assert h.service.load() == Load(peers=1, rooms=["m1"], draining=False)


async def test_an_ice_candidate_sent_during_the_join_waits_for_it() -> None:
    async with harness() as h:
        gate = asyncio.Event()
        join = asyncio.ensure_future(h.call("room.join", room_id="m1", peer_id="ada", sdp="offer"))
        await wait_for(lambda: "m1" in h.routers, "the room to open")
        h.routers["m1"].gate = gate
        ice = asyncio.ensure_future(h.call("room.ice", room_id="m1", peer_id="ada", candidate=None))
        gate.set()
        assert (await join)["ok"]
        assert (await ice)["ok"]
        assert [name for name, _ in h.routers["m1"].calls] == ["add_peer", "ice"]


@pytest.mark.parametrize(
    ("method", "fields", "code"),
    [
        ("room.ice", {"room_id": "nowhere", "peer_id": "ada", "candidate": None}, "unknown_room"),
        ("room.leave", {"room_id": "m1", "peer_id": "stranger"}, "unknown_peer"),
        ("room.join", {"room_id": "m1", "peer_id": "ada", "sdp": "offer"}, "peer_exists"),
        ("room.join", {"room_id": "m1", "peer_id": "bob", "sdp": "garbage"}, "bad_sdp"),
        ("room.join", {"room_id": "m1", "peer_id": "bob"}, "bad_request"),
        ("room.dance", {"room_id": "m1"}, "unknown_method"),
    ],
)
async def test_refusals_carry_a_stable_code(method: str, fields: dict[str, Any], code: str) -> None:
    async with harness() as h:
        await h.call("room.join", room_id="m1", peer_id="ada", sdp="offer")
        reply = await h.call(method, **fields)
        assert reply["ok"] is False
        assert reply["error"]["code"] == code
        assert reply["error"]["message"]
        # The room and its peer are unaffected.
        assert (await h.call("room.stats", room_id="m1"))["result"]["peer_ids"] == ["ada"]


async def test_a_message_without_a_reply_address_is_dropped() -> None:
    async with harness() as h:
        await h.service.handle({"type": "sfu.request", "v": 1, "method": "room.assign"})
        assert h.bus.sent == []


async def test_no_router_means_media_requests_are_refused() -> None:
    async with harness(media=False) as h:
        reply = await h.call("room.join", room_id="m1", peer_id="ada", sdp="offer")
        assert reply["error"]["code"] == "media_unavailable"
        assert (await h.call("room.assign", room_id="m1"))["ok"]


async def test_router_reports_become_room_notifications() -> None:
    async with harness() as h:
        await h.call("room.join", room_id="m1", peer_id="ada", sdp="offer")
        listener = h.routers["m1"].listener
        listener.dominant_speaker("ada")
        listener.slots_changed("ada", {"1": SlotSource("bob", SlotKind.VIDEO)})
        listener.peer_failed("ada", MediaError(ICE_TIMEOUT, "ICE did not complete."))
        await wait_for(lambda: len(h.bus.groups) == 3, "three notifications")
        assert {group for group, _ in h.bus.groups} == {"sfu.room.m1"}
        assert h.bus.events("speaker.changed")[0]["peer_id"] == "ada"
        assert h.bus.events("slots.changed")[0]["slots"] == {"1": {"participant": "bob", "kind": "video"}}
        failed = h.bus.events("peer.failed")[0]
        assert (failed["peer_id"], failed["code"]) == ("ada", "ice_timeout")
        # The router dropped the failed peer; the room forgets it, and leaving it is still fine.
        await wait_for(lambda: h.service.load().peers == 0, "the failed peer to be forgotten")


async def test_an_empty_room_closes_after_the_idle_timeout_and_is_released() -> None:
    async with harness(idle="0.1") as h:
        await h.call("room.assign", room_id="m1")
        await h.call("room.join", room_id="m1", peer_id="ada", sdp="offer")
        await h.call("room.leave", room_id="m1", peer_id="ada")
        await wait_for(lambda: not h.service.rooms, "the idle room to close")
        assert h.routers["m1"].closed
        await wait_for(lambda: bool(h.bus.events("room.ended")), "room.ended")
        assert h.bus.events("room.ended")[0]["reason"] == "idle"
        assert await h.assignment.worker_of("m1") is None
        # Its counters stay in the worker's totals.
        assert h.service.snapshot().media["packets_out"] == 40


async def test_room_close_answers_after_the_router_closed() -> None:
    async with harness() as h:
        await h.call("room.join", room_id="m1", peer_id="ada", sdp="offer")
        reply = await h.call("room.close", room_id="m1")
        assert reply["ok"]
        assert h.routers["m1"].closed
        assert "m1" not in h.service.rooms
        assert (await h.call("room.stats", room_id="m1"))["error"]["code"] == "unknown_room"


async def test_draining_refuses_new_rooms_serves_open_ones_and_closes_them_when_empty() -> None:
    async with harness() as h:
        await h.call("room.join", room_id="m1", peer_id="ada", sdp="offer")
        h.service.start_drain()
        refused = await h.call("room.join", room_id="m2", peer_id="bob", sdp="offer")
        assert refused["error"]["code"] == "worker_draining"
        assert (await h.call("room.join", room_id="m1", peer_id="bob", sdp="offer"))["ok"]
        await h.call("room.leave", room_id="m1", peer_id="ada")
        await h.call("room.leave", room_id="m1", peer_id="bob")
        await asyncio.wait_for(h.service.rooms_empty.wait(), 10)
        assert h.routers["m1"].closed


async def test_hand_back_closes_rooms_and_announces_them_as_moved() -> None:
    async with harness() as h:
        await h.call("room.assign", room_id="m1")
        await h.call("room.join", room_id="m1", peer_id="ada", sdp="offer")
        h.service.start_drain()
        await asyncio.wait_for(h.service.hand_back(), 10)
        assert h.routers["m1"].closed
        await wait_for(lambda: bool(h.bus.events("room.moved")), "room.moved")
        moved = h.bus.events("room.moved")[0]
        assert (moved["room_id"], moved["reason"], moved["from_worker"]) == ("m1", "worker_draining", "w1")
        assert await h.assignment.worker_of("m1") is None


async def test_a_room_lost_to_another_worker_closes_without_announcement() -> None:
    async with harness() as h:
        await h.call("room.join", room_id="m1", peer_id="ada", sdp="offer")
        await h.service.lose(["m1"])
        assert h.routers["m1"].closed
        assert "m1" not in h.service.rooms
        assert h.bus.groups == []


async def test_metrics_sum_live_routers_and_count_requests() -> None:
    async with harness() as h:
        await h.call("room.join", room_id="m1", peer_id="ada", sdp="offer")
        await h.call("room.join", room_id="m2", peer_id="bob", sdp="offer")
        await h.call("room.join", room_id="m3", peer_id="cid", sdp="garbage")
        text = h.service.metrics.render().decode()
        assert "sfu_rooms 3.0" in text
        assert "sfu_packets_out_total 120.0" in text
        assert 'sfu_requests_total{method="room.join",outcome="ok"} 2.0' in text
        assert 'sfu_requests_total{method="room.join",outcome="bad_sdp"} 1.0' in text
        assert "process_cpu_seconds_total" in text


async def test_a_closing_room_refuses_requests_and_a_new_room_opens_after_it() -> None:
    async with harness() as h:
        await h.call("room.assign", room_id="m1")
        await h.call("room.join", room_id="m1", peer_id="ada", sdp="offer")
        old = h.routers["m1"]
        old.close_gate = asyncio.Event()
        closing = asyncio.ensure_future(h.call("room.close", room_id="m1"))
        await wait_for(lambda: h.service.rooms["m1"].closing, "the room to start closing")
        refused = await h.call("room.join", room_id="m1", peer_id="bob", sdp="offer")
        assert refused["error"]["code"] == "unknown_room"
        old.close_gate.set()
        assert (await closing)["ok"]
        assert await h.assignment.worker_of("m1") is None
        await h.call("room.assign", room_id="m1")
        assert (await h.call("room.join", room_id="m1", peer_id="bob", sdp="offer"))["ok"]
        assert h.routers["m1"] is not old
        assert await h.assignment.worker_of("m1") == "w1"


async def test_an_unreachable_registry_answers_sfu_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    async with harness() as h:

        async def unreachable(room_id: str) -> None:
            raise RedisConnectionError("Connection refused.")

        monkeypatch.setattr(h.assignment, "assign", unreachable)
        reply = await h.call("room.assign", room_id="m1")
        assert reply["error"]["code"] == "sfu_unavailable"


async def test_a_recording_starts_stops_and_is_queued_for_composition(tmp_path: Path) -> None:
    async with harness(recordings_dir=tmp_path) as h:
        await h.call("room.assign", room_id="m1")
        await h.call("room.join", room_id="m1", peer_id="alice", sdp="v=0")
        started = await h.call("room.record.start", room_id="m1", recording_id=12)
        assert started["result"] == {"recording_id": 12, "folder": str(tmp_path / "12")}
        again = await h.call("room.record.start", room_id="m1", recording_id=13)
        assert again["error"]["code"] == ALREADY_RECORDING
        stopped = await h.call("room.record.stop", room_id="m1")
        assert stopped["result"] == {"recording_id": 12, "manifest": str(tmp_path / "12" / "manifest.json")}
        assert h.composed == [12]
        assert (await h.call("room.record.stop", room_id="m1"))["error"]["code"] == NOT_RECORDING
        bad = await h.call("room.record.start", room_id="m1", recording_id=0)
        assert bad["error"]["code"] == "bad_request"


async def test_a_room_that_closes_while_recording_queues_the_composition(tmp_path: Path) -> None:
    async with harness(recordings_dir=tmp_path) as h:
        await h.call("room.assign", room_id="m1")
        await h.call("room.join", room_id="m1", peer_id="alice", sdp="v=0")
        await h.call("room.record.start", room_id="m1", recording_id=5)
        await h.call("room.close", room_id="m1")
        assert h.composed == [5]
        assert (tmp_path / "5" / "manifest.json").exists()


async def test_a_recording_ends_when_the_last_peer_leaves(tmp_path: Path) -> None:
    async with harness(recordings_dir=tmp_path) as h:
        await h.call("room.assign", room_id="m1")
        await h.call("room.join", room_id="m1", peer_id="alice", sdp="v=0")
        await h.call("room.join", room_id="m1", peer_id="bob", sdp="v=0")
        await h.call("room.record.start", room_id="m1", recording_id=9)
        await h.call("room.leave", room_id="m1", peer_id="alice")
        assert h.composed == []  # Bob is still there
        await h.call("room.leave", room_id="m1", peer_id="bob")
        assert h.composed == [9]
        assert h.routers["m1"].recorder is None
        assert (await h.call("room.record.stop", room_id="m1"))["error"]["code"] == NOT_RECORDING

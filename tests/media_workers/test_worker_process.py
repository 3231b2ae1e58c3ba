"""Real ``python -m media_workers`` processes on the test Redis, driven by the web's SFU client:
registration and heartbeat, assignment across workers, kill -9 and reassignment, SIGTERM drain,
and the metrics endpoint. Loopback only; every wait has a deadline."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from media_workers.ice_addresses import restrict_host_candidates
from media_workers.keys import text
from rooms.sfu_client import SfuError
from tests.media_workers.control_helpers import wait_for
from tests.media_workers.worker_processes import ROOT, Cluster, cluster, scrape

pytestmark = pytest.mark.asyncio

FAST = {"SFU_HEARTBEAT_SECONDS": "0.2", "SFU_HEARTBEAT_TTL_SECONDS": "1"}


async def exited(cluster: Cluster, worker_id: str, timeout: float = 30) -> int:
    worker = next(w for w in cluster.workers if w.worker_id == worker_id)
    try:
        return await asyncio.wait_for(worker.process.wait(), timeout)
    except TimeoutError:
        raise AssertionError(f"{worker_id} did not exit:\n{worker.output()}") from None


async def group_reader(cluster: Cluster, room_ids: list[str]) -> str:
    """A channel subscribed to the rooms' notification groups, as a web consumer would be."""
    reader = str(await cluster.layer.new_channel())
    for room_id in room_ids:
        await cluster.layer.group_add(f"sfu.room.{room_id}", reader)
    return reader


async def next_event(cluster: Cluster, reader: str, event: str, timeout: float = 15) -> dict[str, Any]:
    async def read() -> dict[str, Any]:
        while True:
            message: dict[str, Any] = await cluster.layer.receive(reader)
            if message.get("event") == event:
                return message

    return await asyncio.wait_for(read(), timeout)


@asynccontextmanager
async def loopback_peer() -> AsyncIterator[RTCPeerConnection]:
    """A browser stand-in (a listener: one audio receive slot), gathering on 127.0.0.1 only."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver("audio", direction="recvonly")
    restrict_host_candidates(pc, ("127.0.0.1",))
    try:
        await pc.setLocalDescription(await pc.createOffer())
        yield pc
    finally:
        await pc.close()


async def test_a_worker_registers_heartbeats_and_answers_pings(tmp_path: Path) -> None:
    async with cluster(tmp_path) as c:
        worker = await c.start("alpha")
        raw = await c.redis.hgetall(c.keys.worker("alpha"))
        info = {text(k): text(v) for k, v in raw.items()}
        assert info["channel"] == "sfu.worker.alpha"
        assert info["address"] == "127.0.0.1"
        assert info["pid"] == str(worker.process.pid)
        assert (info["capacity"], info["load"], info["draining"]) == ("500", "0", "0")
        # Default timing: a beat every second, dead after 3 s without one.
        assert 0 < await c.redis.pttl(c.keys.worker("alpha")) <= 3000

        async def expiry_ms() -> int:
            return int(await c.redis.pttl(c.keys.worker("alpha")))

        async def aged() -> bool:
            return 0 < await expiry_ms() < 2600

        async def refreshed() -> bool:
            return await expiry_ms() > 2700

        await wait_for(aged, "the registration to age", timeout=5)
        await wait_for(refreshed, "a heartbeat to refresh the registration", timeout=5)

        pong = await c.client.request(worker.channel, {"method": "worker.ping"}, timeout=10)
        assert pong["worker_id"] == "alpha"
        assert (pong["draining"], pong["media"], pong["rooms"]) == (False, True, 0)


async def test_new_rooms_go_to_the_least_loaded_worker_and_stay_there(tmp_path: Path) -> None:
    async with cluster(tmp_path) as c:
        await c.start("alpha")
        first = await c.client.assign("room0")
        assert first.worker_id == "alpha"
        await c.start("beta")
        # alpha carries room0: the next room goes to beta, then they alternate.
        chosen = [(await c.client.assign(f"room{n}")).worker_id for n in range(1, 6)]
        assert chosen[0] == "beta"
        assert Counter(["alpha", *chosen]) == {"alpha": 3, "beta": 3}
        again = await c.client.assign("room0")
        assert (again.worker_id, again.channel, again.address) == ("alpha", "sfu.worker.alpha", "127.0.0.1")


async def test_the_rooms_of_a_killed_worker_move_to_the_live_one(tmp_path: Path) -> None:
    async with cluster(tmp_path) as c:
        victim = await c.start("alpha", **FAST)
        await c.start("beta", **FAST)
        placed = {room: (await c.client.assign(room)).worker_id for room in ("r0", "r1", "r2", "r3")}
        victims_rooms = sorted(room for room, worker_id in placed.items() if worker_id == "alpha")
        assert len(victims_rooms) == 2
        reader = await group_reader(c, victims_rooms)

        victim.process.send_signal(signal.SIGKILL)
        assert await exited(c, "alpha") == -signal.SIGKILL

        async def expired() -> bool:
            return not await c.redis.exists(c.keys.worker("alpha"))

        await wait_for(expired, "the dead worker's registration to expire", timeout=5)
        # The live worker notices, and tells the rooms' web consumers to move.
        moved = [await next_event(c, reader, "room.moved") for _ in victims_rooms]
        assert sorted(m["room_id"] for m in moved) == victims_rooms
        assert {(m["reason"], m["from_worker"]) for m in moved} == {("worker_lost", "alpha")}
        for room in victims_rooms:
            assert (await c.client.assign(room)).worker_id == "beta"
        assert {room: (await c.client.assign(room)).worker_id for room in placed} == dict.fromkeys(placed, "beta")
        # Requests to the dead worker's channel time out with a clear code.
        with pytest.raises(SfuError) as timed_out:
            await c.client.request(victim.channel, {"method": "worker.ping"}, timeout=0.5)
        assert timed_out.value.code == "sfu_timeout"


async def test_sigterm_drains_serves_open_rooms_takes_no_new_ones_then_exits(tmp_path: Path) -> None:
    async with cluster(tmp_path) as c, loopback_peer() as pc:
        alpha = await c.start("alpha", SFU_DRAIN_TIMEOUT_SECONDS="120")
        assert (await c.client.assign("open-room")).worker_id == "alpha"
        joined = await c.client.request(
            alpha.channel,
            {"method": "room.join", "room_id": "open-room", "peer_id": "ada", "sdp": pc.localDescription.sdp},
            timeout=20,
        )
        assert "m=audio" in joined["sdp"]
        await pc.setRemoteDescription(RTCSessionDescription(sdp=joined["sdp"], type="answer"))
        await c.start("beta")

        alpha.process.send_signal(signal.SIGTERM)

        async def draining() -> bool:
            return await c.redis.hget(c.keys.worker("alpha"), "draining") == b"1"

        await wait_for(draining, "alpha to announce its drain")
        # No new rooms: not by assignment, not by a direct join.
        assert (await c.client.assign("new-room")).worker_id == "beta"
        with pytest.raises(SfuError) as refused:
            await c.client.request(
                alpha.channel,
                {"method": "room.join", "room_id": "other", "peer_id": "bob", "sdp": pc.localDescription.sdp},
                timeout=10,
            )
        assert refused.value.code == "worker_draining"
        # The open room stays where it is and is still served.
        assert (await c.client.assign("open-room")).worker_id == "alpha"
        stats = await c.client.request(alpha.channel, {"method": "room.stats", "room_id": "open-room"}, timeout=10)
        assert stats["peer_ids"] == ["ada"]
        assert alpha.process.returncode is None
        # The last peer leaves: the room closes and the worker exits cleanly.
        reader = await group_reader(c, ["open-room"])
        await c.client.request(
            alpha.channel, {"method": "room.leave", "room_id": "open-room", "peer_id": "ada"}, timeout=10
        )
        assert (await next_event(c, reader, "room.ended"))["room_id"] == "open-room"
        assert await exited(c, "alpha") == 0
        assert not await c.redis.exists(c.keys.worker("alpha"))
        assert not await c.redis.sismember(c.keys.workers, "alpha")
        assert (await c.client.assign("open-room")).worker_id == "beta"


async def test_a_drain_that_times_out_hands_the_rooms_back(tmp_path: Path) -> None:
    async with cluster(tmp_path) as c, loopback_peer() as pc:
        alpha = await c.start("alpha", SFU_DRAIN_TIMEOUT_SECONDS="1")
        await c.client.assign("busy-room")
        joined = await c.client.request(
            alpha.channel,
            {"method": "room.join", "room_id": "busy-room", "peer_id": "ada", "sdp": pc.localDescription.sdp},
            timeout=20,
        )
        await pc.setRemoteDescription(RTCSessionDescription(sdp=joined["sdp"], type="answer"))
        reader = await group_reader(c, ["busy-room"])
        alpha.process.send_signal(signal.SIGTERM)
        moved = await next_event(c, reader, "room.moved")
        assert (moved["reason"], moved["from_worker"]) == ("worker_draining", "alpha")
        assert await exited(c, "alpha") == 0
        await c.start("beta")
        assert (await c.client.assign("busy-room")).worker_id == "beta"


async def test_the_metrics_endpoint_serves_prometheus_text(tmp_path: Path) -> None:
    async with cluster(tmp_path) as c:
        alpha = await c.start("alpha")
        await c.client.assign("room0")
        with pytest.raises(SfuError):
            await c.client.request(alpha.channel, {"method": "room.stats", "room_id": "nowhere"}, timeout=10)
        text = await scrape(alpha.metrics_port)
        for name in ("sfu_rooms", "sfu_peers", "sfu_producers", "sfu_consumers", "sfu_packets_in_total"):
            assert f"\n{name} " in text
        for name in ("sfu_bytes_out_total", "sfu_nacks_received_total", "sfu_plis_forwarded_total"):
            assert f"\n{name} " in text
        assert "sfu_loss_downstream_ratio" in text
        assert "process_cpu_seconds_total" in text
        assert 'sfu_requests_total{method="room.assign",outcome="ok"} 1.0' in text
        assert 'sfu_requests_total{method="room.stats",outcome="unknown_room"} 1.0' in text


async def test_a_second_sigterm_hands_the_rooms_back_at_once(tmp_path: Path) -> None:
    async with cluster(tmp_path) as c, loopback_peer() as pc:
        alpha = await c.start("alpha", SFU_DRAIN_TIMEOUT_SECONDS="600")
        await c.client.assign("busy-room")
        joined = await c.client.request(
            alpha.channel,
            {"method": "room.join", "room_id": "busy-room", "peer_id": "ada", "sdp": pc.localDescription.sdp},
            timeout=20,
        )
        await pc.setRemoteDescription(RTCSessionDescription(sdp=joined["sdp"], type="answer"))
        reader = await group_reader(c, ["busy-room"])
        alpha.process.send_signal(signal.SIGTERM)

        async def draining() -> bool:
            return await c.redis.hget(c.keys.worker("alpha"), "draining") == b"1"

        await wait_for(draining, "alpha to announce its drain")
        alpha.process.send_signal(signal.SIGTERM)
        moved = await next_event(c, reader, "room.moved")
        assert (moved["reason"], moved["from_worker"]) == ("worker_draining", "alpha")
        assert await exited(c, "alpha") == 0


async def test_a_bad_setting_stops_the_worker_at_once_naming_it() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "media_workers",
        cwd=ROOT,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "SFU_CAPACITY": "many"},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 2
    assert "SFU_CAPACITY='many' is not an integer" in stderr.decode()

"""Registration and heartbeat (lua/heartbeat.lua) against the real test Redis."""

from __future__ import annotations

import asyncio

import pytest

from media_workers.assignment import Assignment
from media_workers.registry import Heartbeat, Load, Registry
from tests.media_workers.control_helpers import scratch_redis, wait_for, worker_config

pytestmark = pytest.mark.asyncio


async def test_a_beat_registers_the_worker_with_a_short_expiry() -> None:
    async with scratch_redis() as (redis, keys):
        config = worker_config("w1", keys.prefix, SFU_ANNOUNCED_ADDRESS="10.1.2.3", SFU_CAPACITY="40")
        registry = Registry(redis, keys, config)
        lost = await registry.beat(Load(peers=7, rooms=["r1", "r2"], draining=False))
        assert lost == []  # hosted here and assigned to nobody: claimed (see below)
        info = await registry.info("w1")
        assert info["channel"] == "sfu.worker.w1"
        assert info["address"] == "10.1.2.3"
        assert (info["capacity"], info["load"], info["rooms"], info["draining"]) == ("40", "7", "2", "0")
        assert 0 < await redis.pttl(keys.worker("w1")) <= 3000
        assert await redis.smembers(keys.workers) == {b"w1"}


async def test_hosted_rooms_mapped_elsewhere_are_reported_lost() -> None:
    async with scratch_redis() as (redis, keys):
        registry = Registry(redis, keys, worker_config("w1", keys.prefix))
        await registry.beat(Load(peers=0, rooms=[], draining=False))
        assert await Assignment(redis, keys).assign("mine") is not None
        await redis.set(keys.room("theirs"), "w2")
        assert await registry.beat(Load(peers=2, rooms=["mine", "theirs"], draining=False)) == ["theirs"]


async def test_after_redis_lost_everything_a_beat_keeps_the_rooms_running_here() -> None:
    """A Redis restart without persistence forgets registrations and room mappings: the next
    beat registers again and claims the rooms that are open here, so no call is dropped and the
    next assign of those rooms comes back to this worker."""
    async with scratch_redis() as (redis, keys):
        registry = Registry(redis, keys, worker_config("w1", keys.prefix))
        await registry.beat(Load(peers=0, rooms=[], draining=False))
        assignment = Assignment(redis, keys)
        assert await assignment.assign("r1") is not None
        async for key in redis.scan_iter(match=f"{keys.prefix}:*"):  # what the restart leaves
            await redis.delete(key)
        assert await registry.beat(Load(peers=3, rooms=["r1"], draining=False)) == []
        assert await assignment.worker_of("r1") == "w1"
        assert await assignment.assigned_rooms("w1") == ["r1"]
        again = await assignment.assign("r1")
        assert again is not None
        assert again.worker_id == "w1"


async def test_a_room_assigned_but_never_opened_is_released_after_the_grace_period() -> None:
    async with scratch_redis() as (redis, keys):
        registry = Registry(redis, keys, worker_config("w1", keys.prefix, SFU_ASSIGN_GRACE_SECONDS="1"))
        await registry.beat(Load(peers=0, rooms=[], draining=False))
        assignment = Assignment(redis, keys)
        await assignment.assign("opened")
        await assignment.assign("forgotten")

        async def released() -> bool:
            await registry.beat(Load(peers=1, rooms=["opened"], draining=False))
            return await assignment.worker_of("forgotten") is None

        await wait_for(released, "the unopened room to be released", timeout=5, step=0.1)
        assert await assignment.worker_of("opened") == "w1"
        assert await assignment.assigned_rooms("w1") == ["opened"]


async def test_unregister_removes_the_worker_at_once() -> None:
    async with scratch_redis() as (redis, keys):
        registry = Registry(redis, keys, worker_config("w1", keys.prefix))
        await registry.beat(Load(peers=0, rooms=[], draining=False))
        await registry.unregister()
        assert await registry.info("w1") == {}
        assert await redis.smembers(keys.workers) == set()


async def test_the_heartbeat_loop_beats_survives_failures_and_stops_cleanly() -> None:
    calls: list[int] = []

    async def beat() -> None:
        calls.append(1)
        if len(calls) == 2:
            raise ConnectionError("Redis went away for a moment")

    heartbeat = Heartbeat(0.01, beat)
    heartbeat.start()
    await asyncio.wait_for(heartbeat.started.wait(), 5)
    await wait_for(lambda: len(calls) >= 5, "five beats")
    assert heartbeat.beats >= 3
    await asyncio.wait_for(heartbeat.stop(), 5)
    assert heartbeat.exited.is_set()

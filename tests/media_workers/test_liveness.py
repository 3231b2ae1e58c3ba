"""Liveness that a busy media loop cannot delay (``media_workers/liveness.py``,
``lua/alive.lua``) and new rooms kept off saturated workers (``lua/assign.lua``), against the
real test Redis."""

from __future__ import annotations

import asyncio
import time

import pytest
from redis.asyncio import Redis

from media_workers.assignment import Assignment
from media_workers.keys import Keys
from media_workers.liveness import CpuMeter, LoopWatch, Pulse, Smoothed
from media_workers.registry import Load, Registry
from tests.media_workers.control_helpers import redis_url, scratch_redis, wait_for, worker_config


async def registered(redis: Redis, keys: Keys, worker_id: str, **env: str) -> Registry:
    registry = Registry(redis, keys, worker_config(worker_id, keys.prefix, **env))
    await registry.beat(Load(peers=0, rooms=[], draining=False))
    return registry


def pulse_for(keys: Keys, worker_id: str, watch: LoopWatch, *, interval: float = 0.1, ttl: float = 0.6) -> Pulse:
    return Pulse(redis_url(), keys, worker_id, interval=interval, ttl=ttl, stall_limit=5.0, watch=watch)


@pytest.mark.asyncio
async def test_the_pulse_keeps_a_worker_alive_while_its_event_loop_is_blocked() -> None:
    """The loop is blocked (as by a saturated media loop) for five times the expiry: the
    registration lives on, and the pulse reports how late the loop runs."""
    async with scratch_redis() as (redis, keys):
        await registered(redis, keys, "w1", SFU_HEARTBEAT_SECONDS="0.1", SFU_HEARTBEAT_TTL_SECONDS="0.6")
        watch = LoopWatch(tick=0.05)
        watch.start()
        pulse = pulse_for(keys, "w1", watch)
        pulse.start()
        try:
            await wait_for(lambda: pulse.pulses >= 2, "two pulses")
            time.sleep(3.0)  # noqa: ASYNC251 - the point: this event loop does nothing for 3 s
            assert await redis.exists(keys.worker("w1")) == 1
            lag_ms = int(await redis.hget(keys.worker("w1"), "lag_ms") or 0)
            assert lag_ms >= 1000  # the last pulses saw a loop seconds behind
            await wait_for(
                lambda: _lag_below(redis, keys, 1000), "the lag to come down once the loop runs again", timeout=5
            )
        finally:
            watch.stop()
            await asyncio.to_thread(pulse.stop)


async def _lag_below(redis: Redis, keys: Keys, limit_ms: int) -> bool:
    return int(await redis.hget(keys.worker("w1"), "lag_ms") or 0) < limit_ms


@pytest.mark.asyncio
async def test_without_the_pulse_the_same_block_expires_the_registration() -> None:
    """The control: what a heartbeat on the blocked loop alone would have let happen."""
    async with scratch_redis() as (redis, keys):
        await registered(redis, keys, "w1", SFU_HEARTBEAT_SECONDS="0.1", SFU_HEARTBEAT_TTL_SECONDS="0.6")
        time.sleep(1.0)  # noqa: ASYNC251
        assert await redis.exists(keys.worker("w1")) == 0


@pytest.mark.asyncio
async def test_a_loop_stalled_past_the_limit_gets_no_pulse_and_the_worker_dies() -> None:
    async with scratch_redis() as (redis, keys):
        await registered(redis, keys, "w1", SFU_HEARTBEAT_SECONDS="0.1", SFU_HEARTBEAT_TTL_SECONDS="0.6")
        watch = LoopWatch(tick=0.05)  # never started: the loop never ticks
        watch.last_tick = time.monotonic() - 10
        pulse = Pulse(redis_url(), keys, "w1", interval=0.1, ttl=0.6, stall_limit=5.0, watch=watch)
        try:
            assert await asyncio.to_thread(pulse.pulse) is False
            assert pulse.withheld == 1
        finally:
            await asyncio.to_thread(pulse.redis.close)
        await wait_for(lambda: _gone(redis, keys, "w1"), "the registration to expire", timeout=3)


async def _gone(redis: Redis, keys: Keys, worker_id: str) -> bool:
    return await redis.exists(keys.worker(worker_id)) == 0


@pytest.mark.asyncio
async def test_a_pulse_does_not_bring_back_a_registration_that_is_gone() -> None:
    async with scratch_redis() as (redis, keys):
        watch = LoopWatch()
        pulse = Pulse(redis_url(), keys, "never-registered", interval=0.1, ttl=0.6, stall_limit=5.0, watch=watch)
        try:
            assert await asyncio.to_thread(pulse.pulse) is False
        finally:
            await asyncio.to_thread(pulse.redis.close)
        assert await redis.exists(keys.worker("never-registered")) == 0


def test_the_cpu_meter_reads_the_share_of_a_core_this_process_used() -> None:
    meter = CpuMeter()
    started_cpu, started = time.process_time(), time.monotonic()
    while time.process_time() - started_cpu < 0.2:
        pass  # busy for 0.2 s of CPU, however long that takes on this machine
    busy = meter.read()
    expected = 0.2 / (time.monotonic() - started)
    assert busy == pytest.approx(expected, rel=0.3)
    time.sleep(0.3)
    idle = meter.read()
    assert idle < busy
    assert idle < 0.2


# --- new rooms and saturated workers -------------------------------------------------------------


async def workers(redis: Redis, keys: Keys, **coping: tuple[int, float, int]) -> Assignment:
    """Registers each worker with (peers, CPU, loop lag in ms) as its heartbeat and pulse would
    write them; the assignment uses limits of 0.9 of a core and 250 ms."""
    for worker_id, (peers, cpu, lag_ms) in coping.items():
        await registered(redis, keys, worker_id)
        await redis.hset(keys.worker(worker_id), "load", str(peers))
        await saturate(redis, keys, worker_id, cpu=cpu, lag_ms=lag_ms)
    return Assignment(redis, keys, cpu_limit=0.9, lag_limit_ms=250)


async def saturate(redis: Redis, keys: Keys, worker_id: str, *, cpu: float = 0.0, lag_ms: int = 0) -> None:
    """What a pulse writes for a worker coping this badly."""
    await redis.hset(keys.worker(worker_id), mapping={"cpu": str(cpu), "lag_ms": str(lag_ms)})


@pytest.mark.asyncio
async def test_a_new_room_goes_to_a_worker_that_is_not_saturated() -> None:
    async with scratch_redis() as (redis, keys):
        # "hot" is the least loaded but at the CPU limit, "late" runs 900 ms behind.
        assignment = await workers(redis, keys, hot=(0, 0.95, 0), late=(1, 0.1, 900), calm=(2, 0.3, 5))
        assigned = await assignment.assign("room1")
        assert assigned is not None
        assert assigned.worker_id == "calm"


@pytest.mark.asyncio
async def test_when_every_worker_is_saturated_the_least_loaded_still_takes_the_room() -> None:
    async with scratch_redis() as (redis, keys):
        assignment = await workers(redis, keys, a=(3, 0.99, 0), b=(0, 0.1, 2000))
        assigned = await assignment.assign("room1")
        assert assigned is not None
        assert assigned.worker_id == "b"


@pytest.mark.asyncio
async def test_a_saturated_worker_keeps_the_rooms_it_has() -> None:
    async with scratch_redis() as (redis, keys):
        await registered(redis, keys, "a")
        await registered(redis, keys, "b")
        assignment = Assignment(redis, keys, cpu_limit=0.9, lag_limit_ms=250)
        first = await assignment.assign("room1")
        assert first is not None
        await saturate(redis, keys, first.worker_id, cpu=1.0, lag_ms=3000)
        again = await assignment.assign("room1")
        assert again is not None
        assert again.worker_id == first.worker_id
        other = await assignment.assign("room2")
        assert other is not None
        assert other.worker_id != first.worker_id


def test_a_busy_second_is_not_saturation_a_busy_ten_seconds_is() -> None:
    burst = Smoothed(5.0)
    burst.add(0.0, now=0.0)
    assert burst.add(1.0, now=1.0) == pytest.approx(0.18, abs=0.01)  # starting up, say
    assert burst.add(0.0, now=6.0) < 0.1
    sustained = Smoothed(5.0)
    sustained.add(0.0, now=0.0)
    for second in range(1, 13):
        value = sustained.add(1.0, now=float(second))
    assert value >= 0.9

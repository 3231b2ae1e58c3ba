"""Room assignment (lua/assign.lua, reap.lua, release.lua) against the real test Redis:
least-loaded among live workers, skipping dead, draining and full ones, sticky while the
worker lives, moved after it dies, and atomic under concurrent calls."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from redis.asyncio import Redis

from media_workers.assignment import Assignment
from media_workers.keys import Keys
from media_workers.registry import Load, Registry
from tests.media_workers.control_helpers import redis_url, scratch_redis, worker_config

pytestmark = pytest.mark.asyncio


async def register(
    redis: Redis, keys: Keys, worker_id: str, *, peers: int = 0, capacity: int = 10, draining: bool = False
) -> Registry:
    registry = Registry(redis, keys, worker_config(worker_id, keys.prefix, SFU_CAPACITY=str(capacity)))
    await registry.beat(Load(peers=peers, rooms=[], draining=draining))
    return registry


async def die(redis: Redis, keys: Keys, worker_id: str) -> None:
    """What a kill -9 leaves: the registration expires, the rest stays until it is reaped."""
    await redis.delete(keys.worker(worker_id))


async def test_the_least_loaded_worker_takes_a_new_room() -> None:
    async with scratch_redis() as (redis, keys):
        await register(redis, keys, "a", peers=3)
        await register(redis, keys, "b", peers=1)
        await register(redis, keys, "c", peers=2)
        assigned = await Assignment(redis, keys).assign("room1")
        assert assigned is not None
        assert (assigned.worker_id, assigned.previous) == ("b", None)
        assert (assigned.channel, assigned.address) == ("sfu.worker.b", "127.0.0.1")


async def test_load_is_relative_to_capacity() -> None:
    async with scratch_redis() as (redis, keys):
        await register(redis, keys, "big", peers=20, capacity=100)
        await register(redis, keys, "small", peers=2, capacity=4)
        assigned = await Assignment(redis, keys).assign("room1")
        assert assigned is not None
        assert assigned.worker_id == "big"


async def test_assigned_rooms_count_so_a_burst_spreads_before_peers_arrive() -> None:
    async with scratch_redis() as (redis, keys):
        await register(redis, keys, "a")
        await register(redis, keys, "b")
        assignment = Assignment(redis, keys)
        chosen = [await assignment.assign(f"room{n}") for n in range(6)]
        assert Counter(found.worker_id for found in chosen if found) == {"a": 3, "b": 3}


async def test_dead_draining_and_full_workers_get_no_new_room() -> None:
    async with scratch_redis() as (redis, keys):
        await register(redis, keys, "dead")
        await die(redis, keys, "dead")
        await register(redis, keys, "draining", draining=True)
        await register(redis, keys, "full", peers=10, capacity=10)
        await register(redis, keys, "busy", peers=9, capacity=10)
        assigned = await Assignment(redis, keys).assign("room1")
        assert assigned is not None
        assert assigned.worker_id == "busy"


async def test_no_live_worker_means_no_assignment() -> None:
    async with scratch_redis() as (redis, keys):
        assignment = Assignment(redis, keys)
        assert await assignment.assign("room1") is None
        await register(redis, keys, "draining", draining=True)
        assert await assignment.assign("room1") is None
        assert await redis.exists(keys.room("room1")) == 0


async def test_a_room_stays_on_its_worker_while_it_lives_even_when_busier_or_draining() -> None:
    async with scratch_redis() as (redis, keys):
        a = await register(redis, keys, "a")
        await register(redis, keys, "b", peers=1)
        assignment = Assignment(redis, keys)
        first = await assignment.assign("room1")
        assert first is not None
        assert first.worker_id == "a"
        await a.beat(Load(peers=9, rooms=["room1"], draining=False))
        again = await assignment.assign("room1")
        assert again is not None
        assert again.worker_id == "a"
        await a.beat(Load(peers=9, rooms=["room1"], draining=True))
        still = await assignment.assign("room1")
        assert still is not None
        assert still.worker_id == "a"


async def test_a_room_of_a_dead_worker_moves_on_the_next_assign() -> None:
    async with scratch_redis() as (redis, keys):
        await register(redis, keys, "a")
        await register(redis, keys, "b", peers=5)
        assignment = Assignment(redis, keys)
        before = await assignment.assign("room1")
        assert before is not None
        assert before.worker_id == "a"
        await die(redis, keys, "a")
        after = await assignment.assign("room1")
        assert after is not None
        assert (after.worker_id, after.previous) == ("b", "a")
        assert await assignment.worker_of("room1") == "b"
        assert await assignment.assigned_rooms("a") == []
        assert await assignment.assigned_rooms("b") == ["room1"]
        # ...and the reaper does not announce it a second time.
        assert await assignment.reap() == []


async def test_the_reaper_forgets_dead_workers_and_returns_their_rooms() -> None:
    async with scratch_redis() as (redis, keys):
        await register(redis, keys, "a")
        await register(redis, keys, "b", peers=5)
        assignment = Assignment(redis, keys)
        for room in ("room1", "room2"):
            found = await assignment.assign(room)
            assert found is not None
            assert found.worker_id == "a"
        await die(redis, keys, "a")
        moved = await assignment.reap()
        assert sorted((m.room_id, m.dead_worker_id) for m in moved) == [("room1", "a"), ("room2", "a")]
        assert await assignment.worker_of("room1") is None
        assert await redis.smembers(keys.workers) == {b"b"}
        assert await assignment.reap() == []


async def test_a_worker_restarting_under_its_old_id_reaps_its_previous_life() -> None:
    async with scratch_redis() as (redis, keys):
        await register(redis, keys, "a")
        assignment = Assignment(redis, keys)
        await assignment.assign("room1")
        moved = await assignment.reap(also="a")
        assert [(m.room_id, m.dead_worker_id) for m in moved] == [("room1", "a")]
        assert await assignment.worker_of("room1") is None


async def test_release_only_removes_the_workers_own_mappings() -> None:
    async with scratch_redis() as (redis, keys):
        await register(redis, keys, "a")
        await register(redis, keys, "b", peers=1)
        assignment = Assignment(redis, keys)
        await assignment.assign("room1")
        assert await assignment.release("b", ["room1"]) == 0
        assert await assignment.worker_of("room1") == "a"
        assert await assignment.release("a", ["room1"]) == 1
        assert await assignment.worker_of("room1") is None
        assert await assignment.assigned_rooms("a") == []


async def test_distinct_rooms_assigned_concurrently_are_spread_exactly() -> None:
    async with scratch_redis() as (redis, keys):
        for worker_id in ("a", "b", "c"):
            await register(redis, keys, worker_id, capacity=1000)
        clients = [Redis.from_url(redis_url()) for _ in range(8)]
        try:
            assignments = [Assignment(client, keys) for client in clients]
            found = await asyncio.gather(*(assignments[n % len(assignments)].assign(f"room{n}") for n in range(90)))
        finally:
            for client in clients:
                await client.aclose()
        assert Counter(item.worker_id for item in found if item) == {"a": 30, "b": 30, "c": 30}


async def test_one_room_assigned_concurrently_lands_on_one_worker() -> None:
    async with scratch_redis() as (redis, keys):
        for worker_id in ("a", "b", "c"):
            await register(redis, keys, worker_id)
        clients = [Redis.from_url(redis_url()) for _ in range(8)]
        try:
            found = await asyncio.gather(*(Assignment(client, keys).assign("room1") for client in clients))
        finally:
            for client in clients:
                await client.aclose()
        assert len({item.worker_id for item in found if item}) == 1
        assert all(item is not None for item in found)

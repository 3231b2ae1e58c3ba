"""Room assignment through Redis: an atomic least-loaded choice among live workers, sticky while
the room's worker lives (the rules are in ``lua/assign.lua``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from media_workers.keys import Keys, text

LUA_DIR = Path(__file__).resolve().parent / "lua"


def load_script(redis: Redis, name: str) -> Any:
    """A Lua script from ``lua/<name>.lua``, registered (EVALSHA with a fallback to EVAL)."""
    return redis.register_script((LUA_DIR / f"{name}.lua").read_text())


@dataclass(frozen=True)
class Assigned:
    worker_id: str
    #: The dead worker the room was taken from, or None.
    previous: str | None
    channel: str
    address: str


@dataclass(frozen=True)
class Moved:
    room_id: str
    dead_worker_id: str


class Assignment:
    """``cpu_limit`` (share of a core) and ``lag_limit_ms``: a worker whose pulse reports either
    (``media_workers/liveness.py``) is saturated and takes new rooms only when all are."""

    def __init__(
        self, redis: Redis, keys: Keys, *, cpu_limit: float | None = None, lag_limit_ms: int | None = None
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.limits = ["" if cpu_limit is None else f"{cpu_limit:g}", "" if lag_limit_ms is None else str(lag_limit_ms)]
        self._assign = load_script(redis, "assign")
        self._release = load_script(redis, "release")
        self._reap = load_script(redis, "reap")

    async def assign(self, room_id: str) -> Assigned | None:
        """The worker for ``room_id``; None when no live worker can take it."""
        found = await self._assign(keys=[], args=[self.keys.prefix, room_id, *self.limits])
        if not found:
            return None
        worker_id, previous, channel, address = (text(item) for item in found)
        return Assigned(worker_id, previous or None, channel, address)

    async def release(self, worker_id: str, room_ids: list[str]) -> int:
        """Gives rooms back: their mapping is removed if it still points at ``worker_id``."""
        if not room_ids:
            return 0
        return int(await self._release(keys=[], args=[self.keys.prefix, worker_id, *room_ids]))

    async def reap(self, also: str | None = None) -> list[Moved]:
        """Forgets dead workers (and ``also``); returns the rooms they left behind."""
        flat = [text(item) for item in await self._reap(keys=[], args=[self.keys.prefix, also or ""])]
        return [Moved(flat[i], flat[i + 1]) for i in range(0, len(flat), 2)]

    async def assigned_rooms(self, worker_id: str) -> list[str]:
        """Rooms assigned to a worker (hosted or not yet opened)."""
        return [text(room) for room in await self.redis.hkeys(self.keys.worker_rooms(worker_id))]

    async def worker_of(self, room_id: str) -> str | None:
        value = await self.redis.get(self.keys.room(room_id))
        return None if value is None else text(value)

"""Shared helpers of the control-plane tests: throwaway key prefixes on the test Redis, worker
configs, and waiting for a condition with a deadline (never a fixed sleep as an assertion)."""

from __future__ import annotations

import asyncio
import inspect
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from redis.asyncio import Redis

from media_workers.config import WorkerConfig, load_config
from media_workers.keys import Keys

#: The control-plane tests use their own database on the test Redis: the shared autouse
#: fixture ``_fresh_cache`` clears Django's cache with FLUSHDB around every test, which in a
#: concurrently running test process would wipe worker registrations and queued messages.
CONTROL_DB = 15


def redis_url() -> str:
    """The test Redis (``REDIS_URL``, as the settings validated it), database ``CONTROL_DB``."""
    url = urlsplit(str(settings.REDIS_URL))
    if url.scheme == "unix":
        query = "&".join(part for part in url.query.split("&") if part and not part.startswith("db="))
        return urlunsplit(url._replace(query=f"{query}&db={CONTROL_DB}".lstrip("&")))
    return urlunsplit(url._replace(path=f"/{CONTROL_DB}"))


def unique(kind: str) -> str:
    return f"{kind}-{uuid.uuid4().hex[:10]}"


def worker_config(worker_id: str, key_prefix: str, **env: str) -> WorkerConfig:
    source = {"REDIS_URL": redis_url(), "SFU_WORKER_ID": worker_id, "SFU_KEY_PREFIX": key_prefix, **env}
    return load_config(source)


@asynccontextmanager
async def scratch_redis() -> AsyncIterator[tuple[Redis, Keys]]:
    """A Redis client and a key prefix of its own; every key under the prefix is deleted after."""
    redis = Redis.from_url(redis_url())
    keys = Keys(unique("sfutest"))
    try:
        yield redis, keys
    finally:
        async for key in redis.scan_iter(match=f"{keys.prefix}:*"):
            await redis.delete(key)
        await redis.aclose()


async def wait_for(
    condition: Callable[[], bool | Awaitable[bool]], what: str, timeout: float = 10.0, step: float = 0.02
) -> None:
    """Polls ``condition`` until it holds; fails naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(step)

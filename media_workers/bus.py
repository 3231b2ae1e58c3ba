"""The worker's side of the channel layer: the same Redis channel layer the web tier uses
(``channels_redis``), constructed here as a plain library object from the worker's own config.

Only the layer class is used: no Django settings, ORM or apps are loaded (see
docs/architecture.md, "SFU workers"). The config mirrors ``conference.settings.CHANNEL_LAYERS``:
no socket read timeout, because the layer waits in blocking pops of its own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from channels_redis.core import RedisChannelLayer  # type: ignore[import-untyped]
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from media_workers.loops import cancel_and_wait

logger = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], Awaitable[None]]


class BusError(Exception):
    """A message could not be sent (Redis unreachable, or the channel is full)."""


class Bus:
    def __init__(self, redis_url: str, prefix: str, *, capacity: int = 1000, expiry: int = 60) -> None:
        self.layer = RedisChannelLayer(
            hosts=[{"address": redis_url, "socket_timeout": None, "socket_keepalive": True}],
            prefix=prefix,
            capacity=capacity,
            expiry=expiry,
        )

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        try:
            await self.layer.send(channel, message)
        except Exception as exc:
            raise BusError(f"cannot send to {channel}: {exc!r}") from exc

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        try:
            await self.layer.group_send(group, message)
        except Exception as exc:
            raise BusError(f"cannot send to group {group}: {exc!r}") from exc

    async def receive(self, channel: str) -> dict[str, Any]:
        message = await self.layer.receive(channel)
        if not isinstance(message, dict):
            raise BusError(f"{channel} delivered a {type(message).__name__}, not an object")
        return message

    async def close(self) -> None:
        await self.layer.close_pools()


class ChannelListener:
    """Receives from one channel and hands every message to ``handler``, in order.

    The loop: ``started`` is set, messages are received until cancelled (a normal exit),
    any other failure is logged and retried after a pause; ``exited`` is set at the end.
    ``stop()`` cancels and waits for the exit.
    """

    def __init__(self, bus: Bus, channel: str, handler: Handler, *, retry_delay: float = 1.0) -> None:
        self.bus = bus
        self.channel = channel
        self.handler = handler
        self.retry_delay = retry_delay
        self.started = asyncio.Event()
        self.exited = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"listen-{self.channel}")

    async def _run(self) -> None:
        self.started.set()
        try:
            while True:
                try:
                    message = await self.bus.receive(self.channel)
                except asyncio.CancelledError:
                    raise
                except (RedisConnectionError, RedisTimeoutError) as exc:
                    logger.warning("receiving from %s failed, Redis unreachable: %s", self.channel, exc)
                    await asyncio.sleep(self.retry_delay)
                    continue
                except Exception:
                    logger.exception("receiving from %s failed; retrying", self.channel)
                    await asyncio.sleep(self.retry_delay)
                    continue
                try:
                    await self.handler(message)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    logger.exception("handling a message from %s failed", self.channel)
        except asyncio.CancelledError:
            pass
        finally:
            self.exited.set()

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None

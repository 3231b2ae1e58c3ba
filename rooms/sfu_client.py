"""The web tier's client of the SFU workers, over the channel layer (docs/protocol.md,
"Web ⇄ SFU worker").

The web never imports ``media_workers`` and never reads the workers' Redis keys: it only speaks
the protocol. ``assign(room_id)`` asks any live worker (shared control channel) which worker
serves the room; ``request(worker_channel, message)`` sends a room request to that worker.
Responses come back on one reply channel per client and are matched by request id.
Failures are ``SfuError`` values with a stable code: ``sfu_unavailable``, ``sfu_timeout``, or
the worker's own code (``unknown_room``, ``worker_draining``, ``bad_sdp``, …).

One client per event loop (``sfu_client()``), like ``rooms.background.services()``.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
import weakref
from dataclasses import dataclass
from typing import Any

from channels.exceptions import ChannelFull
from channels.layers import BaseChannelLayer, get_channel_layer
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

#: Must match ``media_workers.protocol`` (a test checks it).
PROTOCOL_VERSION = 1
CONTROL_CHANNEL = "sfu.control"
DEFAULT_TIMEOUT = 10.0


class SfuError(Exception):
    """A failed SFU request, with a stable ``code`` and a human ``message``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


SFU_UNAVAILABLE = "sfu_unavailable"
SFU_TIMEOUT = "sfu_timeout"


def room_group(room_id: str) -> str:
    """The group a room's notifications (``sfu.notify``) are sent to; consumers join it."""
    return f"sfu.room.{room_id}"


@dataclass(frozen=True)
class WorkerAddress:
    room_id: str
    worker_id: str
    #: The worker's channel, for ``request``.
    channel: str
    #: Where browsers reach the worker's ICE candidates.
    address: str


class SfuClient:
    """Sends requests and matches responses by id. The reply loop runs while the client lives:
    started on the first request → loop → clean exit on cancel; ``close()`` awaits its exit."""

    def __init__(self, layer: BaseChannelLayer) -> None:
        self.layer = layer
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._reply_channel: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Lock()

    async def _reply_to(self) -> str:
        async with self._ready:
            if self._reply_channel is None:
                self._reply_channel = await self.layer.new_channel()
            if self._task is None:
                self._task = asyncio.get_running_loop().create_task(self._receive_replies(), name="sfu-replies")
            return self._reply_channel

    async def _receive_replies(self) -> None:
        assert self._reply_channel is not None
        try:
            while True:
                try:
                    message = await self.layer.receive(self._reply_channel)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    logger.exception("receiving SFU responses failed; retrying")
                    await asyncio.sleep(1)
                    continue
                self._resolve(message)
        except asyncio.CancelledError:
            pass

    def _resolve(self, message: Any) -> None:
        if not isinstance(message, dict) or message.get("type") != "sfu.response":
            logger.warning("ignored a message on the SFU reply channel: %r", message)
            return
        future = self._pending.pop(str(message.get("id")), None)
        if future is not None and not future.done():
            future.set_result(message)

    # The timeout is part of the call (not asyncio.timeout around it): it becomes the coded
    # error sfu_timeout, and the pending request is forgotten.
    async def request(
        self,
        worker_channel: str,
        message: dict[str, Any],
        timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109
    ) -> dict[str, Any]:
        """Sends ``message`` (with its ``method`` and fields) and returns the response's result."""
        request_id = uuid.uuid4().hex
        envelope = {
            **message,
            "type": "sfu.request",
            "v": PROTOCOL_VERSION,
            "id": request_id,
            "reply_to": await self._reply_to(),
        }
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            try:
                await self.layer.send(worker_channel, envelope)
            except ChannelFull as exc:
                raise SfuError(SFU_UNAVAILABLE, f"The SFU channel {worker_channel} is full.") from exc
            except (OSError, RedisError) as exc:
                raise SfuError(SFU_UNAVAILABLE, f"The channel layer is unreachable: {exc}") from exc
            try:
                response = await asyncio.wait_for(future, timeout)
            except TimeoutError as exc:
                method = message.get("method")
                raise SfuError(SFU_TIMEOUT, f"No answer to {method} within {timeout:g} s.") from exc
        finally:
            self._pending.pop(request_id, None)
        if response.get("ok") is True:
            result = response.get("result")
            return result if isinstance(result, dict) else {}
        error = response.get("error")
        if isinstance(error, dict) and isinstance(error.get("code"), str):
            raise SfuError(error["code"], str(error.get("message", "")))
        raise SfuError("bad_response", "The SFU worker sent a malformed error.")

    async def assign(self, room_id: str, timeout: float = DEFAULT_TIMEOUT) -> WorkerAddress:  # noqa: ASYNC109
        """The live worker serving ``room_id`` (chosen now if the room has none or its worker died).

        No answer at all means no worker is running: ``sfu_unavailable``.
        """
        try:
            result = await self.request(CONTROL_CHANNEL, {"method": "room.assign", "room_id": room_id}, timeout)
        except SfuError as exc:
            if exc.code == SFU_TIMEOUT:
                raise SfuError(SFU_UNAVAILABLE, f"No SFU worker answered within {timeout:g} s.") from exc
            raise
        try:
            return WorkerAddress(
                room_id=room_id,
                worker_id=str(result["worker_id"]),
                channel=str(result["channel"]),
                address=str(result["address"]),
            )
        except KeyError as exc:
            raise SfuError("bad_response", f"The assignment lacks {exc}.") from exc

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        for future in self._pending.values():
            future.cancel()
        self._pending.clear()


_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, SfuClient] = weakref.WeakKeyDictionary()


def sfu_client() -> SfuClient:
    """The SFU client of the running event loop (on the configured channel layer)."""
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None:
        layer = get_channel_layer()
        if layer is None:
            raise SfuError(SFU_UNAVAILABLE, "No channel layer is configured.")
        client = _clients[loop] = SfuClient(layer)
    return client


async def close_sfu_client() -> None:
    """Stops the running event loop's SFU client, if it has one (tests; process shutdown)."""
    client = _clients.pop(asyncio.get_running_loop(), None)
    if client is not None:
        await client.close()

"""A test client for the meeting WebSocket, speaking through the full ASGI stack."""

from __future__ import annotations

import asyncio
import json
from importlib import import_module
from typing import Any

from channels.db import database_sync_to_async as sync_to_async
from channels.layers import DEFAULT_CHANNEL_LAYER, channel_layers
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import connections
from django.test import Client

from accounts.models import User
from conference import handshake
from conference.asgi import application
from rooms.background import services
from rooms.sfu_client import close_sfu_client
from tests.event_schemas import check_event

ORIGIN = b"http://testserver"
TIMEOUT = 10.0


@sync_to_async
def session_cookie(user: User | None, guest_key: str | None = None) -> bytes:
    if user is not None:
        client = Client()
        client.force_login(user)
        return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()
    if guest_key is None:
        return b""
    store_class = import_module(settings.SESSION_ENGINE).SessionStore
    session = store_class()
    session["guest_key"] = guest_key
    session.save()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}".encode()


async def close_all_clients() -> None:
    """Stops what a test left running in its event loop, closes the database connection of the
    thread that ran the consumers' database work, and gives the next test a fresh channel layer.
    (Open consumers are cancelled with the test's event loop.)"""
    await services().grace_timers.stop()
    await services().reactions.stop()
    await services().tasks.stop()
    await close_sfu_client()
    await sync_to_async(connections.close_all)()
    await handshake.close_connections()
    # The channel layer keeps per-event-loop receive state; the next test runs on a new loop.
    channel_layers.backends.pop(DEFAULT_CHANNEL_LAYER, None)


class RoomClient:
    """One WebSocket connection to a meeting, with helpers to join and to wait for messages."""

    def __init__(self, communicator: WebsocketCommunicator, name: str) -> None:
        self.communicator = communicator
        self.name = name
        self.hello: dict[str, Any] = {}
        self.joined: dict[str, Any] = {}
        self.backlog: list[dict[str, Any]] = []
        self.closed_with: int | None = None

    @classmethod
    async def connect(
        cls,
        code: str,
        user: User | None = None,
        *,
        guest_key: str | None = None,
        name: str = "client",
        address: str = "127.0.0.1",
    ) -> RoomClient:
        headers = [(b"origin", ORIGIN), (b"host", b"testserver")]
        cookie = await session_cookie(user, guest_key)
        if cookie:
            headers.append((b"cookie", cookie))
        communicator = WebsocketCommunicator(application, f"/ws/meetings/{code}/", headers=headers)
        communicator.scope["client"] = (address, 40000)  # whom the guessing limits count
        connected, _ = await communicator.connect(timeout=TIMEOUT)
        assert connected, f"{name}: handshake refused"
        client = cls(communicator, name)
        client.hello = await client.receive()
        return client

    @property
    def id(self) -> str:
        return str(self.joined["you"]["id"])

    async def send(self, message: dict[str, Any]) -> None:
        await self.communicator.send_json_to(message)

    async def send_text(self, text: str) -> None:
        await self.communicator.send_to(text_data=text)

    async def receive(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        if self.backlog:
            return self.backlog.pop(0)
        return await self._read(timeout)

    async def _read(self, timeout: float) -> dict[str, Any]:
        output = await self.communicator.receive_output(timeout)
        if output["type"] == "websocket.close":
            self.closed_with = output.get("code", 1000)
            raise ConnectionClosed(self.name, self.closed_with)
        assert output["type"] == "websocket.send", output
        message: dict[str, Any] = json.loads(output["text"])
        check_event(message)
        return message

    async def expect(self, kind: str, timeout: float = TIMEOUT, **fields: Any) -> dict[str, Any]:
        """Waits for the next message of ``kind`` (matching ``fields``); others stay in the backlog."""
        skipped: list[dict[str, Any]] = []
        deadline = asyncio.get_running_loop().time() + timeout
        try:
            while True:
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    raise AssertionError(f"{self.name}: no {kind} {fields} within {timeout}s; got {skipped}")
                message = await self.receive(remaining)
                if message["type"] == kind and all(message.get(key) == value for key, value in fields.items()):
                    return message
                skipped.append(message)
        finally:
            self.backlog = skipped + self.backlog

    async def expect_error(self, code: str) -> dict[str, Any]:
        return await self.expect("error", code=code)

    async def expect_closed(self, timeout: float = TIMEOUT) -> int:
        deadline = asyncio.get_running_loop().time() + timeout
        while self.closed_with is None:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise AssertionError(f"{self.name}: still open")
            try:
                self.backlog.append(await self._read(remaining))
            except ConnectionClosed:
                break
        assert self.closed_with is not None
        return self.closed_with

    async def assert_silent(self, kinds: set[str], wait: float = 0.3) -> None:
        """No message of these kinds arrives within ``wait`` seconds (or is already waiting)."""
        await asyncio.sleep(wait)
        while not await self.communicator.receive_nothing(0.05):
            try:
                self.backlog.append(await self._read(1))
            except ConnectionClosed:
                break
        unexpected = [message for message in self.backlog if message["type"] in kinds]
        assert unexpected == [], f"{self.name} got {unexpected}"

    async def join(self, **fields: Any) -> dict[str, Any]:
        await self.send({"type": "join", **fields})
        self.joined = await self.expect("joined")
        return self.joined

    async def knock(self, **fields: Any) -> dict[str, Any]:
        await self.send({"type": "join", **fields})
        return await self.expect("waiting")

    async def close(self) -> None:
        if self.closed_with is None:
            await self.communicator.disconnect()
            self.closed_with = 1000


class ConnectionClosed(Exception):
    def __init__(self, name: str, code: int) -> None:
        super().__init__(f"{name}: connection closed with {code}")
        self.code = code

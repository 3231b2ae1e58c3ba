"""Shared by the SFU integration tests: a router with a recording listener, closed at the end."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from media_workers.errors import MediaError
from media_workers.router import Router, SlotSource
from media_workers.router_config import RouterConfig
from tests.media_workers.sfu_clients import Client


@dataclass
class Recorder:
    slots: dict[str, dict[str, SlotSource]] = field(default_factory=dict)
    dominant: list[str | None] = field(default_factory=list)
    failed: list[tuple[str, MediaError]] = field(default_factory=list)

    def slots_changed(self, peer_id: str, mapping: dict[str, SlotSource]) -> None:
        self.slots[peer_id] = mapping

    def dominant_speaker(self, peer_id: str | None) -> None:
        self.dominant.append(peer_id)

    def peer_failed(self, peer_id: str, error: MediaError) -> None:
        self.failed.append((peer_id, error))


@dataclass
class Room:
    router: Router
    recorder: Recorder
    clients: list[Client] = field(default_factory=list)

    def keep(self, client: Client) -> Client:
        self.clients.append(client)
        return client


def sfu_config(**overrides: Any) -> RouterConfig:
    """Loopback only, no STUN, generous ICE timeout, layers chosen by tile size alone."""
    values: dict[str, Any] = {"ice_addresses": ("127.0.0.1",), "ice_timeout": 5.0, "bandwidth_layers": False}
    values.update(overrides)
    return RouterConfig(**values)


@asynccontextmanager
async def open_room(config: RouterConfig | None = None) -> AsyncIterator[Room]:
    recorder = Recorder()
    room = Room(Router("room-1", config or sfu_config(), recorder), recorder)
    try:
        yield room
    finally:
        for client in room.clients:
            await client.pc.close()
        await room.router.close()

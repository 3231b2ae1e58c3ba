"""The router's periodic housekeeping runs in slices (packets are forwarded between them), skips
peers that left during a pause, and never undoes a full reassignment made during a pause."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from media_workers.errors import MediaError
from media_workers.router import HOUSEKEEPING_CHUNK, Router, SlotSource
from media_workers.router_config import RouterConfig

pytestmark = pytest.mark.asyncio


class Quiet:
    def slots_changed(self, peer_id: str, mapping: dict[str, SlotSource]) -> None:
        pass

    def dominant_speaker(self, peer_id: str | None) -> None:
        pass

    def peer_failed(self, peer_id: str, error: MediaError) -> None:
        pass


class Idle:
    """A peer without producers or consumers: all housekeeping does with it is bookkeeping."""

    producers: dict[str, Any] = {}
    consumers: dict[str, Any] = {}


def router_with(peers: int) -> tuple[Router, list[str]]:
    router = Router("room", RouterConfig(ice_addresses=("127.0.0.1",)), Quiet())
    for index in range(peers):
        router._peers[f"p{index}"] = Idle()  # type: ignore[assignment]
    handled: list[str] = []
    original = router._reassign_peer

    def counting(peer_id: str, *args: Any) -> None:
        handled.append(peer_id)
        original(peer_id, *args)

    router._reassign_peer = counting  # type: ignore[method-assign,assignment]
    return router, handled


async def first_slice_of_tick(router: Router) -> asyncio.Task[None]:
    tick = asyncio.create_task(router._tick(0.0))
    await asyncio.sleep(0)  # the tick runs its first slice and pauses
    return tick


async def test_a_tick_pauses_after_each_slice_of_peers() -> None:
    router, handled = router_with(HOUSEKEEPING_CHUNK * 2 + 1)
    tick = await first_slice_of_tick(router)
    assert len(handled) == HOUSEKEEPING_CHUNK
    await tick
    assert len(handled) == HOUSEKEEPING_CHUNK * 2 + 1


async def test_peers_that_left_during_a_pause_are_skipped() -> None:
    router, handled = router_with(HOUSEKEEPING_CHUNK * 2)
    tick = await first_slice_of_tick(router)
    del router._peers[f"p{HOUSEKEEPING_CHUNK + 1}"]
    await tick
    assert f"p{HOUSEKEEPING_CHUNK + 1}" not in handled
    assert len(handled) == HOUSEKEEPING_CHUNK * 2 - 1


async def test_a_full_reassignment_during_a_pause_is_not_undone_by_the_rest_of_the_tick() -> None:
    router, handled = router_with(HOUSEKEEPING_CHUNK * 2)
    tick = await first_slice_of_tick(router)
    router._reassign(0.0)  # a join or a view change: everyone, with the newest facts
    after_full = len(handled)
    await tick
    assert after_full == HOUSEKEEPING_CHUNK * 3
    assert len(handled) == after_full  # the stale rest of the tick assigned nobody

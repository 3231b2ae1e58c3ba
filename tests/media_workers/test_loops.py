"""Stopping a background loop is bounded: a stop never hangs on a loop that ignores cancellation."""

from __future__ import annotations

import asyncio

import pytest

from media_workers.loops import cancel_and_wait

pytestmark = pytest.mark.asyncio


async def test_a_loop_that_exits_on_cancel_is_awaited() -> None:
    exited = asyncio.Event()

    async def loop() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            exited.set()

    task = asyncio.ensure_future(loop())
    await asyncio.sleep(0)
    assert await cancel_and_wait(task, 5)
    assert exited.is_set()


async def test_a_loop_stuck_past_its_cancel_is_left_behind_in_bounded_time() -> None:
    release = asyncio.Event()

    async def stubborn() -> None:
        while not release.is_set():
            try:
                await release.wait()
            except asyncio.CancelledError:
                continue

    task = asyncio.ensure_future(stubborn())
    await asyncio.sleep(0)
    assert not await cancel_and_wait(task, 0.05)
    release.set()
    await asyncio.wait_for(task, 5)

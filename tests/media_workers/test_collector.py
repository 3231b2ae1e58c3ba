"""The worker's garbage collection policy: freezes what is alive every interval, looks at it again
when nobody is in the worker or at the latest after the full interval, and stops cleanly."""

from __future__ import annotations

import asyncio
import gc

import pytest

from media_workers.collector import CollectorPolicy


class Calls:
    def __init__(self) -> None:
        self.log: list[str] = []
        self.now = 0.0

    def freeze(self) -> None:
        self.log.append("freeze")

    def unfreeze(self) -> None:
        self.log.append("unfreeze")

    def collect(self) -> int:
        self.log.append("collect")
        return 0


def policy(calls: Calls, busy: list[bool], full_interval: float = 60.0) -> CollectorPolicy:
    return CollectorPolicy(
        busy=lambda: busy[0],
        freeze_interval=10.0,
        full_interval=full_interval,
        freeze=calls.freeze,
        unfreeze=calls.unfreeze,
        collect=calls.collect,
        clock=lambda: calls.now,
    )


def test_a_busy_worker_only_freezes_until_the_full_interval_is_over() -> None:
    calls, busy = Calls(), [True]
    collector = policy(calls, busy)
    for second in (10.0, 20.0, 30.0, 40.0, 50.0):
        calls.now = second
        collector.step()
    assert calls.log == ["freeze"] * 5
    calls.now = 60.0
    collector.step()
    assert calls.log[5:] == ["unfreeze", "collect", "freeze"]
    assert collector.stats.full_collections == 1


def test_an_idle_worker_collects_everything_at_the_next_tick() -> None:
    calls, busy = Calls(), [True]
    collector = policy(calls, busy)
    calls.now = 10.0
    collector.step()
    busy[0] = False
    calls.now = 20.0
    collector.step()
    assert calls.log == ["freeze", "unfreeze", "collect", "freeze"]


def test_settle_collects_and_freezes_at_once_and_restarts_the_full_interval() -> None:
    calls, busy = Calls(), [True]
    collector = policy(calls, busy)
    calls.now = 5.0
    collector.settle()
    assert calls.log == ["unfreeze", "collect", "freeze"]
    calls.now = 60.0  # 55 s after the settle: not yet due again
    collector.step()
    assert calls.log[3:] == ["freeze"]


def test_intervals_must_make_sense() -> None:
    with pytest.raises(ValueError, match="freeze_interval"):
        CollectorPolicy(busy=lambda: True, freeze_interval=0)
    with pytest.raises(ValueError, match="freeze_interval"):
        CollectorPolicy(busy=lambda: True, freeze_interval=20, full_interval=10)


@pytest.mark.asyncio
async def test_the_real_loop_freezes_and_stop_unfreezes() -> None:
    collector = CollectorPolicy(busy=lambda: True, freeze_interval=0.01, full_interval=1.0)
    collector.start()
    await asyncio.wait_for(collector.started.wait(), 5)
    deadline = asyncio.get_running_loop().time() + 5
    while collector.stats.freezes < 2:
        assert asyncio.get_running_loop().time() < deadline, "the loop never froze"
        await asyncio.sleep(0.01)
    assert gc.get_freeze_count() > 0
    await collector.stop()
    assert collector.exited.is_set()
    assert gc.get_freeze_count() == 0

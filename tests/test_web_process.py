"""The web process's own settings (``conference.web_process``): uvloop under daphne, the garbage
collector's first generation, and clear refusals of bad values. That the processes serve is
shown by tests/test_web_processes.py, which starts them through this module."""

from __future__ import annotations

import asyncio
import gc
import subprocess
import sys
from collections.abc import Iterator

import pytest
import uvloop

from conference import web_process


@pytest.fixture
def restored() -> Iterator[None]:
    policy = asyncio.get_event_loop_policy()
    threshold = gc.get_threshold()
    yield
    asyncio.set_event_loop_policy(policy)
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("restored")
def test_uvloop_is_the_loop_daphne_gets() -> None:
    web_process.install_event_loop("uvloop")
    loop = asyncio.new_event_loop()  # what daphne.server does at import
    try:
        assert isinstance(loop, uvloop.Loop)
    finally:
        loop.close()


@pytest.mark.usefixtures("restored")
def test_the_standard_loop_on_request() -> None:
    asyncio.set_event_loop_policy(None)
    web_process.install_event_loop("asyncio")
    loop = asyncio.new_event_loop()
    try:
        assert not isinstance(loop, uvloop.Loop)
    finally:
        loop.close()


@pytest.mark.usefixtures("restored")
def test_the_first_generation_grows_the_others_stay() -> None:
    _, older, oldest = gc.get_threshold()
    web_process.tune_garbage_collector("20000")
    assert gc.get_threshold() == (20000, older, oldest)


@pytest.mark.parametrize("value", ["0", "-5", "lots"])
@pytest.mark.usefixtures("restored")
def test_bad_thresholds_are_refused(value: str) -> None:
    before = gc.get_threshold()
    with pytest.raises(SystemExit, match="WEB_GC_THRESHOLD"):
        web_process.tune_garbage_collector(value)
    assert gc.get_threshold() == before


def test_an_unknown_loop_stops_the_process_with_a_clear_message() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "conference.web_process", "--help"],
        env={"WEB_EVENT_LOOP": "tornado", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "WEB_EVENT_LOOP must be one of uvloop, asyncio, not 'tornado'" in done.stderr

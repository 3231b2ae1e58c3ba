"""One web process: ``python -m conference.web_process [daphne's arguments]``.

Daphne as its command line runs it, with two settings a process holding a thousand sockets
needs (the launcher ``conference.webserver``, the benchmarks and the multi-process tests all
start this module):

- **uvloop** (unless ``WEB_EVENT_LOOP=asyncio``). Daphne runs Twisted's asyncio reactor on the
  event loop it creates at import, and Twisted writes each WebSocket frame by registering the
  socket for writing and removing it again; on the standard library's selector loop that was a
  seventh of a web process's CPU while a chat line went out to 1,000 people (each
  ``add_writer`` looks the descriptor up in a weak dictionary and raises a KeyError).
- **A larger first garbage-collector generation** (``WEB_GC_THRESHOLD``, default 20,000; Python's
  is 700). With 1,000 sockets a process holds ~300,000 objects; at 700, the objects in flight
  while events go out were promoted often enough to set off a full collection every few
  seconds, which stopped the process for 150-250 ms (half a room's chat line late). At 20,000
  nearly all of them die young; full collections come as the process grows, not while it serves.
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import time

LOOPS = ("uvloop", "asyncio")
GC_THRESHOLD = 20_000


def install_event_loop(kind: str) -> None:
    """Makes ``kind`` the loop ``asyncio.new_event_loop()`` gives (before daphne is imported)."""
    if kind not in LOOPS:
        raise SystemExit(f"WEB_EVENT_LOOP must be one of {', '.join(LOOPS)}, not {kind!r}")
    if kind == "uvloop":
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def tune_garbage_collector(value: str) -> None:
    try:
        threshold = int(value)
    except ValueError:
        raise SystemExit(f"WEB_GC_THRESHOLD must be a whole number, not {value!r}") from None
    if threshold < 1:
        raise SystemExit("WEB_GC_THRESHOLD must be at least 1")
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(threshold, older, oldest)


class PauseLog:
    """Writes each garbage collection longer than ``limit_ms`` to stderr (``WEB_GC_LOG_MS``)."""

    def __init__(self, limit_ms: float) -> None:
        self.limit_ms = limit_ms
        self.started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self.started = time.perf_counter()
            return
        took = (time.perf_counter() - self.started) * 1000
        if took >= self.limit_ms:
            generation, collected = info["generation"], info["collected"]
            print(
                f"web process {os.getpid()}: gc of generation {generation} took {took:.0f} ms, "
                f"{collected} objects collected, {len(gc.get_objects())} tracked",
                file=sys.stderr,
                flush=True,
            )


def main() -> None:
    install_event_loop(os.environ.get("WEB_EVENT_LOOP", "uvloop"))
    tune_garbage_collector(os.environ.get("WEB_GC_THRESHOLD", str(GC_THRESHOLD)))
    if os.environ.get("WEB_GC_LOG_MS"):
        gc.callbacks.append(PauseLog(float(os.environ["WEB_GC_LOG_MS"])))
    from daphne.cli import CommandLineInterface  # imports daphne.server: after the loop policy

    sys.argv[0] = "daphne"
    CommandLineInterface.entrypoint()


if __name__ == "__main__":
    main()

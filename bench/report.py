"""How the signaling benchmarks report a run: progress lines on stderr, one JSON object on stdout
(``status`` "ok", "failed", "error" or "interrupted") and an exit status to match. SIGTERM and
Ctrl-C both end a run as "interrupted", through the cleanup of whatever it started."""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import time
from collections.abc import Iterator
from types import FrameType
from typing import Any

from bench.machine import load_average


class BenchError(Exception):
    """The benchmark could not run (a server did not start, setup failed, ...)."""


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def stop_on_sigterm() -> None:
    """SIGTERM raises KeyboardInterrupt from then on, so that context managers clean up."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)


class Report:
    """The JSON object of one run: ``benchmark``, ``parameters``, ``environment``, ``status``
    ("error" until the benchmark says otherwise) and whatever the benchmark adds to ``output``.
    Creating it starts the clock and makes SIGTERM end the run like Ctrl-C."""

    def __init__(self, benchmark: str, parameters: dict[str, Any], environment: dict[str, Any]) -> None:
        stop_on_sigterm()
        self.started = time.perf_counter()
        self.output: dict[str, Any] = {
            "benchmark": benchmark,
            "parameters": parameters,
            "environment": environment,
            "status": "error",
        }

    @property
    def completed(self) -> bool:
        """The run got to its end: no error, not interrupted (it may still have failed its checks)."""
        return "error" not in self.output and self.output["status"] != "interrupted"

    @contextlib.contextmanager
    def recording_failures(self) -> Iterator[None]:
        """A ``BenchError`` in the block becomes ``output["error"]``, Ctrl-C / SIGTERM status "interrupted"."""
        try:
            yield
        except BenchError as exc:
            self.output["error"] = str(exc)
            log(f"error: {exc}")
        except KeyboardInterrupt:
            self.output["status"] = "interrupted"
            log("interrupted")

    def finish(self) -> int:
        """Prints the object (with the load average now and the wall time) as JSON on stdout;
        returns the exit status: 0 "ok", 130 "interrupted", 1 anything else."""
        self.output["environment"]["load_average_after"] = load_average()
        self.output["wall_seconds"] = round(time.perf_counter() - self.started, 3)
        print(json.dumps(self.output, indent=2, ensure_ascii=False, default=str))
        status: str = self.output["status"]
        return {"ok": 0, "interrupted": 130}.get(status, 1)

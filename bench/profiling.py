"""py-spy profiles of the web processes while a phase runs, and what each profile spent its
samples in (project code inclusive, any code self)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from bench.machine import ROOT
from bench.report import log

PROJECT_PACKAGES = ("rooms/", "meetings/", "conference/", "accounts/")


def py_spy_binary() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def start_py_spy(binary: str, pids: Sequence[int], folder: Path) -> list[tuple[subprocess.Popen[bytes], Path]]:
    folder.mkdir(parents=True, exist_ok=True)
    spies: list[tuple[subprocess.Popen[bytes], Path]] = []
    for number, pid in enumerate(pids, start=1):
        out = folder / f"web-{number}.speedscope.json"
        # --gil: only the thread holding the GIL, i.e. where this (GIL-bound) process spends its CPU
        command = [binary, "record", "--pid", str(pid), "--gil", "--rate", "250", "--format", "speedscope"]
        command += ["-o", str(out)]
        spies.append((subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), out))  # noqa: S603
    return spies


def profile_summary(path: Path, top: int = 25) -> dict[str, Any]:
    """The functions a py-spy speedscope profile spent most samples in: inclusive (project code
    only: where in the server the time goes) and self (any code)."""
    document = json.loads(path.read_text())
    frames = document["shared"]["frames"]

    def name(index: int) -> str:
        frame = frames[index]
        where = str(frame.get("file", "")).replace(str(ROOT) + "/", "").split("site-packages/")[-1]
        return f"{frame['name']} ({where}:{frame.get('line')})"

    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0.0
    for profile in document["profiles"]:
        for stack, weight in zip(profile["samples"], profile["weights"], strict=True):
            total += weight
            for label in {name(i) for i in stack}:
                if label.split(" (", 1)[1].startswith(PROJECT_PACKAGES):
                    inclusive[label] += weight
            if stack:
                own[name(stack[-1])] += weight

    def share(counts: Counter[str]) -> list[str]:
        return [f"{weight / total * 100:5.1f}% {label}" for label, weight in counts.most_common(top)]

    return {"file": str(path), "seconds_sampled": round(total, 2), "inclusive": share(inclusive), "self": share(own)}


@contextlib.asynccontextmanager
async def profiling(pids: Sequence[int], folder: Path | None) -> AsyncIterator[list[dict[str, Any]]]:
    """py-spy on each of ``pids`` (the web processes) while the block runs (nothing when
    ``folder`` is None); the summaries of the profiles are in the list it gives."""
    written: list[dict[str, Any]] = []
    binary = py_spy_binary()
    if folder is None or binary is None:
        yield written
        return
    spies = start_py_spy(binary, pids, folder)
    await asyncio.sleep(1.0)  # py-spy attaches
    try:
        yield written
    finally:
        for spy, out in spies:
            spy.send_signal(signal.SIGINT)
            try:
                await asyncio.to_thread(spy.wait, 30)
            except subprocess.TimeoutExpired:
                spy.kill()
                await asyncio.to_thread(spy.wait, 5)
            if out.exists():
                written.append(profile_summary(out))
        log(f"py-spy profiles: {[w['file'] for w in written]}")

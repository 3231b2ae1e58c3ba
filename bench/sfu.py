"""SFU forwarding benchmark (issue 4, item 9): P publishers x S subscribers through an SFU.

Each publisher sends a pre-encoded VP8 clip (~500 kbps, 30 fps) and an Opus clip (20 ms
packets), encoded once at setup and replayed (``bench/media_clip.py``); each subscriber receives
every publisher's audio and video. All peers are aiortc peer connections in this process
(``bench/media_load.py``). Targets:

* ``janus``: Janus 1.1 (Debian package ``janus``) VideoRoom, run from its own config folder
  (``bench/janus.py``);
* ``worker``: our SFU worker, one ``media_workers.router.Router`` in a child process
  (``bench/worker_host.py``, driven by ``bench/worker_adapter.py``);
* ``both``: the same workload against each, one after the other (worker first), plus the ratios
  ours / Janus.

The whole run happens inside a network namespace the benchmark creates itself (``unshare
--net``, veth pair 10.77.0.1/24 + 10.77.0.2/24, IPv6 off, no route out: ``bench/netns.py``), so
it needs root; the aiortc peers use no ICE servers. It prints one JSON object to stdout,
progress to stderr::

    .venv/bin/python -m bench.sfu --publishers 1 --subscribers 50 --seconds 15 --target janus

Per target: SFU CPU µs per forwarded packet (utime + stime of the SFU process from
/proc/<pid>/stat over the measured window ÷ packets the subscribers received in it), forwarded
packets/s, subscriber loss % (media packets published in the window x subscribers - those
delivered), added forwarding latency p50 / p90 / p99 (publisher send → subscriber socket, same
monotonic clock; ``direct_baseline`` gives the same measurement without an SFU, its floor).
Debugging: ``BENCH_SFU_DEBUG=1`` logs stream discovery; SIGUSR1 prints the asyncio tasks,
SIGUSR2 the thread stacks; ``--keep-temp`` keeps Janus's config and log. The exit status is 0
when every target ran and every subscriber received every stream.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import faulthandler
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.machine import cpu_model, git_revision, package_versions, parse_cpus, pin_process
from bench.media_clip import load_or_build_clip
from bench.media_load import LoadOptions, SfuAdapter, log, run_load
from bench.netns import NetnsError, inside_private_netns, reexec_in_private_netns, setup_veth
from bench.worker_adapter import WorkerAdapter, WorkerError

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("aiortc", "aioice", "av", "pylibsrtp", "uvloop", "cryptography", "pyOpenSSL")


@dataclass(frozen=True)
class Options:
    publishers: int
    subscribers: int
    seconds: float
    targets: tuple[str, ...]
    warmup_seconds: float
    clip_seconds: float
    video_kbps: int
    audio_kbps: int
    connect_concurrency: int
    janus_debug_level: int
    use_uvloop: bool
    keep_temp: bool
    clip_cache: Path | None
    baseline: bool
    max_seconds: float
    pacing_factor: float
    sfu_cpus: frozenset[int]
    load_cpus: frozenset[int]
    wire: bool


def parse_options(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description="P publishers x S subscribers of VP8 + Opus through an SFU.")
    parser.add_argument("--publishers", type=int, default=1, help="publishers, each VP8 + Opus (1)")
    parser.add_argument("--subscribers", type=int, default=10, help="subscribers, each receives every publisher (10)")
    parser.add_argument("--seconds", type=float, default=15.0, help="measured window (15 s)")
    parser.add_argument("--target", choices=("janus", "worker", "both"), default="both", help="SFU(s) to measure")
    parser.add_argument("--warmup-seconds", type=float, default=3.0, help="after every stream flows (3 s)")
    parser.add_argument("--clip-seconds", type=float, default=10.0, help="length of the looped clip (10 s)")
    parser.add_argument("--video-kbps", type=int, default=500, help="VP8 target bitrate (500)")
    parser.add_argument("--audio-kbps", type=int, default=32, help="Opus bitrate (32)")
    parser.add_argument("--connect-concurrency", type=int, default=8, help="subscribers negotiating at once (8)")
    parser.add_argument("--janus-debug-level", type=int, default=4, help="Janus log level 0-7 (4)")
    parser.add_argument(
        "--no-baseline", action="store_true", help="no direct publisher -> subscriber pair (the latency floor)"
    )
    parser.add_argument(
        "--max-seconds", type=float, default=0, help="watchdog for the whole run (default: generous for the size)"
    )
    parser.add_argument("--no-uvloop", action="store_true", help="use asyncio's default event loop")
    parser.add_argument(
        "--clip-cache",
        default=str(ROOT / "var" / "bench-cache"),
        help="folder caching the encoded clip between runs ('' = encode every run; default var/bench-cache)",
    )
    parser.add_argument("--keep-temp", action="store_true", help="keep the temp dir (Janus config and log)")
    parser.add_argument(
        "--pacing-factor",
        type=float,
        default=2.5,
        help="publishers pace video at this x --video-kbps, as browsers do (Chromium: 2.5); 0 = aiortc's bursts",
    )
    parser.add_argument("--sfu-cpus", default="", help="pin the SFU process to these CPUs, e.g. '1' (default: none)")
    parser.add_argument(
        "--load-cpus", default="", help="pin this load generator to these CPUs, e.g. '0' (default: none)"
    )
    parser.add_argument("--no-wire", action="store_true", help="no tcpdump capture (no on-the-wire latency of the SFU)")
    args = parser.parse_args(argv)
    if args.publishers < 1 or args.subscribers < 1 or args.seconds <= 0:
        parser.error("--publishers and --subscribers must be >= 1, --seconds > 0")
    if args.pacing_factor < 0:
        parser.error("--pacing-factor must be >= 0")
    targets = ("worker", "janus") if args.target == "both" else (args.target,)
    return Options(
        publishers=args.publishers,
        subscribers=args.subscribers,
        seconds=args.seconds,
        targets=targets,
        warmup_seconds=args.warmup_seconds,
        clip_seconds=args.clip_seconds,
        video_kbps=args.video_kbps,
        audio_kbps=args.audio_kbps,
        connect_concurrency=args.connect_concurrency,
        janus_debug_level=args.janus_debug_level,
        use_uvloop=not args.no_uvloop,
        keep_temp=args.keep_temp,
        clip_cache=Path(args.clip_cache) if args.clip_cache else None,
        baseline=not args.no_baseline,
        pacing_factor=args.pacing_factor,
        sfu_cpus=frozenset(parse_cpus(args.sfu_cpus)),
        load_cpus=frozenset(parse_cpus(args.load_cpus)),
        wire=not args.no_wire,
        max_seconds=args.max_seconds or 300 + len(targets) * (args.seconds + 120 + args.subscribers),
    )


# --- environment -----------------------------------------------------------------------------


def environment_facts() -> dict[str, Any]:
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "load_average": [round(value, 2) for value in os.getloadavg()],
        "python": platform.python_version(),
        "packages": package_versions(PACKAGES),
        "git": git_revision(),
    }


# --- main ------------------------------------------------------------------------------------

RATIO_KEYS = (
    "cpu_us_per_forwarded_packet",
    "forwarded_packets_per_second",
    "subscriber_loss_percent",
)


def ratios(ours: dict[str, Any], janus: dict[str, Any]) -> dict[str, float | None]:
    def ratio(a: Any, b: Any) -> float | None:
        if isinstance(a, int | float) and isinstance(b, int | float) and b:
            return round(a / b, 3)
        return None

    result = {key: ratio(ours.get(key), janus.get(key)) for key in RATIO_KEYS}
    for q in ("p50", "p99"):
        result[f"latency_{q}"] = ratio(ours.get("latency_ms", {}).get(q), janus.get("latency_ms", {}).get(q))
    return result


def healthy(result: dict[str, Any]) -> bool:
    warm = result.get("warm_streams", {})
    return "error" not in result and warm.get("receiving") == warm.get("expected")


LAG_WARNING_MS = 20.0
BASELINE_WARNING_MS = 5.0
LOSS_WARNING_PERCENT = 1.0


def warnings_for(result: dict[str, Any]) -> list[str]:
    """Signs that a run measured the machine (CPU starvation) rather than the SFU."""
    found: list[str] = []
    lag = result.get("load_generator", {}).get("event_loop_lag_ms", {}).get("p99")
    if isinstance(lag, int | float) and lag > LAG_WARNING_MS:
        found.append(f"the load generator's event loop was {lag} ms late at p99: it was starved of CPU")
    floor = ((result.get("direct_baseline") or {}).get("latency_ms") or {}).get("p99")
    if isinstance(floor, int | float) and floor > BASELINE_WARNING_MS:
        found.append(f"direct baseline p99 {floor} ms: latency tails measure the machine's contention")
    loss = result.get("subscriber_loss_percent")
    if isinstance(loss, int | float) and loss > LOSS_WARNING_PERCENT:
        found.append(f"subscriber loss {loss} %")
    return found


def dump_tasks() -> None:
    """SIGUSR1: print every asyncio task's stack to stderr (to see where a run is stuck)."""
    for task in asyncio.all_tasks():
        print(f"--- {task.get_name()}: {task.get_coro()}", file=sys.stderr)
        task.print_stack(limit=12, file=sys.stderr)
    sys.stderr.flush()


async def run(options: Options, temp: Path) -> dict[str, Any]:
    from bench.janus import JanusAdapter

    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, dump_tasks)

    ice_address, _ = setup_veth()
    log("encoding the clip (once, before any peer connects)")
    clip, cached = load_or_build_clip(
        options.clip_cache,
        seconds=options.clip_seconds,
        video_bitrate=options.video_kbps * 1000,
        audio_bitrate=options.audio_kbps * 1000,
    )
    log(f"clip ({'from the cache' if cached else 'encoded now'}): {clip.describe()}")
    output: dict[str, Any] = {
        "benchmark": "sfu",
        "parameters": {
            "publishers": options.publishers,
            "subscribers": options.subscribers,
            "seconds": options.seconds,
            "targets": list(options.targets),
            "warmup_seconds": options.warmup_seconds,
            "event_loop": "uvloop" if options.use_uvloop else "asyncio",
            "video_pacing": (
                f"{options.pacing_factor} x {options.video_kbps} kbps" if options.pacing_factor else "none (bursts)"
            ),
            "sfu_cpus": sorted(options.sfu_cpus) or None,
            "load_generator_cpus": sorted(options.load_cpus) or None,
            "network": f"private netns, veth {ice_address}/24, no route out",
        },
        "environment": environment_facts(),
        "clip": {**clip.describe(), "from_cache": cached},
        "results": {},
    }
    load = LoadOptions(
        publishers=options.publishers,
        subscribers=options.subscribers,
        seconds=options.seconds,
        warmup_seconds=options.warmup_seconds,
        connect_concurrency=options.connect_concurrency,
        baseline=options.baseline,
        pacing_bps=options.pacing_factor * options.video_kbps * 1000,
        sfu_cpus=options.sfu_cpus,
    )
    if options.load_cpus:
        pin_process(os.getpid(), set(options.load_cpus))
    for target in options.targets:
        adapter: SfuAdapter
        if target == "janus":
            folder = temp / "janus"
            folder.mkdir()
            adapter = JanusAdapter(folder, ice_address, debug_level=options.janus_debug_level)
        else:
            adapter = WorkerAdapter(ice_address, use_uvloop=options.use_uvloop)
        log(f"target {target}: {options.publishers} x {options.subscribers}, {options.seconds} s")
        try:
            capture = temp / f"{target}.pcap" if options.wire else None
            result = await run_load(adapter, clip, dataclasses.replace(load, capture_path=capture))
        except NotImplementedError as exc:
            result = {"target": target, "error": str(exc)}
        except (OSError, TimeoutError, ConnectionError, RuntimeError, ValueError, WorkerError) as exc:
            result = {"target": target, "error": f"{type(exc).__name__}: {exc}"}
            if isinstance(adapter, JanusAdapter):
                result["janus_log_tail"] = adapter.log_tail()
            if isinstance(adapter, WorkerAdapter):
                result["worker_failures"] = adapter.failures[:20]
        output["results"][target] = result
        log(f"target {target}: " + json.dumps({k: v for k, v in result.items() if not isinstance(v, dict)}))
    results = output["results"]
    for result in results.values():
        result["warnings"] = warnings_for(result)
    if "worker" in results and "janus" in results and healthy(results["worker"]) and healthy(results["janus"]):
        output["ratio_worker_to_janus"] = ratios(results["worker"], results["janus"])
        if results["worker"]["warnings"] or results["janus"]["warnings"]:
            output["ratio_caution"] = "a target has warnings (see results.*.warnings): compare with care"
    return output


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    options = parse_options(args)
    if not inside_private_netns():
        try:
            reexec_in_private_netns("bench.sfu", args)  # does not return
        except NetnsError as exc:
            print(f"bench.sfu: {exc}", file=sys.stderr)
            return 2
    faulthandler.register(signal.SIGUSR2)  # thread stacks, for a stuck run
    # Watchdog: a stuck run dies (SIGALRM's default action) and takes Janus with it (PDEATHSIG).
    signal.alarm(int(options.max_seconds))
    if options.use_uvloop:
        import uvloop

        uvloop.install()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="sfu-bench-") as name:
        temp = Path(name)
        try:
            output = asyncio.run(run(options, temp))
        except NetnsError as exc:
            print(f"bench.sfu: {exc}", file=sys.stderr)
            return 2
        if options.keep_temp:
            kept = Path(tempfile.mkdtemp(prefix="sfu-bench-kept-"))
            subprocess.run(["cp", "-a", f"{temp}/.", str(kept)], check=False)  # noqa: S603, S607
            log(f"temp dir kept in {kept}")
    output["wall_seconds"] = round(time.monotonic() - started, 1)
    print(json.dumps(output, indent=2))
    return 0 if all(healthy(result) for result in output["results"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())

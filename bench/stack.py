"""The local server stack of the signaling benchmarks: ``redis-server`` and N ``daphne`` web
processes (``conference.asgi:application``, production settings) on 127.0.0.1, all in one
temporary directory, with a fresh SQLite database there (PostgreSQL when ``DATABASE_URL`` is
set) and one meeting created with the ORM (``bench.setup_meeting``); optionally a signed-in
session for its owner (``bench.host_session``).

``running_stack`` starts it and stops every process on any exit (with ``bench.report``'s
``stop_on_sigterm``, SIGTERM too; children also die with the benchmark, PR_SET_PDEATHSIG).
``Meter`` reads what the stack spent between two points in time, ``Stack.report`` what each
process spent in all.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import platform
import secrets
import shutil
import string
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.machine import (
    ROOT,
    cpu_model,
    cpu_seconds,
    die_with_parent,
    git_revision,
    load_average,
    memory_gib,
    package_versions,
    peak_rss_mib,
    raise_open_file_limit,
    runqueue_wait_seconds,
)
from bench.probes import free_port, http_status, log_counts, redis_command, redis_info, tail
from bench.report import BenchError, log
from conference.webserver import default_processes

PRODUCT_MAX_PARTICIPANTS = 1000  # meetings.Meeting.max_participants is validated to 2..1000
SERVER_PACKAGES = ("Django", "channels", "channels-redis", "daphne", "Twisted", "autobahn", "redis", "msgpack")
CLIENT_PACKAGES = ("websockets",)


@dataclass(frozen=True)
class StackOptions:
    name: str  # of the benchmark: the temp dir is bench-<name>-*
    web_processes: int = 1
    host_session: bool = False  # sign the meeting's owner in (Stack.host_cookie)
    server_log_level: str = "WARNING"
    redis_url_query: str = ""  # what-if only: appended as ?QUERY to the server's REDIS_URL
    keep_temp: bool = False

    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        """The stack's command-line options: --web-processes, --keep-temp, --server-log-level."""
        parser.add_argument(
            "--web-processes",
            type=int,
            default=default_processes(),
            help="daphne processes, clients spread over them (default: one per usable core, as make run starts)",
        )
        parser.add_argument("--keep-temp", action="store_true", help="keep the temp dir (logs, database)")
        parser.add_argument(
            "--server-log-level",
            choices=("DEBUG", "INFO", "WARNING", "ERROR"),
            default="WARNING",
            help="LOG_LEVEL of the server (WARNING; INFO shows channels-redis 'over capacity' drops)",
        )

    @classmethod
    def from_args(
        cls,
        parser: argparse.ArgumentParser,
        args: argparse.Namespace,
        name: str,
        *,
        host_session: bool = False,
        redis_url_query: str = "",
    ) -> StackOptions:
        """The options ``add_arguments`` parsed into ``args`` (a bad value: parser.error)."""
        if args.web_processes < 1:
            parser.error("--web-processes must be >= 1")
        return cls(
            name=name,
            web_processes=args.web_processes,
            host_session=host_session,
            server_log_level=args.server_log_level,
            redis_url_query=redis_url_query.lstrip("?"),
            keep_temp=args.keep_temp,
        )

    def parameters(self) -> dict[str, Any]:
        """For a benchmark's ``parameters``."""
        return {"web_processes": self.web_processes, "server_log_level": self.server_log_level}


@dataclass
class WebProcess:
    """One daphne process: its port, its folder (and log) and the process once started."""

    number: int
    folder: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.folder / "daphne.log"

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Stack:
    tmp: Path
    database: str  # "sqlite", "postgresql", ...
    redis_port: int
    redis: subprocess.Popen[bytes] | None = None
    web: list[WebProcess] = field(default_factory=list)
    meeting_code: str = ""
    meeting_id: int = 0
    owner_id: int = 0
    host_cookie: str = ""  # "sessionid=..." when StackOptions.host_session

    @property
    def redis_log(self) -> Path:
        return self.tmp / "redis.log"

    def facts(self) -> dict[str, Any]:
        """For a benchmark's environment: the database and the Redis version."""
        return {"database": self.database, "redis_version": redis_info(self.redis_port).get("redis_version")}

    def report(self) -> dict[str, Any]:
        """At the end of a run: each web process's CPU, peak memory, liveness and log; Redis's."""
        assert self.redis is not None
        return {
            "web": [
                {
                    "cpu_seconds_total": cpu_seconds(web.process.pid),
                    "peak_rss_mib": peak_rss_mib(web.process.pid),
                    "alive": web.process.poll() is None,
                    "log_counts": log_counts(web.log),
                    "log_tail": tail(web.log, 40, skip_access_log=True),
                }
                for web in self.web
                if web.process is not None
            ],
            "redis_cpu_seconds_total": cpu_seconds(self.redis.pid),
            "redis_peak_rss_mib": peak_rss_mib(self.redis.pid),
        }

    def web_pids(self) -> list[int]:
        return [w.process.pid for w in self.web if w.process is not None]

    def web_for(self, client_index: int) -> WebProcess:
        """The web process that serves client number ``client_index`` (round robin)."""
        return self.web[client_index % len(self.web)]

    def meeting_url(self, client_index: int) -> str:
        """The meeting's WebSocket URL on the web process of client number ``client_index``."""
        return f"ws://127.0.0.1:{self.web_for(client_index).port}/ws/meetings/{self.meeting_code}/"


# --- starting and stopping -------------------------------------------------------------------


def server_env(tmp: Path, redis_port: int, options: StackOptions) -> tuple[dict[str, str], str]:
    """The environment of every server process, and the name of the database it uses."""
    env = dict(os.environ)
    alphabet = string.ascii_letters + string.digits
    env.update(
        DJANGO_SETTINGS_MODULE="conference.settings",
        DEBUG="false",
        SECRET_KEY="".join(secrets.choice(alphabet) for _ in range(50)),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_COOKIES="false",
        REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
        LOG_LEVEL=options.server_log_level,
        DATA_DIR=str(tmp / "data"),
        PYTHONUNBUFFERED="1",
    )
    if options.redis_url_query:
        env["REDIS_URL"] += "?" + options.redis_url_query
    database_url = os.environ.get("DATABASE_URL", "")
    if database_url:
        return env, "postgresql" if database_url.startswith("postgres") else database_url.split(":", 1)[0]
    env.pop("DATABASE_URL", None)  # settings default: sqlite in DATA_DIR
    return env, "sqlite"


def start_redis(stack: Stack) -> None:
    if shutil.which("redis-server") is None:
        raise BenchError("redis-server is not installed (Debian package redis-server)")
    command = ["redis-server", "--bind", "127.0.0.1", "--port", str(stack.redis_port), "--protected-mode", "yes"]
    command += ["--save", "", "--appendonly", "no", "--daemonize", "no"]
    command += ["--dir", str(stack.tmp), "--logfile", str(stack.redis_log)]
    stack.redis = subprocess.Popen(  # noqa: S603
        command, stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=die_with_parent
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if stack.redis.poll() is not None:
            raise BenchError(f"redis-server exited with {stack.redis.returncode}: {tail(stack.redis_log)}")
        with contextlib.suppress(OSError):
            if redis_command(stack.redis_port, "PING", timeout=1) == b"+PONG":
                log(f"redis-server pid {stack.redis.pid} on 127.0.0.1:{stack.redis_port}")
                return
        time.sleep(0.1)
    raise BenchError("redis-server did not answer PING within 15 s")


def run_python(args: Sequence[str], env: dict[str, str], what: str, timeout: float = 600) -> str:
    """Runs ``python ARGS`` in the project (manage.py, bench.setup_meeting, ...); returns its stdout."""
    try:
        done = subprocess.run(  # noqa: S603
            [sys.executable, *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"{what} took longer than {timeout} s") from exc
    if done.returncode != 0:
        raise BenchError(f"{what} failed ({done.returncode}): {done.stderr[-3000:]}")
    return done.stdout


def start_web(web: WebProcess, env: dict[str, str]) -> None:
    """Starts one daphne process and waits until it answers /healthz with 200."""
    web.folder.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "conference.web_process",
        "-b",
        "127.0.0.1",
        "-p",
        str(web.port),
        "conference.asgi:application",
    ]
    with web.log.open("wb") as output:
        web.process = subprocess.Popen(  # noqa: S603
            command,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if web.process.poll() is not None:
            raise BenchError(f"daphne {web.number} exited with {web.process.returncode}: {tail(web.log)}")
        if http_status(web.port, "/healthz", timeout=2) == 200:
            log(f"daphne {web.number} pid {web.process.pid} on {web.origin} (healthz 200)")
            return
        time.sleep(0.2)
    raise BenchError(f"daphne {web.number} did not answer /healthz with 200 within 60 s: {tail(web.log)}")


def stop_process(proc: subprocess.Popen[bytes], name: str, timeout: float = 15.0) -> None:
    if proc.poll() is not None:
        return
    log(f"stopping {name} (pid {proc.pid})")
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def set_up_meeting(stack: Stack, env: dict[str, str], host_session: bool) -> None:
    command = ["-m", "bench.setup_meeting", "--max-participants", str(PRODUCT_MAX_PARTICIPANTS)]
    created = json.loads(run_python(command, env, "meeting setup", timeout=120))
    stack.meeting_code, stack.meeting_id, stack.owner_id = created["code"], created["meeting_id"], created["owner_id"]
    log(f"meeting {stack.meeting_code} (id {stack.meeting_id})")
    if host_session:
        command = ["-m", "bench.host_session", "--user-id", str(stack.owner_id)]
        stack.host_cookie = json.loads(run_python(command, env, "host session", timeout=120))["cookie"]
        log(f"host session for user {stack.owner_id}")


@contextlib.contextmanager
def running_stack(options: StackOptions) -> Iterator[Stack]:
    """Redis, the migrated database, the meeting and ``options.web_processes`` web processes."""
    tmp = Path(tempfile.mkdtemp(prefix=f"bench-{options.name}-"))
    env, database = server_env(tmp, redis_port := free_port(), options)
    stack = Stack(tmp=tmp, database=database, redis_port=redis_port)
    log(f"temp dir {tmp}; database {database}")
    try:
        start_redis(stack)
        log("migrating the database")
        run_python(["manage.py", "migrate", "--noinput", "-v", "0"], env, "manage.py migrate")
        set_up_meeting(stack, env, options.host_session)
        for number in range(1, options.web_processes + 1):
            stack.web.append(WebProcess(number=number, folder=tmp / f"web-{number}", port=free_port()))
            start_web(stack.web[-1], env)
        yield stack
    finally:
        for web in stack.web:
            if web.process is not None:
                stop_process(web.process, f"daphne {web.number}")
        if stack.redis is not None:
            stop_process(stack.redis, "redis-server")
        if options.keep_temp:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


# --- measuring -------------------------------------------------------------------------------


BENCH_GC_THRESHOLD = 20_000  # as conference.web_process.GC_THRESHOLD


class GcPauses:
    """This process's garbage-collection pauses. The clients all live in this one process: a
    pause here makes hundreds of deliveries look late at once, so the benchmark reports its own
    pauses beside the latencies (and starts with a first generation as large as the web
    processes', ``BENCH_GC_THRESHOLD``)."""

    def __init__(self) -> None:
        self.started = 0.0
        self.pauses: list[float] = []
        _, older, oldest = gc.get_threshold()
        gc.set_threshold(int(os.environ.get("BENCH_GC_THRESHOLD", BENCH_GC_THRESHOLD)), older, oldest)
        gc.callbacks.append(self.observe)

    def observe(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self.started = time.perf_counter()
        else:
            self.pauses.append(time.perf_counter() - self.started)

    def lap(self) -> dict[str, float]:
        pauses, self.pauses = self.pauses, []
        return {
            "bench_gc_collections": len(pauses),
            "bench_gc_pause_max_ms": round(max(pauses, default=0.0) * 1000, 1),
            "bench_gc_pause_total_ms": round(sum(pauses) * 1000, 1),
        }


class Meter:
    """CPU and run-queue wait of the web processes (summed), of Redis and of this process, and
    Redis's command count, between two points in time (``lap``); and this process's
    garbage-collection pauses meanwhile."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.gc = GcPauses()
        self.mark = self.read()

    def read(self) -> dict[str, float]:
        assert self.stack.redis is not None
        pids = self.stack.web_pids()
        info = redis_info(self.stack.redis_port)
        return {
            "wall": time.perf_counter(),
            "daphne_cpu": sum(cpu_seconds(pid) or 0.0 for pid in pids),
            "daphne_wait": sum(runqueue_wait_seconds(pid) or 0.0 for pid in pids),
            "redis_cpu": cpu_seconds(self.stack.redis.pid) or 0.0,
            "bench_cpu": time.process_time(),
            "bench_wait": runqueue_wait_seconds(os.getpid()) or 0.0,
            "redis_commands": float(info.get("total_commands_processed", "0")),
        }

    def lap(self) -> dict[str, float]:
        now = self.read()
        spent = {key: round(now[key] - self.mark[key], 3) for key in now}
        self.mark = now
        return {
            "wall_seconds": spent["wall"],
            "daphne_cpu_seconds": spent["daphne_cpu"],
            "daphne_runqueue_wait_seconds": spent["daphne_wait"],
            "redis_cpu_seconds": spent["redis_cpu"],
            "bench_cpu_seconds": spent["bench_cpu"],
            "bench_runqueue_wait_seconds": spent["bench_wait"],
            "redis_commands": spent["redis_commands"],
            **self.gc.lap(),
        }


def web_totals(web: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The web processes of a ``Stack.report`` taken together: CPU and peak memory summed,
    alive when all are, log counts summed, the log tails one after the other."""
    counts: Counter[str] = Counter()
    for process in web:
        counts.update(process["log_counts"])
    return {
        "cpu_seconds_total": round(sum(p["cpu_seconds_total"] or 0.0 for p in web), 3),
        "peak_rss_mib": round(sum(p["peak_rss_mib"] or 0.0 for p in web), 1),
        "alive": all(p["alive"] for p in web),
        "log_counts": {name: counts[name] for name in web[0]["log_counts"]} if web else {},
        "log_tail": [
            line if len(web) == 1 else f"[web-{number}] {line}"
            for number, process in enumerate(web, start=1)
            for line in process["log_tail"]
        ],
    }


def environment_facts(clients: int) -> dict[str, Any]:
    """Where the benchmark runs. Also lifts the open-file limit for ``clients`` WebSocket
    clients (each is a socket here and one in a web process; the servers inherit the limit)."""
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "hostname": platform.node(),
        "platform": platform.platform(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "memory_gib": memory_gib(),
        "python": platform.python_version(),
        "server_packages": package_versions(SERVER_PACKAGES),
        "client_packages": package_versions(CLIENT_PACKAGES),
        "git": git_revision(),
        "open_files_limit": raise_open_file_limit(4 * clients + 1024),
        "load_average_before": load_average(),
    }

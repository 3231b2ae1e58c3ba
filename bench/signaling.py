"""Signaling benchmark: N WebSocket clients join ONE meeting room and chat (issue 3).

Everything is real and local: the script starts its own ``redis-server`` and ``daphne``
(``conference.asgi:application``) on 127.0.0.1 in a temporary directory, migrates a fresh
SQLite database there (or uses PostgreSQL when ``DATABASE_URL`` is set), creates a meeting with
the ORM, then

1. **join**: connects N guest clients (bounded concurrency), each sends ``join`` and waits for
   ``joined``; join time = ``join`` sent -> ``joined`` received;
2. **settle**: waits until every client's roster (snapshot + ``roster.joined`` deltas) holds all
   N participants, and the sockets go quiet; counts what the join storm cost the clients and
   how many roster entries never arrived;
3. **idle**: nobody sends anything for ``--idle-seconds``; every connection should stay open;
4. **chat**: a few senders send M chat messages (unique text); every client records when each
   ``chat.message`` arrives; latency = send -> receipt (same process, same monotonic clock);
   lost = M * clients - deliveries received before the timeout.

Per phase it also reads the CPU time and run-queue wait of daphne (/proc), of redis-server and
of this process, and Redis's command count. One JSON object (parameters, environment, results)
goes to stdout; progress to stderr. Every step has a timeout and the servers are stopped on any
exit (Ctrl-C and SIGTERM too)::

    .venv/bin/pip install -r bench/requirements.txt
    .venv/bin/python -m bench.signaling --clients 500 > result.json

The exit status is 0 only when every client joined, every roster converged, no connection was
dropped while idle and no chat message was lost. docs/performance.md records the results.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import resource
import secrets
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.typing import Origin

from bench.machine import (
    cpu_model,
    cpu_seconds,
    die_with_parent,
    git_revision,
    package_versions,
    runqueue_wait_seconds,
)

ROOT = Path(__file__).resolve().parent.parent
PRODUCT_MAX_PARTICIPANTS = 1000  # meetings.Meeting.max_participants is validated to 2..1000
CHAT_BURST = 5  # the consumer's chat bucket: 5 messages, then 1 a second
SERVER_PACKAGES = ("Django", "channels", "channels-redis", "daphne", "Twisted", "autobahn", "redis", "msgpack")
CLIENT_PACKAGES = ("websockets",)


class BenchError(Exception):
    """The benchmark could not run (a server did not start, setup failed, ...)."""


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- options ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    clients: int
    concurrency: int
    senders: int
    messages: int
    chat_interval: float
    connect_timeout: float
    join_timeout: float
    settle_timeout: float
    chat_timeout: float
    idle_seconds: float
    max_seconds: float
    keep_temp: bool
    server_log_level: str
    redis_socket_timeout: float | None


def parse_options(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        description="N WebSocket clients join one meeting room over the real Redis channel layer and chat.",
    )
    parser.add_argument("--clients", type=int, default=500, help="participants in the room (default 500)")
    parser.add_argument("--concurrency", type=int, default=50, help="clients connecting/joining at once (50)")
    parser.add_argument("--senders", type=int, default=5, help="clients that send chat messages (5)")
    parser.add_argument("--messages", type=int, default=20, help="chat messages in all (20)")
    parser.add_argument("--chat-interval", type=float, default=0.25, help="seconds between two messages (0.25)")
    parser.add_argument("--connect-timeout", type=float, default=60.0, help="per WebSocket handshake (60 s)")
    parser.add_argument("--join-timeout", type=float, default=120.0, help="per client, hello → joined (120 s)")
    parser.add_argument("--settle-timeout", type=float, default=120.0, help="for rosters to converge (120 s)")
    parser.add_argument("--chat-timeout", type=float, default=30.0, help="after the last send (30 s)")
    parser.add_argument(
        "--idle-seconds", type=float, default=12.0, help="quiet room between settle and chat; drops are counted (12 s)"
    )
    parser.add_argument("--max-seconds", type=float, default=1200.0, help="whole client run (1200 s)")
    parser.add_argument("--keep-temp", action="store_true", help="keep the temp dir (logs, database)")
    parser.add_argument(
        "--server-log-level",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        default="WARNING",
        help="LOG_LEVEL of the server (WARNING; INFO shows channels-redis 'over capacity' drops)",
    )
    parser.add_argument(
        "--redis-socket-timeout",
        type=float,
        default=None,
        help="what-if: add ?socket_timeout=S to the server's REDIS_URL (default: the server's own setting)",
    )
    args = parser.parse_args(argv)
    if not 2 <= args.clients <= PRODUCT_MAX_PARTICIPANTS:
        parser.error(f"--clients must be 2..{PRODUCT_MAX_PARTICIPANTS} (the product's participant limit)")
    if args.idle_seconds < 0:
        parser.error("--idle-seconds must be >= 0")
    if args.concurrency < 1 or args.messages < 1 or not 1 <= args.senders <= args.clients:
        parser.error("--concurrency and --messages must be >= 1, --senders 1..clients")
    per_sender = math.ceil(args.messages / args.senders)
    if per_sender > CHAT_BURST and args.senders * args.chat_interval < 1.0:
        parser.error(
            f"{per_sender} messages per sender would hit the chat rate limit (burst {CHAT_BURST}, then 1/s): "
            "add --senders or raise --chat-interval so that senders × interval ≥ 1 s"
        )
    return Options(
        clients=args.clients,
        concurrency=args.concurrency,
        senders=args.senders,
        messages=args.messages,
        chat_interval=args.chat_interval,
        connect_timeout=args.connect_timeout,
        join_timeout=args.join_timeout,
        settle_timeout=args.settle_timeout,
        chat_timeout=args.chat_timeout,
        idle_seconds=args.idle_seconds,
        max_seconds=args.max_seconds,
        keep_temp=args.keep_temp,
        server_log_level=args.server_log_level,
        redis_socket_timeout=args.redis_socket_timeout,
    )


# --- small system helpers --------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def raise_open_file_limit(wanted: int) -> int:
    """Each client is one socket here and one in daphne: lift the soft limit (inherited by the servers)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        return target
    return soft


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


def tail(path: Path, lines: int = 30, skip_access_log: bool = False) -> list[str]:
    """The last lines of a log file (without daphne's WSCONNECT/WSDISCONNECT access lines if asked)."""
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return []
    if skip_access_log:
        text = [line for line in text if '"WSCONNECT' not in line and '"WSDISCONNECT' not in line]
    return text[-lines:]


LOG_PATTERNS = {
    "errors": " ERROR ",
    "exception_inside_application": "Exception inside application",
    "redis_read_timeout": "Timeout reading from",
    "killed_slow_shutdown": "took too long to shut down",
    "channel_layer_over_capacity": "over capacity in group",
    "ws_connect": '"WSCONNECT ',
    "ws_reject": '"WSREJECT ',
    "ws_disconnect": '"WSDISCONNECT ',
}


def log_counts(path: Path) -> dict[str, int]:
    counts = dict.fromkeys(LOG_PATTERNS, 0)
    with contextlib.suppress(OSError), path.open(errors="replace") as lines:
        for line in lines:
            for name, pattern in LOG_PATTERNS.items():
                if pattern in line:
                    counts[name] += 1
    return counts


def redis_command(port: int, *args: str, timeout: float = 5.0) -> bytes:
    """One RESP command over a plain socket (the benchmark needs only PING and INFO)."""
    request = f"*{len(args)}\r\n".encode() + b"".join(f"${len(a)}\r\n{a}\r\n".encode() for a in args)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        stream = sock.makefile("rb")
        first = stream.readline()
        if first.startswith(b"$"):
            size = int(first[1:])
            return stream.read(size + 2)[:-2] if size >= 0 else b""
        return first.rstrip(b"\r\n")


def redis_info(port: int) -> dict[str, str]:
    info: dict[str, str] = {}
    for line in redis_command(port, "INFO").decode().splitlines():
        if ":" in line and not line.startswith("#"):
            key, value = line.split(":", 1)
            info[key] = value
    return info


def http_status(port: int, path: str, timeout: float = 5.0) -> int | None:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
            first = sock.makefile("rb").readline().split()
            return int(first[1]) if len(first) >= 2 else None
    except (OSError, ValueError):
        return None


def environment_facts() -> dict[str, Any]:
    mem_total_gib = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_total_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "hostname": platform.node(),
        "platform": platform.platform(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "memory_gib": mem_total_gib,
        "python": platform.python_version(),
        "server_packages": package_versions(SERVER_PACKAGES),
        "client_packages": package_versions(CLIENT_PACKAGES),
        "git": git_revision(),
    }


# --- servers ---------------------------------------------------------------------------------


@dataclass
class Servers:
    tmp: Path
    redis_port: int
    http_port: int
    database: str
    meeting_code: str = ""
    meeting_id: int = 0
    redis: subprocess.Popen[bytes] | None = None
    daphne: subprocess.Popen[bytes] | None = None

    @property
    def redis_log(self) -> Path:
        return self.tmp / "redis.log"

    @property
    def daphne_log(self) -> Path:
        return self.tmp / "daphne.log"

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.http_port}/ws/meetings/{self.meeting_code}/"


def server_env(tmp: Path, redis_port: int, options: Options) -> tuple[dict[str, str], str]:
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
    if options.redis_socket_timeout is not None:
        env["REDIS_URL"] += f"?socket_timeout={options.redis_socket_timeout:g}"
    database_url = os.environ.get("DATABASE_URL", "")
    if database_url:
        return env, "postgresql" if database_url.startswith("postgres") else database_url.split(":", 1)[0]
    env.pop("DATABASE_URL", None)  # settings default: sqlite in DATA_DIR
    return env, "sqlite"


def start_redis(servers: Servers) -> None:
    command = [
        "redis-server",
        "--bind",
        "127.0.0.1",
        "--port",
        str(servers.redis_port),
        "--protected-mode",
        "yes",
        "--save",
        "",
        "--appendonly",
        "no",
        "--daemonize",
        "no",
        "--dir",
        str(servers.tmp),
        "--logfile",
        str(servers.redis_log),
    ]
    if shutil.which("redis-server") is None:
        raise BenchError("redis-server is not installed (Debian package redis-server)")
    servers.redis = subprocess.Popen(  # noqa: S603
        command, stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=die_with_parent
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if servers.redis.poll() is not None:
            raise BenchError(f"redis-server exited with {servers.redis.returncode}: {tail(servers.redis_log)}")
        with contextlib.suppress(OSError):
            if redis_command(servers.redis_port, "PING", timeout=1) == b"+PONG":
                log(f"redis-server pid {servers.redis.pid} on 127.0.0.1:{servers.redis_port}")
                return
        time.sleep(0.1)
    raise BenchError("redis-server did not answer PING within 15 s")


def run_manage(args: Sequence[str], env: dict[str, str], what: str, timeout: float = 600) -> str:
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


def start_daphne(servers: Servers, env: dict[str, str]) -> None:
    command = [
        sys.executable,
        "-m",
        "daphne",
        "-b",
        "127.0.0.1",
        "-p",
        str(servers.http_port),
        "conference.asgi:application",
    ]
    with servers.daphne_log.open("wb") as output:
        servers.daphne = subprocess.Popen(  # noqa: S603
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
        if servers.daphne.poll() is not None:
            raise BenchError(f"daphne exited with {servers.daphne.returncode}: {tail(servers.daphne_log)}")
        if http_status(servers.http_port, "/healthz", timeout=2) == 200:
            log(f"daphne pid {servers.daphne.pid} on {servers.origin} (healthz 200)")
            return
        time.sleep(0.2)
    raise BenchError(f"daphne did not answer /healthz with 200 within 60 s: {tail(servers.daphne_log)}")


@contextlib.contextmanager
def running_servers(options: Options) -> Iterator[Servers]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-signaling-"))
    env, database = server_env(tmp, redis_port := free_port(), options)
    servers = Servers(tmp=tmp, redis_port=redis_port, http_port=free_port(), database=database)
    log(f"temp dir {tmp}; database {database}")
    try:
        start_redis(servers)
        log("migrating the database")
        run_manage(["manage.py", "migrate", "--noinput", "-v", "0"], env, "manage.py migrate")
        created = json.loads(
            run_manage(
                ["-m", "bench.setup_meeting", "--max-participants", str(PRODUCT_MAX_PARTICIPANTS)],
                env,
                "meeting setup",
                timeout=120,
            )
        )
        servers.meeting_code, servers.meeting_id = created["code"], created["meeting_id"]
        log(f"meeting {servers.meeting_code} (id {servers.meeting_id})")
        start_daphne(servers, env)
        yield servers
    finally:
        if servers.daphne is not None:
            stop_process(servers.daphne, "daphne")
        if servers.redis is not None:
            stop_process(servers.redis, "redis-server")
        if options.keep_temp:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


# --- clients ---------------------------------------------------------------------------------


@dataclass
class Run:
    """State shared by all clients of one run."""

    chat_sent: dict[str, float] = field(default_factory=dict)  # chat text → send time
    last_message_at: float = 0.0


@dataclass
class Client:
    index: int
    ws: ClientConnection | None = None
    reader: asyncio.Task[None] | None = None
    hello: asyncio.Event = field(default_factory=asyncio.Event)
    joined: asyncio.Event = field(default_factory=asyncio.Event)
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    participant_id: str | None = None
    connect_started: float = 0.0
    connected_at: float = 0.0
    join_sent: float = 0.0
    joined_at: float = 0.0
    known_ids: set[str] = field(default_factory=set)
    messages: int = 0
    bytes: int = 0
    by_type: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    chat_received: dict[str, float] = field(default_factory=dict)
    chat_duplicates: int = 0
    chat_unexpected: int = 0
    failure: str | None = None
    close_code: int | None = None
    close_reason: str = ""

    @property
    def in_room(self) -> bool:
        return self.participant_id is not None and not self.closed.is_set()

    async def read_loop(self, run: Run) -> None:
        """Drains the socket continuously, recording the time each message arrived."""
        assert self.ws is not None
        try:
            async for raw in self.ws:
                now = time.perf_counter()
                run.last_message_at = now
                text = raw if isinstance(raw, str) else raw.decode()
                self.messages += 1
                self.bytes += len(text)
                self.handle(json.loads(text), now, run)
        except ConnectionClosed:
            pass
        finally:
            self.close_code = self.ws.close_code
            self.close_reason = self.ws.close_reason or ""
            if self.participant_id is None and self.failure is None:
                self.failure = f"closed before joined: {self.close_code} {self.close_reason}".strip()
            self.closed.set()
            self.hello.set()  # wake a waiting join_one()
            self.joined.set()

    def handle(self, message: dict[str, Any], now: float, run: Run) -> None:
        kind = str(message.get("type"))
        self.by_type[kind] += 1
        if kind == "chat.message":
            key = str(message.get("text"))
            if key not in run.chat_sent:
                self.chat_unexpected += 1
            elif key in self.chat_received:
                self.chat_duplicates += 1
            else:
                self.chat_received[key] = now
        elif kind == "roster.joined":
            self.known_ids.add(message["participant"]["id"])
        elif kind == "roster.left":
            self.known_ids.discard(message["participant_id"])
        elif kind == "hello":
            self.hello.set()
        elif kind == "joined":
            self.joined_at = now
            self.participant_id = message["you"]["id"]
            self.known_ids.update(participant["id"] for participant in message["roster"])
            self.joined.set()
        elif kind == "error":
            code = str(message.get("code"))
            self.errors[code] += 1
            if self.participant_id is None and self.failure is None:
                self.failure = f"error before joined: {code}: {message.get('message')}"
                self.joined.set()


async def join_one(client: Client, servers: Servers, options: Options, run: Run, gate: asyncio.Semaphore) -> None:
    async with gate:
        client.connect_started = time.perf_counter()
        try:
            client.ws = await connect(
                servers.ws_url,
                origin=Origin(servers.origin),
                compression=None,
                proxy=None,
                open_timeout=options.connect_timeout,
                ping_interval=None,
                close_timeout=5,
                max_size=None,
                max_queue=None,
                user_agent_header=f"bench-signaling/{client.index}",
            )
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            client.failure = f"connect: {exc!r}"
            client.closed.set()
            return
        client.connected_at = time.perf_counter()
        client.reader = asyncio.create_task(client.read_loop(run), name=f"reader-{client.index}")
        try:
            async with asyncio.timeout(options.join_timeout):
                await client.hello.wait()
                if client.closed.is_set():
                    return
                client.join_sent = time.perf_counter()
                await client.ws.send(json.dumps({"type": "join", "display_name": f"bench-{client.index}"}))
                await client.joined.wait()
        except TimeoutError:
            client.failure = client.failure or f"no joined within {options.join_timeout} s"
        except ConnectionClosed:
            pass


def percentiles_ms(values: Sequence[float]) -> dict[str, float | int | None]:
    """Nearest-rank percentiles of durations given in seconds, reported in milliseconds."""
    if not values:
        return {"count": 0, "p50": None, "p90": None, "p99": None, "max": None, "mean": None}
    ordered = sorted(values)

    def rank(q: float) -> float:
        return round(ordered[max(0, math.ceil(q * len(ordered)) - 1)] * 1000, 2)

    return {
        "count": len(ordered),
        "min": round(ordered[0] * 1000, 2),
        "p50": rank(0.50),
        "p90": rank(0.90),
        "p99": rank(0.99),
        "max": round(ordered[-1] * 1000, 2),
        "mean": round(sum(ordered) / len(ordered) * 1000, 2),
    }


class Meter:
    """CPU of the servers and of this process, and Redis commands, between two points in time."""

    def __init__(self, servers: Servers) -> None:
        self.servers = servers
        self.mark = self.read()

    def read(self) -> dict[str, float]:
        assert self.servers.daphne is not None
        assert self.servers.redis is not None
        info = redis_info(self.servers.redis_port)
        return {
            "wall": time.perf_counter(),
            "daphne_cpu": cpu_seconds(self.servers.daphne.pid) or 0.0,
            "redis_cpu": cpu_seconds(self.servers.redis.pid) or 0.0,
            "bench_cpu": time.process_time(),
            "daphne_wait": runqueue_wait_seconds(self.servers.daphne.pid) or 0.0,
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
            "redis_cpu_seconds": spent["redis_cpu"],
            "bench_cpu_seconds": spent["bench_cpu"],
            "daphne_runqueue_wait_seconds": spent["daphne_wait"],
            "bench_runqueue_wait_seconds": spent["bench_wait"],
            "redis_commands": spent["redis_commands"],
        }


def traffic(clients: Sequence[Client]) -> dict[str, Any]:
    by_type: Counter[str] = Counter()
    for client in clients:
        by_type.update(client.by_type)
    return {
        "messages": sum(c.messages for c in clients),
        "bytes": sum(c.bytes for c in clients),
        "by_type": dict(by_type.most_common()),
    }


def subtract(after: dict[str, Any], before: dict[str, Any]) -> dict[str, Any]:
    by_type = Counter(after["by_type"])
    by_type.subtract(before["by_type"])
    return {
        "messages": after["messages"] - before["messages"],
        "bytes": after["bytes"] - before["bytes"],
        "by_type": {kind: count for kind, count in by_type.most_common() if count},
    }


async def wait_until(condition: Callable[[], bool], limit: float, step: float = 0.05) -> bool:
    """Polls ``condition`` until it holds (True) or ``limit`` seconds passed (False)."""
    deadline = time.perf_counter() + limit
    while not condition():
        if time.perf_counter() >= deadline:
            return False
        await asyncio.sleep(step)
    return True


async def wait_quiet(run: Run, quiet: float, limit: float) -> None:
    """Until no client received anything for ``quiet`` seconds (at most ``limit``)."""
    await wait_until(lambda: time.perf_counter() - run.last_message_at >= quiet, limit)


def roster_loss(joined: Sequence[Client]) -> dict[str, int]:
    """How roster deltas went missing: a participant missing from (nearly) every roster that
    should have learnt of them by a ``roster.joined`` means the broadcast itself was dropped
    (e.g. channels-redis group capacity); scattered misses mean per-connection drops."""
    ordered = sorted((c for c in joined if c.participant_id is not None and c.in_room), key=lambda c: c.joined_at)
    whole = partial = 0
    for position, newcomer in enumerate(ordered):
        earlier = ordered[:position]  # these learn of the newcomer only through roster.joined
        if not earlier:
            continue
        missing = sum(1 for c in earlier if newcomer.participant_id not in c.known_ids)
        if missing >= 0.9 * len(earlier):
            whole += 1
        elif missing:
            partial += 1
    return {
        "participants_checked": len(ordered),
        "announcements_missing_almost_everywhere": whole,
        "announcements_missing_somewhere": partial,
    }


async def idle_phase(clients: list[Client], options: Options, meter: Meter) -> dict[str, Any]:
    """A quiet room: nobody sends anything. Every connection should simply stay open."""
    present = [c for c in clients if c.in_room]
    log(f"idle: {options.idle_seconds} s with {len(present)} clients in the room, nobody talking")
    before = traffic(clients)
    await asyncio.sleep(options.idle_seconds)
    dropped = [c for c in present if c.closed.is_set()]
    if dropped:
        log(f"  {len(dropped)} connections closed by the server while idle")
    return {
        "seconds": options.idle_seconds,
        "clients_in_room_before": len(present),
        "clients_dropped": len(dropped),
        "close_codes": dict(Counter(str(c.close_code) for c in dropped)),
        "traffic": subtract(traffic(clients), before),
        "cost": meter.lap(),
    }


async def join_phase(
    clients: list[Client], servers: Servers, options: Options, run: Run, meter: Meter
) -> dict[str, Any]:
    log(f"join: {options.clients} clients, {options.concurrency} at a time → {servers.ws_url}")
    gate = asyncio.Semaphore(options.concurrency)
    started = time.perf_counter()
    tasks = [asyncio.create_task(join_one(c, servers, options, run, gate)) for c in clients]
    for done, finished in enumerate(asyncio.as_completed(tasks), start=1):
        await finished
        if done % 100 == 0 or done == len(tasks):
            log(f"  {done}/{len(tasks)} clients through join ({time.perf_counter() - started:.1f} s)")
    all_joined_at = time.perf_counter()
    joined = [c for c in clients if c.participant_id is not None]
    failures = Counter((c.failure or "unknown")[:160] for c in clients if c.participant_id is None)
    join_cost = meter.lap()

    log("settle: waiting for every roster to hold every participant")
    everyone = {c.participant_id for c in joined if c.participant_id is not None}
    converged = await wait_until(
        lambda: all(everyone <= c.known_ids for c in joined if c.in_room), options.settle_timeout
    )
    converged_at = time.perf_counter()
    await wait_quiet(run, quiet=1.0, limit=30)
    settle_cost = meter.lap()
    incomplete = [c for c in joined if not everyone <= c.known_ids]
    diagnosis = roster_loss(joined)
    missing_entries = sum(len(everyone - c.known_ids) for c in joined)
    in_room = sum(1 for c in joined if c.in_room)
    n = len(joined)
    return {
        "clients_joined": n,
        "clients_failed": len(clients) - n,
        "failures": dict(failures),
        "clients_in_room_after_settle": in_room,
        "join_ms": percentiles_ms([c.joined_at - c.join_sent for c in joined]),
        "connect_ms": percentiles_ms([c.connected_at - c.connect_started for c in clients if c.ws is not None]),
        "join_wall_seconds": round(all_joined_at - started, 3),
        "joins_per_second": round(n / (all_joined_at - started), 1) if n else 0.0,
        "roster_converged": converged,
        "roster_convergence_seconds_after_last_join": round(converged_at - all_joined_at, 3),
        "roster_incomplete_clients": len(incomplete),
        "roster_missing_entries": missing_entries,
        "roster_deltas_ideal": n * (n - 1) // 2,
        "roster_loss": diagnosis,
        "traffic": traffic(clients),
        "cost_join": join_cost,
        "cost_settle": settle_cost,
    }


async def chat_phase(clients: list[Client], options: Options, run: Run, meter: Meter) -> dict[str, Any]:
    present = [c for c in clients if c.in_room]
    if len(present) < options.senders:
        raise BenchError(f"only {len(present)} clients in the room, fewer than --senders {options.senders}")
    stride = max(1, len(present) // options.senders)
    senders = [present[i * stride] for i in range(options.senders)]  # spread over join order
    before = traffic(clients)
    token = secrets.token_hex(4)
    log(f"chat: {options.messages} messages from {len(senders)} senders, every {options.chat_interval} s")
    keys: list[str] = []
    started = time.perf_counter()
    for k in range(options.messages):
        sender = senders[k % len(senders)]
        key = f"bench {token} #{k}"
        keys.append(key)
        assert sender.ws is not None
        run.chat_sent[key] = time.perf_counter()
        with contextlib.suppress(ConnectionClosed):
            await sender.ws.send(json.dumps({"type": "chat.send", "text": key}))
        if k + 1 < options.messages:
            await asyncio.sleep(options.chat_interval)
    last_send = time.perf_counter()
    expected = options.messages * len(present)

    def received() -> int:
        return sum(len(c.chat_received) for c in present)

    complete = await wait_until(lambda: received() >= expected, options.chat_timeout)
    finished = time.perf_counter()
    await wait_quiet(run, quiet=0.5, limit=10)
    cost = meter.lap()
    got = received()
    latencies = [c.chat_received[key] - run.chat_sent[key] for c in present for key in c.chat_received]
    completion = [
        max(c.chat_received[key] for c in present if key in c.chat_received) - run.chat_sent[key]
        for key in keys
        if any(key in c.chat_received for c in present)
    ]
    lost_by_client = [c.index for c in present if len(c.chat_received) < options.messages]
    per_message = []
    for k, key in enumerate(keys):
        times = sorted(c.chat_received[key] - run.chat_sent[key] for c in present if key in c.chat_received)
        per_message.append(
            {
                "n": k,
                "sender": senders[k % len(senders)].index,
                "sent_at_s": round(run.chat_sent[key] - started, 3),
                "received": len(times),
                "first_ms": round(times[0] * 1000, 1) if times else None,
                "median_ms": round(times[len(times) // 2] * 1000, 1) if times else None,
                "last_ms": round(times[-1] * 1000, 1) if times else None,
            }
        )
    log(f"  {got}/{expected} deliveries, {'complete' if complete else 'INCOMPLETE'}")
    return {
        "senders": [c.index for c in senders],
        "clients_in_room": len(present),
        "messages_sent": options.messages,
        "deliveries_expected": expected,
        "deliveries_received": got,
        "messages_lost": expected - got,
        "clients_missing_messages": len(lost_by_client),
        "duplicates": sum(c.chat_duplicates for c in present),
        "unexpected_chat_messages": sum(c.chat_unexpected for c in present),
        "sender_errors": dict(sum((c.errors for c in senders), Counter())),
        "latency_ms": percentiles_ms(latencies),
        "fanout_completion_ms": percentiles_ms(completion),
        "per_message": per_message,
        "send_wall_seconds": round(last_send - started, 3),
        "wall_seconds_until_all_delivered": round(finished - started, 3),
        "traffic": subtract(traffic(clients), before),
        "cost": cost,
    }


async def close_all(clients: Sequence[Client]) -> None:
    async def close(client: Client) -> None:
        if client.ws is not None:
            with contextlib.suppress(Exception):
                await client.ws.close()

    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(30):
            await asyncio.gather(*(close(c) for c in clients))
    for client in clients:
        if client.reader is not None and not client.reader.done():
            client.reader.cancel()
    await asyncio.gather(*(c.reader for c in clients if c.reader is not None), return_exceptions=True)


async def run_clients(servers: Servers, options: Options) -> dict[str, Any]:
    run = Run()
    clients = [Client(index=i) for i in range(options.clients)]
    meter = Meter(servers)
    result: dict[str, Any] = {}
    try:
        async with asyncio.timeout(options.max_seconds):
            result["join"] = await join_phase(clients, servers, options, run, meter)
            if options.idle_seconds > 0:
                result["idle"] = await idle_phase(clients, options, meter)
            result["chat"] = await chat_phase(clients, options, run, meter)
    except TimeoutError:
        result["aborted"] = f"the client run took longer than --max-seconds {options.max_seconds}"
    finally:
        result["errors_received"] = dict(sum((c.errors for c in clients), Counter()))
        closed = [c for c in clients if c.ws is not None and c.closed.is_set()]
        result["closed_by_server_before_teardown"] = dict(
            Counter(f"{c.close_code} {c.close_reason}".strip() for c in closed)
        )
        log("closing the clients")
        await close_all(clients)
    return result


# --- main ------------------------------------------------------------------------------------


def summary(result: dict[str, Any]) -> dict[str, Any]:
    join = result.get("join", {})
    chat = result.get("chat", {})
    return {
        "clients_joined": join.get("clients_joined"),
        "join_p50_ms": join.get("join_ms", {}).get("p50"),
        "join_p99_ms": join.get("join_ms", {}).get("p99"),
        "chat_latency_p50_ms": chat.get("latency_ms", {}).get("p50"),
        "chat_latency_p99_ms": chat.get("latency_ms", {}).get("p99"),
        "messages_lost": chat.get("messages_lost"),
        "clients_failed_to_join": join.get("clients_failed"),
        "roster_missing_entries": join.get("roster_missing_entries"),
        "clients_dropped_while_idle": result.get("idle", {}).get("clients_dropped"),
        "join_phase_messages_received": join.get("traffic", {}).get("messages"),
    }


def on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    signal.signal(signal.SIGTERM, on_sigterm)
    started = time.perf_counter()
    output: dict[str, Any] = {
        "benchmark": "signaling",
        "parameters": {
            "clients": options.clients,
            "concurrency": options.concurrency,
            "senders": options.senders,
            "messages": options.messages,
            "chat_interval_seconds": options.chat_interval,
            "idle_seconds": options.idle_seconds,
            "server_log_level": options.server_log_level,
            "redis_socket_timeout": options.redis_socket_timeout,
            "timeouts_seconds": {
                "connect": options.connect_timeout,
                "join": options.join_timeout,
                "settle": options.settle_timeout,
                "chat": options.chat_timeout,
                "run": options.max_seconds,
            },
        },
        "environment": environment_facts(),
        "status": "error",
    }
    output["environment"]["open_files_limit"] = raise_open_file_limit(4 * options.clients + 1024)
    output["environment"]["load_average_before"] = load_average()
    try:
        with running_servers(options) as servers:
            assert servers.daphne is not None
            assert servers.redis is not None
            output["environment"]["database"] = servers.database
            output["environment"]["redis_version"] = redis_info(servers.redis_port).get("redis_version")
            results = asyncio.run(run_clients(servers, options))
            output["results"] = results
            output["server"] = {
                "daphne_cpu_seconds_total": cpu_seconds(servers.daphne.pid),
                "daphne_peak_rss_mib": rss_mib(servers.daphne.pid),
                "redis_cpu_seconds_total": cpu_seconds(servers.redis.pid),
                "redis_peak_rss_mib": rss_mib(servers.redis.pid),
                "daphne_alive": servers.daphne.poll() is None,
                "daphne_log_tail": tail(servers.daphne_log, 40, skip_access_log=True),
                "daphne_log_counts": log_counts(servers.daphne_log),
            }
            ok = (
                "aborted" not in results
                and results.get("join", {}).get("clients_failed") == 0
                and results.get("chat", {}).get("messages_lost") == 0
                and results.get("join", {}).get("roster_missing_entries") == 0
                and results.get("idle", {}).get("clients_dropped", 0) == 0
            )
            output["status"] = "ok" if ok else "failed"
            output["summary"] = summary(results)
    except BenchError as exc:
        output["error"] = str(exc)
        log(f"error: {exc}")
    except KeyboardInterrupt:
        output["status"] = "interrupted"
        log("interrupted")
    output["environment"]["load_average_after"] = load_average()
    output["wall_seconds"] = round(time.perf_counter() - started, 3)
    print(json.dumps(output, indent=2, ensure_ascii=False))
    return {"ok": 0, "interrupted": 130}.get(output["status"], 1)


if __name__ == "__main__":
    sys.exit(main())

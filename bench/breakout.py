"""Breakout-room benchmark: N WebSocket participants of one meeting move into R breakout rooms
and back (issue "Live rooms as their own layer, and breakout rooms").

Everything is real and local, started as ``bench/signaling.py`` starts it (its helpers are
imported): ``redis-server`` and one or more ``daphne`` web processes
(``conference.asgi:application``, production settings) on 127.0.0.1 in a temporary directory,
a fresh SQLite database there (PostgreSQL when ``DATABASE_URL`` is set), a meeting created with
the ORM (``bench.setup_meeting``) and a signed-in session for its owner
(``bench.host_session``). Then

1. **join**: the owner connects with its session cookie and joins as the host; N guests
   connect (a few at a time, spread over the web processes), each sends ``join`` and waits for
   ``joined``;
2. **set up**: the host sends ``breakout.create`` with ``count`` R and waits for the
   ``breakouts`` state ``ready`` with R rooms, then ``breakout.auto_assign`` (followed by a
   ``ping``: the consumer handles one connection's messages in order, so the ``pong`` means
   the assignment is done) and waits for the sockets to go quiet;
3. **move**: the host sends ``breakout.open``. ``move_ms`` of a participant = ``open`` sent ->
   that participant's next ``joined`` whose ``room.id`` is not the main room's (a breakout
   room of this session; the script checks which). Then it waits until every room's roster
   (its ``joined`` snapshot plus ``roster.joined`` / ``roster.left`` deltas) holds exactly the
   people in that room, and for the sockets to go quiet, and stays ``--stay-seconds``;
4. **return**: the host sends ``breakout.close`` with ``now: true``. ``return_ms`` =
   ``close`` sent -> the participant's next ``joined`` whose ``room.id`` is the main room's.
   Rosters are checked again (everyone in the main room).

*Lost* = participants without their new ``joined`` within ``--move-timeout`` /
``--return-timeout`` (30 s), counted once per participant. Every ``error`` message anyone
receives is counted (by code, with examples). All clients run in this process: one monotonic
clock. Per phase it reads the CPU time and run-queue wait of the web processes and of Redis.
One JSON object goes to stdout (top-level ``summary``); progress to stderr. Every wait is
bounded and the servers are stopped on any exit::

    .venv/bin/pip install -r bench/requirements.txt
    .venv/bin/python -m bench.breakout > breakout.json          # 200 participants, 20 rooms
    .venv/bin/python -m bench.breakout --participants 500 --rooms 50 --web-processes 2

The exit status is 0 only when everyone joined, moved and came back, nobody received an
error and every roster matched. docs/performance.md records the results.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect
from websockets.exceptions import InvalidHandshake
from websockets.typing import Origin

from bench.machine import cpu_seconds, runqueue_wait_seconds
from bench.signaling import (
    PRODUCT_MAX_PARTICIPANTS,
    BenchError,
    Client,
    Run,
    Servers,
    close_all,
    environment_facts,
    free_port,
    join_one,
    load_average,
    log,
    log_counts,
    on_sigterm,
    percentiles_ms,
    raise_open_file_limit,
    redis_info,
    rss_mib,
    run_manage,
    server_env,
    start_daphne,
    start_redis,
    stop_process,
    subtract,
    tail,
    traffic,
    wait_quiet,
    wait_until,
)
from bench.signaling import Options as SignalingOptions

MAX_ROOMS = 50  # docs/protocol.md: breakout.create count 1-50
ROOT = Path(__file__).resolve().parent.parent
PROJECT_PACKAGES = ("rooms/", "meetings/", "conference/", "accounts/")


# --- options ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    participants: int
    rooms: int
    concurrency: int
    web_processes: int
    connect_timeout: float
    join_timeout: float
    setup_timeout: float
    move_timeout: float
    return_timeout: float
    settle_timeout: float
    stay_seconds: float
    max_seconds: float
    keep_temp: bool
    server_log_level: str
    redis_url_query: str
    py_spy: Path | None

    def for_signaling(self) -> SignalingOptions:
        """The options bench.signaling's helpers read (server environment, connect and join)."""
        return SignalingOptions(
            clients=self.participants,
            concurrency=self.concurrency,
            senders=1,
            messages=1,
            chat_interval=1.0,
            connect_timeout=self.connect_timeout,
            join_timeout=self.join_timeout,
            settle_timeout=self.settle_timeout,
            chat_timeout=0.0,
            idle_seconds=0.0,
            max_seconds=self.max_seconds,
            keep_temp=self.keep_temp,
            server_log_level=self.server_log_level,
            redis_socket_timeout=None,
        )


def parse_options(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        description="N participants of one meeting move into breakout rooms and back, over real daphne + Redis.",
    )
    parser.add_argument("--participants", type=int, default=200, help="guests moved, besides the host (200)")
    parser.add_argument("--rooms", type=int, default=20, help=f"breakout rooms, 1..{MAX_ROOMS} (20)")
    parser.add_argument("--concurrency", type=int, default=10, help="guests connecting/joining at once (10)")
    parser.add_argument(
        "--web-processes", type=int, default=1, help="daphne processes; guests are spread over them (1)"
    )
    parser.add_argument("--connect-timeout", type=float, default=60.0, help="per WebSocket handshake (60 s)")
    parser.add_argument("--join-timeout", type=float, default=120.0, help="per client, hello → joined (120 s)")
    parser.add_argument("--setup-timeout", type=float, default=30.0, help="for create and auto-assign (30 s)")
    parser.add_argument("--move-timeout", type=float, default=30.0, help="open → everyone's new joined (30 s)")
    parser.add_argument("--return-timeout", type=float, default=30.0, help="close → everyone's new joined (30 s)")
    parser.add_argument("--settle-timeout", type=float, default=30.0, help="for rosters to match (30 s)")
    parser.add_argument("--stay-seconds", type=float, default=3.0, help="time in the breakout rooms (3 s)")
    parser.add_argument("--max-seconds", type=float, default=600.0, help="whole client run (600 s)")
    parser.add_argument("--keep-temp", action="store_true", help="keep the temp dir (logs, database)")
    parser.add_argument(
        "--server-log-level",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        default="WARNING",
        help="LOG_LEVEL of the server (WARNING)",
    )
    parser.add_argument(
        "--redis-url-query",
        default="",
        metavar="QUERY",
        help="what-if only: append ?QUERY to the server's REDIS_URL, e.g. max_connections=1000 (default: none)",
    )
    parser.add_argument(
        "--py-spy",
        type=Path,
        default=None,
        metavar="DIR",
        help="profile each web process with py-spy from open to the end of return (speedscope files in DIR)",
    )
    args = parser.parse_args(argv)
    if not 2 <= args.participants <= PRODUCT_MAX_PARTICIPANTS - 1:
        parser.error(f"--participants must be 2..{PRODUCT_MAX_PARTICIPANTS - 1} (the host takes one place)")
    if not 1 <= args.rooms <= MAX_ROOMS:
        parser.error(f"--rooms must be 1..{MAX_ROOMS}")
    if args.concurrency < 1 or args.web_processes < 1:
        parser.error("--concurrency and --web-processes must be >= 1")
    if args.py_spy is not None and py_spy_binary() is None:
        parser.error("--py-spy: py-spy is not installed (.venv/bin/pip install py-spy)")
    return Options(
        participants=args.participants,
        rooms=args.rooms,
        concurrency=args.concurrency,
        web_processes=args.web_processes,
        connect_timeout=args.connect_timeout,
        join_timeout=args.join_timeout,
        setup_timeout=args.setup_timeout,
        move_timeout=args.move_timeout,
        return_timeout=args.return_timeout,
        settle_timeout=args.settle_timeout,
        stay_seconds=args.stay_seconds,
        max_seconds=args.max_seconds,
        keep_temp=args.keep_temp,
        server_log_level=args.server_log_level,
        redis_url_query=args.redis_url_query.lstrip("?"),
        py_spy=args.py_spy,
    )


# --- servers ---------------------------------------------------------------------------------


@dataclass
class Stack:
    """Redis (on ``base``), the web processes (one ``Servers`` each: its port, log and daphne),
    the meeting and its owner's session."""

    base: Servers
    web: list[Servers]
    host_cookie: str

    def daphne_pids(self) -> list[int]:
        return [w.daphne.pid for w in self.web if w.daphne is not None]


@contextlib.contextmanager
def running_stack(options: Options) -> Iterator[Stack]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-breakout-"))
    env, database = server_env(tmp, redis_port := free_port(), options.for_signaling())
    if options.redis_url_query:
        env["REDIS_URL"] += "?" + options.redis_url_query
    base = Servers(tmp=tmp, redis_port=redis_port, http_port=0, database=database)
    web: list[Servers] = []
    log(f"temp dir {tmp}; database {database}")
    try:
        start_redis(base)
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
        base.meeting_code, base.meeting_id = created["code"], created["meeting_id"]
        cookie = json.loads(
            run_manage(["-m", "bench.host_session", "--user-id", str(created["owner_id"])], env, "host session", 120)
        )["cookie"]
        log(f"meeting {base.meeting_code} (id {base.meeting_id}), host session for user {created['owner_id']}")
        for number in range(1, options.web_processes + 1):
            folder = tmp / f"web-{number}"
            folder.mkdir()
            process = dataclasses.replace(base, tmp=folder, http_port=free_port(), redis=None, daphne=None)
            web.append(process)
            start_daphne(process, env)
        yield Stack(base=base, web=web, host_cookie=cookie)
    finally:
        for number, process in enumerate(web, start=1):
            if process.daphne is not None:
                stop_process(process.daphne, f"daphne {number}")
        if base.redis is not None:
            stop_process(base.redis, "redis-server")
        if options.keep_temp:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def py_spy_binary() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def start_py_spy(binary: str, pids: list[int], folder: Path) -> list[tuple[subprocess.Popen[bytes], Path]]:
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
async def profiling(stack: Stack, folder: Path | None) -> AsyncIterator[list[dict[str, Any]]]:
    """py-spy on every web process while the block runs (nothing when ``folder`` is None)."""
    written: list[dict[str, Any]] = []
    binary = py_spy_binary()
    if folder is None or binary is None:
        yield written
        return
    spies = start_py_spy(binary, stack.daphne_pids(), folder)
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


class Meter:
    """CPU of the web processes (summed), Redis and this process, and Redis commands, per lap."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.mark = self.read()

    def read(self) -> dict[str, float]:
        assert self.stack.base.redis is not None
        pids = self.stack.daphne_pids()
        info = redis_info(self.stack.base.redis_port)
        return {
            "wall": time.perf_counter(),
            "daphne_cpu": sum(cpu_seconds(pid) or 0.0 for pid in pids),
            "daphne_wait": sum(runqueue_wait_seconds(pid) or 0.0 for pid in pids),
            "redis_cpu": cpu_seconds(self.stack.base.redis.pid) or 0.0,
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
        }


# --- clients ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Arrival:
    """One ``joined`` received: when, and which room it describes."""

    at: float
    room_id: Any
    room_kind: str | None
    assigned_room: Any
    roster_size: int


def breakout_state(message: dict[str, Any]) -> dict[str, Any]:
    """The breakout state of a ``breakouts`` event or of ``joined.breakouts`` (flat or nested)."""
    for key in ("breakouts", "state"):
        if isinstance(message.get(key), dict):
            nested: dict[str, Any] = message[key]
            return nested
    return message


@dataclass
class Member(Client):
    """A bench.signaling client that also records every ``joined`` (which room), the errors,
    the breakout events and pongs. ``known_ids`` is the roster of the room it is in now."""

    arrivals: list[Arrival] = field(default_factory=list)
    error_log: list[tuple[float, str, str]] = field(default_factory=list)
    states: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    overviews: int = 0
    pongs: dict[str, float] = field(default_factory=dict)
    hello_message: dict[str, Any] = field(default_factory=dict)

    def handle(self, message: dict[str, Any], now: float, run: Run) -> None:
        kind = str(message.get("type"))
        if kind == "joined":
            self.known_ids = set()  # a new joined is the full roster of the new room
        super().handle(message, now, run)
        if kind == "joined":
            raw_room = message.get("room")
            room: dict[str, Any] = raw_room if isinstance(raw_room, dict) else {}
            state = breakout_state(message) if isinstance(message.get("breakouts"), dict) else {}
            self.arrivals.append(
                Arrival(
                    at=now,
                    room_id=room.get("id"),
                    room_kind=room.get("kind"),
                    assigned_room=state.get("assigned_room"),
                    roster_size=len(message.get("roster") or []),
                )
            )
        elif kind == "error":
            self.error_log.append((now, str(message.get("code")), str(message.get("message"))[:200]))
        elif kind == "roster.batch":  # several roster.joined / roster.left at once (docs/protocol.md)
            self.known_ids.update(str(person["id"]) for person in message.get("joined") or [])
            self.known_ids.difference_update(str(person_id) for person_id in message.get("left") or [])
        elif kind == "breakouts":
            self.states.append((now, breakout_state(message)))
        elif kind == "breakouts.overview":
            self.overviews += 1
        elif kind == "pong":
            self.pongs[str(message.get("id"))] = now
        elif kind == "hello":
            self.hello_message = message

    def arrival_after(self, since: float, accept: Callable[[Arrival], bool]) -> Arrival | None:
        return next((a for a in self.arrivals if a.at >= since and accept(a)), None)

    async def send(self, message: dict[str, Any]) -> float:
        """Sends a message; returns the time just before it went out."""
        assert self.ws is not None
        sent = time.perf_counter()
        await self.ws.send(json.dumps(message))
        return sent

    async def ping(self, key: str, limit: float) -> bool:
        await self.send({"type": "ping", "id": key})
        return await wait_until(lambda: key in self.pongs or self.closed.is_set(), limit) and key in self.pongs


async def join_host(host: Member, web: Servers, cookie: str, options: Options, run: Run) -> None:
    """The meeting's owner: like bench.signaling's join_one, with its session cookie."""
    host.connect_started = time.perf_counter()
    try:
        host.ws = await connect(
            web.ws_url,
            origin=Origin(web.origin),
            additional_headers={"Cookie": cookie},
            compression=None,
            proxy=None,
            open_timeout=options.connect_timeout,
            ping_interval=None,
            close_timeout=5,
            max_size=None,
            max_queue=None,
            user_agent_header="bench-breakout/host",
        )
    except (OSError, InvalidHandshake, TimeoutError) as exc:
        raise BenchError(f"the host could not connect: {exc!r}") from exc
    host.connected_at = time.perf_counter()
    host.reader = asyncio.create_task(host.read_loop(run), name="reader-host")
    try:
        async with asyncio.timeout(options.join_timeout):
            await host.hello.wait()
            if not host.hello_message.get("you", {}).get("as_host"):
                raise BenchError(f"the owner's session is not seen as a host: {host.hello_message}")
            host.join_sent = await host.send({"type": "join"})
            await host.joined.wait()
    except TimeoutError as exc:
        raise BenchError(f"the host did not join within {options.join_timeout} s") from exc
    if host.participant_id is None:
        raise BenchError(f"the host did not join: {host.failure}")


def room_of(member: Member) -> Any:
    return member.arrivals[-1].room_id if member.arrivals else None


def expected_rosters(people: Sequence[Member]) -> dict[Any, set[str]]:
    """Room -> the ids of the connected people of this run in it (by their last ``joined``)."""
    by_room: dict[Any, set[str]] = {}
    for person in people:
        if person.participant_id is not None and not person.closed.is_set():
            by_room.setdefault(room_of(person), set()).add(person.participant_id)
    return by_room


def roster_mismatches(people: Sequence[Member]) -> int:
    """People whose roster is not exactly the set of people (of this run) in their room."""
    by_room = expected_rosters(people)
    return sum(
        1
        for person in people
        if person.participant_id is not None
        and not person.closed.is_set()
        and person.known_ids != by_room.get(room_of(person), set())
    )


def roster_diff(people: Sequence[Member]) -> dict[str, int]:
    """Over everyone connected: roster entries missing (in the room, not in the roster) and
    extra (in the roster, not connected in the room: e.g. someone whose connection dropped and
    who keeps the place for the grace period)."""
    by_room = expected_rosters(people)
    missing = extra = 0
    for person in people:
        if person.participant_id is not None and not person.closed.is_set():
            expected = by_room.get(room_of(person), set())
            missing += len(expected - person.known_ids)
            extra += len(person.known_ids - expected)
    return {"missing_entries": missing, "extra_entries": extra}


def error_summary(people: Sequence[Member], since: float) -> dict[str, Any]:
    codes: Counter[str] = Counter()
    examples: dict[str, str] = {}
    for person in people:
        for at, code, message in person.error_log:
            if at >= since:
                codes[code] += 1
                examples.setdefault(code, message)
    return {"count": sum(codes.values()), "by_code": dict(codes), "examples": examples}


# --- phases ----------------------------------------------------------------------------------


async def join_phase(
    host: Member, members: list[Member], stack: Stack, options: Options, run: Run, meter: Meter
) -> dict[str, Any]:
    signaling_options = options.for_signaling()
    log(f"join: the host, then {len(members)} guests, {options.concurrency} at a time")
    await join_host(host, stack.web[0], stack.host_cookie, options, run)
    started = time.perf_counter()
    gate = asyncio.Semaphore(options.concurrency)
    tasks = [
        asyncio.create_task(join_one(m, stack.web[i % len(stack.web)], signaling_options, run, gate))
        for i, m in enumerate(members)
    ]
    for done, finished in enumerate(asyncio.as_completed(tasks), start=1):
        await finished
        if done % 50 == 0 or done == len(tasks):
            log(f"  {done}/{len(tasks)} guests through join ({time.perf_counter() - started:.1f} s)")
    wall = time.perf_counter() - started
    joined = [m for m in members if m.participant_id is not None]
    await wait_until(lambda: roster_mismatches([host, *joined]) == 0, options.settle_timeout)
    await wait_quiet(run, quiet=1.0, limit=options.settle_timeout)
    main_rooms = Counter(room_of(m) for m in [host, *joined])
    return {
        "guests_joined": len(joined),
        "guests_failed": len(members) - len(joined),
        "failures": dict(Counter((m.failure or "unknown")[:160] for m in members if m.participant_id is None)),
        "join_ms": percentiles_ms([m.joined_at - m.join_sent for m in joined]),
        "join_wall_seconds": round(wall, 3),
        "rooms_seen": {str(room): count for room, count in main_rooms.items()},
        "roster_mismatches": roster_mismatches([host, *joined]),
        "roster_diff": roster_diff([host, *joined]),
        "traffic": traffic([host, *members]),
        "errors": error_summary([host, *members], 0.0),
        "cost": meter.lap(),
    }


async def setup_phase(host: Member, options: Options, run: Run, meter: Meter) -> dict[str, Any]:
    log(f"set up: breakout.create count {options.rooms}, then breakout.auto_assign")
    since = time.perf_counter()
    await host.send({"type": "breakout.create", "count": options.rooms})

    def ready() -> dict[str, Any] | None:
        state: dict[str, Any]
        for at, state in reversed(host.states):
            if at >= since and state.get("state") == "ready" and len(state.get("rooms") or []) == options.rooms:
                return state
        return None

    if not await wait_until(lambda: ready() is not None or bool(error_summary([host], since)["count"]), 30):
        raise BenchError(f"no breakouts state 'ready' with {options.rooms} rooms within 30 s: {host.states[-1:]}")
    state = ready()
    if state is None:
        raise BenchError(f"breakout.create was refused: {error_summary([host], since)}")
    created_at = time.perf_counter()
    assign_sent = await host.send({"type": "breakout.auto_assign"})
    if not await host.ping("assigned", options.setup_timeout):
        raise BenchError(f"no pong after breakout.auto_assign within {options.setup_timeout} s")
    assigned_at = time.perf_counter()
    await wait_quiet(run, quiet=1.0, limit=options.settle_timeout)
    errors = error_summary([host], since)
    if errors["count"]:
        raise BenchError(f"the host's set-up was refused: {errors}")
    return {
        "room_ids": [room.get("id") for room in state.get("rooms") or []],
        "create_to_ready_ms": round((created_at - since) * 1000, 1),
        "auto_assign_to_pong_ms": round((assigned_at - assign_sent) * 1000, 1),
        "cost": meter.lap(),
    }


async def move_phase(
    host: Member,
    members: list[Member],
    main_room: Any,
    room_ids: set[Any],
    action: dict[str, Any],
    into_main: bool,
    limit: float,
    options: Options,
    run: Run,
    meter: Meter,
) -> dict[str, Any]:
    """The host sends ``action``; waits for every member's next ``joined`` into a breakout room
    (``into_main`` False) or into the main room."""
    present = [m for m in members if m.in_room]
    before = traffic([host, *members])

    def accept(arrival: Arrival) -> bool:
        return bool(arrival.room_id == main_room) == into_main

    log(f"{action['type']}: waiting for {len(present)} new joined messages (up to {limit} s)")
    sent = await host.send(action)
    arrived = await wait_until(lambda: all(m.arrival_after(sent, accept) for m in present), limit)
    done_at = time.perf_counter()
    moves = {m.index: m.arrival_after(sent, accept) for m in present}
    times = [a.at - sent for a in moves.values() if a is not None]
    lost = [m.index for m in present if moves[m.index] is None]
    landed = Counter(a.room_id for a in moves.values() if a is not None)
    log(f"  {len(times)}/{len(present)} arrived in {done_at - sent:.2f} s; {len(lost)} lost")
    converged = await wait_until(lambda: roster_mismatches([host, *present]) == 0, options.settle_timeout)
    converged_at = time.perf_counter()
    await wait_quiet(run, quiet=1.0, limit=options.settle_timeout)
    result: dict[str, Any] = {
        "action": action,
        "participants": len(present),
        "arrived": len(times),
        "lost": lost,
        "all_arrived": arrived,
        "ms": percentiles_ms(times),
        "wall_seconds_until_last": round(max(times), 3) if times else None,
        "joined_per_participant": percentiles_count([sum(1 for a in m.arrivals if a.at >= sent) for m in present]),
        "rooms_landed": len(landed),
        "room_sizes": {"min": min(landed.values()), "max": max(landed.values())} if landed else None,
        "roster_sizes_in_joined": percentiles_count([a.roster_size for a in moves.values() if a is not None]),
        "roster_converged": converged,
        "roster_convergence_seconds_after_last_arrival": round(converged_at - done_at, 3) if converged else None,
        "roster_mismatches": roster_mismatches([host, *present]),
        "roster_diff": roster_diff([host, *present]),
        "closed_during_phase": sum(1 for m in present if m.closed.is_set()),
        "host_room_is_main": room_of(host) == main_room,
        "traffic": subtract(traffic([host, *members]), before),
        "errors": error_summary([host, *members], sent),
        "cost": meter.lap(),
    }
    if not into_main:
        result["outside_this_session"] = sum(n for room, n in landed.items() if room not in room_ids)
        result["assigned_room_mismatches"] = sum(
            1 for a in moves.values() if a is not None and a.assigned_room not in (None, a.room_id)
        )
    return result


def percentiles_count(values: Sequence[int]) -> dict[str, int | None]:
    ordered = sorted(values)
    if not ordered:
        return {"min": None, "p50": None, "max": None}
    return {"min": ordered[0], "p50": ordered[len(ordered) // 2], "max": ordered[-1]}


async def run_clients(stack: Stack, options: Options) -> dict[str, Any]:
    run = Run()
    host = Member(index=-1)
    members = [Member(index=i) for i in range(options.participants)]
    meter = Meter(stack)
    result: dict[str, Any] = {}
    first = time.perf_counter()
    try:
        async with asyncio.timeout(options.max_seconds):
            result["join"] = await join_phase(host, members, stack, options, run, meter)
            assert host.arrivals
            main_room = host.arrivals[-1].room_id
            result["main_room"] = main_room
            if main_room is None:
                raise BenchError("joined has no room.id: the server does not speak the breakout protocol yet")
            setup = await setup_phase(host, options, run, meter)
            result["setup"] = setup
            room_ids = set(setup["room_ids"])
            async with profiling(stack, options.py_spy) as profiles:
                result["move"] = await move_phase(
                    host,
                    members,
                    main_room,
                    room_ids,
                    {"type": "breakout.open"},
                    False,
                    options.move_timeout,
                    options,
                    run,
                    meter,
                )
                if options.stay_seconds > 0:
                    log(f"stay: {options.stay_seconds} s in the breakout rooms")
                    await asyncio.sleep(options.stay_seconds)
                    meter.lap()
                result["return"] = await move_phase(
                    host,
                    members,
                    main_room,
                    room_ids,
                    {"type": "breakout.close", "now": True},
                    True,
                    options.return_timeout,
                    options,
                    run,
                    meter,
                )
            result["profiles"] = profiles
    except TimeoutError:
        result["aborted"] = f"the client run took longer than --max-seconds {options.max_seconds}"
    except BenchError as exc:
        result["error"] = str(exc)
        log(f"error: {exc}")
    finally:
        everyone = [host, *members]
        result["errors_received"] = error_summary(everyone, first)
        closed = [m for m in everyone if m.ws is not None and m.closed.is_set()]
        result["closed_by_server_before_teardown"] = dict(
            Counter(f"{m.close_code} {m.close_reason}".strip() for m in closed)
        )
        log("closing the clients")
        await close_all(everyone)
    return result


# --- main ------------------------------------------------------------------------------------


def summary(results: dict[str, Any], environment: dict[str, Any], options: Options) -> dict[str, Any]:
    join = results.get("join", {})
    move = results.get("move", {})
    back = results.get("return", {})
    if "move" in results and "return" in results:
        # those who never joined never moved either
        lost = len(set(move["lost"]) | set(back["lost"])) + join.get("guests_failed", 0)
    else:
        lost = options.participants  # the run did not get that far
    return {
        "participants": join.get("guests_joined"),
        "rooms": len(results.get("setup", {}).get("room_ids", [])),
        "move_p50_ms": move.get("ms", {}).get("p50"),
        "move_p99_ms": move.get("ms", {}).get("p99"),
        "move_max_ms": move.get("ms", {}).get("max"),
        "return_p50_ms": back.get("ms", {}).get("p50"),
        "return_p99_ms": back.get("ms", {}).get("p99"),
        "return_max_ms": back.get("ms", {}).get("max"),
        "lost": lost,
        "errors": results.get("errors_received", {}).get("count"),
        "roster_mismatches": (move.get("roster_mismatches") or 0) + (back.get("roster_mismatches") or 0),
        "join_p99_ms": join.get("join_ms", {}).get("p99"),
        # how much the machine's other load delayed the web processes (quiet run: well under 1 s)
        "move_daphne_cpu_s": move.get("cost", {}).get("daphne_cpu_seconds"),
        "move_daphne_runqueue_wait_s": move.get("cost", {}).get("daphne_runqueue_wait_seconds"),
        "return_daphne_cpu_s": back.get("cost", {}).get("daphne_cpu_seconds"),
        "return_daphne_runqueue_wait_s": back.get("cost", {}).get("daphne_runqueue_wait_seconds"),
        "load_average_before": environment.get("load_average_before"),
        "web_processes": options.web_processes,
        "database": environment.get("database"),
        "cpu_model": environment.get("cpu_model"),
        "cpus_usable": environment.get("cpus_usable"),
        "date": environment.get("date"),
        "commit": environment.get("git", {}).get("commit"),
        "dirty": environment.get("git", {}).get("dirty"),
    }


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    signal.signal(signal.SIGTERM, on_sigterm)
    started = time.perf_counter()
    output: dict[str, Any] = {
        "benchmark": "breakout",
        "parameters": {
            "participants": options.participants,
            "rooms": options.rooms,
            "concurrency": options.concurrency,
            "web_processes": options.web_processes,
            "stay_seconds": options.stay_seconds,
            "server_log_level": options.server_log_level,
            "redis_url_query": options.redis_url_query or None,
            "timeouts_seconds": {
                "connect": options.connect_timeout,
                "join": options.join_timeout,
                "setup": options.setup_timeout,
                "move": options.move_timeout,
                "return": options.return_timeout,
                "settle": options.settle_timeout,
                "run": options.max_seconds,
            },
        },
        "environment": environment_facts(),
        "status": "error",
    }
    environment = output["environment"]
    environment["open_files_limit"] = raise_open_file_limit(4 * options.participants + 1024)
    environment["load_average_before"] = load_average()
    results: dict[str, Any] = {}
    try:
        with running_stack(options) as stack:
            assert stack.base.redis is not None
            environment["database"] = stack.base.database
            environment["redis_version"] = redis_info(stack.base.redis_port).get("redis_version")
            try:
                results = asyncio.run(run_clients(stack, options))
                if "error" in results:
                    output["error"] = results["error"]
            finally:
                output["server"] = {
                    "web": [
                        {
                            "cpu_seconds_total": cpu_seconds(w.daphne.pid),
                            "peak_rss_mib": rss_mib(w.daphne.pid),
                            "alive": w.daphne.poll() is None,
                            "log_counts": log_counts(w.daphne_log),
                            "log_tail": tail(w.daphne_log, 40, skip_access_log=True),
                        }
                        for w in stack.web
                        if w.daphne is not None
                    ],
                    "redis_cpu_seconds_total": cpu_seconds(stack.base.redis.pid),
                    "redis_peak_rss_mib": rss_mib(stack.base.redis.pid),
                }
    except BenchError as exc:
        output["error"] = str(exc)
        log(f"error: {exc}")
    except KeyboardInterrupt:
        output["status"] = "interrupted"
        log("interrupted")
    output["results"] = results
    output["summary"] = summary(results, environment, options)
    if "error" not in output and output["status"] != "interrupted":
        s = output["summary"]
        ok = (
            "aborted" not in results
            and s["participants"] == options.participants
            and s["rooms"] == options.rooms
            and s["lost"] == 0
            and s["errors"] == 0
            and s["roster_mismatches"] == 0
        )
        output["status"] = "ok" if ok else "failed"
    environment["load_average_after"] = load_average()
    output["wall_seconds"] = round(time.perf_counter() - started, 3)
    print(json.dumps(output, indent=2, ensure_ascii=False, default=str))
    return {"ok": 0, "interrupted": 130}.get(output["status"], 1)


if __name__ == "__main__":
    sys.exit(main())

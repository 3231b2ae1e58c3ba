"""Breakout-room benchmark: N WebSocket participants of one meeting move into R breakout rooms
and back (issue "Live rooms as their own layer, and breakout rooms").

Everything is real and local, started by ``bench.stack`` as for ``bench.signaling``:
``redis-server`` and one or more ``daphne`` web processes (``conference.asgi:application``,
production settings) on 127.0.0.1 in a temporary directory, a fresh SQLite database there
(PostgreSQL when ``DATABASE_URL`` is set), a meeting created with the ORM
(``bench.setup_meeting``) and a signed-in session for its owner (``bench.host_session``). Then

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
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.profiling import profiling, py_spy_binary
from bench.report import BenchError, Report, log
from bench.stack import PRODUCT_MAX_PARTICIPANTS, Meter, Stack, StackOptions, environment_facts, running_stack
from bench.ws_clients import (
    Client,
    ClientOptions,
    Run,
    client_run,
    join_all,
    join_one,
    percentiles_ms,
    subtract,
    traffic,
    wait_quiet,
    wait_until,
)

MAX_ROOMS = 50  # docs/protocol.md: breakout.create count 1-50


# --- options ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    participants: int
    rooms: int
    client: ClientOptions
    setup_timeout: float
    move_timeout: float
    return_timeout: float
    stay_seconds: float
    py_spy: Path | None
    stack: StackOptions


def parse_options(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        description="N participants of one meeting move into breakout rooms and back, over real daphne + Redis.",
    )
    parser.add_argument("--participants", type=int, default=200, help="guests moved, besides the host (200)")
    parser.add_argument("--rooms", type=int, default=20, help=f"breakout rooms, 1..{MAX_ROOMS} (20)")
    ClientOptions.add_arguments(parser, concurrency=10, settle_timeout=30.0, max_seconds=600.0)
    parser.add_argument("--setup-timeout", type=float, default=30.0, help="for create and auto-assign (30 s)")
    parser.add_argument("--move-timeout", type=float, default=30.0, help="open → everyone's new joined (30 s)")
    parser.add_argument("--return-timeout", type=float, default=30.0, help="close → everyone's new joined (30 s)")
    parser.add_argument("--stay-seconds", type=float, default=3.0, help="time in the breakout rooms (3 s)")
    StackOptions.add_arguments(parser)
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
    if args.py_spy is not None and py_spy_binary() is None:
        parser.error("--py-spy: py-spy is not installed (.venv/bin/pip install py-spy)")
    return Options(
        participants=args.participants,
        rooms=args.rooms,
        client=ClientOptions.from_args(parser, args),
        setup_timeout=args.setup_timeout,
        move_timeout=args.move_timeout,
        return_timeout=args.return_timeout,
        stay_seconds=args.stay_seconds,
        py_spy=args.py_spy,
        stack=StackOptions.from_args(parser, args, "breakout", host_session=True, redis_url_query=args.redis_url_query),
    )


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
    """A client (bench.ws_clients) that also records every ``joined`` (which room), the errors,
    the breakout events and pongs. ``known_ids`` is the roster of the room it is in now."""

    arrivals: list[Arrival] = field(default_factory=list)
    error_log: list[tuple[float, str, str]] = field(default_factory=list)
    states: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    overviews: int = 0
    pongs: dict[str, float] = field(default_factory=dict)

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
        elif kind == "breakouts":
            self.states.append((now, breakout_state(message)))
        elif kind == "breakouts.overview":
            self.overviews += 1
        elif kind == "pong":
            self.pongs[str(message.get("id"))] = now

    def arrival_after(self, since: float, accept: Callable[[Arrival], bool]) -> Arrival | None:
        return next((a for a in self.arrivals if a.at >= since and accept(a)), None)

    async def ping(self, key: str, limit: float) -> bool:
        await self.send({"type": "ping", "id": key})
        return await wait_until(lambda: key in self.pongs or self.closed.is_set(), limit) and key in self.pongs


async def join_host(host: Member, stack: Stack, options: Options, run: Run) -> None:
    """The meeting's owner joins with its session cookie, as the host."""
    await join_one(
        host,
        stack.meeting_url(0),
        run,
        options.client,
        display_name=None,
        user_agent="bench-breakout/host",
        cookie=stack.host_cookie,
    )
    if host.participant_id is None:
        raise BenchError(f"the host did not join: {host.failure}")
    if not host.hello_message.get("you", {}).get("as_host"):
        raise BenchError(f"the owner's session is not seen as a host: {host.hello_message}")


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
    log(f"join: the host, then {len(members)} guests, {options.client.concurrency} at a time")
    await join_host(host, stack, options, run)
    wall = await join_all(
        members,
        stack.meeting_url,
        run,
        options.client,
        agent="bench-breakout",
        report_every=50,
    )
    joined = [m for m in members if m.participant_id is not None]
    await wait_until(lambda: roster_mismatches([host, *joined]) == 0, options.client.settle_timeout)
    await wait_quiet(run, quiet=1.0, limit=options.client.settle_timeout)
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
    await wait_quiet(run, quiet=1.0, limit=options.client.settle_timeout)
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
    converged = await wait_until(lambda: roster_mismatches([host, *present]) == 0, options.client.settle_timeout)
    converged_at = time.perf_counter()
    await wait_quiet(run, quiet=1.0, limit=options.client.settle_timeout)
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
    everyone = [host, *members]
    try:
        async with client_run(everyone, options.client, result):
            result["join"] = await join_phase(host, members, stack, options, run, meter)
            assert host.arrivals
            main_room = host.arrivals[-1].room_id
            result["main_room"] = main_room
            if main_room is None:
                raise BenchError("joined has no room.id: the server does not speak the breakout protocol yet")
            setup = await setup_phase(host, options, run, meter)
            result["setup"] = setup
            room_ids = set(setup["room_ids"])
            async with profiling(stack.web_pids(), options.py_spy) as profiles:
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
    except BenchError as exc:
        result["error"] = str(exc)
        log(f"error: {exc}")
    result["errors_received"] = error_summary(everyone, first)
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
        "web_processes": options.stack.web_processes,
        "database": environment.get("database"),
        "cpu_model": environment.get("cpu_model"),
        "cpus_usable": environment.get("cpus_usable"),
        "date": environment.get("date"),
        "commit": environment.get("git", {}).get("commit"),
        "dirty": environment.get("git", {}).get("dirty"),
    }


def parameters(options: Options) -> dict[str, Any]:
    return {
        "participants": options.participants,
        "rooms": options.rooms,
        "concurrency": options.client.concurrency,
        **options.stack.parameters(),
        "stay_seconds": options.stay_seconds,
        "redis_url_query": options.stack.redis_url_query or None,
        "timeouts_seconds": {
            **options.client.timeouts(),
            "setup": options.setup_timeout,
            "move": options.move_timeout,
            "return": options.return_timeout,
        },
    }


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    report = Report("breakout", parameters(options), environment_facts(clients=options.participants))
    output = report.output
    results: dict[str, Any] = {}
    with report.recording_failures(), running_stack(options.stack) as stack:
        output["environment"].update(stack.facts())
        try:
            results = asyncio.run(run_clients(stack, options))
            if "error" in results:
                output["error"] = results["error"]
        finally:
            output["server"] = stack.report()
    output["results"] = results
    output["summary"] = s = summary(results, output["environment"], options)
    if report.completed:
        ok = (
            "aborted" not in results
            and s["participants"] == options.participants
            and s["rooms"] == options.rooms
            and s["lost"] == 0
            and s["errors"] == 0
            and s["roster_mismatches"] == 0
        )
        output["status"] = "ok" if ok else "failed"
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())

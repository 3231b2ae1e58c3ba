"""Signaling benchmark: N WebSocket clients join ONE meeting room and chat (issue 3).

Everything is real and local (``bench.stack``): the script starts its own ``redis-server`` and
``--web-processes`` ``daphne`` processes (``conference.asgi:application``) on 127.0.0.1 in a
temporary directory, migrates a fresh SQLite database there (or uses PostgreSQL when
``DATABASE_URL`` is set), creates a meeting with the ORM, then

1. **join**: connects N guest clients (bounded concurrency, spread round robin over the web
   processes), each sends ``join`` and waits for ``joined``; join time = ``join`` sent ->
   ``joined`` received;
2. **settle**: waits until every client's roster (snapshot + ``roster.joined`` deltas) holds all
   N participants, and the sockets go quiet; counts what the join storm cost the clients and
   how many roster entries never arrived;
3. **idle**: nobody sends anything for ``--idle-seconds``; every connection should stay open;
4. **chat**: a few senders send M chat messages (unique text); every client records when each
   ``chat.message`` arrives; latency = send -> receipt (same process, same monotonic clock);
   lost = M * clients - deliveries received before the timeout.

Per phase it also reads the CPU time and run-queue wait of the daphne processes (/proc, summed),
of redis-server and of this process, and Redis's command count. One JSON object (parameters, environment, results)
goes to stdout; progress to stderr. Every step has a timeout and the servers are stopped on any
exit (Ctrl-C and SIGTERM too)::

    .venv/bin/pip install -r bench/requirements.txt
    .venv/bin/python -m bench.signaling --clients 500 > result.json
    .venv/bin/python -m bench.signaling --clients 500 --web-processes 2 > result-2.json

The exit status is 0 only when every client joined, every roster converged, no connection was
dropped while idle and no chat message was lost. docs/performance.md records the results.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import secrets
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from websockets.exceptions import ConnectionClosed

from bench.profiling import profiling, py_spy_binary
from bench.report import BenchError, Report, log
from bench.stack import (
    PRODUCT_MAX_PARTICIPANTS,
    Meter,
    Stack,
    StackOptions,
    environment_facts,
    running_stack,
    web_totals,
)
from bench.ws_clients import (
    Client,
    ClientOptions,
    Run,
    client_run,
    join_all,
    percentiles_ms,
    subtract,
    traffic,
    wait_quiet,
    wait_until,
)

CHAT_BURST = 5  # the consumer's chat bucket: 5 messages, then 1 a second


# --- options ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    clients: int
    client: ClientOptions
    senders: int
    messages: int
    chat_interval: float
    chat_timeout: float
    idle_seconds: float
    redis_socket_timeout: float | None
    py_spy: Path | None
    py_spy_phase: str
    stack: StackOptions


def parse_options(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        description="N WebSocket clients join one meeting room over the real Redis channel layer and chat.",
    )
    parser.add_argument("--clients", type=int, default=500, help="participants in the room (default 500)")
    ClientOptions.add_arguments(parser, concurrency=50, settle_timeout=120.0, max_seconds=1200.0)
    parser.add_argument("--senders", type=int, default=5, help="clients that send chat messages (5)")
    parser.add_argument("--messages", type=int, default=20, help="chat messages in all (20)")
    parser.add_argument("--chat-interval", type=float, default=0.25, help="seconds between two messages (0.25)")
    parser.add_argument("--chat-timeout", type=float, default=30.0, help="after the last send (30 s)")
    parser.add_argument(
        "--idle-seconds", type=float, default=12.0, help="quiet room between settle and chat; drops are counted (12 s)"
    )
    StackOptions.add_arguments(parser)
    parser.add_argument(
        "--redis-socket-timeout",
        type=float,
        default=None,
        help="what-if: add ?socket_timeout=S to the server's REDIS_URL (default: the server's own setting)",
    )
    parser.add_argument(
        "--py-spy",
        type=Path,
        default=None,
        metavar="DIR",
        help="profile each web process with py-spy during one phase (speedscope files in DIR)",
    )
    parser.add_argument(
        "--py-spy-phase", choices=("join", "chat"), default="join", help="the phase --py-spy profiles (join + settle)"
    )
    args = parser.parse_args(argv)
    if args.py_spy is not None and py_spy_binary() is None:
        parser.error("--py-spy: py-spy is not installed (.venv/bin/pip install py-spy)")
    if not 2 <= args.clients <= PRODUCT_MAX_PARTICIPANTS:
        parser.error(f"--clients must be 2..{PRODUCT_MAX_PARTICIPANTS} (the product's participant limit)")
    if args.idle_seconds < 0:
        parser.error("--idle-seconds must be >= 0")
    if args.messages < 1 or not 1 <= args.senders <= args.clients:
        parser.error("--messages must be >= 1, --senders 1..clients")
    per_sender = math.ceil(args.messages / args.senders)
    if per_sender > CHAT_BURST and args.senders * args.chat_interval < 1.0:
        parser.error(
            f"{per_sender} messages per sender would hit the chat rate limit (burst {CHAT_BURST}, then 1/s): "
            "add --senders or raise --chat-interval so that senders × interval ≥ 1 s"
        )
    timeout = args.redis_socket_timeout
    return Options(
        clients=args.clients,
        client=ClientOptions.from_args(parser, args),
        senders=args.senders,
        messages=args.messages,
        chat_interval=args.chat_interval,
        chat_timeout=args.chat_timeout,
        idle_seconds=args.idle_seconds,
        redis_socket_timeout=timeout,
        py_spy=args.py_spy,
        py_spy_phase=args.py_spy_phase,
        stack=StackOptions.from_args(
            parser, args, "signaling", redis_url_query="" if timeout is None else f"socket_timeout={timeout:g}"
        ),
    )


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


async def join_phase(clients: list[Client], stack: Stack, options: Options, run: Run, meter: Meter) -> dict[str, Any]:
    ports = ", ".join(str(web.port) for web in stack.web)
    log(f"join: {options.clients} clients, {options.client.concurrency} at a time → {stack.meeting_url(0)}")
    log(f"  spread over {len(stack.web)} web process(es), ports {ports}")
    started = time.perf_counter()
    join_seconds = await join_all(
        clients,
        stack.meeting_url,
        run,
        options.client,
        agent="bench-signaling",
        report_every=100,
    )
    all_joined_at = started + join_seconds
    joined = [c for c in clients if c.participant_id is not None]
    failures = Counter((c.failure or "unknown")[:160] for c in clients if c.participant_id is None)
    join_cost = meter.lap()

    log("settle: waiting for every roster to hold every participant")
    everyone = {c.participant_id for c in joined if c.participant_id is not None}
    converged = await wait_until(
        lambda: all(everyone <= c.known_ids for c in joined if c.in_room), options.client.settle_timeout
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
        "busy_answers": sum(c.busy_answers for c in clients),  # joins shed (retried after retry_after)
        "clients_told_busy": sum(1 for c in clients if c.busy_answers),
        "connect_ms": percentiles_ms([c.connected_at - c.connect_started for c in clients if c.ws is not None]),
        # socket open -> `hello` (the server's hello waits its turn behind the joins in hand)
        "hello_ms": percentiles_ms([c.hello_at - c.connected_at for c in clients if c.hello_at]),
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


async def run_clients(stack: Stack, options: Options) -> dict[str, Any]:
    run = Run()
    clients = [Client(index=i) for i in range(options.clients)]
    meter = Meter(stack)
    result: dict[str, Any] = {}
    async with client_run(clients, options.client, result):
        spy = {phase: options.py_spy if options.py_spy_phase == phase else None for phase in ("join", "chat")}
        async with profiling(stack.web_pids(), spy["join"]) as profiles:
            result["join"] = await join_phase(clients, stack, options, run, meter)
        if profiles:
            result["join"]["profiles"] = profiles
        if options.idle_seconds > 0:
            result["idle"] = await idle_phase(clients, options, meter)
        async with profiling(stack.web_pids(), spy["chat"]) as profiles:
            result["chat"] = await chat_phase(clients, options, run, meter)
        if profiles:
            result["chat"]["profiles"] = profiles
    result["errors_received"] = dict(sum((c.errors for c in clients), Counter()))
    return result


# --- main ------------------------------------------------------------------------------------


def summary(result: dict[str, Any], options: Options) -> dict[str, Any]:
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
        "join_busy_answers": join.get("busy_answers"),
        "web_processes": options.stack.web_processes,
    }


def server_section(stack: Stack) -> dict[str, Any]:
    """``server_report`` with the keys of the one-process runs first: daphne_* are all the web
    processes together (CPU and peak memory summed), ``web`` each of them."""
    report = stack.report()
    web = web_totals(report["web"])
    return {
        "daphne_cpu_seconds_total": web["cpu_seconds_total"],
        "daphne_peak_rss_mib": web["peak_rss_mib"],
        "redis_cpu_seconds_total": report["redis_cpu_seconds_total"],
        "redis_peak_rss_mib": report["redis_peak_rss_mib"],
        "daphne_alive": web["alive"],
        "daphne_log_tail": web["log_tail"],
        "daphne_log_counts": web["log_counts"],
        "web": report["web"],
    }


def parameters(options: Options) -> dict[str, Any]:
    return {
        "clients": options.clients,
        "concurrency": options.client.concurrency,
        **options.stack.parameters(),
        "senders": options.senders,
        "messages": options.messages,
        "chat_interval_seconds": options.chat_interval,
        "idle_seconds": options.idle_seconds,
        "redis_socket_timeout": options.redis_socket_timeout,
        "timeouts_seconds": {
            **options.client.timeouts(),
            "chat": options.chat_timeout,
        },
    }


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    report = Report("signaling", parameters(options), environment_facts(clients=options.clients))
    output = report.output
    with report.recording_failures(), running_stack(options.stack) as stack:
        output["environment"].update(stack.facts())
        results = asyncio.run(run_clients(stack, options))
        output["results"] = results
        output["server"] = server_section(stack)
        ok = (
            "aborted" not in results
            and results.get("join", {}).get("clients_failed") == 0
            and results.get("chat", {}).get("messages_lost") == 0
            and results.get("join", {}).get("roster_missing_entries") == 0
            and results.get("idle", {}).get("clients_dropped", 0) == 0
        )
        output["status"] = "ok" if ok else "failed"
        output["summary"] = summary(results, options)
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())

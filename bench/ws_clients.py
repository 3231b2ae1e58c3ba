"""Meeting participants as WebSocket clients, all in this process (one monotonic clock): a
``Client`` drains its socket in a reader task and keeps what the benchmarks count (messages by
type, roster ids, chat receipts, errors); ``join_one`` connects one and joins the room,
``join_all`` many guests at once. ``ClientOptions`` are a client run's command-line options and
``client_run`` bounds the run and closes every client at its end. Also the small tools of a run:
percentiles, traffic totals, bounded waits."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.typing import Origin

from bench.report import log


@dataclass(frozen=True)
class ClientOptions:
    """How the clients join (how many at once) and how long they wait at the most."""

    concurrency: int
    connect_timeout: float  # the WebSocket handshake
    join_timeout: float  # hello -> joined
    settle_timeout: float  # rosters to converge
    max_seconds: float  # the whole client run

    @staticmethod
    def add_arguments(
        parser: argparse.ArgumentParser, *, concurrency: int, settle_timeout: float, max_seconds: float
    ) -> None:
        """--concurrency, --connect-timeout, --join-timeout, --settle-timeout, --max-seconds."""
        parser.add_argument(
            "--concurrency", type=int, default=concurrency, help=f"clients connecting/joining at once ({concurrency})"
        )
        parser.add_argument("--connect-timeout", type=float, default=60.0, help="per WebSocket handshake (60 s)")
        parser.add_argument("--join-timeout", type=float, default=120.0, help="per client, hello → joined (120 s)")
        parser.add_argument(
            "--settle-timeout",
            type=float,
            default=settle_timeout,
            help=f"for rosters to converge ({settle_timeout:g} s)",
        )
        parser.add_argument(
            "--max-seconds", type=float, default=max_seconds, help=f"whole client run ({max_seconds:g} s)"
        )

    @classmethod
    def from_args(cls, parser: argparse.ArgumentParser, args: argparse.Namespace) -> ClientOptions:
        if args.concurrency < 1:
            parser.error("--concurrency must be >= 1")
        return cls(
            concurrency=args.concurrency,
            connect_timeout=args.connect_timeout,
            join_timeout=args.join_timeout,
            settle_timeout=args.settle_timeout,
            max_seconds=args.max_seconds,
        )

    def timeouts(self) -> dict[str, float]:
        """For a benchmark's ``parameters.timeouts_seconds``."""
        return {
            "connect": self.connect_timeout,
            "join": self.join_timeout,
            "settle": self.settle_timeout,
            "run": self.max_seconds,
        }


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
    busy: asyncio.Event = field(default_factory=asyncio.Event)  # the server said busy (retry_after)
    retry_after: float = 0.0
    busy_answers: int = 0
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    hello_message: dict[str, Any] = field(default_factory=dict)
    participant_id: str | None = None
    connect_started: float = 0.0
    connected_at: float = 0.0
    hello_at: float = 0.0
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
        elif kind == "roster.batch":  # several roster.joined / roster.left at once (docs/protocol.md)
            self.known_ids.update(str(person["id"]) for person in message.get("joined") or [])
            self.known_ids.difference_update(str(person_id) for person_id in message.get("left") or [])
        elif kind == "hello":
            self.hello_at = self.hello_at or now
            self.hello_message = message
            self.hello.set()
        elif kind == "joined":
            self.joined_at = now
            self.participant_id = message["you"]["id"]
            self.known_ids.update(participant["id"] for participant in message["roster"])
            self.joined.set()
        elif kind == "error":
            code = str(message.get("code"))
            self.errors[code] += 1
            if code == "busy" and self.participant_id is None:
                # Load shedding (rooms/admission.py): join again after retry_after, with jitter.
                self.busy_answers += 1
                self.retry_after = float(message.get("retry_after") or 1.0)
                self.busy.set()
            elif self.participant_id is None and self.failure is None:
                self.failure = f"error before joined: {code}: {message.get('message')}"
                self.joined.set()

    async def send(self, message: dict[str, Any]) -> float:
        """Sends a message; returns the time just before it went out."""
        assert self.ws is not None
        sent = time.perf_counter()
        await self.ws.send(json.dumps(message))
        return sent


async def join_one(
    client: Client,
    url: str,
    run: Run,
    options: ClientOptions,
    *,
    display_name: str | None,
    user_agent: str,
    cookie: str | None = None,
    gate: asyncio.Semaphore | None = None,
) -> None:
    """Connects ``client`` to the room at ``url`` (Origin: that server), waits for ``hello``,
    sends ``join`` (with ``display_name`` unless None: a signed-in user keeps their name) and
    waits for ``joined``. A failure is recorded in ``client.failure``, never raised. ``cookie``:
    a session cookie (a signed-in user); ``gate``: bounds how many clients are in it at once."""
    async with gate or contextlib.nullcontext():
        client.connect_started = time.perf_counter()
        try:
            client.ws = await connect(
                url,
                origin=Origin(f"http://{urlsplit(url).netloc}"),
                additional_headers={"Cookie": cookie} if cookie else None,
                compression=None,
                proxy=None,
                open_timeout=options.connect_timeout,
                ping_interval=None,
                close_timeout=5,
                max_size=None,
                max_queue=None,
                user_agent_header=user_agent,
            )
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            client.failure = f"connect: {exc!r}"
            client.closed.set()
            return
        client.connected_at = time.perf_counter()
        client.reader = asyncio.create_task(client.read_loop(run), name=f"reader-{client.index}")
        join: dict[str, Any] = {"type": "join"}
        if display_name is not None:
            join["display_name"] = display_name
        try:
            async with asyncio.timeout(options.join_timeout):
                await client.hello.wait()
                if client.closed.is_set():
                    return
                client.join_sent = await client.send(join)  # join time counts from the first try
                while not await answered(client):
                    await asyncio.sleep(client.retry_after * random.uniform(0.5, 1.5))  # noqa: S311
                    await client.send(join)
        except TimeoutError:
            client.failure = client.failure or f"no joined within {options.join_timeout} s"
        except ConnectionClosed:
            pass


async def answered(client: Client) -> bool:
    """Waits for the answer to a ``join``: True for ``joined`` (or a failure), False for ``busy``."""
    client.busy.clear()
    joined = asyncio.ensure_future(client.joined.wait())
    busy = asyncio.ensure_future(client.busy.wait())
    try:
        await asyncio.wait({joined, busy}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        joined.cancel()
        busy.cancel()
    return client.joined.is_set()


async def join_all(
    clients: Sequence[Client],
    url_for: Callable[[int], str],
    run: Run,
    options: ClientOptions,
    *,
    agent: str,
    report_every: int,
) -> float:
    """Joins every client as the guest ``bench-<index>`` at ``url_for(index)``,
    ``options.concurrency`` at a time (user agent ``<agent>/<index>``), logging progress every
    ``report_every`` clients; returns the wall seconds until the last was through (joined or
    failed)."""
    gate = asyncio.Semaphore(options.concurrency)
    started = time.perf_counter()
    tasks = [
        asyncio.create_task(
            join_one(
                c,
                url_for(c.index),
                run,
                options,
                display_name=f"bench-{c.index}",
                user_agent=f"{agent}/{c.index}",
                gate=gate,
            )
        )
        for c in clients
    ]
    for done, finished in enumerate(asyncio.as_completed(tasks), start=1):
        await finished
        if done % report_every == 0 or done == len(tasks):
            log(f"  {done}/{len(tasks)} clients through join ({time.perf_counter() - started:.1f} s)")
    return time.perf_counter() - started


def closed_by_server(clients: Sequence[Client]) -> dict[str, int]:
    """The clients whose connection the server closed, by close code and reason."""
    closed = [c for c in clients if c.ws is not None and c.closed.is_set()]
    return dict(Counter(f"{c.close_code} {c.close_reason}".strip() for c in closed))


@contextlib.asynccontextmanager
async def client_run(clients: Sequence[Client], options: ClientOptions, result: dict[str, Any]) -> AsyncIterator[None]:
    """The block is the clients' run: it may take ``options.max_seconds`` (then it stops and
    ``result["aborted"]`` says so); on any exit the connections the server had closed go into
    ``result["closed_by_server_before_teardown"]`` and every client is closed."""
    try:
        async with asyncio.timeout(options.max_seconds):
            yield
    except TimeoutError:
        result["aborted"] = f"the client run took longer than --max-seconds {options.max_seconds}"
    finally:
        result["closed_by_server_before_teardown"] = closed_by_server(clients)
        await close_all(clients)


async def close_all(clients: Sequence[Client]) -> None:
    log("closing the clients")

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


# --- measuring a run -------------------------------------------------------------------------


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


def traffic(clients: Sequence[Client]) -> dict[str, Any]:
    """What the clients received so far: messages, bytes, messages by type."""
    by_type: Counter[str] = Counter()
    for client in clients:
        by_type.update(client.by_type)
    return {
        "messages": sum(c.messages for c in clients),
        "bytes": sum(c.bytes for c in clients),
        "by_type": dict(by_type.most_common()),
    }


def subtract(after: dict[str, Any], before: dict[str, Any]) -> dict[str, Any]:
    """The traffic between two ``traffic`` readings."""
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

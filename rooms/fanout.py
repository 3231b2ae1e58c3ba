"""Fan-out per web process: an event for a meeting, one of its rooms or its hosts is published
once, reaches each web process once, and each process hands it to its own sockets.

The channel layer (channels-redis) costs one Redis entry and one pop per receiving socket: a
room of 1,000 meant 1,000 Redis operations per chat line, and O(N^2) for everyone joining. Here
each web process keeps, per meeting it has sockets of, one Redis pub/sub subscription
(``<prefix>:fanout:<meeting id>``). A group is ``meeting.<m>``, ``room.<m>.<r>`` or ``hosts.<m>``;
an event for it is one ``PUBLISH`` on the meeting's channel, and the hub of each subscribed
process delivers it to the local sockets in that group (an ``asyncio.Queue`` per socket that
the consumer's dispatch loop reads beside the channel layer). Point-to-point messages (to one
participant, SFU worker requests and notifications) stay on the channel layer.

**Moves** between rooms are one ``regroup`` message on the same meeting channel: each process
moves its own sockets to their new room's group when it reads it, so nothing published after
the move's commit misses a mover (the process is already subscribed to the meeting).

**Roster changes are coalesced** per room and process: in a room of many, ``roster.joined`` /
``roster.left`` / ``roster.updated`` within a window (sized by the room: 0 below 10 people, up to
2 s from 500) go out as one ``roster.batch`` holding each person's last change. The first
change after a quiet window goes out at once. Other events of the room flush the pending batch
first when they concern people (``media.state``), so nobody's state is overtaken by their own
arrival.

**Slow readers**: a socket's queue holds ``MEMBER_BUFFER`` messages; a socket that falls that
far behind is told to close (``room.control`` ``overflow``) and its queue stops growing, so one
stalled browser costs the room nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import msgpack  # type: ignore[import-untyped]
import redis
import redis.asyncio as aioredis
from django.conf import settings

from rooms import wire_json

logger = logging.getLogger(__name__)

#: Group kinds that go through the hub; their second part is the meeting id.
FANOUT_KINDS = frozenset({"meeting", "room", "hosts"})
#: Messages a socket's queue holds before the socket is dropped as a slow reader.
MEMBER_BUFFER = 2000
#: How long ``add`` waits for Redis to confirm a new subscription.
SUBSCRIBE_TIMEOUT = 10.0
ROSTER_TYPES = frozenset({"roster.joined", "roster.left", "roster.updated", "roster.batch"})
#: Events about one participant: a pending roster batch goes out before them.
PERSON_EVENTS = frozenset({"media.state"})


def meeting_of(group: str) -> int | None:
    """The meeting of a hub group (``meeting.7``, ``room.7.31``, ``hosts.7``); None for others."""
    kind, _, rest = group.partition(".")
    if kind not in FANOUT_KINDS:
        return None
    head = rest.split(".", 1)[0]
    return int(head) if head.isdigit() else None


def roster_window(people: int) -> float:
    """Seconds roster changes of a room with this many local sockets are held to go out together."""
    if people < 10:
        return 0.0
    if people < 50:
        return 0.25
    if people < 200:
        return 0.5
    if people < 500:
        return 1.0
    return 2.0


# --- coalescing (pure) ----------------------------------------------------------------------------


@dataclass
class RosterBatch:
    """The roster changes of one room not sent yet: each person's last change wins (joined,
    updated or left); ``joined`` then ``updated`` stays ``joined`` with the newer data."""

    changes: dict[str, tuple[str, Any]] = field(default_factory=dict)  # id -> (op, participant | reason)
    count: int | None = None  # people in the room after the latest change

    def __bool__(self) -> bool:
        return bool(self.changes)

    def add(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        if "count" in event:
            self.count = event["count"]
        if kind == "roster.joined":
            self._put(event["participant"]["id"], "joined", event["participant"])
        elif kind == "roster.updated":
            person = event["participant"]
            before = self.changes.get(person["id"])
            self._put(person["id"], "joined" if before and before[0] == "joined" else "updated", person)
        elif kind == "roster.left":
            self._put(event["participant_id"], "left", event["reason"])
        elif kind == "roster.batch":
            for person in event["joined"]:
                self._put(person["id"], "joined", person)
            for person in event.get("updated") or []:
                self.add({"type": "roster.updated", "participant": person})
            for person_id in event["left"]:
                self._put(person_id, "left", event["reason"])

    def _put(self, person_id: str, op: str, value: Any) -> None:
        self.changes.pop(person_id, None)  # re-insert: the dict keeps the order of last changes
        self.changes[person_id] = (op, value)

    def take(self) -> list[dict[str, Any]]:
        """The pending changes as ``roster.batch`` events (one per reason people left for)."""
        joined = [value for op, value in self.changes.values() if op == "joined"]
        updated = [value for op, value in self.changes.values() if op == "updated"]
        left: dict[str, list[str]] = {}
        for person_id, (op, value) in self.changes.items():
            if op == "left":
                left.setdefault(str(value), []).append(person_id)
        self.changes = {}
        count, self.count = self.count, None
        batches: list[dict[str, Any]] = []
        for reason, ids in left.items() or [("joined", [])]:
            batch: dict[str, Any] = {"type": "roster.batch", "joined": joined, "left": ids, "reason": reason}
            if updated:
                batch["updated"] = updated
            batches.append(batch)
            joined, updated = [], []
        batches = [batch for batch in batches if batch["joined"] or batch["left"] or batch.get("updated")]
        if batches and count is not None:
            batches[-1]["count"] = count
        return batches


# --- the hub --------------------------------------------------------------------------------------


@dataclass
class Member:
    """One local socket: its inbox (``rooms.inbox``), where the hub queues events for it. The
    socket's own pumps put its client frames and channel-layer messages there too; the hub's
    events are what the bound is for."""

    channel: str
    queue: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    overflowed: bool = False

    def put(self, message: dict[str, Any]) -> None:
        if self.overflowed:
            return
        if self.queue.qsize() >= MEMBER_BUFFER - 1:
            self.overflowed = True
            self.queue.put_nowait({"type": "room.control", "action": "overflow"})
            return
        self.queue.put_nowait(message)


@dataclass
class RoomFlow:
    """A room group's coalescing state in this process."""

    pending: RosterBatch = field(default_factory=RosterBatch)
    last_sent: float = 0.0
    timer: asyncio.TimerHandle | None = None


def channel_name(meeting_id: int) -> str:
    config: Any = settings.CHANNEL_LAYERS["default"]["CONFIG"]
    return f"{config['prefix']}:fanout:{meeting_id}"


def pack(message: dict[str, Any]) -> bytes:
    return bytes(msgpack.packb(message, use_bin_type=True))


class Hub:
    """The fan-out of one web process (one per event loop)."""

    def __init__(self, redis_url: str) -> None:
        self.redis = aioredis.Redis.from_url(redis_url)
        self.pubsub = self.redis.pubsub()
        self.members: dict[str, Member] = {}
        self.groups: dict[str, set[str]] = {}  # group -> local channels
        self.channel_groups: dict[str, set[str]] = {}  # channel -> its hub groups
        self.meetings: dict[int, int] = {}  # meeting -> local (channel, group) memberships
        self.confirmed: dict[str, asyncio.Event] = {}  # pub/sub channel -> subscription confirmed
        self.flows: dict[str, RoomFlow] = {}
        self.reader: asyncio.Task[None] | None = None
        self.lock = asyncio.Lock()

    # --- local membership -------------------------------------------------------------------
    def attach(self, channel: str) -> asyncio.Queue[dict[str, Any]]:
        member = self.members.get(channel)
        if member is None:
            member = self.members[channel] = Member(channel)
        return member.queue

    async def detach(self, channel: str) -> None:
        for group in list(self.channel_groups.get(channel, ())):
            await self.discard(group, channel)
        self.members.pop(channel, None)

    async def add(self, group: str, channel: str) -> None:
        meeting_id = meeting_of(group)
        assert meeting_id is not None, group
        self.attach(channel)
        if channel in self.groups.get(group, ()):
            return
        self.groups.setdefault(group, set()).add(channel)
        self.channel_groups.setdefault(channel, set()).add(group)
        self.meetings[meeting_id] = self.meetings.get(meeting_id, 0) + 1
        await self._subscribe(channel_name(meeting_id))

    async def discard(self, group: str, channel: str) -> None:
        local = self.groups.get(group)
        if not local or channel not in local:
            return
        local.discard(channel)
        if not local:
            del self.groups[group]
            flow = self.flows.pop(group, None)
            if flow is not None and flow.timer is not None:
                flow.timer.cancel()
        self.channel_groups.get(channel, set()).discard(group)
        meeting_id = meeting_of(group)
        assert meeting_id is not None
        self.meetings[meeting_id] -= 1
        if self.meetings[meeting_id] == 0:
            del self.meetings[meeting_id]
            await self._unsubscribe(channel_name(meeting_id))

    async def _subscribe(self, name: str) -> None:
        async with self.lock:
            event = self.confirmed.get(name)
            if event is None:
                event = self.confirmed[name] = asyncio.Event()
                await self.pubsub.subscribe(name)
                if self.reader is None or self.reader.done():
                    self.reader = asyncio.get_running_loop().create_task(self._read(), name="fanout-reader")
        # Only once Redis confirms does a PUBLISH reach this process: the caller reads its
        # snapshot after this, so nothing falls between the two.
        await asyncio.wait_for(event.wait(), SUBSCRIBE_TIMEOUT)

    async def _unsubscribe(self, name: str) -> None:
        async with self.lock:
            if self.confirmed.pop(name, None) is not None:
                await self.pubsub.unsubscribe(name)

    # --- publishing -------------------------------------------------------------------------
    async def publish(self, group: str, message: dict[str, Any]) -> None:
        meeting_id = meeting_of(group)
        assert meeting_id is not None, group
        await self.redis.publish(channel_name(meeting_id), pack({"g": group, "m": message}))

    # --- receiving --------------------------------------------------------------------------
    async def _read(self) -> None:
        while self.confirmed or self.members:
            try:
                message = await self.pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("fan-out: reading from Redis failed; retrying")
                await asyncio.sleep(1.0)
                continue
            if message is None:
                continue
            kind = message.get("type")
            name = message["channel"].decode() if isinstance(message["channel"], bytes) else message["channel"]
            if kind == "subscribe":
                confirmed = self.confirmed.get(name)
                if confirmed is not None:
                    confirmed.set()
            elif kind == "message":
                try:
                    self.route(msgpack.unpackb(message["data"], raw=False))
                except Exception:
                    logger.exception("fan-out: a message on %s could not be delivered", name)

    def route(self, envelope: dict[str, Any]) -> None:
        """One published envelope: ``{"g": group, "m": message}`` or ``{"regroup": [...]}``."""
        if "regroup" in envelope:
            for channel, old, new in envelope["regroup"]:
                if channel in self.members:
                    self._move(channel, old, new)
            return
        group, message = envelope["g"], envelope["m"]
        local = self.groups.get(group)
        if not local:
            return
        event = message.get("event") if message.get("type") == "room.event" else None
        kind = event.get("type") if isinstance(event, dict) else None
        if group.startswith("room.") and kind in ROSTER_TYPES:
            assert isinstance(event, dict)
            # Sized by the whole room (the event's count), not by this process's share of it.
            self._coalesce(group, message, max(len(local), int(event.get("count") or 0)))
            return
        if kind in PERSON_EVENTS:
            self._flush(group)
        self._deliver(local, message)

    def _move(self, channel: str, old: str | None, new: str) -> None:
        """A regroup for a local socket: synchronous bookkeeping (the process already has the
        meeting's subscription, since the socket is in the meeting)."""
        if old and channel in self.groups.get(old, ()):
            self.groups[old].discard(channel)
            if not self.groups[old]:
                del self.groups[old]
            self.channel_groups.get(channel, set()).discard(old)
            meeting_id = meeting_of(old)
            if meeting_id is not None and meeting_id in self.meetings:
                self.meetings[meeting_id] -= 1
        if channel not in self.groups.get(new, ()):
            self.groups.setdefault(new, set()).add(channel)
            self.channel_groups.setdefault(channel, set()).add(new)
            meeting_id = meeting_of(new)
            if meeting_id is not None:
                self.meetings[meeting_id] = self.meetings.get(meeting_id, 0) + 1

    def _deliver(self, channels: Iterable[str], message: dict[str, Any]) -> None:
        """Queues the message for each local socket; a client event is JSON-encoded here once,
        not once per socket (``text``; the consumer sends it as it is)."""
        if message.get("type") == "room.event" and "text" not in message:
            message = {**message, "text": wire_json.dumps(message["event"])}
        for channel in list(channels):
            member = self.members.get(channel)
            if member is not None:
                member.put(message)

    def _coalesce(self, group: str, message: dict[str, Any], people: int) -> None:
        flow = self.flows.setdefault(group, RoomFlow())
        window = roster_window(people)
        now = time.monotonic()
        if not flow.pending and now - flow.last_sent >= window:
            flow.last_sent = now
            self._deliver(self.groups.get(group, ()), message)
            return
        flow.pending.add(message["event"])
        if flow.timer is None:
            delay = max(0.0, flow.last_sent + window - now)
            flow.timer = asyncio.get_running_loop().call_later(delay, self._flush, group)

    def _flush(self, group: str) -> None:
        flow = self.flows.get(group)
        if flow is None:
            return
        if flow.timer is not None:
            flow.timer.cancel()
            flow.timer = None
        if not flow.pending:
            return
        flow.last_sent = time.monotonic()
        room_id = int(group.rsplit(".", 1)[1])
        for batch in flow.pending.take():
            self._deliver(self.groups.get(group, ()), {"type": "room.event", "room": room_id, "event": batch})

    async def close(self) -> None:
        if self.reader is not None:
            self.reader.cancel()
            await asyncio.gather(self.reader, return_exceptions=True)
        for flow in self.flows.values():
            if flow.timer is not None:
                flow.timer.cancel()
        await self.pubsub.aclose()  # type: ignore[no-untyped-call]
        await self.redis.aclose()


# --- per event loop, and publishing from threads --------------------------------------------------

_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub] = weakref.WeakKeyDictionary()
_sync_client: redis.Redis | None = None


def hub() -> Hub:
    """This event loop's hub (tests run one loop per test)."""
    loop = asyncio.get_running_loop()
    found = _hubs.get(loop)
    if found is None:
        found = _hubs[loop] = Hub(settings.REDIS_URL)
    return found


def _client() -> redis.Redis:
    global _sync_client
    if _sync_client is None:
        _sync_client = redis.Redis.from_url(settings.REDIS_URL)
    return _sync_client


def publish_sync(group: str, message: dict[str, Any]) -> None:
    """From synchronous code (after a commit, in a database thread): one ``PUBLISH``."""
    meeting_id = meeting_of(group)
    assert meeting_id is not None, group
    _client().publish(channel_name(meeting_id), pack({"g": group, "m": message}))


def regroup_sync(meeting_id: int, moves: list[tuple[str, str | None, str]]) -> None:
    """Moves sockets (wherever they are) from one group of the meeting to another: one ``PUBLISH``."""
    if moves:
        _client().publish(channel_name(meeting_id), pack({"regroup": [list(move) for move in moves]}))

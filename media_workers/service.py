"""The worker's request handling: validates requests, answers ``room.assign`` and ``worker.ping``
itself, and hands room requests to the room's router, in order, one room at a time.

Each room has a queue and a loop (started → loop → clean exit on cancel → stop awaits exit), so a
peer's ICE candidates are applied after its join, while rooms proceed independently. A room
opens on its first ``room.join`` and closes on ``room.close``, when it has been empty for
``room_idle_timeout`` (at once while draining), or when it is handed back at the end of a drain.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from redis.exceptions import RedisError

from media_workers import protocol as p
from media_workers.assignment import Assignment
from media_workers.bus import Bus, BusError
from media_workers.config import WorkerConfig
from media_workers.metrics import COUNTERS, LOSSES, Snapshot, WorkerMetrics, read_stats
from media_workers.notifier import Notifier
from media_workers.recording.composition import CompositionQueue
from media_workers.recording.room import RoomRecorder
from media_workers.registry import Load

logger = logging.getLogger(__name__)

ROOM_QUEUE_SIZE = 1000
ROOM_CLOSE_TIMEOUT = 15.0


class RouterListener(Protocol):
    """What a router reports upward (called on the event loop, must not block)."""

    def slots_changed(self, peer_id: str, mapping: Mapping[str, Any]) -> None: ...

    def dominant_speaker(self, peer_id: str | None) -> None: ...

    def peer_failed(self, peer_id: str, error: Exception) -> None: ...


class RouterLike(Protocol):
    """The part of ``media_workers.router.Router`` the control plane uses (kept structural so
    the control plane is tested with a fake and does not depend on the media internals)."""

    async def add_peer(self, peer_id: str, offer_sdp: str, roles: Mapping[str, str] | None = None) -> str: ...

    async def renegotiate(self, peer_id: str, offer_sdp: str, roles: Mapping[str, str] | None = None) -> str: ...

    async def add_ice_candidate(self, peer_id: str, candidate: Mapping[str, object]) -> None: ...

    def set_view(
        self,
        peer_id: str,
        video_tiles: Sequence[str] | None,
        stage: str | None = None,
        sizes: Mapping[str, int] | None = None,
    ) -> None: ...

    async def remove_peer(self, peer_id: str) -> None: ...

    async def close(self) -> None: ...

    def stats(self) -> object: ...

    def start_recording(self, recorder: RoomRecorder) -> None: ...

    def stop_recording(self) -> Path: ...


#: Builds a room's router: ``factory(room_id, listener)``.
RouterFactory = Callable[[str, RouterListener], RouterLike]


@dataclass(frozen=True)
class _PeerFailed:
    """Internal job: the router reported a failed peer; forget it."""

    peer_id: str


@dataclass(frozen=True)
class _Wake:
    """Internal job: re-check the idle timeout (draining started)."""


_Job = p.RoomRequest | _PeerFailed | _Wake


class _Listener:
    """A room's ``RouterListener``: turns router reports into notifications and jobs."""

    def __init__(self, room: Room) -> None:
        self.room = room

    def slots_changed(self, peer_id: str, mapping: Mapping[str, Any]) -> None:
        slots = {str(mid): _jsonable(source) for mid, source in mapping.items()}
        self.room.notify("slots.changed", peer_id=peer_id, slots=slots)

    def dominant_speaker(self, peer_id: str | None) -> None:
        self.room.notify("speaker.changed", peer_id=peer_id)

    def peer_failed(self, peer_id: str, error: Exception) -> None:
        code = getattr(error, "code", None)
        message = getattr(error, "message", None)
        self.room.notify(
            "peer.failed",
            peer_id=peer_id,
            code=code if isinstance(code, str) else p.ErrorCode.MEDIA_ERROR,
            message=message if isinstance(message, str) else str(error),
        )
        self.room.enqueue(_PeerFailed(peer_id))


def _jsonable(value: object) -> object:
    """A slot source (dataclass of strings / str enums) as JSON."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {name: _jsonable(item) for name, item in dataclasses.asdict(value).items()}
    if isinstance(value, str | int | float | bool) or value is None:
        return value.value if isinstance(value, enum.Enum) else value
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    return str(value)


class Room:
    def __init__(self, service: WorkerService, room_id: str, factory: RouterFactory) -> None:
        self.service = service
        self.room_id = room_id
        self.peers: set[str] = set()
        self.queue: asyncio.Queue[_Job] = asyncio.Queue(maxsize=ROOM_QUEUE_SIZE)
        self.router = factory(room_id, _Listener(self))
        #: Why the room closes: closed, idle, handed_back (notified as moved) or lost (moved
        #: elsewhere while this worker was presumed dead: nothing to announce).
        self.close_reason = "closed"
        #: The recording running in this room, if any (its composition is queued when it ends).
        self.recording_id: int | None = None
        self._close_reply: tuple[str, str] | None = None
        self._current: p.RoomRequest | None = None
        self._closing = False
        self.started = asyncio.Event()
        self.exited = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def closing(self) -> bool:
        return self._closing

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"room-{self.room_id}")

    def enqueue(self, job: _Job) -> bool:
        try:
            self.queue.put_nowait(job)
        except asyncio.QueueFull:
            return False
        return True

    def notify(self, event: str, **fields: Any) -> None:
        self.service.notifier.send(p.room_group(self.room_id), p.notification(event, self.room_id, **fields))
        self.service.metrics.notifications.labels(event).inc()

    def _idle_timeout(self) -> float | None:
        if self.peers or not self.queue.empty():
            return None
        return 0.0 if self.service.draining else self.service.config.room_idle_timeout

    async def _run(self) -> None:
        self.started.set()
        try:
            while True:
                try:
                    job = await asyncio.wait_for(self.queue.get(), self._idle_timeout())
                except TimeoutError:
                    self.close_reason = "idle"
                    break
                if isinstance(job, p.CloseRoom):
                    self._close_reply = (job.id, job.reply_to)
                    break
                self._current = job if isinstance(job, p.RoomRequest) else None
                await self._execute(job)
                self._current = None
        except asyncio.CancelledError:
            pass
        except Exception:
            logger.exception("room %s failed", self.room_id)
        finally:
            await self._closed()
            self.exited.set()

    async def _execute(self, job: _Job) -> None:
        if isinstance(job, _Wake):
            return
        if isinstance(job, _PeerFailed):
            # The router drops a failed peer itself; the room only forgets it.
            self.peers.discard(job.peer_id)
            await self._stop_recording_if_empty()
            return
        started = time.monotonic()
        try:
            result = await self._call(job)
        except p.ProtocolError as exc:
            await self.service.reply_error(job, exc.code, exc.message, started)
        except Exception as exc:
            code, message = getattr(exc, "code", None), getattr(exc, "message", None)
            if isinstance(code, str) and code:
                text = message if isinstance(message, str) and message else str(exc) or code
                await self.service.reply_error(job, code, text, started)
            else:
                logger.exception("%s in room %s failed", job.method, self.room_id)
                await self.service.reply_error(job, p.ErrorCode.MEDIA_ERROR, f"{job.method} failed.", started)
        else:
            await self.service.reply_ok(job, result, started)

    async def _stop_recording_if_empty(self) -> None:
        """The last peer left: nothing more to record, so the recording ends now (not when the
        empty room closes) and goes to composition."""
        if self.peers or self.recording_id is None:
            return
        recording_id, self.recording_id = self.recording_id, None
        try:
            self.router.stop_recording()
        except Exception:
            logger.exception("room %s: ending recording %s failed", self.room_id, recording_id)
        await self.service.compose(recording_id)

    def _known(self, peer_id: str) -> None:
        if peer_id not in self.peers:
            raise p.ProtocolError(p.ErrorCode.UNKNOWN_PEER, f"Peer {peer_id} is not in room {self.room_id}.")

    async def _call(self, job: p.RoomRequest) -> dict[str, Any]:
        router = self.router
        if isinstance(job, p.JoinRoom):
            if job.peer_id in self.peers:
                raise p.ProtocolError(p.ErrorCode.PEER_EXISTS, f"Peer {job.peer_id} is already in the room.")
            answer = await router.add_peer(job.peer_id, job.sdp, job.roles)
            self.peers.add(job.peer_id)
            return {"sdp": answer, "worker_id": self.service.config.worker_id}
        if isinstance(job, p.Renegotiate):
            self._known(job.peer_id)
            return {"sdp": await router.renegotiate(job.peer_id, job.sdp, job.roles)}
        if isinstance(job, p.AddIce):
            self._known(job.peer_id)
            candidate = job.candidate.model_dump(by_alias=True) if job.candidate else {"candidate": ""}
            await router.add_ice_candidate(job.peer_id, candidate)
            return {}
        if isinstance(job, p.SetView):
            self._known(job.peer_id)
            router.set_view(job.peer_id, job.view.tiles, job.view.stage, job.view.sizes)
            return {}
        if isinstance(job, p.LeaveRoom):
            self._known(job.peer_id)
            self.peers.discard(job.peer_id)
            try:
                await router.remove_peer(job.peer_id)
            except Exception as exc:
                # Already gone from the router (it failed a moment ago): leaving succeeded.
                if getattr(exc, "code", None) != p.ErrorCode.UNKNOWN_PEER:
                    raise
            await self._stop_recording_if_empty()
            return {}
        if isinstance(job, p.RoomStats):
            return {"room_id": self.room_id, "peer_ids": sorted(self.peers), "media": read_stats(router.stats())}
        if isinstance(job, p.StartRecording):
            folder = self.service.config.recordings_dir / str(job.recording_id)
            recorder = RoomRecorder(folder, job.recording_id, started_at=datetime.now(UTC))
            router.start_recording(recorder)
            self.recording_id = job.recording_id
            return {"recording_id": job.recording_id, "folder": str(folder)}
        if isinstance(job, p.StopRecording):
            manifest = router.stop_recording()
            recording_id, self.recording_id = self.recording_id, None
            if recording_id is not None:
                await self.service.compose(recording_id)
            return {"recording_id": recording_id, "manifest": str(manifest)}
        raise p.ProtocolError(p.ErrorCode.UNKNOWN_METHOD, f"{job.method} is not a room method.")

    async def _quietly(self, step: Any) -> None:
        try:
            await step
        except Exception:
            logger.exception("closing part of room %s failed", self.room_id)

    async def _closed(self) -> None:
        """Close order: router (peer connections) → mapping released → room forgotten (its
        counters kept in the totals) → announcement → queued requests answered. Requests that
        arrive meanwhile are refused (``closing``), so a new room under the same id can only
        open after the mapping was released, never to be released by this one."""
        self._closing = True
        await self._quietly(self.router.close())  # ends a running recording too
        self.peers.clear()
        if self.recording_id is not None:
            recording_id, self.recording_id = self.recording_id, None
            await self._quietly(self.service.compose(recording_id))
        service = self.service
        if self.close_reason != "lost":
            await self._quietly(service.assignment.release(service.config.worker_id, [self.room_id]))
        service.retire(self, read_stats(self.router.stats()))
        if self.close_reason == "handed_back":
            self.notify("room.moved", reason="worker_draining", from_worker=service.config.worker_id)
        elif self.close_reason in {"closed", "idle"}:
            self.notify("room.ended", reason=self.close_reason)
        # The request cut short and those still queued are answered: the room is gone.
        pending: list[_Job] = [self._current] if self._current is not None else []
        while not self.queue.empty():
            pending.append(self.queue.get_nowait())
        for job in pending:
            if isinstance(job, p.RoomRequest):
                await service.reply_error(job, p.ErrorCode.UNKNOWN_ROOM, f"Room {self.room_id} was closed.", None)
        if self._close_reply is not None:
            request_id, reply_to = self._close_reply
            await service.send(reply_to, p.ok_response(request_id, {}))

    async def stop(self, reason: str) -> None:
        """Closes the room now (the reason decides what is announced) and waits for the exit."""
        if self._task is None:
            return
        if not self._closing:
            self.close_reason = reason
            self._task.cancel()
        # Closing a router closes its peer connections: bounded, but longer than a plain loop.
        done, _ = await asyncio.wait({self._task}, timeout=ROOM_CLOSE_TIMEOUT)
        if not done:
            logger.error("room %s did not close within %g s", self.room_id, ROOM_CLOSE_TIMEOUT)


class WorkerService:
    def __init__(
        self,
        config: WorkerConfig,
        bus: Bus,
        assignment: Assignment,
        notifier: Notifier,
        router_factory: RouterFactory | None,
        compose: Callable[[int], Awaitable[None]] | None = None,
    ) -> None:
        self.config = config
        #: Queues a finished recording's composition (the Celery task, by name, by default).
        self.compose = compose or CompositionQueue(config.redis_url).send
        self.bus = bus
        self.assignment = assignment
        self.notifier = notifier
        self.router_factory = router_factory
        self.rooms: dict[str, Room] = {}
        self.draining = False
        self.rooms_empty = asyncio.Event()
        self.rooms_empty.set()
        self._retired: dict[str, float] = dict.fromkeys(COUNTERS, 0.0)
        self.metrics = WorkerMetrics(self.snapshot)

    # --- state --------------------------------------------------------------------------
    def load(self) -> Load:
        """What the heartbeat publishes; ``rooms``: the rooms open here and not closing (a
        closing room gives its mapping back, and the heartbeat must not claim it again)."""
        return Load(
            peers=sum(len(room.peers) for room in self.rooms.values()),
            rooms=sorted(room_id for room_id, room in self.rooms.items() if not room.closing),
            draining=self.draining,
        )

    def snapshot(self) -> Snapshot:
        media = dict(self._retired)
        rooms = list(self.rooms.values())
        for room in rooms:
            for name, value in read_stats(room.router.stats()).items():
                media[name] = media.get(name, 0.0) + (value / len(rooms) if name in LOSSES else value)
        return Snapshot(rooms=len(self.rooms), draining=self.draining, capacity=self.config.capacity, media=media)

    def retire(self, room: Room, final: Mapping[str, float]) -> None:
        """A closed room's counters stay in the totals; the room leaves the worker."""
        for name in COUNTERS:
            self._retired[name] += final.get(name, 0.0)
        if self.rooms.get(room.room_id) is room:
            del self.rooms[room.room_id]
        if not self.rooms:
            self.rooms_empty.set()

    # --- replies ------------------------------------------------------------------------
    async def send(self, channel: str, message: dict[str, Any]) -> None:
        try:
            await self.bus.send(channel, message)
        except BusError:
            logger.warning("reply to %s lost", channel, exc_info=True)

    async def reply_ok(self, request: p.Request, result: Mapping[str, Any], started: float | None) -> None:
        self._count(request.method, "ok", started)
        await self.send(request.reply_to, p.ok_response(request.id, result))

    async def reply_error(self, request: p.Request, code: str, message: str, started: float | None) -> None:
        self._count(request.method, code, started)
        await self.send(request.reply_to, p.error_response(request.id, code, message))

    def _count(self, method: str, outcome: str, started: float | None) -> None:
        self.metrics.requests.labels(method, outcome).inc()
        if started is not None:
            self.metrics.request_seconds.labels(method).observe(time.monotonic() - started)

    # --- requests -----------------------------------------------------------------------
    async def handle(self, raw: dict[str, Any]) -> None:
        """Handles one message from the control channel or the worker's own channel."""
        started = time.monotonic()
        try:
            request = p.parse_request(raw)
        except p.ProtocolError as exc:
            self.metrics.refused.labels(exc.code).inc()
            address = p.reply_address(raw)
            if address is None:
                logger.warning("dropped a message without a usable id / reply_to: %s", exc.message)
                return
            await self.send(address[1], p.error_response(address[0], exc.code, exc.message))
            return
        if isinstance(request, p.AssignRoom):
            await self._assign(request, started)
        elif isinstance(request, p.Ping):
            await self.reply_ok(request, self._ping(), started)
        else:
            await self._route(request, started)

    async def _assign(self, request: p.AssignRoom, started: float) -> None:
        try:
            assigned = await self.assignment.assign(request.room_id)
        except RedisError as exc:
            logger.warning("assignment of room %s failed: %s", request.room_id, exc)
            await self.reply_error(request, p.ErrorCode.SFU_UNAVAILABLE, "The worker registry is unreachable.", started)
            return
        if assigned is None:
            await self.reply_error(
                request, p.ErrorCode.SFU_UNAVAILABLE, "No live SFU worker can take the room.", started
            )
            return
        if assigned.previous is not None:
            logger.info("room %s moved from %s to %s", request.room_id, assigned.previous, assigned.worker_id)
        result = {"room_id": request.room_id, "worker_id": assigned.worker_id}
        result |= {"channel": assigned.channel, "address": assigned.address}
        await self.reply_ok(request, result, started)

    def _ping(self) -> dict[str, Any]:
        load = self.load()
        return {
            "worker_id": self.config.worker_id,
            "channel": self.config.channel,
            "address": self.config.announced_address,
            "draining": self.draining,
            "rooms": len(load.rooms),
            "peers": load.peers,
            "capacity": self.config.capacity,
            "media": self.router_factory is not None,
        }

    async def _route(self, request: p.RoomRequest, started: float) -> None:
        room = self.rooms.get(request.room_id)
        if room is not None and room.closing:
            await self.reply_error(
                request, p.ErrorCode.UNKNOWN_ROOM, f"Room {request.room_id} is closing here: assign again.", started
            )
            return
        if room is None:
            if not isinstance(request, p.JoinRoom):
                await self.reply_error(
                    request, p.ErrorCode.UNKNOWN_ROOM, f"Room {request.room_id} is not open here.", started
                )
                return
            if self.draining:
                await self.reply_error(
                    request, p.ErrorCode.WORKER_DRAINING, "This worker is shutting down: assign again.", started
                )
                return
            if self.router_factory is None:
                await self.reply_error(
                    request, p.ErrorCode.MEDIA_UNAVAILABLE, "This worker has no media router.", started
                )
                return
            room = self._open(request.room_id, self.router_factory)
        if not room.enqueue(request):
            await self.reply_error(request, p.ErrorCode.ROOM_BUSY, "Too many requests queued for the room.", started)

    def _open(self, room_id: str, factory: RouterFactory) -> Room:
        room = Room(self, room_id, factory)
        self.rooms[room_id] = room
        self.rooms_empty.clear()
        room.start()
        return room

    # --- lifecycle ----------------------------------------------------------------------
    def start_drain(self) -> None:
        """No new rooms from now on; empty rooms close at once, the others when they empty."""
        self.draining = True
        for room in list(self.rooms.values()):
            room.enqueue(_Wake())

    async def lose(self, room_ids: list[str]) -> None:
        """Closes rooms that were moved to another worker while this one was presumed dead."""
        for room_id in room_ids:
            room = self.rooms.get(room_id)
            if room is not None:
                logger.warning("room %s moved away while this worker was presumed dead; closing it", room_id)
                await room.stop("lost")

    async def hand_back(self) -> None:
        """End of a drain: the remaining rooms close and are announced as moved."""
        await asyncio.gather(*(room.stop("handed_back") for room in list(self.rooms.values())))

    async def close(self) -> None:
        await asyncio.gather(*(room.stop("closed") for room in list(self.rooms.values())))

"""One worker process, wired: Redis registry and heartbeat, the control channel and the worker's
own channel, the request service, notifications and the metrics endpoint.

Start order: metrics endpoint → registration (reaping a previous life under the same id) →
pulse (liveness on a thread of its own, ``media_workers/liveness.py``) → heartbeat →
listeners. ``drain()`` (SIGTERM): no new rooms, rooms keep running until they are empty or
``drain_timeout`` passes, then the rest are handed back (mappings released, announced as
``room.moved``). Stop order: listeners → rooms → heartbeat and pulse → notifications flushed →
registry entry removed → metrics endpoint → connections.
"""

from __future__ import annotations

import asyncio
import logging

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from media_workers import protocol
from media_workers.assignment import Assignment, Moved
from media_workers.bus import Bus, ChannelListener
from media_workers.collector import CollectorPolicy
from media_workers.config import WorkerConfig
from media_workers.keys import Keys
from media_workers.lane import native_lanes
from media_workers.liveness import LoopWatch, Pulse
from media_workers.metrics import MetricsServer
from media_workers.notifier import Notifier
from media_workers.registry import Heartbeat, Registry
from media_workers.router import Router
from media_workers.router_config import RouterConfig
from media_workers.service import RouterFactory, RouterLike, RouterListener, WorkerService

logger = logging.getLogger(__name__)


def media_router_factory(config: WorkerConfig) -> RouterFactory:
    """Rooms' routers: ``media_workers.router.Router`` with one ``RouterConfig`` for all."""
    router_config = RouterConfig(ice_addresses=config.ice_addresses, public_ip=config.public_ip)

    def build(room_id: str, listener: RouterListener) -> RouterLike:
        return Router(room_id, router_config, listener)

    return build


class Worker:
    def __init__(self, config: WorkerConfig, router_factory: RouterFactory | None) -> None:
        self.config = config
        self.redis = Redis.from_url(config.redis_url, socket_timeout=5, socket_connect_timeout=5)
        keys = Keys(config.key_prefix)
        self.bus = Bus(config.redis_url, config.channel_prefix)
        self.assignment = Assignment(
            self.redis, keys, cpu_limit=config.saturation_cpu, lag_limit_ms=config.saturation_lag_ms
        )
        self.registry = Registry(self.redis, keys, config)
        self.notifier = Notifier(self.bus)
        self.service = WorkerService(config, self.bus, self.assignment, self.notifier, router_factory)
        self.heartbeat = Heartbeat(config.heartbeat_interval, self.beat)
        self.loop_watch = LoopWatch()
        self.pulse = Pulse(
            config.redis_url,
            keys,
            config.worker_id,
            interval=config.heartbeat_interval,
            ttl=config.heartbeat_ttl,
            stall_limit=config.loop_stall_limit,
            watch=self.loop_watch,
        )
        self.collector = CollectorPolicy(busy=lambda: self.service.load().peers > 0)
        self.listeners = [
            ChannelListener(self.bus, protocol.CONTROL_CHANNEL, self.service.handle),
            ChannelListener(self.bus, config.channel, self.service.handle),
        ]
        self.metrics_server = (
            MetricsServer(self.service.metrics, config.metrics_host, config.metrics_port)
            if config.metrics_port
            else None
        )
        self.drain_requested = asyncio.Event()
        self.stop_now = asyncio.Event()

    async def beat(self) -> None:
        lost = await self.registry.beat(self.service.load())
        if lost:
            await self.service.lose(lost)
        for moved in await self.assignment.reap():
            logger.warning("worker %s is gone; room %s will move", moved.dead_worker_id, moved.room_id)
            self._announce_lost(moved)

    def _announce_lost(self, moved: Moved) -> None:
        dead = moved.dead_worker_id
        event = protocol.notification("room.moved", moved.room_id, reason="worker_lost", from_worker=dead)
        self.notifier.send(protocol.room_group(moved.room_id), event)

    def request_drain(self) -> None:
        """SIGTERM: the first asks for a drain, the next one for an immediate hand-back."""
        if self.drain_requested.is_set():
            self.stop_now.set()
        self.drain_requested.set()

    async def run(self) -> None:
        try:
            await self._start()
            await self.drain_requested.wait()
            await self._drain()
        finally:
            await self._stop()

    async def _start(self) -> None:
        if self.metrics_server is not None:
            await self.metrics_server.start()
        # A previous process under this id may have died with rooms: announce them as moved.
        for moved in await self.assignment.reap(also=self.config.worker_id):
            self._announce_lost(moved)
        self.notifier.start()
        await self.registry.beat(self.service.load())
        self.loop_watch.start()
        self.pulse.start()
        self.heartbeat.start()
        self.collector.start()
        for listener in self.listeners:
            listener.start()
        metrics_port = self.metrics_server.port if self.metrics_server else "off"
        logger.info(
            "worker %s ready: channel %s, address %s, capacity %s, metrics port %s, %s forwarding lanes",
            self.config.worker_id,
            self.config.channel,
            self.config.announced_address,
            self.config.capacity,
            metrics_port,
            "native" if native_lanes() else "Python",
        )

    async def _drain(self) -> None:
        logger.info("draining: no new rooms; %s room(s) still open", len(self.service.rooms))
        self.service.start_drain()
        try:
            await self.registry.beat(self.service.load())
            # Rooms assigned here but not opened yet go back at once: the next assign moves them.
            hosted = set(self.service.rooms)
            assigned = await self.assignment.assigned_rooms(self.config.worker_id)
            await self.assignment.release(self.config.worker_id, [room for room in assigned if room not in hosted])
        except (RedisConnectionError, RedisTimeoutError) as exc:
            # The heartbeat announces the drain once Redis is back; the rooms keep running.
            logger.warning("could not announce the drain yet, Redis unreachable: %s", exc)
        emptied = asyncio.ensure_future(self.service.rooms_empty.wait())
        hurry = asyncio.ensure_future(self.stop_now.wait())
        try:
            await asyncio.wait({emptied, hurry}, timeout=self.config.drain_timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in (emptied, hurry):
                waiter.cancel()
            await asyncio.gather(emptied, hurry, return_exceptions=True)
        if self.service.rooms:
            logger.info("drain over: handing back %s room(s)", len(self.service.rooms))
            await self.service.hand_back()
        logger.info("drained")

    async def _stop(self) -> None:
        for listener in self.listeners:
            await listener.stop()
        await self.service.close()
        await self.heartbeat.stop()
        await asyncio.to_thread(self.pulse.stop)
        self.loop_watch.stop()
        await self.collector.stop()
        await self.notifier.stop()
        try:
            await self.registry.unregister()
        except RedisError as exc:
            logger.warning("could not remove the registration (it expires by itself): %s", exc)
        if self.metrics_server is not None:
            await self.metrics_server.stop()
        await self.bus.close()
        await self.redis.aclose()
        logger.info("worker %s stopped", self.config.worker_id)

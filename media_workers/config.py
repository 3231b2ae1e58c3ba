"""Worker settings, read from the environment in this one place and checked at start-up.

The media workers import no Django, so they cannot use ``conference.env``; this module follows
the same pattern: typed readers, a bad value stops start-up with an error naming the variable.
Every variable is listed in README.md's configuration table.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class WorkerConfig:
    #: Unique among live workers; part of the worker's channel and Redis keys.
    worker_id: str
    #: Redis for the registry, room assignment and the channel layer.
    redis_url: str
    #: Channel-layer prefix: must equal the web's ``CHANNEL_LAYERS`` prefix.
    channel_prefix: str
    #: Prefix of the registry and assignment keys in Redis.
    key_prefix: str
    #: Address browsers reach this worker at (sent with the room assignment).
    announced_address: str
    #: Local IP addresses ICE gathers host candidates on; empty: every interface.
    ice_addresses: tuple[str, ...]
    #: Most peers this worker takes; a full worker gets no new rooms.
    capacity: int
    heartbeat_interval: float
    #: A worker whose last heartbeat is older than this is dead.
    heartbeat_ttl: float
    #: After SIGTERM: how long rooms may keep running before they are handed back.
    drain_timeout: float
    #: An empty room closes after this long (at once while draining).
    room_idle_timeout: float
    #: A room assigned here that nobody joins within this long is released.
    assign_grace: float
    metrics_host: str
    #: 0 turns the metrics endpoint off.
    metrics_port: int
    log_level: str
    #: Where recordings' track files and manifests go (<dir>/<recording id>/); the web's
    #: RECORDINGS_SPOOL_DIR, on a file system both reach.
    recordings_dir: Path = Path("var/recordings-spool")
    #: The public IP a 1:1 NAT maps to this machine (announced in ICE candidates); None: none.
    public_ip: str | None = None
    #: New rooms avoid a worker whose pulse reports this much CPU (share of a core) or loop lag.
    saturation_cpu: float = 0.9
    saturation_lag_ms: int = 250
    #: A worker whose event loop has not run for this long stops its pulse (and dies).
    loop_stall_limit: float = 30.0

    @property
    def channel(self) -> str:
        """The worker's own channel for room requests."""
        return f"sfu.worker.{self.worker_id}"


class _Reader:
    def __init__(self, source: Mapping[str, str]) -> None:
        self._source = source

    def string(self, name: str, default: str) -> str:
        value = self._source.get(name, "").strip()
        return value or default

    def number(self, name: str, default: float, *, minimum: float, maximum: float) -> float:
        raw = self._source.get(name, "").strip()
        if not raw:
            return default
        try:
            value = float(raw)
        except ValueError as exc:
            raise ConfigError(f"{name}={raw!r} is not a number") from exc
        if not minimum <= value <= maximum:
            raise ConfigError(f"{name}={raw} must be between {minimum:g} and {maximum:g}")
        return value

    def addresses(self, name: str) -> tuple[str, ...]:
        raw = self._source.get(name, "")
        items = tuple(item.strip() for item in raw.split(",") if item.strip())
        for item in items:
            try:
                ipaddress.ip_address(item)
            except ValueError as exc:
                raise ConfigError(f"{name}: {item!r} is not an IP address") from exc
        return items

    def integer(self, name: str, default: int, *, minimum: int, maximum: int) -> int:
        raw = self._source.get(name, "").strip()
        if not raw:
            return default
        try:
            value = int(raw)
        except ValueError as exc:
            raise ConfigError(f"{name}={raw!r} is not an integer") from exc
        if not minimum <= value <= maximum:
            raise ConfigError(f"{name}={raw} must be between {minimum} and {maximum}")
        return value


def _default_worker_id() -> str:
    host = re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname())[:28] or "worker"
    return f"{host}-{os.getpid()}"


def load_config(source: Mapping[str, str] | None = None) -> WorkerConfig:
    """Reads and checks every worker setting (from ``os.environ`` by default)."""
    env = _Reader(os.environ if source is None else source)
    worker_id = env.string("SFU_WORKER_ID", _default_worker_id())
    if not ID_PATTERN.match(worker_id):
        raise ConfigError(f"SFU_WORKER_ID={worker_id!r} must be 1-40 letters, digits, '-' or '_'")
    redis_url = env.string("REDIS_URL", "redis://127.0.0.1:6379/0")
    if redis_url.split("://", 1)[0] not in {"redis", "rediss", "unix"} or "://" not in redis_url:
        raise ConfigError(f"REDIS_URL={redis_url!r} must start with redis://, rediss:// or unix://")
    key_prefix = env.string("SFU_KEY_PREFIX", "sfu")
    if not re.match(r"^[A-Za-z0-9_:.-]{1,40}$", key_prefix):
        raise ConfigError(f"SFU_KEY_PREFIX={key_prefix!r} must be 1-40 letters, digits or '_:.-'")
    heartbeat_interval = env.number("SFU_HEARTBEAT_SECONDS", 1.0, minimum=0.05, maximum=60)
    heartbeat_ttl = env.number("SFU_HEARTBEAT_TTL_SECONDS", 3.0, minimum=0.2, maximum=600)
    if heartbeat_ttl < 2 * heartbeat_interval:
        raise ConfigError(
            f"SFU_HEARTBEAT_TTL_SECONDS={heartbeat_ttl:g} must be at least twice SFU_HEARTBEAT_SECONDS"
            f" ({heartbeat_interval:g}), or one late beat would declare the worker dead"
        )
    log_level = env.string("LOG_LEVEL", "INFO").upper()
    if log_level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ConfigError(f"LOG_LEVEL={log_level!r} must be one of: DEBUG, INFO, WARNING, ERROR")
    announced = env.string("SFU_ANNOUNCED_ADDRESS", "127.0.0.1")
    if any(char.isspace() for char in announced) or len(announced) > 253:
        raise ConfigError(f"SFU_ANNOUNCED_ADDRESS={announced!r} is not a host name or IP address")
    return WorkerConfig(
        worker_id=worker_id,
        redis_url=redis_url,
        channel_prefix=env.string("SFU_CHANNEL_PREFIX", "conference:channels"),
        key_prefix=key_prefix,
        announced_address=announced,
        ice_addresses=env.addresses("SFU_ICE_ADDRESSES"),
        capacity=env.integer("SFU_CAPACITY", 500, minimum=1, maximum=100_000),
        heartbeat_interval=heartbeat_interval,
        heartbeat_ttl=heartbeat_ttl,
        saturation_cpu=env.number("SFU_SATURATION_CPU", 0.9, minimum=0.05, maximum=64),
        saturation_lag_ms=env.integer("SFU_SATURATION_LAG_MS", 250, minimum=1, maximum=600_000),
        loop_stall_limit=env.number("SFU_LOOP_STALL_SECONDS", 30.0, minimum=1, maximum=3600),
        drain_timeout=env.number("SFU_DRAIN_TIMEOUT_SECONDS", 300.0, minimum=0, maximum=86_400),
        room_idle_timeout=env.number("SFU_ROOM_IDLE_SECONDS", 30.0, minimum=0, maximum=3600),
        assign_grace=env.number("SFU_ASSIGN_GRACE_SECONDS", 60.0, minimum=1, maximum=3600),
        metrics_host=env.string("SFU_METRICS_HOST", "127.0.0.1"),
        metrics_port=env.integer("SFU_METRICS_PORT", 9100, minimum=0, maximum=65535),
        log_level=log_level,
        recordings_dir=Path(env.string("SFU_RECORDINGS_DIR", str(Path("var") / "recordings-spool"))),
        public_ip=_public_ip(env.string("SFU_PUBLIC_IP", "")),
    )


def _public_ip(value: str) -> str | None:
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError as exc:
        raise ConfigError(f"SFU_PUBLIC_IP={value!r} must be an IP address (the NAT's public address)") from exc

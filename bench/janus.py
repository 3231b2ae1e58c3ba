"""Janus (Debian package ``janus``, 1.1) as the reference SFU of ``bench/sfu.py``.

:func:`start_janus` runs ``/usr/bin/janus`` from a config folder of its own (a temp dir: only
the VideoRoom plugin and the HTTP transport are visible to it, HTTP bound to 127.0.0.1, ICE
restricted to one address given by the caller, no STUN/TURN, IPv6 off, no event handlers).
Janus refuses loopback interfaces for ICE, so the caller runs it inside a network namespace it
created itself with a veth address (see ``bench/netns.py``); nothing here leaves that namespace.

:class:`JanusClient` speaks the Janus HTTP API (create session, attach the videoroom plugin,
create a room, join / publish, subscribe / start) with a tiny asyncio HTTP/1.0 client (no extra
dependency, cancellable long polls); asynchronous plugin events come from one long-poll task per
session and are matched to requests by transaction id.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiortc import RTCPeerConnection, RTCSessionDescription

from bench.machine import die_with_parent
from bench.media_load import SfuAdapter, StreamInfo

JANUS_BINARY = "/usr/bin/janus"
JANUS_LIB = Path("/usr/lib/x86_64-linux-gnu/janus")
VIDEOROOM = "janus.plugin.videoroom"


class JanusError(Exception):
    """Janus did not start, or refused a request."""


def janus_version() -> str | None:
    if not Path(JANUS_BINARY).exists():
        return None
    result = subprocess.run([JANUS_BINARY, "--version"], capture_output=True, text=True, timeout=10, check=False)  # noqa: S603
    for line in result.stdout.splitlines():
        if line.startswith("Janus version:"):
            return line.split(":", 1)[1].strip()
    return None


def write_config(folder: Path, ice_address: str, http_port: int, debug_level: int) -> Path:
    """Write Janus's config folder; returns the path of janus.jcfg."""
    plugins = folder / "plugins"
    transports = folder / "transports"
    for sub in (plugins, transports, folder / "events", folder / "loggers"):
        sub.mkdir(parents=True, exist_ok=True)
    # Only these two shared objects are visible to Janus: no other plugin or transport loads.
    (plugins / "libjanus_videoroom.so").symlink_to(JANUS_LIB / "plugins" / "libjanus_videoroom.so")
    (transports / "libjanus_http.so").symlink_to(JANUS_LIB / "transports" / "libjanus_http.so")
    main = folder / "janus.jcfg"
    main.write_text(
        f"""general: {{
    configs_folder = "{folder}"
    plugins_folder = "{plugins}"
    transports_folder = "{transports}"
    events_folder = "{folder / "events"}"
    loggers_folder = "{folder / "loggers"}"
    debug_level = {debug_level}
    server_name = "sfu-bench"
    interface = "{ice_address}"
    session_timeout = 120
    admin_secret = "{secrets.token_hex(16)}"
}}
certificates: {{
}}
media: {{
    ipv6 = false
    ipv6_linklocal = false
    rtp_port_range = "20000-40000"
}}
nat: {{
    nice_debug = false
    full_trickle = false
    ice_lite = false
    ice_tcp = false
    ice_enforce_list = "{ice_address}"
    ignore_mdns = true
}}
plugins: {{
}}
transports: {{
}}
loggers: {{
    disable = "libjanus_jsonlog.so"
}}
events: {{
    broadcast = false
}}
"""
    )
    (folder / "janus.transport.http.jcfg").write_text(
        f"""general: {{
    json = "compact"
    base_path = "/janus"
    http = true
    port = {http_port}
    ip = "127.0.0.1"
    https = false
}}
admin: {{
    admin_http = false
    admin_https = false
}}
cors: {{
}}
"""
    )
    (folder / "janus.plugin.videoroom.jcfg").write_text("general: {\n}\n")
    return main


@dataclass
class JanusProcess:
    process: subprocess.Popen[bytes]
    folder: Path
    log_path: Path
    http_port: int

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def base_url(self) -> tuple[str, int, str]:
        return ("127.0.0.1", self.http_port, "/janus")

    def log_tail(self, lines: int = 40) -> list[str]:
        try:
            return self.log_path.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return []


def launch_janus(folder: Path, ice_address: str, http_port: int, debug_level: int) -> JanusProcess:
    """Write the config folder and start ``janus`` on it (does not wait for it)."""
    if not Path(JANUS_BINARY).exists():
        raise JanusError("janus is not installed: apt-get install janus (Debian package, 1.1.x)")
    config = write_config(folder, ice_address, http_port, debug_level)
    log_path = folder / "janus.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(  # noqa: S603 (fixed binary, our own arguments)
            [JANUS_BINARY, "-C", str(config), "-F", str(folder), "-o", "-L", str(log_path), "-N"],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=folder,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
    return JanusProcess(process=process, folder=folder, log_path=log_path, http_port=http_port)


@contextlib.asynccontextmanager
async def start_janus(
    folder: Path, ice_address: str, http_port: int = 8088, debug_level: int = 4, start_limit: float = 20.0
) -> AsyncIterator[JanusProcess]:
    """Start Janus with its own config in ``folder``; wait for its HTTP API; stop it on exit."""
    janus = launch_janus(folder, ice_address, http_port, debug_level)
    process = janus.process
    try:
        deadline = time.monotonic() + start_limit
        while True:
            if process.poll() is not None:
                raise JanusError(f"janus exited with {process.returncode}: " + " | ".join(janus.log_tail(15)))
            with contextlib.suppress(OSError, JanusError):
                info = await http_json("127.0.0.1", janus.http_port, "GET", "/janus/info", None, limit=2.0)
                if isinstance(info, dict) and info.get("janus") == "server_info":
                    break
            if time.monotonic() > deadline:
                raise JanusError("janus did not answer on its HTTP API: " + " | ".join(janus.log_tail(15)))
            await asyncio.sleep(0.1)
        yield janus
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGTERM)
            try:
                await asyncio.to_thread(process.wait, 10)
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGKILL)
                await asyncio.to_thread(process.wait, 10)


async def http_json(
    host: str,
    port: int,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    limit: float,
    connected: Callable[[asyncio.StreamWriter], None] | None = None,
) -> Any:
    """One HTTP/1.0 request (the server closes the connection) returning the JSON body."""
    payload = json.dumps(body).encode() if body is not None else b""
    head = f"{method} {path} HTTP/1.0\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
    head += f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n"

    async def exchange() -> bytes:
        reader, writer = await asyncio.open_connection(host, port)
        if connected is not None:
            connected(writer)
        try:
            writer.write(head.encode() + payload)
            await writer.drain()
            return await reader.read()
        finally:
            writer.transport.abort()

    raw = await asyncio.wait_for(exchange(), limit)
    header, _, content = raw.partition(b"\r\n\r\n")
    status_line = header.split(b"\r\n", 1)[0].decode(errors="replace")
    parts = status_line.split()
    if len(parts) < 2 or parts[1] != b"200".decode():
        raise JanusError(f"HTTP {status_line!r} for {method} {path}: {content[:200]!r}")
    return json.loads(content)


class JanusClient:
    """One Janus session (HTTP API) with a long-poll task dispatching events by transaction."""

    def __init__(self, host: str, port: int, base_path: str = "/janus", request_timeout: float = 20.0) -> None:
        self.host = host
        self.port = port
        self.base_path = base_path
        self.request_timeout = request_timeout
        self.session_id: int | None = None
        self._waiters: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._poller: asyncio.Task[None] | None = None
        self._poll_writer: asyncio.StreamWriter | None = None
        self._closing = False
        self.events_seen = 0

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        result = await http_json(self.host, self.port, "POST", path, body, self.request_timeout)
        if not isinstance(result, dict):
            raise JanusError(f"unexpected answer {result!r}")
        if result.get("janus") == "error":
            raise JanusError(f"janus error: {result.get('error')}")
        return result

    async def create_session(self) -> int:
        answer = await self._post(self.base_path, {"janus": "create", "transaction": secrets.token_hex(8)})
        self.session_id = int(answer["data"]["id"])
        self._poller = asyncio.create_task(self._poll(), name="janus-long-poll")
        return self.session_id

    @property
    def _session_path(self) -> str:
        if self.session_id is None:
            raise JanusError("no session")
        return f"{self.base_path}/{self.session_id}"

    async def attach(self, plugin: str = VIDEOROOM) -> int:
        answer = await self._post(
            self._session_path, {"janus": "attach", "plugin": plugin, "transaction": secrets.token_hex(8)}
        )
        return int(answer["data"]["id"])

    async def _poll(self) -> None:
        while not self._closing:
            try:
                result = await http_json(
                    self.host,
                    self.port,
                    "GET",
                    f"{self._session_path}?maxev=20&rid={time.monotonic_ns()}",
                    None,
                    40.0,
                    connected=self._set_poll_writer,
                )
            except (OSError, TimeoutError, JanusError, ValueError):
                await asyncio.sleep(0.2)
                continue
            events = result if isinstance(result, list) else [result]
            for event in events:
                if not isinstance(event, dict):
                    continue
                self.events_seen += 1
                waiter = self._waiters.get(str(event.get("transaction", "")))
                if waiter is not None and not waiter.done() and event.get("janus") in ("event", "error"):
                    waiter.set_result(event)

    async def message(
        self, handle: int, body: dict[str, Any], jsep: dict[str, Any] | None = None, wait_event: bool = True
    ) -> dict[str, Any]:
        """Send a plugin message; return its synchronous answer or (``wait_event``) its async event."""
        transaction = secrets.token_hex(8)
        request: dict[str, Any] = {"janus": "message", "body": body, "transaction": transaction}
        if jsep is not None:
            request["jsep"] = jsep
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiters[transaction] = waiter
        try:
            answer = await self._post(f"{self._session_path}/{handle}", request)
            if answer.get("janus") == "success" or not wait_event:
                return answer
            event = await asyncio.wait_for(waiter, self.request_timeout)
        finally:
            self._waiters.pop(transaction, None)
        if event.get("janus") == "error":
            raise JanusError(f"janus error: {event.get('error')}")
        data = event.get("plugindata", {}).get("data", {})
        if "error" in data:
            raise JanusError(f"videoroom error {data.get('error_code')}: {data['error']}")
        return event

    async def trickle_completed(self, handle: int) -> None:
        await self._post(
            f"{self._session_path}/{handle}",
            {"janus": "trickle", "candidate": {"completed": True}, "transaction": secrets.token_hex(8)},
        )

    def _set_poll_writer(self, writer: asyncio.StreamWriter) -> None:
        self._poll_writer = writer

    async def close(self) -> None:
        # Stop the long poll by closing its socket (not by cancelling a task blocked in a read:
        # that was seen to hang under uvloop), then give the task a moment to end.
        self._closing = True
        if self._poller is not None:
            if self._poll_writer is not None:
                self._poll_writer.transport.abort()
            done, _ = await asyncio.wait({self._poller}, timeout=3.0)
            if not done:
                self._poller.cancel()
        if self.session_id is not None:
            with contextlib.suppress(OSError, TimeoutError, JanusError, ValueError):
                await self._post(self._session_path, {"janus": "destroy", "transaction": secrets.token_hex(8)})
            self.session_id = None


def remove_folder(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


# --- the benchmark's adapter -----------------------------------------------------------------


class JanusAdapter(SfuAdapter):
    """Janus VideoRoom as the SFU under test: one room, publishers join + publish (client offers),
    subscribers join with every publisher's feed in one multistream handle (Janus offers)."""

    name = "janus"

    def __init__(self, folder: Path, ice_address: str, debug_level: int = 4) -> None:
        self.folder = folder
        self.ice_address = ice_address
        self.debug_level = debug_level
        self.room = 4242
        self._stack = contextlib.AsyncExitStack()
        self.process: JanusProcess | None = None
        self.client: JanusClient | None = None
        self.feeds: list[int] = []

    def _client(self) -> JanusClient:
        if self.client is None:
            raise JanusError("not connected")
        return self.client

    async def connect(self, publishers: int, subscribers: int) -> None:
        self.process = await self._stack.enter_async_context(
            start_janus(self.folder, self.ice_address, debug_level=self.debug_level)
        )
        host, port, base = self.process.base_url
        self.client = JanusClient(host, port, base)
        self._stack.push_async_callback(self.client.close)
        await self.client.create_session()
        handle = await self.client.attach()
        await self.client.message(
            handle,
            {
                "request": "create",
                "room": self.room,
                "description": "sfu-bench",
                "publishers": max(publishers, 1),
                "bitrate": 0,
                "fir_freq": 0,
                "audiocodec": "opus",
                "videocodec": "vp8",
                "notify_joining": False,
                "is_private": True,
                "permanent": False,
            },
        )

    async def publish(self, index: int, pc: RTCPeerConnection) -> None:
        client = self._client()
        handle = await client.attach()
        feed = 1000 + index
        await client.message(
            handle, {"request": "join", "ptype": "publisher", "room": self.room, "id": feed, "display": f"pub{index}"}
        )
        await pc.setLocalDescription(await pc.createOffer())
        event = await client.message(
            handle,
            {"request": "publish", "audio": True, "video": True},
            jsep={"type": "offer", "sdp": pc.localDescription.sdp},
        )
        jsep = event.get("jsep")
        if not jsep:
            raise JanusError(f"publish answered without SDP: {event}")
        await pc.setRemoteDescription(RTCSessionDescription(sdp=jsep["sdp"], type=jsep["type"]))
        await client.trickle_completed(handle)
        self.feeds.append(feed)

    async def subscribe(self, index: int, pc: RTCPeerConnection, publishers: int) -> dict[str, StreamInfo]:
        client = self._client()
        handle = await client.attach()
        event = await client.message(
            handle,
            {
                "request": "join",
                "ptype": "subscriber",
                "room": self.room,
                "streams": [{"feed": feed} for feed in self.feeds],
            },
        )
        jsep = event.get("jsep")
        if not jsep:
            raise JanusError(f"subscriber join answered without SDP: {event}")
        streams: dict[str, StreamInfo] = {}
        for stream in event["plugindata"]["data"].get("streams", []):
            kind = stream.get("type")
            if kind in ("audio", "video") and "feed_id" in stream:
                streams[str(stream["mid"])] = StreamInfo(publisher=self.feeds.index(int(stream["feed_id"])), kind=kind)
        if index == 0:  # for debugging: the temp dir survives the run with --keep-temp
            (self.folder / "subscriber0-offer.sdp").write_text(jsep["sdp"])
            (self.folder / "subscriber0-streams.json").write_text(json.dumps(event["plugindata"]["data"], indent=1))
        await pc.setRemoteDescription(RTCSessionDescription(sdp=jsep["sdp"], type=jsep["type"]))
        await pc.setLocalDescription(await pc.createAnswer())
        await client.message(
            handle, {"request": "start", "room": self.room}, jsep={"type": "answer", "sdp": pc.localDescription.sdp}
        )
        await client.trickle_completed(handle)
        return streams

    def sfu_pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": janus_version(),
            "plugin": VIDEOROOM,
            "ice_address": self.ice_address,
            "debug_level": self.debug_level,
        }

    def log_tail(self, lines: int = 30) -> list[str]:
        return self.process.log_tail(lines) if self.process is not None else []

    async def close(self) -> None:
        await self._stack.aclose()

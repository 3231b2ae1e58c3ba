"""Our SFU worker (``media_workers.router.Router``) as a target of ``bench/sfu.py``.

The Router runs in a child process (``bench/worker_host.py``) so that its CPU is measured apart
from the load generator's, like Janus's. Signalling follows docs/sfu-media.md: the client
offers, the worker answers; publishers send one audio + one camera section; subscribers offer
receive slots (audio + video, plus the screen slot that a second video slot implies) and learn
what each slot shows from ``slots_changed`` events, by MID.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import sys
from typing import Any

from aiortc import RTCPeerConnection, RTCSessionDescription

from bench.media_load import Kind, SfuAdapter, StreamInfo, prefer_codecs


class WorkerError(Exception):
    pass


class WorkerAdapter(SfuAdapter):
    name = "worker"

    def __init__(self, ice_address: str, use_uvloop: bool = True, answer_limit: float = 30.0) -> None:
        self.ice_address = ice_address
        self.use_uvloop = use_uvloop
        self.answer_limit = answer_limit
        self.process: asyncio.subprocess.Process | None = None
        self._ids = itertools.count(1)
        self._waiters: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._streams: dict[str, dict[str, StreamInfo]] = {}  # peer id -> MID -> stream (kept current)
        self._reader: asyncio.Task[None] | None = None
        self.failures: list[str] = []

    async def connect(self, publishers: int, subscribers: int) -> None:
        command = [sys.executable, "-m", "bench.worker_host", "--ice-address", self.ice_address]
        command += ["--audio-slots", str(max(3, publishers)), "--video-slots", str(max(9, publishers))]
        if self.use_uvloop:
            command.append("--uvloop")
        self.process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=dict(os.environ),
            limit=16 * 1024 * 1024,  # answers are one long line each
        )
        self._reader = asyncio.create_task(self._read(), name="worker-host-reader")

    async def _read(self) -> None:
        if self.process is None or self.process.stdout is None:
            return
        while line := await self.process.stdout.readline():
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if message.get("event") == "slots":
                streams = self._streams.setdefault(message["peer_id"], {})
                fresh: dict[str, StreamInfo] = {}
                for mid, (participant, kind) in message["mapping"].items():
                    if kind in ("audio", "video") and participant.startswith("pub"):
                        fresh[mid] = StreamInfo(publisher=int(participant[3:]), kind=kind)
                streams.clear()
                streams.update(fresh)  # in place: the subscriber's hooks read this very dict
            elif message.get("event") == "peer_failed":
                self.failures.append(f"{message.get('peer_id')}: {message.get('error')}")
            else:
                waiter = self._waiters.pop(int(message.get("id") or 0), None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(message)
        for waiter in self._waiters.values():
            if not waiter.done():
                waiter.set_exception(WorkerError("the worker host exited"))

    async def _request(self, request: dict[str, Any]) -> dict[str, Any]:
        if self.process is None or self.process.stdin is None:
            raise WorkerError("not connected")
        request_id = next(self._ids)
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiters[request_id] = waiter
        self.process.stdin.write((json.dumps({"id": request_id, **request}) + "\n").encode())
        await self.process.stdin.drain()
        reply = await asyncio.wait_for(waiter, self.answer_limit)
        if "error" in reply:
            raise WorkerError(f"worker refused {request.get('op')}: {reply['error']}")
        return reply

    async def publish(self, index: int, pc: RTCPeerConnection) -> None:
        await pc.setLocalDescription(await pc.createOffer())
        roles = {
            transceiver.mid or "": "audio" if transceiver.kind == "audio" else "camera-high"
            for transceiver in pc.getTransceivers()
        }
        reply = await self._request(
            {"op": "add_peer", "peer_id": f"pub{index}", "offer": pc.localDescription.sdp, "roles": roles}
        )
        await pc.setRemoteDescription(RTCSessionDescription(sdp=reply["answer"], type="answer"))

    async def subscribe(self, index: int, pc: RTCPeerConnection, publishers: int) -> dict[str, StreamInfo]:
        audio: list[Kind] = ["audio"]
        video: list[Kind] = ["video"]
        kinds = audio * publishers + video * publishers
        if publishers >= 2:
            kinds += video  # the last of 2+ video slots is the screen slot (docs/sfu-media.md)
        for kind in kinds:
            prefer_codecs(pc.addTransceiver(kind, direction="recvonly"), kind)
        peer_id = f"sub{index}"
        streams = self._streams.setdefault(peer_id, {})
        await pc.setLocalDescription(await pc.createOffer())
        reply = await self._request({"op": "add_peer", "peer_id": peer_id, "offer": pc.localDescription.sdp})
        await pc.setRemoteDescription(RTCSessionDescription(sdp=reply["answer"], type="answer"))
        return streams

    def sfu_pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "process": "bench/worker_host.py: one media_workers Router in a child process",
            "ice_address": self.ice_address,
            "event_loop": "uvloop" if self.use_uvloop else "asyncio",
        }

    async def settle(self) -> None:
        await self._request({"op": "settle"})

    async def stats(self) -> dict[str, Any] | None:
        with contextlib.suppress(WorkerError, TimeoutError, OSError):
            reply = await self._request({"op": "stats"})
            stats = reply.get("stats")
            return stats if isinstance(stats, dict) else None
        return None

    async def close(self) -> None:
        if self.process is None:
            return
        with contextlib.suppress(WorkerError, TimeoutError, OSError, ConnectionError):
            await self._request({"op": "close"})
        try:
            await asyncio.wait_for(self.process.wait(), 10)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
        if self._reader is not None:
            await asyncio.wait({self._reader}, timeout=2)

"""Child process of ``bench.sfu --target worker``: one ``media_workers`` Router, nothing else.

The benchmark measures the CPU of the SFU process apart from its own (the load generator), so
our worker's Router runs here, in a process of its own, like Janus does. It is driven by JSON
lines on stdin and answers on stdout (one object a line)::

    {"id": 1, "op": "add_peer", "peer_id": "pub0", "offer": "v=0...", "roles": {"0": "audio"}}
    -> {"id": 1, "answer": "v=0..."}            or {"id": 1, "error": "bad_sdp: ..."}
    {"id": 2, "op": "stats"}  -> {"id": 2, "stats": {...RouterStats...}}
    {"id": 3, "op": "close"}  -> {"id": 3, "closed": true}, then the process exits
    events: {"event": "slots", "peer_id": "sub0", "mapping": {"3": ["pub0", "video"]}}
            {"event": "peer_failed", "peer_id": "sub0", "error": "..."}

It imports only ``media_workers`` (not Django), and runs inside the benchmark's network
namespace (it is a child of the benchmark process).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
from collections.abc import Sequence
from typing import Any

from media_workers.collector import CollectorPolicy
from media_workers.errors import MediaError
from media_workers.router import Router, SlotSource
from media_workers.router_config import RouterConfig


def emit(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


class Listener:
    def slots_changed(self, peer_id: str, mapping: dict[str, SlotSource]) -> None:
        emit(
            {
                "event": "slots",
                "peer_id": peer_id,
                "mapping": {mid: [source.participant, source.kind] for mid, source in mapping.items()},
            }
        )

    def dominant_speaker(self, peer_id: str | None) -> None:
        pass

    def peer_failed(self, peer_id: str, error: MediaError) -> None:
        emit({"event": "peer_failed", "peer_id": peer_id, "error": str(error)})


async def handle(router: Router, collector: CollectorPolicy, request: dict[str, Any]) -> dict[str, Any]:
    reply: dict[str, Any] = {"id": request.get("id")}
    op = request.get("op")
    try:
        if op == "add_peer":
            reply["answer"] = await router.add_peer(request["peer_id"], request["offer"], request.get("roles"))
        elif op == "stats":
            reply["stats"] = dataclasses.asdict(router.stats())
        elif op == "settle":  # before a measurement: the worker's pending garbage collected now
            collector.settle()
            reply["settled"] = True
        else:
            reply["error"] = f"unknown op {op!r}"
    except MediaError as exc:
        reply["error"] = f"{exc.code}: {exc}"
    return reply


async def serve(options: argparse.Namespace) -> None:
    config = RouterConfig(
        ice_addresses=(options.ice_address,),
        audio_slots=options.audio_slots,
        video_slots=options.video_slots,
        ice_timeout=30.0,
        bandwidth_layers=False,
    )
    router = Router("sfu-bench", config, Listener())
    # The worker's garbage collection policy, as `python -m media_workers` runs it.
    collector = CollectorPolicy(busy=lambda: bool(router.peer_ids))
    collector.start()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    tasks: set[asyncio.Task[None]] = set()

    async def answer(request: dict[str, Any]) -> None:
        emit(await handle(router, collector, request))

    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            request = json.loads(line)
            if request.get("op") == "close":
                await router.close()
                emit({"id": request.get("id"), "closed": True})
                return
            task = asyncio.create_task(answer(request))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
    finally:
        await collector.stop()
        if not router.closed:
            await router.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ice-address", required=True)
    parser.add_argument("--audio-slots", type=int, default=3)
    parser.add_argument("--video-slots", type=int, default=9)
    parser.add_argument("--uvloop", action="store_true")
    options = parser.parse_args(argv)
    if options.uvloop:
        import uvloop

        uvloop.install()
    asyncio.run(serve(options))
    return 0


if __name__ == "__main__":
    sys.exit(main())

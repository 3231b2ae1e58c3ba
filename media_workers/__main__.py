"""``python -m media_workers``: one SFU worker process (uvloop). SIGTERM drains it; SIGINT too
(a second signal hands the remaining rooms back at once)."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

import uvloop

from media_workers.config import ConfigError, WorkerConfig, load_config
from media_workers.runner import Worker, media_router_factory


async def serve(config: WorkerConfig) -> None:
    worker = Worker(config, media_router_factory(config))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, worker.request_drain)
    await worker.run()


def main() -> int:
    try:
        config = load_config()
    except ConfigError as exc:
        print(f"media worker: bad configuration: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=config.log_level,
        format=f"%(asctime)s %(levelname)s {config.worker_id} %(name)s: %(message)s",
    )
    uvloop.run(serve(config))
    return 0


if __name__ == "__main__":
    sys.exit(main())

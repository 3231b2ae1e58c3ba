"""The end of a background loop: cancel it and wait for its exit, with a bound, so that a stop
never hangs on a loop stuck in a library call (for example on a Redis that just went away)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

logger = logging.getLogger(__name__)

STOP_TIMEOUT = 5.0


async def cancel_and_wait(task: asyncio.Task[Any], within: float = STOP_TIMEOUT) -> bool:
    """Cancels ``task`` and waits until it has exited; False (logged) if it did not in time."""
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=within)
    if not done:
        logger.error("%s did not stop within %g s; leaving it behind", task.get_name(), within)
        return False
    if not task.cancelled() and task.exception() is not None:
        logger.error("%s failed", task.get_name(), exc_info=task.exception())
    return True

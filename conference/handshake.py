"""The user lookup of a WebSocket handshake, on a thread of its own.

Channels runs every ``database_sync_to_async`` call of a process on one shared thread, in
order, and its ``AuthMiddleware`` resolves the session's user there before the consumer runs.
In a join storm that thread holds the joins in hand (up to ``MEETING_JOIN_CONCURRENCY``) and
the hellos of earlier newcomers, and daphne rejects a handshake that takes more than 5 s: with
1,000 clients connecting at once, 47 were dropped ("did not receive a valid HTTP response").
Here the user is resolved on this module's thread (one thread: the lookups are small and queue
only behind each other; it has its own database connection), and the consumer accepts the
socket first thing; its ``hello`` then waits its turn on the database thread, in arrival order
with the joins.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from channels.auth import AuthMiddleware, get_user
from channels.db import DatabaseSyncToAsync
from channels.sessions import CookieMiddleware, SessionMiddleware
from django.db import connections

T = TypeVar("T")

EXECUTOR = ThreadPoolExecutor(max_workers=1, thread_name_prefix="handshake")


def on_handshake_thread(func: Callable[..., T]) -> Callable[..., Awaitable[T]]:
    """``database_sync_to_async(func)`` on the handshake thread (stale connections are closed
    before and after, as with Channels' own)."""
    wrapped: Callable[..., Awaitable[T]] = DatabaseSyncToAsync(func, thread_sensitive=False, executor=EXECUTOR)
    return wrapped


_resolve_user = on_handshake_thread(get_user.func)


class HandshakeAuthMiddleware(AuthMiddleware):
    """Channels' ``AuthMiddleware``, resolving the user on the handshake thread."""

    async def resolve_scope(self, scope: dict[str, Any]) -> None:
        scope["user"]._wrapped = await _resolve_user(scope)


def auth_stack(inner: Any) -> Any:
    """``AuthMiddlewareStack`` with ``HandshakeAuthMiddleware``."""
    return CookieMiddleware(SessionMiddleware(HandshakeAuthMiddleware(inner)))


async def close_connections() -> None:
    """Closes the handshake thread's database connections (tests, at the end of each)."""
    await sync_to_async(connections.close_all, thread_sensitive=False, executor=EXECUTOR)()

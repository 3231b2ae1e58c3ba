"""The environment for servers a test starts as real processes (daphne, SFU workers, Celery
workers): this run's settings, its test database and Redis, and nothing of the test process's
own overrides."""

from __future__ import annotations

import os
import socket
from urllib.parse import quote

from django.db import connection


def server_database_url() -> str:
    """The test database pytest-django created (data a transactional test commits is visible)."""
    db = connection.settings_dict
    password = f":{quote(str(db['PASSWORD']), safe='')}" if db.get("PASSWORD") else ""
    return f"postgres://{quote(str(db['USER']), safe='')}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def server_environment(**overrides: str) -> dict[str, str]:
    """This process's environment without its test-only ORM override (the Playwright fixture
    allows sync ORM calls next to its event loop; a server must not inherit that)."""
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env.update(overrides)
    return env


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])

"""Shared fixtures: users with roles (owner, member = co-host, outsider), a meeting, clients.

Every endpoint test uses these to show both the success of the right person and the
refusal of someone who must not get in.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.cache import cache
from django.test import Client
from rest_framework.test import APIClient

from accounts.actions import do_create_api_token
from accounts.models import User
from meetings.models import Meeting
from tests.factories import make_meeting, make_user
from tests.sfu_workers import SfuWorker, SfuWorkers
from tests.web_servers import WebProcess


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    """Throttle counters and cached sessions live in Redis: start every test from zero."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def owner(db: None) -> User:
    return make_user(username="olivia", email="olivia@example.com")


@pytest.fixture
def member(db: None) -> User:
    """A co-host of ``meeting``."""
    return make_user(username="marco", email="marco@example.com")


@pytest.fixture
def outsider(db: None) -> User:
    return make_user(username="oscar", email="oscar@example.com")


@pytest.fixture
def meeting(owner: User, member: User) -> Meeting:
    meeting = make_meeting(owner=owner, title="Weekly sync")
    meeting.co_hosts.add(member)
    return meeting


def api_client_for(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        _, secret = do_create_api_token(user, "tests")
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture
def anon_api() -> APIClient:
    return APIClient()


@pytest.fixture
def owner_api(owner: User) -> APIClient:
    return api_client_for(owner)


@pytest.fixture
def member_api(member: User) -> APIClient:
    return api_client_for(member)


@pytest.fixture
def outsider_api(outsider: User) -> APIClient:
    return api_client_for(outsider)


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def owner_client(owner: User) -> Client:
    return logged_in(owner)


@pytest.fixture
def member_client(member: User) -> Client:
    return logged_in(member)


@pytest.fixture
def outsider_client(outsider: User) -> Client:
    return logged_in(outsider)


@pytest.fixture
def sfu_workers(tmp_path: Path) -> Iterator[SfuWorkers]:
    """Real SFU worker processes (``python -m media_workers``), started by the test with
    ``start()``, on the test Redis and the test run's channel-layer prefix, with Redis keys of
    this test's own. All are stopped at the end."""
    workers = SfuWorkers(folder=tmp_path, key_prefix=f"sfu-e2e-{uuid.uuid4().hex[:8]}")
    try:
        yield workers
    finally:
        workers.stop_all()
    for worker in workers.started:
        print(f"--- SFU worker {worker.worker_id} log (tail) ---\n{worker.log_tail()}")


@pytest.fixture
def sfu_worker(sfu_workers: SfuWorkers) -> SfuWorker:
    return sfu_workers.start()


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[list[WebProcess]]:
    """Web processes a test starts (tests/web_servers.py): stopped at the end, and their logs
    must hold no unhandled exception."""
    started: list[WebProcess] = []
    yield started
    for server in started:
        server.stop()
    for server in started:
        print(f"--- {server.log.name} (tail) ---\n{server.log_text()[-3000:]}")  # shown when a test fails
        crashes = server.log_text().count("Exception inside application")
        assert crashes == 0, f"{server.log.name}: {crashes} unhandled exception(s)"

"""Webhook fixtures: a real HTTP receiver on loopback, webhooks of the role users (from
tests/conftest.py) pointing at it, and settings for fast retries.

Delivering to the loopback receiver needs ``WEBHOOKS_ALLOW_PRIVATE_TARGETS`` (off by default):
the fixtures that register webhooks to it turn it on.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pytest_django.fixtures import Settings as SettingsWrapper

from accounts.models import User

# Tasks run at once in this process; recordings built and composed as the recordings tests do.
from tests.recordings.conftest import eager_celery, make_recording, spool, spooled, track_files  # noqa: F401
from tests.webhooks.receiver import Receiver
from webhooks import actions
from webhooks.events import SUBSCRIBABLE
from webhooks.models import Webhook

MakeWebhook = Callable[..., Webhook]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def private_targets(settings: SettingsWrapper) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True


@pytest.fixture
def fast_retries(settings: SettingsWrapper) -> None:
    """Retries at once (base 0: the backoff schedule itself is unit-tested) and short timeouts."""
    settings.WEBHOOKS_BACKOFF_SECONDS = 0
    settings.WEBHOOKS_TIMEOUT_SECONDS = 2


@pytest.fixture
def make_webhook(receiver: Receiver, private_targets: None, owner: User) -> MakeWebhook:
    """Registers a webhook through the actions, by default the owner's, to the receiver, for every event."""

    def make(user: User | None = None, events: list[str] | None = None, path: str = "/hooks/conference") -> Webhook:
        changes = actions.WebhookChanges(url=receiver.url(path), events=list(events or SUBSCRIBABLE))
        return actions.do_create_webhook(user or owner, changes)

    return make


def fake_dns(monkeypatch: pytest.MonkeyPatch, name: str, answers: list[str]) -> None:
    """``name`` resolves to ``answers`` (in that order); other names as usual."""
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        if host != name:
            return real(host, port, *args, **kwargs)
        return [
            (
                socket.AF_INET6 if ":" in answer else socket.AF_INET,
                socket.SOCK_STREAM,
                socket.IPPROTO_TCP,
                "",
                (answer, port, 0, 0) if ":" in answer else (answer, port),
            )
            for answer in answers
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)

"""Helpers shared by the browser tests: the running server, and signing a browser in."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.test import Client
from playwright.sync_api import BrowserContext

from accounts.models import User


@dataclass(frozen=True)
class AsgiServer:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def sign_in(context: BrowserContext, server: AsgiServer, user: User) -> None:
    """Give the browser a session of ``user`` (made by Django's test client)."""
    client = Client()
    client.force_login(user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": session,
                "url": server.url,
                "httpOnly": True,
                "sameSite": "Lax",
            }
        ]
    )

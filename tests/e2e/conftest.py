"""Browser end-to-end fixtures: a real daphne (ASGI, WebSockets) on the test database, and
headless Chromium (Debian's ``chromium``) driven by Playwright with a fake camera and microphone.

pytest-django's ``live_server`` speaks WSGI only, so ``asgi_server`` starts daphne in a
subprocess on the database of the ``transactional_db`` fixture (data committed by the test is
visible to it) and the Redis of the test run (``REDIS_URL``).
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connections
from playwright.sync_api import Browser, Playwright, sync_playwright

from tests.e2e.support import AsgiServer
from tests.subprocesses import free_port, server_database_url, server_environment
from tests.web_servers import healthy

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
# See MEDIA-NOTES.md ("Chromium"). The fake UI flag also answers getDisplayMedia: headless
# Chromium 156 then captures a synthetic 1280x720 "screen" without any picker, so no
# --auto-select-*-capture-source flag is needed (they made no difference here).
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
]
SERVER_START_TIMEOUT = 60.0


@pytest.fixture
def asgi_env() -> dict[str, str]:
    """Extra environment for the daphne process (a test module may override this fixture)."""
    return {}


@pytest.fixture
def asgi_server(transactional_db: None, tmp_path: Path, asgi_env: dict[str, str]) -> Iterator[AsgiServer]:
    port = free_port()
    env = {
        **server_environment(),
        **asgi_env,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": server_database_url(),
        # The test settings run with DEBUG off, so session cookies are Secure and Chromium
        # would not send them back over plain http to 127.0.0.1. Only this process is told
        # otherwise; the production default stays secure.
        "SECURE_COOKIES": "false",
        "LOG_LEVEL": "WARNING",
    }
    log = tmp_path / "daphne.log"
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 (a fixed command line)
            [sys.executable, "-m", "conference.web_process", "-b", "127.0.0.1", "-p", str(port),
             "conference.asgi:application"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    server = AsgiServer(url=f"http://127.0.0.1:{port}", process=process, log=log)
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while not healthy(server.url):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"daphne did not come up on port {port}:\n{server.log_tail()}")
            time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
    # Shown by pytest only when the test fails.
    print(f"--- daphne log (tail) ---\n{server.log_tail()}")
    crashes = server.log.read_text(errors="replace").count("Exception inside application")
    assert crashes == 0, f"the server logged {crashes} unhandled exception(s):\n{server.log_tail(200)}"


@pytest.fixture
def playwright(monkeypatch: pytest.MonkeyPatch) -> Iterator[Playwright]:
    """Playwright's driver, stopped at the end of each test: its sync API keeps an asyncio loop
    running in this thread, and Django refuses ORM calls (test data, force_login, the database
    flush after the test) while one runs. Only the driver uses that loop, so the ORM is safe
    meanwhile; the daphne subprocess does not inherit the override (see asgi_server)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install the Debian package chromium (scripts/install does)")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as driver:
        yield driver
        # Django's connections are context-local: one opened while the driver's loop ran must be
        # closed now, or it keeps the test database from being dropped at the end of the run.
        connections.close_all()


@pytest.fixture
def chromium_args() -> list[str]:
    """Chromium's command line flags (a test module may override this fixture to add some)."""
    return list(CHROMIUM_FLAGS)


@pytest.fixture
def browser(playwright: Playwright, chromium_args: list[str]) -> Iterator[Browser]:
    chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=chromium_args, headless=True)
    try:
        yield chromium
    finally:
        chromium.close()

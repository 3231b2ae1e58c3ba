"""Real web processes for tests: daphne (or the ``conference.webserver`` launcher of several) on
the test database and Redis, and a small synchronous WebSocket client for the meeting protocol."""

from __future__ import annotations

import json
import re
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from typing import Any

from django.conf import settings
from django.test import Client
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

from accounts.models import User
from tests.subprocesses import free_port, server_database_url, server_environment

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT = 90.0
MESSAGE_TIMEOUT = 30.0


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=5) as response:  # noqa: S310 (our own http URL)
            return int(response.status) == 200
    except (urllib.error.URLError, OSError):
        return False


def web_environment(**extra: str) -> dict[str, str]:
    """A web process's environment: this run's settings, its test database (data a transactional
    test commits is visible) and Redis."""
    return server_environment(
        DJANGO_SETTINGS_MODULE="tests.settings",
        DATABASE_URL=server_database_url(),
        SECURE_COOKIES="false",
        LOG_LEVEL="WARNING",
        **extra,
    )


@dataclass
class WebProcess:
    """A web server process on 127.0.0.1: daphne itself, or the launcher of several."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while not healthy(self.url):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"no web server on port {self.port}:\n{self.log_text()[-4000:]}")
            time.sleep(0.2)

    def kill(self) -> None:
        """kill -9: no goodbye to anyone; its sockets just drop."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def start_web(folder: Path, name: str, command: list[str], port: int | None = None) -> WebProcess:
    port = port or free_port()
    log = folder / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 (fixed command lines)
            [sys.executable, *command], cwd=ROOT, env=web_environment(), stdout=out, stderr=subprocess.STDOUT
        )
    server = WebProcess(process=process, port=port, log=log)
    try:
        server.wait_healthy()
    except BaseException:
        server.stop()
        raise
    return server


def start_daphne(folder: Path, name: str) -> WebProcess:
    port = free_port()
    return start_web(
        folder,
        name,
        ["-m", "conference.web_process", "-b", "127.0.0.1", "-p", str(port), "conference.asgi:application"],
        port,
    )


def start_launcher(folder: Path, processes: int) -> WebProcess:
    port = free_port()
    command = ["-m", "conference.webserver", "--port", str(port), "--processes", str(processes), "--stop-timeout", "10"]
    return start_web(folder, "launcher", command, port)


def started_pids(log: str) -> dict[int, list[int]]:
    """The launcher's log: web process number → the pids it started for it, in order."""
    pids: dict[int, list[int]] = {}
    for number, pid in re.findall(r"web process (\d+) started \(pid (\d+)\)", log):
        pids.setdefault(int(number), []).append(int(pid))
    return pids


@dataclass
class Peer:
    """One meeting WebSocket, read synchronously; messages not waited for are kept in order."""

    ws: ClientConnection
    seen: list[dict[str, Any]] = field(default_factory=list)
    joined: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def connect(cls, server: WebProcess, code: str, cookie: str | None = None) -> Peer:
        headers = {"Cookie": cookie} if cookie else None
        ws = connect(
            f"ws://127.0.0.1:{server.port}/ws/meetings/{code}/",
            origin=Origin(server.url),
            additional_headers=headers,
            open_timeout=MESSAGE_TIMEOUT,
            close_timeout=2,
            max_size=None,
        )
        peer = cls(ws)
        peer.expect("hello")
        return peer

    @property
    def id(self) -> str:
        return str(self.joined["you"]["id"])

    def send(self, message: dict[str, Any]) -> None:
        self.ws.send(json.dumps(message))

    def join(self, **fields: Any) -> dict[str, Any]:
        self.send({"type": "join", **fields})
        self.joined = self.expect("joined")
        return self.joined

    def expect(self, kind: str, timeout: float = MESSAGE_TIMEOUT, **fields: Any) -> dict[str, Any]:
        """The first message of this type (and these field values), waiting for it if needed."""

        def fits(message: dict[str, Any]) -> bool:
            return message["type"] == kind and all(message.get(k) == v for k, v in fields.items())

        for index, message in enumerate(self.seen):
            if fits(message):
                return self.seen.pop(index)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {kind} {fields or ''} within {timeout} s; got {self.seen}")
            try:
                message = json.loads(self.ws.recv(timeout=left))
            except TimeoutError:
                continue
            if fits(message):
                return dict(message)
            self.seen.append(message)

    def take_in(self, wait: float) -> list[dict[str, Any]]:
        """Everything that arrives within ``wait`` seconds (kept, and returned)."""
        deadline = time.monotonic() + wait
        while (left := deadline - time.monotonic()) > 0:
            try:
                self.seen.append(json.loads(self.ws.recv(timeout=left)))
            except (TimeoutError, ConnectionClosed):
                break
        return self.seen

    def wait_closed(self, timeout: float = MESSAGE_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.seen.append(json.loads(self.ws.recv(timeout=deadline - time.monotonic())))
            except ConnectionClosed:
                return
            except TimeoutError:
                break
        raise AssertionError("the connection stayed open")

    def close(self) -> None:
        self.ws.close()


def session_cookie(user: User) -> str:
    browser = Client()
    browser.force_login(user)
    name = settings.SESSION_COOKIE_NAME
    return f"{name}={browser.cookies[name].value}"


def guest_cookie() -> str:
    """A guest's browser session, as the meeting page starts it (``guest_key``)."""
    session = import_module(settings.SESSION_ENGINE).SessionStore()
    session["guest_key"] = secrets.token_urlsafe(16)
    session.create()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"

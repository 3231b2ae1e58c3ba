"""Several daphne web processes on one port: ``python -m conference.webserver``.

One daphne process runs on one core. This launcher binds the listening socket once, then starts
``WEB_PROCESSES`` daphne processes (default: one per core) that all accept on it (``daphne
--fd``: the kernel hands each new connection to a process waiting in ``accept``, so a busy
process takes fewer). IPv4 only (daphne adopts inherited sockets as AF_INET); for IPv6, put
the front proxy on it. Any process serves any participant of any room: they share the database
and the Redis channel layer, and nothing of a meeting lives in one process only.

A process that dies takes only its own connections (their browsers reconnect, land on another
process and resume); the launcher starts a new one after a short back-off. SIGTERM or SIGINT
stops every process (SIGTERM to each, SIGKILL after ``--stop-timeout``).

Production runs the same layout behind nginx or HAProxy (TLS, WebSocket upgrade passed on), with
this launcher (or N systemd units with ``daphne --fd`` / their own ports) on each web host; no
sticky sessions are needed (README, "Running in production").
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import FrameType

logger = logging.getLogger("conference.webserver")

#: How long a process must have run for its exit to count as a crash of a running server rather
#: than a failure to start (starting takes seconds, more on a loaded machine); failures to start
#: back off longer and longer.
HEALTHY_AFTER_SECONDS = 120.0
MAX_BACKOFF_SECONDS = 30.0


@dataclass
class Slot:
    """One of the N web processes: the running one, when it started, how often it failed."""

    number: int
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    failures: int = 0
    restart_at: float = 0.0


@dataclass
class Options:
    host: str
    port: int
    processes: int
    backlog: int
    stop_timeout: float
    daphne_args: list[str] = field(default_factory=list)
    application: str = "conference.asgi:application"


def default_processes() -> int:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, usable)


def parse_options(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0] if __doc__ else None)
    parser.add_argument("--host", default=os.environ.get("WEB_HOST", "127.0.0.1"), help="address (WEB_HOST)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("WEB_PORT", "8000")), help="port (WEB_PORT)")
    parser.add_argument(
        "--processes",
        type=int,
        default=int(os.environ.get("WEB_PROCESSES", "0")) or default_processes(),
        help="daphne processes (WEB_PROCESSES; default: one per usable core)",
    )
    parser.add_argument("--backlog", type=int, default=1024, help="listen backlog (a join storm queues here)")
    parser.add_argument("--stop-timeout", type=float, default=10.0, help="seconds before SIGKILL on stop")
    args, daphne_args = parser.parse_known_args(argv)
    if args.processes < 1 or not 0 < args.port < 65536:
        parser.error("--processes must be >= 1 and --port 1..65535")
    if ":" in args.host:
        parser.error("--host: an IPv4 address (daphne adopts inherited sockets as IPv4 only)")
    return Options(
        host=args.host,
        port=args.port,
        processes=args.processes,
        backlog=args.backlog,
        stop_timeout=args.stop_timeout,
        daphne_args=[arg for arg in daphne_args if arg != "--"],
    )


def listening_socket(host: str, port: int, backlog: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


class Launcher:
    def __init__(self, options: Options, sock: socket.socket) -> None:
        self.options = options
        self.sock = sock
        self.slots = [Slot(number) for number in range(1, options.processes + 1)]
        self.stopping = False

    def command(self) -> list[str]:
        fd = str(self.sock.fileno())
        return [
            sys.executable,
            "-m",
            "conference.web_process",
            "--fd",
            fd,
            *self.options.daphne_args,
            self.options.application,
        ]

    def start(self, slot: Slot) -> None:
        env = {**os.environ, "WEB_PROCESS_NUMBER": str(slot.number)}
        slot.process = subprocess.Popen(self.command(), pass_fds=(self.sock.fileno(),), env=env)  # noqa: S603
        slot.started_at = time.monotonic()
        logger.info("web process %d started (pid %d)", slot.number, slot.process.pid)

    def reap(self) -> None:
        """Notes processes that exited and schedules their restart, with back-off."""
        now = time.monotonic()
        for slot in self.slots:
            if slot.process is None or slot.process.poll() is None:
                continue
            code = slot.process.returncode
            ran = now - slot.started_at
            slot.failures = 0 if ran >= HEALTHY_AFTER_SECONDS else slot.failures + 1
            delay = min(MAX_BACKOFF_SECONDS, 0.5 * 2**slot.failures)
            slot.process, slot.restart_at = None, now + delay
            logger.warning(
                "web process %d exited with %s after %.1f s; a new one starts in %.1f s", slot.number, code, ran, delay
            )

    def run(self) -> int:
        logger.info(
            "serving http://%s:%d with %d daphne processes", self.options.host, self.options.port, len(self.slots)
        )
        for slot in self.slots:
            self.start(slot)
        while not self.stopping:
            time.sleep(0.2)
            self.reap()
            for slot in self.slots:
                if slot.process is None and not self.stopping and time.monotonic() >= slot.restart_at:
                    self.start(slot)
        return self.stop()

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True

    def stop(self) -> int:
        running = [slot.process for slot in self.slots if slot.process is not None and slot.process.poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.options.stop_timeout
        for process in running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        logger.info("stopped")
        return 0


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    options = parse_options(argv)
    try:
        sock = listening_socket(options.host, options.port, options.backlog)
    except OSError as exc:
        logger.error("cannot listen on %s:%d: %s", options.host, options.port, exc)
        return 1
    launcher = Launcher(options, sock)
    signal.signal(signal.SIGTERM, launcher.request_stop)
    signal.signal(signal.SIGINT, launcher.request_stop)
    return launcher.run()


if __name__ == "__main__":
    sys.exit(main())

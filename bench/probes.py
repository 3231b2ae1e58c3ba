"""Looking at local servers from outside: a free port, an HTTP status, Redis commands and INFO,
and the lines of a server's log file. Plain sockets and files, no client libraries."""

from __future__ import annotations

import contextlib
import socket
from pathlib import Path

# What the benchmarks count in a daphne log (``log_counts``): name -> text of the line.
LOG_PATTERNS = {
    "errors": " ERROR ",
    "exception_inside_application": "Exception inside application",
    "redis_read_timeout": "Timeout reading from",
    "killed_slow_shutdown": "took too long to shut down",
    "channel_layer_over_capacity": "over capacity in group",
    "ws_connect": '"WSCONNECT ',
    "ws_reject": '"WSREJECT ',
    "ws_disconnect": '"WSDISCONNECT ',
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def http_status(port: int, path: str, timeout: float = 5.0) -> int | None:
    """The status of ``GET path`` on 127.0.0.1:port (None when nothing answered)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
            first = sock.makefile("rb").readline().split()
            return int(first[1]) if len(first) >= 2 else None
    except (OSError, ValueError):
        return None


def redis_command(port: int, *args: str, timeout: float = 5.0) -> bytes:
    """One RESP command over a plain socket (the benchmarks need only PING and INFO)."""
    request = f"*{len(args)}\r\n".encode() + b"".join(f"${len(a)}\r\n{a}\r\n".encode() for a in args)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        stream = sock.makefile("rb")
        first = stream.readline()
        if first.startswith(b"$"):
            size = int(first[1:])
            return stream.read(size + 2)[:-2] if size >= 0 else b""
        return first.rstrip(b"\r\n")


def redis_info(port: int) -> dict[str, str]:
    info: dict[str, str] = {}
    for line in redis_command(port, "INFO").decode().splitlines():
        if ":" in line and not line.startswith("#"):
            key, value = line.split(":", 1)
            info[key] = value
    return info


def tail(path: Path, lines: int = 30, skip_access_log: bool = False) -> list[str]:
    """The last lines of a log file (without daphne's WSCONNECT/WSDISCONNECT access lines if asked)."""
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return []
    if skip_access_log:
        text = [line for line in text if '"WSCONNECT' not in line and '"WSDISCONNECT' not in line]
    return text[-lines:]


def log_counts(path: Path) -> dict[str, int]:
    """How many lines of the log match each of ``LOG_PATTERNS``."""
    counts = dict.fromkeys(LOG_PATTERNS, 0)
    with contextlib.suppress(OSError), path.open(errors="replace") as lines:
        for line in lines:
            for name, pattern in LOG_PATTERNS.items():
                if pattern in line:
                    counts[name] += 1
    return counts

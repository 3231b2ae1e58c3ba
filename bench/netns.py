"""A private network namespace for the media benchmarks (the network rule of MEDIA-NOTES.md).

:func:`reexec_in_private_netns` re-runs the current module under ``unshare --net``: the child
gets a namespace of its own that disappears with it (nothing to clean up, nothing can leak).
Inside, :func:`setup_veth` brings ``lo`` up and adds a veth pair with two addresses of a private
/24 (Janus refuses loopback for ICE and the ``dummy`` link type is not available here), and
turns IPv6 off. There is no route out of the namespace: every packet of the run stays inside.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

MARKER = "BENCH_PRIVATE_NETNS"
VETH_A, VETH_B = "sfb0", "sfb1"
ADDRESS_A, ADDRESS_B = "10.77.0.1", "10.77.0.2"


class NetnsError(Exception):
    pass


def inside_private_netns() -> bool:
    return os.environ.get(MARKER) == "1"


def reexec_in_private_netns(module: str, argv: Sequence[str]) -> None:
    """Replace this process with ``unshare --net -- python -m module argv`` (needs root)."""
    if os.geteuid() != 0:
        raise NetnsError("the SFU benchmark creates a network namespace: run it as root")
    unshare = shutil.which("unshare")
    if unshare is None:
        raise NetnsError("unshare (util-linux) not found")
    env = dict(os.environ, **{MARKER: "1"})
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(unshare, [unshare, "--net", "--", sys.executable, "-m", module, *argv], env)  # noqa: S606


def _ip(*args: str) -> str:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10, check=False)  # noqa: S603, S607
    if result.returncode != 0:
        raise NetnsError(f"ip {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout


def interfaces() -> list[str]:
    return [line.split(":")[1].strip().split("@")[0] for line in _ip("-o", "link", "show").splitlines()]


def setup_veth() -> tuple[str, str]:
    """In a FRESH namespace only: lo up, veth pair 10.77.0.1/24 + 10.77.0.2/24, IPv6 off."""
    if not inside_private_netns():
        raise NetnsError("setup_veth() must run inside the namespace made by reexec_in_private_netns()")
    present = interfaces()
    if present != ["lo"]:
        raise NetnsError(f"not a fresh network namespace (interfaces: {present}): refusing to touch it")
    for name in ("all", "default", "lo"):
        path = Path(f"/proc/sys/net/ipv6/conf/{name}/disable_ipv6")
        if path.exists():
            path.write_text("1\n")
    _ip("link", "set", "lo", "up")
    _ip("link", "add", VETH_A, "type", "veth", "peer", "name", VETH_B)
    _ip("addr", "add", f"{ADDRESS_A}/24", "dev", VETH_A)
    _ip("addr", "add", f"{ADDRESS_B}/24", "dev", VETH_B)
    _ip("link", "set", VETH_A, "up")
    _ip("link", "set", VETH_B, "up")
    routes = _ip("-4", "route", "show").strip().splitlines()
    if any(line.startswith("default") for line in routes):
        raise NetnsError(f"unexpected default route in the namespace: {routes}")
    return ADDRESS_A, ADDRESS_B

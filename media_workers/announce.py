"""Host candidates under the worker's public address (1:1 NAT, as on most cloud machines).

The worker's sockets are bound to its private interface address; browsers outside can only
reach the public address the NAT maps to it, port for port. With ``public_ip`` set, each host
candidate of the answer is announced with that address instead (what mediasoup calls
"announcedIp"): the browser's checks arrive through the NAT on the same socket, and ICE works.
"""

from __future__ import annotations

import ipaddress


def announce(sdp: str, public_ip: str) -> str:
    """``sdp`` with every ``typ host`` candidate's address replaced by ``public_ip``."""
    ipaddress.ip_address(public_ip)  # a literal IP only: browsers do not resolve names here
    lines = []
    for line in sdp.split("\r\n"):
        if line.startswith("a=candidate:"):
            parts = line.split(" ")
            # a=candidate:<foundation> <component> <transport> <priority> <address> <port> typ <type> ...
            if len(parts) >= 8 and parts[6] == "typ" and parts[7] == "host":
                parts[4] = public_ip
                line = " ".join(parts)
        lines.append(line)
    return "\r\n".join(lines)

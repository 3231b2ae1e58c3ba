"""Host candidates only on chosen addresses (a worker's listen IPs; 127.0.0.1 in tests).

aioice gathers on every interface and skips loopback. A worker that is told its addresses
(``RouterConfig.ice_addresses``) replaces, per connection, the gathering step with one that
binds only those addresses; STUN/TURN servers configured for the connection still apply.
"""

from __future__ import annotations

from collections.abc import Sequence

from aioice import Connection
from aiortc import RTCPeerConnection


def restrict_connection(connection: Connection, addresses: Sequence[str]) -> None:
    chosen = list(addresses)

    async def gather_candidates() -> None:
        if connection._local_candidates_start:
            return
        connection._local_candidates_start = True
        for component in connection._components:
            connection._local_candidates += await connection.get_component_candidates(
                component=component, addresses=chosen
            )
        connection._local_candidates_end = True

    setattr(connection, "gather_candidates", gather_candidates)  # noqa: B010 - per-connection override


def restrict_host_candidates(pc: RTCPeerConnection, addresses: Sequence[str]) -> None:
    """Applies to every ICE transport the peer connection has now (call before gathering)."""
    seen: set[int] = set()
    transports = [t.receiver.transport for t in pc.getTransceivers()]
    if pc.sctp is not None:
        transports.append(pc.sctp.transport)
    for dtls in transports:
        connection = dtls.transport.iceGatherer._connection
        if id(connection) not in seen:
            seen.add(id(connection))
            restrict_connection(connection, addresses)

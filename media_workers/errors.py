"""Errors of the media path: a stable ``code`` for machines, a ``message`` for humans.

The control plane turns a ``MediaError`` into an ``error`` message to the one client concerned;
the router and the other peers are never affected by it.
"""

from __future__ import annotations

#: The offer could not be parsed or is not a valid WebRTC offer.
BAD_SDP = "bad_sdp"
#: No codec in the offer (or in one of its m-lines) is one the worker forwards.
NO_COMMON_CODEC = "no_common_codec"
#: The offer asks for more (or other) media sections than the worker accepts.
BAD_MEDIA_SECTIONS = "bad_media_sections"
#: ``add_peer`` for a participant who already has a peer connection in this room.
PEER_EXISTS = "peer_exists"
#: The participant has no peer connection in this room.
UNKNOWN_PEER = "unknown_peer"
#: An ICE candidate from the client could not be used.
BAD_CANDIDATE = "bad_candidate"
#: A view (tiles, stage, sizes) that is not well-formed.
BAD_VIEW = "bad_view"
#: The router is closed.
ROUTER_CLOSED = "router_closed"
#: ``start_recording`` while the room is already being recorded.
ALREADY_RECORDING = "already_recording"
#: ``stop_recording`` while the room is not being recorded.
NOT_RECORDING = "not_recording"
#: The client did not complete ICE/DTLS in time (reported through ``peer_failed``).
ICE_TIMEOUT = "ice_timeout"
#: The peer connection failed after it had connected.
CONNECTION_FAILED = "connection_failed"


class MediaError(Exception):
    """A refused request of the media path, with a stable code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

"""How a meeting's media travels: peer-to-peer (mesh) for small meetings, through an SFU worker
from the ``MEETING_SFU_THRESHOLD``-th participant on.

The move is one way while the room is in use: a meeting that went to the SFU stays there until
it empties, so people leaving and joining around the threshold do not make every browser
rebuild its connections back and forth. Each room (main or breakout) has its own topology.
The one way back is the fallback of a small room when no worker is left at all
(``sfu_relay.fall_back_to_mesh``).
"""

from __future__ import annotations

from django.conf import settings

from meetings.models import Topology
from rooms.events import MediaConfigJson


def wanted_topology(current: str, present: int, threshold: int) -> Topology:
    """The topology a room with ``present`` participants should use."""
    if current == Topology.SFU and present > 0:
        return Topology.SFU
    return Topology.SFU if present >= threshold else Topology.MESH


def media_config(topology: str) -> MediaConfigJson:
    """What a client needs to set up its media transport (``joined.media``)."""
    config: MediaConfigJson = {
        "topology": "sfu" if topology == Topology.SFU else "mesh",
        "ice_servers": settings.ICE_SERVERS,
    }
    if topology == Topology.SFU:
        config["audio_slots"] = settings.MEETING_SFU_AUDIO_SLOTS
        config["video_slots"] = settings.MEETING_SFU_VIDEO_SLOTS
    return config

"""How a meeting's media travels: peer-to-peer (mesh) for small meetings, through an SFU worker
from the ``MEETING_SFU_THRESHOLD``-th participant on.

The move is one way while the room is in use: a meeting that went to the SFU stays there until
it empties, so people leaving and joining around the threshold do not make every browser
rebuild its connections back and forth. The one way back is the fallback of a small room when
no worker is left at all (``sfu_relay.fall_back_to_mesh``).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Topology(models.TextChoices):
    MESH = "mesh", "peer-to-peer"
    SFU = "sfu", "SFU worker"


def wanted_topology(current: str, present: int, threshold: int) -> Topology:
    """The topology a room with ``present`` participants should use."""
    if current == Topology.SFU and present > 0:
        return Topology.SFU
    return Topology.SFU if present >= threshold else Topology.MESH


def media_config(topology: str) -> dict[str, object]:
    """What a client needs to set up its media transport (``joined.media``)."""
    config: dict[str, object] = {"topology": str(topology), "ice_servers": settings.ICE_SERVERS}
    if topology == Topology.SFU:
        config["audio_slots"] = settings.MEETING_SFU_AUDIO_SLOTS
        config["video_slots"] = settings.MEETING_SFU_VIDEO_SLOTS
    return config

"""Which topology a room uses, and what a client is told about it."""

from __future__ import annotations

import pytest
from django.test import override_settings

from meetings.models import Topology
from rooms.topology import media_config, wanted_topology


@pytest.mark.parametrize(
    ("current", "present", "threshold", "wanted"),
    [
        ("mesh", 1, 5, "mesh"),
        ("mesh", 4, 5, "mesh"),
        ("mesh", 5, 5, "sfu"),
        ("mesh", 9, 5, "sfu"),
        ("mesh", 3, 3, "sfu"),
        # Once on the SFU, a room stays there while anyone is in it: no flapping at 4 ↔ 5.
        ("sfu", 4, 5, "sfu"),
        ("sfu", 1, 5, "sfu"),
        # An empty room starts over peer-to-peer.
        ("sfu", 0, 5, "mesh"),
    ],
)
def test_wanted_topology(current: str, present: int, threshold: int, wanted: str) -> None:
    assert wanted_topology(current, present, threshold) == wanted


@override_settings(
    ICE_SERVERS=[{"urls": ["stun:127.0.0.1:3478"]}], MEETING_SFU_AUDIO_SLOTS=3, MEETING_SFU_VIDEO_SLOTS=9
)
def test_media_config_tells_sfu_clients_how_many_slots_to_offer() -> None:
    assert media_config(Topology.MESH) == {"topology": "mesh", "ice_servers": [{"urls": ["stun:127.0.0.1:3478"]}]}
    assert media_config(Topology.SFU) == {
        "topology": "sfu",
        "ice_servers": [{"urls": ["stun:127.0.0.1:3478"]}],
        "audio_slots": 3,
        "video_slots": 9,
    }

"""Large-room audio: the loudest three are forwarded, and the dominant speaker (RFC 6464 levels
read from the packets, no decoding) is announced when it changes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from media_workers.consumer import SlotKind
from tests.media_workers.sfu_clients import ToneTrack, join, wait_for
from tests.media_workers.sfu_fixtures import Room, open_room


@pytest_asyncio.fixture
async def room() -> AsyncIterator[Room]:
    async with open_room() as room:
        yield room


def audio_sources(room: Room, peer_id: str) -> set[str]:
    return {s.participant for s in room.router.slot_map(peer_id).values() if s.kind == SlotKind.AUDIO}


@pytest.mark.asyncio
async def test_the_three_loudest_are_heard_and_a_new_dominant_speaker_takes_a_slot(room: Room) -> None:
    speakers = {}
    for name, amplitude in (("ann", 0.6), ("ben", 0.3), ("cat", 0.2), ("dan", 0.0)):
        client = room.keep(await join(room.router, name, audio_slots=0, video_slots=0, screen_slot=False))
        track = client.tracks[0]
        assert isinstance(track, ToneTrack)
        track.amplitude = amplitude
        speakers[name] = track
    bob = room.keep(await join(room.router, "bob", audio=False, audio_slots=3, video_slots=0, screen_slot=False))
    await wait_for(lambda: audio_sources(room, "bob") == {"ann", "ben", "cat"}, 10, "the three loudest at bob")
    await wait_for(lambda: room.recorder.dominant[-1:] == ["ann"], 10, "ann as the dominant speaker")
    assert len(bob.received) > 0

    speakers["ann"].amplitude = 0.0
    speakers["dan"].amplitude = 0.9
    await wait_for(lambda: room.recorder.dominant[-1:] == ["dan"], 10, "dan as the dominant speaker")
    await wait_for(lambda: "dan" in audio_sources(room, "bob"), 10, "dan to be heard")
    assert audio_sources(room, "bob") == {"dan", "ben", "cat"}

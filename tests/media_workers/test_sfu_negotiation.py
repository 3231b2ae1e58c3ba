"""How offers become producers and slots: roles, slot kinds, renegotiation, codecs."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiortc import RTCRtpSender, RTCSessionDescription

from media_workers.consumer import SlotKind
from media_workers.errors import BAD_MEDIA_SECTIONS, MediaError
from media_workers.keyframes import is_h264_keyframe
from media_workers.negotiation import parse_offer, plan_offer
from media_workers.producer import ProducerRole
from media_workers.router import SlotSource
from tests.media_workers.sfu_clients import (
    Client,
    PatternTrack,
    client_pc,
    join,
    send_mids,
    slot_mids,
    transceiver,
    wait_for,
)
from tests.media_workers.sfu_fixtures import Room, open_room


@pytest_asyncio.fixture
async def room() -> AsyncIterator[Room]:
    async with open_room() as room:
        yield room


async def client_offer(send_video: int, audio_slots: int, video_slots: int) -> str:
    pc = client_pc()
    try:
        pc.addTransceiver("audio", direction="sendonly")
        for _ in range(send_video):
            pc.addTransceiver("video", direction="sendonly")
        for _ in range(audio_slots):
            pc.addTransceiver("audio", direction="recvonly")
        for _ in range(video_slots):
            pc.addTransceiver("video", direction="recvonly")
        offer = await pc.createOffer()
        return offer.sdp
    finally:
        await pc.close()


@pytest.mark.asyncio
async def test_send_sections_get_roles_in_order_and_the_last_video_slot_is_the_screen() -> None:
    sections = parse_offer(await client_offer(send_video=2, audio_slots=3, video_slots=3))
    plan = plan_offer(sections, known_roles={}, known_slots={}, requested_roles=None, audio_slots=3, video_slots=9)
    assert list(plan.roles.values()) == [ProducerRole.AUDIO, ProducerRole.CAMERA_HIGH, ProducerRole.CAMERA_LOW]
    assert list(plan.slots.values()) == [SlotKind.AUDIO] * 3 + [SlotKind.VIDEO, SlotKind.VIDEO, SlotKind.SCREEN]


@pytest.mark.asyncio
async def test_roles_asked_for_by_mid_win_and_wrong_ones_are_refused() -> None:
    sections = parse_offer(await client_offer(send_video=1, audio_slots=0, video_slots=1))
    video_mid = sections[1].mid
    plan = plan_offer(
        sections, known_roles={}, known_slots={}, requested_roles={video_mid: "screen"}, audio_slots=3, video_slots=9
    )
    assert plan.roles[video_mid] == ProducerRole.SCREEN
    assert list(plan.slots.values()) == [SlotKind.VIDEO]  # a single video slot is a camera slot
    for bad in ("audio", "hologram"):
        with pytest.raises(MediaError) as caught:
            plan_offer(
                sections, known_roles={}, known_slots={}, requested_roles={video_mid: bad}, audio_slots=3, video_slots=9
            )
        assert caught.value.code == BAD_MEDIA_SECTIONS


@pytest.mark.asyncio
async def test_a_screen_share_added_by_renegotiation_reaches_the_screen_slot(room: Room) -> None:
    alice = room.keep(await join(room.router, "alice", video=[(160, 120)]))
    bob = room.keep(await join(room.router, "bob", audio=False))
    await wait_for(lambda: room.recorder.dominant[-1:] == ["alice"], 10, "alice to be the dominant speaker")
    screen = PatternTrack(320, 240, 5)
    alice.tracks.append(screen)
    alice.pc.addTransceiver(screen, direction="sendonly")
    await alice.pc.setLocalDescription(await alice.pc.createOffer())
    screen_mid = send_mids(alice)[-1]
    answer = await room.router.renegotiate("alice", alice.pc.localDescription.sdp, roles={screen_mid: "screen"})
    await alice.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    bob_screen = slot_mids(bob, "video")[-1]
    await wait_for(lambda: len(bob.received_on(bob_screen)) >= 10, 20, "the screen share at bob")
    assert room.recorder.slots["bob"][bob_screen] == SlotSource("alice", SlotKind.SCREEN)
    assert room.router.peer("alice").producers[screen_mid].role == ProducerRole.SCREEN


@pytest.mark.asyncio
async def test_h264_is_negotiated_and_forwarded_for_a_client_that_sends_it(room: Room) -> None:
    h264 = [c for c in RTCRtpSender.getCapabilities("video").codecs if c.name == "H264"]
    room.keep(await join(room.router, "alice", audio=False, video=[(160, 120)], prefer=h264))
    bob = room.keep(await join(room.router, "bob", audio=False))
    slot = slot_mids(bob, "video")[0]
    await wait_for(lambda: len(bob.received_on(slot)) >= 10, 20, "H.264 at bob")
    producer = next(iter(room.router.peer("alice").producers.values()))
    assert {name for name, _ in producer.codecs.values()} == {"h264"}
    assert is_h264_keyframe(bob.received_on(slot)[0].payload)


async def renegotiate(room: Room, client: Client) -> None:
    await client.pc.setLocalDescription(await client.pc.createOffer())
    answer = await room.router.renegotiate(client.name, client.pc.localDescription.sdp)
    await client.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))


@pytest.mark.asyncio
async def test_a_slot_the_client_sets_inactive_is_not_fed_until_it_comes_back(room: Room) -> None:
    room.keep(await join(room.router, "alice", audio=False, video=[(160, 120)]))
    bob = room.keep(await join(room.router, "bob", audio=False, video_slots=1, screen_slot=False))
    slot = slot_mids(bob, "video")[0]
    await wait_for(lambda: len(bob.received_on(slot)) >= 5, 10, "video at bob")
    transceiver(bob, slot).direction = "inactive"
    await renegotiate(room, bob)
    assert slot not in room.router.slot_map("bob")
    assert room.router.peer("bob").consumers[slot].current is None
    transceiver(bob, slot).direction = "recvonly"
    await renegotiate(room, bob)
    assert room.router.slot_map("bob")[slot] == SlotSource("alice", SlotKind.VIDEO)
    before = len(bob.received_on(slot))
    await wait_for(lambda: len(bob.received_on(slot)) >= before + 5, 10, "video at bob again")


@pytest.mark.asyncio
async def test_a_screen_slot_shows_only_a_screen_that_is_being_shared(room: Room) -> None:
    """Browsers offer their screen section up front, without a track (sharing starts with
    replaceTrack, no renegotiation): a track-less screen producer must not take the slot."""
    alice = room.keep(await join(room.router, "alice", video=[(160, 120)]))
    bob = room.keep(await join(room.router, "bob", audio=False))
    idle = alice.pc.addTransceiver("video", direction="sendonly")
    await alice.pc.setLocalDescription(await alice.pc.createOffer())
    screen_mid = send_mids(alice)[-1]
    answer = await room.router.renegotiate("alice", alice.pc.localDescription.sdp, roles={screen_mid: "screen"})
    await alice.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    bob_screen = slot_mids(bob, "video")[-1]
    await wait_for(lambda: room.router.peer("alice").producers.get(screen_mid) is not None, 10, "the screen producer")
    await wait_for(lambda: bool(room.recorder.slots.get("bob")), 10, "bob's first slot map")
    assert bob_screen not in room.recorder.slots["bob"]

    screen = PatternTrack(320, 240, 5)
    alice.tracks.append(screen)
    idle.sender.replaceTrack(screen)
    await wait_for(lambda: len(bob.received_on(bob_screen)) >= 10, 20, "the screen share at bob")
    assert room.recorder.slots["bob"][bob_screen] == SlotSource("alice", SlotKind.SCREEN)

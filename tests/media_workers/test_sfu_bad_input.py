"""Bad input is refused or dropped with a stable code and counted; the room goes on."""

from __future__ import annotations

import struct
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiortc import RTCPeerConnection
from aiortc.rtp import RTCP_PSFB_PLI, RTCP_RTPFB_NACK, RtcpPsfbPacket, RtcpRtpfbPacket

from media_workers import errors
from media_workers.errors import MediaError
from media_workers.ice_addresses import restrict_host_candidates
from tests.media_workers.sfu_clients import LOOPBACK, Client, client_pc, join, slot_mids, wait_for
from tests.media_workers.sfu_fixtures import Room, open_room, sfu_config

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def room() -> AsyncIterator[Room]:
    async with open_room(sfu_config(ice_timeout=1.5)) as room:
        yield room


async def offer_from(*, video: bool = True, audio: bool = True, video_slots: int = 1) -> tuple[RTCPeerConnection, str]:
    pc = client_pc()
    if audio:
        pc.addTransceiver("audio", direction="sendrecv")
    if video:
        pc.addTransceiver("video", direction="sendonly")
    for _ in range(video_slots):
        pc.addTransceiver("video", direction="recvonly")
    restrict_host_candidates(pc, LOOPBACK)
    await pc.setLocalDescription(await pc.createOffer())
    return pc, pc.localDescription.sdp


async def media_flowing(room: Room) -> tuple[Client, Client]:
    alice = room.keep(await join(room.router, "alice", video=[(160, 120)]))
    bob = room.keep(await join(room.router, "bob", audio=False))
    await wait_for(lambda: len(bob.received) > 20, 20, "media at bob")
    return alice, bob


async def still_flowing(bob: Client, more: int = 20) -> None:
    before = len(bob.received)
    await wait_for(lambda: len(bob.received) >= before + more, 10, "media to keep flowing")


@pytest.mark.parametrize(
    "sdp",
    ["", "hello", "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n", "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"],
)
async def test_it_refuses_garbage_sdp(room: Room, sdp: str) -> None:
    with pytest.raises(MediaError) as caught:
        await room.router.add_peer("mallory", sdp)
    assert caught.value.code == errors.BAD_SDP
    assert room.router.peer_ids == []


async def test_it_refuses_an_offer_with_a_broken_line_and_keeps_nothing(room: Room) -> None:
    pc, sdp = await offer_from()
    await pc.close()
    broken = sdp.replace("a=mid:0\r\n", "a=mid:0\r\na=candidate:garbage\r\n", 1)
    with pytest.raises(MediaError) as caught:
        await room.router.add_peer("mallory", broken)
    assert caught.value.code == errors.BAD_SDP
    unbundled = "".join(line for line in sdp.splitlines(keepends=True) if not line.startswith("a=group:BUNDLE"))
    with pytest.raises(MediaError) as refused:
        await room.router.add_peer("mallory", unbundled)
    assert refused.value.code == errors.BAD_SDP
    assert room.router.peer_ids == []


async def test_it_refuses_an_offer_without_a_forwarded_codec_and_the_room_goes_on(room: Room) -> None:
    _, bob = await media_flowing(room)
    pc, sdp = await offer_from(audio=False)
    sdp = sdp.replace("VP8/90000", "FOO/90000").replace("H264/90000", "BAR/90000")
    try:
        with pytest.raises(MediaError) as caught:
            await room.router.add_peer("mallory", sdp)
    finally:
        await pc.close()
    assert caught.value.code == errors.NO_COMMON_CODEC
    assert "mallory" not in room.router.peer_ids
    await still_flowing(bob)


async def test_it_refuses_too_many_slots_and_a_second_peer_for_the_same_participant(room: Room) -> None:
    pc, sdp = await offer_from(video_slots=room.router.config.video_slots + 2)
    try:
        with pytest.raises(MediaError) as caught:
            await room.router.add_peer("mallory", sdp)
        assert caught.value.code == errors.BAD_MEDIA_SECTIONS
        await room.router.add_peer("mallory", (await offer_from())[1])
        with pytest.raises(MediaError) as again:
            await room.router.add_peer("mallory", sdp)
        assert again.value.code == errors.PEER_EXISTS
    finally:
        await pc.close()


async def test_a_client_that_never_completes_ice_is_failed_and_closed(room: Room) -> None:
    pc, sdp = await offer_from()
    # A trickling client that never sends a candidate (nor applies the answer).
    silent = "".join(line for line in sdp.splitlines(keepends=True) if not line.startswith(("a=candidate", "a=end-of")))
    try:
        await room.router.add_peer("ghost", silent)
        worker_peer = room.router.peer("ghost")
        await wait_for(lambda: bool(room.recorder.failed), 10, "peer_failed")
        assert [(p, e.code) for p, e in room.recorder.failed] == [("ghost", errors.ICE_TIMEOUT)]
        await wait_for(lambda: "ghost" not in room.router.peer_ids, 5, "the failed peer to be removed")
        assert worker_peer.pc.connectionState == "closed"
    finally:
        await pc.close()


async def test_rtp_for_an_unknown_ssrc_is_dropped_and_counted(room: Room) -> None:
    alice, bob = await media_flowing(room)
    for sequence in range(50):
        packet = struct.pack("!BBHII", 0x80, 96, sequence, sequence * 960, 0x12345678) + b"\x00" * 40
        await alice.dtls._send_rtp(packet)
    await wait_for(lambda: room.router.stats().unknown_ssrc >= 50, 5, "the unknown packets to be counted")
    await still_flowing(bob)


async def test_a_flood_of_keyframe_requests_is_throttled_upstream(room: Room) -> None:
    _, bob = await media_flowing(room)
    video_slot = slot_mids(bob, "video")[0]
    await wait_for(lambda: bool(bob.received_on(video_slot)), 10, "video at bob")
    slot_ssrc = bob.received_on(video_slot)[0].ssrc
    before = room.router.stats()
    for _ in range(200):
        await bob.dtls._send_rtp(bytes(RtcpPsfbPacket(fmt=RTCP_PSFB_PLI, ssrc=1, media_ssrc=slot_ssrc)))
    await wait_for(lambda: room.router.stats().plis_received >= before.plis_received + 200, 5, "the PLIs to arrive")
    after = room.router.stats()
    assert after.plis_forwarded - before.plis_forwarded <= 3
    assert after.plis_suppressed - before.plis_suppressed >= 190
    await still_flowing(bob)


async def test_a_flood_of_nacks_is_answered_only_within_the_retransmission_budget(room: Room) -> None:
    _, bob = await media_flowing(room)
    video_slot = slot_mids(bob, "video")[0]
    await wait_for(lambda: len(bob.received_on(video_slot)) > 30, 10, "video at bob")
    seen = bob.received_on(video_slot)
    nack = RtcpRtpfbPacket(fmt=RTCP_RTPFB_NACK, ssrc=1, media_ssrc=seen[0].ssrc)
    nack.lost = [r.sequence for r in seen[:30]]
    for _ in range(20):
        await bob.dtls._send_rtp(bytes(nack))
    budget = room.router.config.nack_burst
    await wait_for(lambda: room.router.stats().nacks_received >= 600, 5, "the NACKs to arrive")
    stats = room.router.stats()
    assert stats.nacks_refused > 0
    assert stats.retransmitted <= budget + room.router.config.nack_rate * 2
    await still_flowing(bob)


async def test_candidates_and_views_are_checked(room: Room) -> None:
    pc, sdp = await offer_from()
    try:
        await room.router.add_peer("carl", sdp)
        for bad in ({"candidate": "candidate:garbage"}, {"candidate": 42}):
            with pytest.raises(MediaError) as caught:
                await room.router.add_ice_candidate("carl", bad)
            assert caught.value.code == errors.BAD_CANDIDATE
        await room.router.add_ice_candidate(
            "carl", {"candidate": "candidate:1 1 udp 2130706431 127.0.0.1 9 typ host", "sdpMid": "0"}
        )
        await room.router.add_ice_candidate("carl", {"candidate": ""})
        with pytest.raises(MediaError) as bad_view:
            room.router.set_view("carl", ["x"], sizes={"x": "tall"})  # type: ignore[dict-item]
        assert bad_view.value.code == errors.BAD_VIEW
        with pytest.raises(MediaError) as unknown:
            room.router.set_view("nobody", None)
        assert unknown.value.code == errors.UNKNOWN_PEER
    finally:
        await pc.close()

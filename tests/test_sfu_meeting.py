"""The meeting WebSocket relays SFU media to a real worker process: a participant's offer (from
an aiortc peer standing in for a browser) is answered by the worker, the peer connects, and when
the WebSocket drops the worker lets go of the peer (no leaked peer connections). A room at the
threshold moves to the worker and everyone is told."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from channels.db import database_sync_to_async as sync_to_async
from pytest_django.fixtures import Settings as SettingsWrapper

from accounts.models import User
from media_workers.ice_addresses import restrict_host_candidates
from meetings.models import Meeting
from meetings.recordings.models import Recording
from rooms import recording_controls
from rooms.sfu_client import SfuError, sfu_client
from tests.factories import main_room_of, make_user, save_meeting
from tests.room_client import RoomClient, close_all_clients
from tests.sfu_workers import SfuWorkers

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


@pytest_asyncio.fixture(autouse=True)
async def _clean_loop_state() -> AsyncIterator[None]:
    yield
    await close_all_clients()


@sync_to_async
def save(meeting: Meeting, **fields: Any) -> None:
    save_meeting(meeting, **fields)


async def room_peers(room_id: str) -> list[str]:
    """The peers the room's worker holds ([] once the room is gone)."""
    worker = await sfu_client().assign(room_id)
    try:
        result = await sfu_client().request(worker.channel, {"method": "room.stats", "room_id": room_id}, 5)
    except SfuError as exc:
        if exc.code == "unknown_room":
            return []
        raise
    return list(result["peer_ids"])


async def eventually(check: Any, timeout: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.2)


async def offer_through(client: RoomClient) -> RTCPeerConnection:
    """An aiortc peer that only receives (one audio and two video slots), negotiated through
    the meeting WebSocket like the browser does."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
    pc.addTransceiver("audio", direction="recvonly")
    pc.addTransceiver("video", direction="recvonly")
    pc.addTransceiver("video", direction="recvonly")
    restrict_host_candidates(pc, ["127.0.0.1"])  # loopback only
    await pc.setLocalDescription(await pc.createOffer())
    await client.send({"type": "media.offer", "sdp": pc.localDescription.sdp, "restart": True})
    answer = await client.expect("media.answer", timeout=20)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))
    return pc


async def test_an_offer_is_answered_by_the_worker_and_a_dropped_socket_frees_the_peer(
    meeting: Meeting, owner: User, sfu_workers: SfuWorkers
) -> None:
    await sync_to_async(sfu_workers.start)()
    await save(meeting, waiting_room=False, topology="sfu")
    host = await RoomClient.connect(meeting.code, owner, name="host")
    assert (await host.join())["media"]["topology"] == "sfu"
    pc = await offer_through(host)
    try:
        await eventually(lambda: _connected(pc))
        room_id = str(host.joined["room"]["id"])
        assert await room_peers(room_id) == [host.id]
        # What the page shows reaches the worker; someone who already left is dropped quietly.
        gone = "00000000-0000-0000-0000-0000000000ff"
        await host.send({"type": "media.view", "tiles": [gone], "stage": gone, "sizes": {gone: 360}})
        await host.assert_silent({"error"})
        # Someone else in the room cannot speak for the host's peer: the relay uses the sender's id.
        other = await RoomClient.connect(meeting.code, await sync_to_async(make_user)(), name="other")
        await other.join()
        await other.send({"type": "media.ice", "candidate": None})
        await other.expect_error("not_in_sfu")
        await host.close()

        async def freed() -> bool:
            return host.id not in await room_peers(room_id)

        await eventually(freed)
    finally:
        await pc.close()


async def _connected(pc: RTCPeerConnection) -> bool:
    return pc.connectionState == "connected"


async def test_the_third_join_moves_the_room_to_the_worker(
    meeting: Meeting, owner: User, sfu_workers: SfuWorkers, settings: SettingsWrapper
) -> None:
    settings.MEETING_SFU_THRESHOLD = 3
    await sync_to_async(sfu_workers.start)()
    await save(meeting, waiting_room=False)
    clients = [await RoomClient.connect(meeting.code, owner, name="host")]
    await clients[0].join()
    for n in range(2):
        client = await RoomClient.connect(meeting.code, await sync_to_async(make_user)(), name=f"p{n}")
        joined = await client.join()
        assert joined["media"]["topology"] == "mesh"
        clients.append(client)
    for client in clients:
        moved = await client.expect("media.topology", timeout=15)
        assert (moved["topology"], moved["video_slots"]) == ("sfu", 9)
    await sync_to_async(meeting.refresh_from_db)()
    assert (await sync_to_async(main_room_of)(meeting)).topology == "sfu"
    late = await RoomClient.connect(meeting.code, await sync_to_async(make_user)(), name="late")
    assert (await late.join())["media"]["topology"] == "sfu"


async def test_a_host_records_and_everyone_sees_it_late_joiners_too(
    meeting: Meeting, owner: User, outsider: User, sfu_workers: SfuWorkers
) -> None:
    await sync_to_async(sfu_workers.start)()
    await save(meeting, waiting_room=False, topology="sfu")
    host = await RoomClient.connect(meeting.code, owner, name="host")
    assert (await host.join())["recording"] == {"active": False, "started_at": None}
    guest = await RoomClient.connect(meeting.code, outsider, name="guest")
    await guest.join()
    pc = await offer_through(host)  # the room opens on the worker with its first peer
    try:
        await guest.send({"type": "host.record.start"})
        await guest.expect_error("not_host")
        await host.send({"type": "host.record.start"})
        for client in (host, guest):
            started = await client.expect("recording", timeout=20)
            assert (started["active"], started["by"]) == (True, host.id)
        await host.send({"type": "host.record.start"})
        await host.expect_error("already_recording")
        late = await RoomClient.connect(meeting.code, await sync_to_async(make_user)(), name="late")
        assert (await late.join())["recording"]["active"] is True

        await host.send({"type": "host.record.stop"})
        for client in (host, guest, late):
            assert (await client.expect("recording", timeout=20))["active"] is False
        recording = await sync_to_async(Recording.objects.get)(meeting=meeting)
        assert recording.ended_at is not None
        assert recording.started_by_id == owner.pk
        await host.send({"type": "host.record.stop"})
        await host.expect_error("not_recording")
    finally:
        await pc.close()


async def test_recording_a_peer_to_peer_meeting_moves_it_to_the_worker_first(
    meeting: Meeting, owner: User, outsider: User, sfu_workers: SfuWorkers
) -> None:
    await sync_to_async(sfu_workers.start)()
    await save(meeting, waiting_room=False)
    host = await RoomClient.connect(meeting.code, owner, name="host")
    await host.join()
    guest = await RoomClient.connect(meeting.code, outsider, name="guest")
    assert (await guest.join())["media"]["topology"] == "mesh"
    await host.send({"type": "host.record.start"})
    assert (await guest.expect("media.topology", timeout=15))["topology"] == "sfu"
    pc = await offer_through(guest)  # the guest's browser moves over; the room opens
    try:
        assert (await guest.expect("recording", timeout=30))["active"] is True
        await sync_to_async(meeting.refresh_from_db)()
        assert (await sync_to_async(main_room_of)(meeting)).topology == "sfu"
    finally:
        await pc.close()


async def test_without_a_worker_recording_is_refused_and_nothing_is_left_behind(
    meeting: Meeting, owner: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recording_controls, "ASSIGN_TIMEOUT", 0.5)
    await save(meeting, waiting_room=False)
    host = await RoomClient.connect(meeting.code, owner, name="host")
    await host.join()
    await host.send({"type": "host.record.start"})
    await host.expect_error("sfu_unavailable")
    assert not await sync_to_async(Recording.objects.filter(meeting=meeting).exists)()
    await sync_to_async(meeting.refresh_from_db)()
    assert (await sync_to_async(main_room_of)(meeting)).topology == "mesh"


async def test_a_recording_ends_when_everyone_has_left_so_the_next_people_can_record(
    meeting: Meeting, owner: User, sfu_workers: SfuWorkers
) -> None:
    await sync_to_async(sfu_workers.start)()
    await save(meeting, waiting_room=False, topology="sfu")
    host = await RoomClient.connect(meeting.code, owner, name="host")
    await host.join()
    pc = await offer_through(host)
    try:
        await host.send({"type": "host.record.start"})
        assert (await host.expect("recording", timeout=20))["active"] is True
        await host.send({"type": "leave"})
        await host.expect_closed()
    finally:
        await pc.close()
    recording = await sync_to_async(Recording.objects.get)(meeting=meeting)
    assert recording.ended_at is not None
    again = await RoomClient.connect(meeting.code, owner, name="again")
    assert (await again.join())["recording"]["active"] is False


async def test_a_host_alone_in_a_peer_to_peer_meeting_can_record(
    meeting: Meeting, owner: User, sfu_workers: SfuWorkers
) -> None:
    await sync_to_async(sfu_workers.start)()
    await save(meeting, waiting_room=False)
    host = await RoomClient.connect(meeting.code, owner, name="host")
    await host.join()
    await host.send({"type": "host.record.start"})
    assert (await host.expect("media.topology", timeout=15))["topology"] == "sfu"
    pc = await offer_through(host)  # this connection's own offer opens the room on the worker
    try:
        assert (await host.expect("recording", timeout=30))["active"] is True
    finally:
        await pc.close()


async def two_in_sfu_room_without_worker(
    meeting: Meeting, owner: User, monkeypatch: pytest.MonkeyPatch
) -> tuple[RoomClient, RoomClient]:
    """A host and a guest in an SFU meeting while no worker runs; the guest's offer is refused
    with ``sfu_unavailable``."""
    monkeypatch.setattr("rooms.sfu_relay.ASSIGN_TIMEOUT", 0.5)
    await save(meeting, waiting_room=False, topology="sfu")
    host = await RoomClient.connect(meeting.code, owner, name="host")
    await host.join()
    guest = await RoomClient.connect(meeting.code, await sync_to_async(make_user)(username="g"), name="guest")
    await guest.join()
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
    pc.addTransceiver("audio", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    await guest.send({"type": "media.offer", "sdp": pc.localDescription.sdp, "restart": True})
    await guest.expect_error("sfu_unavailable")
    await pc.close()
    return host, guest


async def test_a_small_sfu_meeting_without_any_worker_goes_back_to_peer_to_peer(
    meeting: Meeting, owner: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    host, guest = await two_in_sfu_room_without_worker(meeting, owner, monkeypatch)

    for client in (host, guest):
        moved = await client.expect("media.topology")
        assert moved["topology"] == "mesh"
    await sync_to_async(meeting.refresh_from_db)()
    assert (await sync_to_async(main_room_of)(meeting)).topology == "mesh"
    # Now peer-to-peer: SFU messages are refused, signals between the two go through.
    await guest.send({"type": "media.ice", "candidate": None})
    await guest.expect_error("not_sfu")


async def test_a_meeting_above_the_fallback_size_keeps_waiting_for_a_worker(
    meeting: Meeting, owner: User, monkeypatch: pytest.MonkeyPatch, settings: SettingsWrapper
) -> None:
    settings.MEETING_MESH_FALLBACK_MAX = 1
    host, _ = await two_in_sfu_room_without_worker(meeting, owner, monkeypatch)

    await sync_to_async(meeting.refresh_from_db)()
    assert (await sync_to_async(main_room_of)(meeting)).topology == "sfu"
    await host.assert_silent({"media.topology"}, wait=1.0)

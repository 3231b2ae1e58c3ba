"""Media through a real worker process (``python -m media_workers``), driven over the worker
protocol like the web does: an aiortc publisher's VP8 and Opus reach two aiortc subscribers,
every packet, renumbered without a gap; when a subscriber leaves, the others are unaffected."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import pytest_asyncio
from channels.db import database_sync_to_async as sync_to_async

from media_workers.sequencing import seq_delta
from rooms.sfu_client import SfuClient, close_sfu_client, sfu_client
from tests.media_workers.sfu_clients import Client, join, slot_mids, wait_for
from tests.sfu_workers import SfuWorkers

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db]


@dataclass
class WorkerRoom:
    """The protocol side of ``join``: room.join through the worker serving ``room_id``."""

    client: SfuClient
    room_id: str

    async def add_peer(self, peer_id: str, offer_sdp: str) -> str:
        worker = await self.client.assign(self.room_id)
        message = {"method": "room.join", "room_id": self.room_id, "peer_id": peer_id, "sdp": offer_sdp}
        result = await self.client.request(worker.channel, message, 20)
        return str(result["sdp"])

    async def leave(self, peer_id: str) -> None:
        worker = await self.client.assign(self.room_id)
        await self.client.request(worker.channel, {"method": "room.leave", "room_id": self.room_id, "peer_id": peer_id})


@pytest_asyncio.fixture
async def worker_room(sfu_workers: SfuWorkers) -> AsyncIterator[WorkerRoom]:
    await sync_to_async(sfu_workers.start)()
    yield WorkerRoom(sfu_client(), "media-1")
    await close_sfu_client()


def gap_free(client: Client, mid: str) -> None:
    received = client.received_on(mid)
    assert len({r.ssrc for r in received}) == 1
    for before, after in itertools.pairwise(received):
        assert seq_delta(after.sequence, before.sequence) == 1, "a gap in the forwarded stream"


async def test_a_worker_process_forwards_every_packet_to_every_subscriber(worker_room: WorkerRoom) -> None:
    clients: list[Client] = []
    try:
        alice = await join(worker_room, "alice", video=[(320, 240)])
        clients.append(alice)
        bob = await join(worker_room, "bob", audio=False)
        clients.append(bob)
        carol = await join(worker_room, "carol", audio=False)
        clients.append(carol)
        for subscriber in (bob, carol):
            video, audio = slot_mids(subscriber, "video")[0], slot_mids(subscriber, "audio")[0]
            await wait_for(lambda s=subscriber, v=video: len(s.received_on(v)) >= 60, 30, "alice's video")  # type: ignore[misc]
            await wait_for(lambda s=subscriber, a=audio: len(s.received_on(a)) >= 50, 30, "alice's audio")  # type: ignore[misc]
            gap_free(subscriber, video)
            gap_free(subscriber, audio)

        # Bob leaves: Carol keeps receiving, still without a gap.
        await worker_room.leave("bob")
        video = slot_mids(carol, "video")[0]
        before = len(carol.received_on(video))
        await wait_for(lambda: len(carol.received_on(video)) >= before + 30, 30, "more video at carol")
        gap_free(carol, video)
    finally:
        for client in clients:
            await client.pc.close()

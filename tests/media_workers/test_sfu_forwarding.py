"""The router forwards real aiortc clients' RTP on loopback: every packet, renumbered per
subscriber, switched on keyframes, retransmitted on NACK, and with no codec in the worker.

Every test runs twice: with the native lanes the worker uses (media_workers/_lane) and with the
Python ones they are held to (media_workers/lane.py PyLane)."""

from __future__ import annotations

import asyncio
import itertools
import struct
import sys
from collections.abc import AsyncIterator
from types import FrameType
from typing import Any

import aiortc.codecs
import aiortc.rtcrtpreceiver
import aiortc.rtcrtpsender
import pytest
import pytest_asyncio

from media_workers import lane as lanes
from media_workers.consumer import SlotKind
from media_workers.frame_size import vp8_keyframe_size
from media_workers.keyframes import is_vp8_keyframe
from media_workers.router import SlotSource
from media_workers.sequencing import seq_delta
from tests.media_workers.sfu_clients import Client, Seen, join, send_mids, slot_mids, transceiver, wait_for
from tests.media_workers.sfu_fixtures import Room, open_room

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture(params=["native", "python"])
async def room(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Room]:
    if request.param == "python":
        monkeypatch.setattr(lanes, "_NATIVE", None)
    async with open_room() as room:
        yield room
        # Whatever the test left in the room went out through the lanes asked for.
        for pid in room.router.peer_ids:
            for consumer in room.router.peer(pid).consumers.values():
                if request.param == "python":
                    assert isinstance(consumer._lane, lanes.PyLane)
                elif consumer.packets_out:
                    assert consumer._lane.native_sends > 0


def assert_contiguous(received: list[Seen], sent: list[Seen]) -> None:
    """``received`` is ``sent`` from some point on, in order, renumbered without a gap."""
    assert received, "nothing received"
    starts = [i for i, s in enumerate(sent) if s.payload == received[0].payload and s.marker == received[0].marker]
    assert starts, "the first received packet was never sent"
    for start in starts:
        window = sent[start : start + len(received)]
        if [s.payload for s in window] == [r.payload for r in received]:
            break
    else:
        raise AssertionError("received payloads are not an unbroken run of the sent ones")
    assert len({r.ssrc for r in received}) == 1
    for before, after in itertools.pairwise(received):
        assert seq_delta(after.sequence, before.sequence) == 1
    offsets = {(r.timestamp - s.timestamp) % (1 << 32) for r, s in zip(received, window, strict=True)}
    assert len(offsets) == 1, "timestamps were not shifted by one constant offset"
    assert [r.marker for r in received] == [s.marker for s in window]


def pt_for(client: Client, mid: str, codec: str) -> int:
    codecs = transceiver(client, mid)._codecs
    return next(c.payloadType for c in codecs if c.name.lower() == codec and c.payloadType is not None)


async def test_every_subscriber_gets_every_packet_renumbered_and_no_codec_runs_in_the_worker(
    room: Room, monkeypatch: pytest.MonkeyPatch
) -> None:
    encoders: list[object] = []
    decoder_queues: list[object] = []
    real_get_encoder = aiortc.codecs.get_encoder
    real_decoder_worker = aiortc.rtcrtpreceiver.decoder_worker

    def spy_get_encoder(codec: Any) -> Any:
        caller: FrameType | None = sys._getframe(1)
        encoders.append(caller.f_locals.get("self") if caller else None)
        return real_get_encoder(codec)

    def spy_decoder_worker(loop: Any, input_q: Any, output_q: Any, *args: Any) -> None:
        decoder_queues.append(output_q)
        real_decoder_worker(loop, input_q, output_q, *args)

    monkeypatch.setattr(aiortc.rtcrtpsender, "get_encoder", spy_get_encoder)
    monkeypatch.setattr(aiortc.rtcrtpreceiver, "decoder_worker", spy_decoder_worker)

    alice = room.keep(await join(room.router, "alice", video=[(160, 120)]))
    subscribers = [room.keep(await join(room.router, name, audio=False)) for name in ("bob", "carol", "dave")]
    audio_mid, video_mid = send_mids(alice)

    def enough() -> bool:
        return all(
            len(s.received_on(slot_mids(s, "video")[0])) >= 40 and len(s.received_on(slot_mids(s, "audio")[0])) >= 60
            for s in subscribers
        )

    await wait_for(enough, 30, "media at every subscriber")

    for subscriber in subscribers:
        slot_audio = slot_mids(subscriber, "audio")[0]
        slot_video = slot_mids(subscriber, "video")[0]
        assert room.router.slot_map(subscriber.name)[slot_video].participant == "alice"
        video = subscriber.received_on(slot_video)
        audio = subscriber.received_on(slot_audio)
        assert_contiguous(video, alice.sent_on(video_mid))
        assert_contiguous(audio, alice.sent_on(audio_mid))
        assert is_vp8_keyframe(video[0].payload), "a slot starts on a keyframe"
        assert {r.payload_type for r in video} == {pt_for(subscriber, slot_video, "vp8")}
        assert {r.payload_type for r in audio} == {pt_for(subscriber, slot_audio, "opus")}
        assert not [r for r in subscriber.received if r.mid not in (slot_audio, slot_video)]

    # No codec in the worker: its receivers started no decoder thread and its senders asked
    # for no encoder; the spies did see the clients' codecs, so they were watching.
    worker_receivers = [t.receiver for pid in room.router.peer_ids for t in room.router.peer(pid).pc.getTransceivers()]
    worker_senders = [t.sender for pid in room.router.peer_ids for t in room.router.peer(pid).pc.getTransceivers()]
    worker_queues = [r._track._queue for r in worker_receivers if r._track is not None]
    assert not [q for q in decoder_queues if any(q is w for w in worker_queues)]
    assert not [e for e in encoders if any(e is s for s in worker_senders)]
    assert any(e is t.sender for t in alice.pc.getTransceivers() for e in encoders)
    assert len(decoder_queues) >= 3
    for receiver in worker_receivers:
        assert receiver._RTCRtpReceiver__decoder_thread is None  # type: ignore[attr-defined]

    stats = room.router.stats()
    assert stats.packets_out >= 3 * 100
    assert stats.unknown_ssrc == 0


async def test_a_layer_switch_happens_on_a_keyframe_without_a_sequence_gap(room: Room) -> None:
    alice = room.keep(await join(room.router, "alice", audio=False, video=[(320, 240), (160, 120)]))
    bob = room.keep(await join(room.router, "bob", audio=False))
    high_mid, low_mid = send_mids(alice)
    slot = slot_mids(bob, "video")[0]
    room.router.set_view("bob", ["alice"], sizes={"alice": 100})

    def layer_of(seen: Seen) -> str | None:
        for name, mid in (("high", high_mid), ("low", low_mid)):
            if any(s.payload == seen.payload for s in alice.sent_on(mid)):
                return name
        return None

    await wait_for(lambda: len([r for r in bob.received_on(slot) if layer_of(r) == "low"]) >= 20, 20, "low layer")
    room.router.set_view("bob", ["alice"], sizes={"alice": 480})
    await wait_for(lambda: len([r for r in bob.received_on(slot) if layer_of(r) == "high"]) >= 20, 20, "high layer")

    stream = bob.received_on(slot)
    layers = [layer_of(r) for r in stream]
    first_high = layers.index("high")
    assert "low" not in layers[first_high:], "no low packet after the switch"
    assert all(layer == "low" for layer in layers[:first_high])
    assert is_vp8_keyframe(stream[first_high].payload)
    assert vp8_keyframe_size(stream[first_high].payload) == (320, 240)
    assert vp8_keyframe_size(stream[0].payload) == (160, 120)
    for before, after in itertools.pairwise(stream):
        assert seq_delta(after.sequence, before.sequence) == 1
    assert seq_delta(stream[first_high].timestamp, stream[first_high - 1].timestamp) != 0
    assert len({r.ssrc for r in stream}) == 1
    assert room.router.peer("bob").consumers[slot].slot == SlotKind.VIDEO


async def test_packets_lost_before_a_subscriber_are_retransmitted_from_the_cache(room: Room) -> None:
    alice = room.keep(await join(room.router, "alice", audio=False, video=[(160, 120)], fps=20))
    bob = room.keep(await join(room.router, "bob", audio=False))
    slot = slot_mids(bob, "video")[0]
    first_seen: set[int] = set()
    count = [0]

    def drop(seen: Seen) -> bool:
        if seen.mid != slot or seen.sequence in first_seen:
            return False
        first_seen.add(seen.sequence)
        count[0] += 1
        return count[0] > 10 and count[0] % 7 == 0

    bob.drop = drop
    await wait_for(lambda: len(bob.dropped) >= 10, 30, "ten dropped packets")
    dropped = {d.sequence for d in bob.dropped[:10]}
    await wait_for(lambda: dropped <= {r.sequence for r in bob.received_on(slot)}, 10, "the retransmissions")
    stream = bob.received_on(slot)
    unique = {r.sequence: r for r in stream}  # a retransmission may be asked for twice
    in_order = sorted(unique.values(), key=lambda r: (r.sequence - stream[0].sequence) % 65536)
    assert_contiguous(in_order, alice.sent_on(send_mids(alice)[0]))
    stats = room.router.stats()
    assert stats.retransmitted >= 10
    assert stats.nacks_received >= 10
    assert alice.received == []


async def test_removing_a_peer_closes_its_connection_and_frees_the_slots_it_fed(room: Room) -> None:
    alice = room.keep(await join(room.router, "alice", video=[(160, 120)]))
    bob = room.keep(await join(room.router, "bob", audio=False))
    await wait_for(lambda: len(bob.received) > 20, 20, "media")
    worker_alice = room.router.peer("alice")
    await room.router.remove_peer("alice")
    assert worker_alice.pc.connectionState == "closed"
    assert all(t.stopped for t in worker_alice.pc.getTransceivers())
    assert worker_alice.dtls is not None
    assert worker_alice.dtls.state == "closed"
    assert room.recorder.slots["bob"] == {}
    assert all(c.current is None and c.target is None for c in room.router.peer("bob").consumers.values())
    assert room.router.peer_ids == ["bob"]
    assert room.recorder.failed == []  # a removal is not a failure
    worker_bob = room.router.peer("bob")
    await room.router.close()
    assert worker_bob.pc.connectionState == "closed"
    assert room.router.exited.is_set()
    assert room.router.peer_ids == []
    del alice


async def test_the_view_decides_who_fills_the_video_slots_and_every_slot_answers_nacks(room: Room) -> None:
    alice = room.keep(await join(room.router, "alice", audio=False, video=[(160, 120)]))
    carol = room.keep(await join(room.router, "carol", audio=False, video=[(160, 120)]))
    bob = room.keep(await join(room.router, "bob", audio=False, video_slots=2))
    first, second = slot_mids(bob, "video")[:2]
    room.router.set_view("bob", ["carol", "alice"])
    await wait_for(
        lambda: (
            room.recorder.slots.get("bob")
            == {first: SlotSource("alice", SlotKind.VIDEO), second: SlotSource("carol", SlotKind.VIDEO)}
            or room.recorder.slots.get("bob")
            == {first: SlotSource("carol", SlotKind.VIDEO), second: SlotSource("alice", SlotKind.VIDEO)}
        ),
        10,
        "both publishers in bob's slots",
    )
    shown = {source.participant: mid for mid, source in room.recorder.slots["bob"].items()}
    dropped_once: set[int] = set()
    passed: list[int] = []

    def drop(seen: Seen) -> bool:  # loss on the slot that shows carol, once it has started
        if seen.mid != shown["carol"] or seen.sequence in dropped_once:
            return False
        if len(passed) < 10 or seen.sequence % 5:
            passed.append(seen.sequence)
            return False
        dropped_once.add(seen.sequence)
        return True

    bob.drop = drop
    await wait_for(
        lambda: len(bob.received_on(shown["alice"])) >= 30 and len(bob.dropped) >= 5, 20, "media in both slots"
    )
    lost = {d.sequence for d in bob.dropped[:5]}
    await wait_for(lambda: lost <= {r.sequence for r in bob.received_on(shown["carol"])}, 10, "retransmissions")
    assert_contiguous(bob.received_on(shown["alice"]), alice.sent_on(send_mids(alice)[0]))

    room.router.set_view("bob", ["alice"])
    assert room.recorder.slots["bob"] == {shown["alice"]: SlotSource("alice", SlotKind.VIDEO)}
    assert room.router.peer("bob").consumers[shown["carol"]].current is None
    del carol


async def test_a_client_that_hangs_up_is_removed_and_leaves_no_task_behind(room: Room) -> None:
    alice = room.keep(await join(room.router, "alice", video=[(160, 120)]))
    bob = room.keep(await join(room.router, "bob", audio=False))
    await wait_for(lambda: len(bob.received) > 20, 20, "media")
    worker_alice = room.router.peer("alice")
    await alice.pc.close()
    await wait_for(lambda: "alice" not in room.router.peer_ids, 10, "alice to be removed")
    assert [(peer, error.code) for peer, error in room.recorder.failed] == [("alice", "connection_failed")]
    assert worker_alice.pc.connectionState == "closed"
    assert room.recorder.slots["bob"] == {}
    await room.router.close()
    leftovers = [t for t in asyncio.all_tasks() if "_idle" in repr(t.get_coro()) or "router-" in t.get_name()]
    assert leftovers == []


async def test_loss_from_a_publisher_is_nacked_upstream_and_the_rtx_answer_is_forwarded_unwrapped(room: Room) -> None:
    alice = room.keep(await join(room.router, "alice", audio=False, video=[(160, 120)], fps=20))
    bob = room.keep(await join(room.router, "bob", audio=False))
    slot = slot_mids(bob, "video")[0]
    await wait_for(lambda: len(bob.received_on(slot)) >= 10, 20, "video at bob")
    ice = alice.dtls.transport
    send = ice._send
    video_ssrc = alice.sent_on(send_mids(alice)[0])[0].ssrc
    lost_upstream: list[int] = []

    async def lossy_send(data: bytes) -> None:
        # Alice's wire, after SRTP (the RTP header is in clear): every 9th video packet is lost once.
        if 128 <= data[0] < 192 and not 192 <= data[1] <= 208:
            sequence, _, ssrc = struct.unpack_from("!HII", data, 2)
            if ssrc == video_ssrc and sequence % 9 == 0 and sequence not in lost_upstream:
                lost_upstream.append(sequence)
                return
        await send(data)

    setattr(ice, "_send", lossy_send)  # noqa: B010
    await wait_for(lambda: len(lost_upstream) >= 5, 20, "five packets lost upstream")
    wanted = {r.payload for r in alice.sent_on(send_mids(alice)[0]) if r.sequence in lost_upstream[:5]}
    await wait_for(lambda: wanted <= {r.payload for r in bob.received_on(slot)}, 10, "the repaired packets at bob")
    stats = room.router.stats()
    assert stats.nacks_sent_upstream >= 5
    assert stats.rtx_in >= 5
    assert {r.payload_type for r in bob.received_on(slot)} == {pt_for(bob, slot, "vp8")}  # no RTX downstream


async def test_sender_reports_count_exactly_what_each_slot_sent(room: Room) -> None:
    room.keep(await join(room.router, "alice", video=[(160, 120)]))
    bob = room.keep(await join(room.router, "bob", audio=False))
    slots = [slot_mids(bob, "audio")[0], slot_mids(bob, "video")[0]]
    reports: dict[str, tuple[int, int]] = {}

    async def collect() -> None:
        for mid in slots:
            stats = await transceiver(bob, mid).receiver.getStats()
            remote = [s for s in stats.values() if s.type == "remote-outbound-rtp"]
            if remote:
                reports[mid] = (remote[0].packetsSent, remote[0].bytesSent)

    deadline = asyncio.get_running_loop().time() + 10
    while len(reports) < len(slots) or min(packets for packets, _ in reports.values()) < 20:
        assert asyncio.get_running_loop().time() < deadline, "no sender reports"
        await asyncio.sleep(0.2)
        await collect()
    for mid in slots:
        packets, octets = reports[mid]
        received = bob.received_on(mid)
        assert len(received) >= packets
        assert octets == sum(len(r.payload) for r in received[:packets]), "octet count = payload bytes sent"

"""The media router of one room: owns the graph of peers, producers and consumers.

The public surface the control plane uses is ``Router`` and ``RouterListener`` (signatures in
docs/sfu-media.md). Children report up through small listener interfaces; the router decides
slot contents (speakers.py, slots.py, layers.py) and runs one housekeeping loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from aiortc.sdp import candidate_from_sdp

from media_workers.consumer import Consumer, SlotKind
from media_workers.errors import (
    ALREADY_RECORDING,
    BAD_CANDIDATE,
    BAD_VIEW,
    NOT_RECORDING,
    PEER_EXISTS,
    ROUTER_CLOSED,
    UNKNOWN_PEER,
    MediaError,
)
from media_workers.layers import Layer, LayerInfo, choose_layer
from media_workers.peer import Peer
from media_workers.producer import Producer, ProducerRole
from media_workers.recording.room import RoomRecorder
from media_workers.router_config import RouterConfig
from media_workers.slots import assign, wanted_audio, wanted_video
from media_workers.speakers import SpeakerDetector

logger = logging.getLogger(__name__)

DEFAULT_HIGH = (720, 1_200_000)
DEFAULT_LOW = (180, 150_000)
REMB_MAX_AGE = 5.0
#: How often a recording's manifest is rewritten while it runs.
MANIFEST_INTERVAL = 5.0
HOUSEKEEPING_CHUNK = 8  # peers handled between two yields to the event loop (see _each_peer_gradually)


@dataclass(frozen=True)
class Publishers:
    """Who publishes what in the room now: the input of every peer's slot assignment."""

    audio: list[str]
    cameras: list[str]
    screens: list[str]  # sharing now, the latest to start last
    loudest: list[str]


@dataclass(frozen=True)
class SlotSource:
    """What a subscriber slot (by MID) currently shows."""

    participant: str
    kind: SlotKind


class RouterListener(Protocol):
    def slots_changed(self, peer_id: str, mapping: dict[str, SlotSource]) -> None: ...
    def dominant_speaker(self, peer_id: str | None) -> None: ...
    def peer_failed(self, peer_id: str, error: MediaError) -> None: ...


@dataclass
class View:
    tiles: list[str] | None = None
    stage: str | None = None
    sizes: dict[str, int] = field(default_factory=dict)


@dataclass
class RouterStats:
    peers: int = 0
    producers: int = 0
    consumers: int = 0
    packets_in: int = 0
    bytes_in: int = 0
    packets_out: int = 0
    bytes_out: int = 0
    rtx_in: int = 0
    nacks_received: int = 0
    retransmitted: int = 0
    nacks_refused: int = 0
    nacks_sent_upstream: int = 0
    plis_received: int = 0
    plis_forwarded: int = 0
    plis_suppressed: int = 0
    unknown_ssrc: int = 0
    malformed: int = 0
    dropped: int = 0
    #: mean fraction lost (0..1) reported by subscribers, and seen from publishers
    loss_downstream: float = 0.0
    loss_upstream: float = 0.0

    def add_counters(self, other: RouterStats) -> None:
        for name in _COUNTERS:
            setattr(self, name, getattr(self, name) + getattr(other, name))


_COUNTERS = (
    "packets_in", "bytes_in", "packets_out", "bytes_out", "rtx_in", "nacks_received", "retransmitted",
    "nacks_refused", "nacks_sent_upstream", "plis_received", "plis_forwarded", "plis_suppressed",
    "unknown_ssrc", "malformed", "dropped",
)  # fmt: skip


class Router:
    def __init__(self, room_id: str, config: RouterConfig, listener: RouterListener) -> None:
        self.room_id = room_id
        self.config = config
        self._listener = listener
        self._peers: dict[str, Peer] = {}
        self._views: dict[str, View] = {}
        self._mappings: dict[str, dict[str, SlotSource]] = {}
        self._full_reassigns = 0  # a tick in slices stops assigning once a full pass ran meanwhile
        self._speakers = SpeakerDetector()
        self._dominant: str | None = None
        self._recent: list[str] = []
        self._retired = RouterStats()
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self.started = asyncio.Event()
        self.exited = asyncio.Event()
        self.closed = False
        self.recorder: RoomRecorder | None = None
        self._manifest_due = 0.0

    # public API --------------------------------------------------------------------------
    async def add_peer(self, peer_id: str, offer_sdp: str, roles: Mapping[str, str] | None = None) -> str:
        """Creates the participant's peer connection from its offer; returns the answer SDP."""
        self._check_open()
        if peer_id in self._peers:
            raise MediaError(PEER_EXISTS, f"{peer_id} already has a peer connection in this room")
        self._start()
        peer = Peer(peer_id, self.config, self)
        self._peers[peer_id] = peer
        try:
            answer = await peer.negotiate(offer_sdp, roles)
        except BaseException:
            await self._drop(peer_id)
            raise
        self._record_new_producers()
        return answer

    async def renegotiate(self, peer_id: str, offer_sdp: str, roles: Mapping[str, str] | None = None) -> str:
        self._check_open()
        return await self._peer(peer_id).negotiate(offer_sdp, roles)

    async def add_ice_candidate(self, peer_id: str, candidate: Mapping[str, object]) -> None:
        """A trickled remote candidate ({"candidate", "sdpMid", "sdpMLineIndex"}); empty: end."""
        peer = self._peer(peer_id)
        text = candidate.get("candidate")
        if not isinstance(text, str):
            raise MediaError(BAD_CANDIDATE, "candidate must be a string")
        if not text:
            return
        body = text.removeprefix("candidate:")
        if len(body.split()) < 8:
            raise MediaError(BAD_CANDIDATE, "the candidate has too few fields")
        try:
            parsed = candidate_from_sdp(body)
        except (ValueError, IndexError, KeyError) as exc:
            raise MediaError(BAD_CANDIDATE, f"the candidate could not be parsed: {exc}") from exc
        mid = candidate.get("sdpMid")
        index = candidate.get("sdpMLineIndex")
        parsed.sdpMid = mid if isinstance(mid, str) else None
        parsed.sdpMLineIndex = index if isinstance(index, int) else None
        if parsed.sdpMid is None and parsed.sdpMLineIndex is None:
            parsed.sdpMLineIndex = 0
        try:
            await peer.pc.addIceCandidate(parsed)
        except ValueError as exc:
            raise MediaError(BAD_CANDIDATE, str(exc)) from exc

    def set_view(
        self,
        peer_id: str,
        video_tiles: Sequence[str] | None,
        stage: str | None = None,
        sizes: Mapping[str, int] | None = None,
    ) -> None:
        """What the participant shows: the tiles on screen (None: follow the speakers), the stage
        participant (their screen share goes to the screen slot), tile heights in pixels."""
        self._peer(peer_id)
        try:
            view = View(
                tiles=[str(tile) for tile in video_tiles] if video_tiles is not None else None,
                stage=str(stage) if stage is not None else None,
                sizes={str(k): max(0, int(v)) for k, v in (sizes or {}).items()},
            )
        except (TypeError, ValueError) as exc:
            raise MediaError(BAD_VIEW, f"the view is not well-formed: {exc}") from exc
        self._views[peer_id] = view
        self._reassign(time.monotonic())

    def start_recording(self, recorder: RoomRecorder) -> None:
        """Records every published track from now on, and the ones published later."""
        self._check_open()
        if self.recorder is not None:
            raise MediaError(ALREADY_RECORDING, f"room {self.room_id} is already being recorded")
        self.recorder = recorder
        self._record_new_producers()

    def stop_recording(self) -> Path:
        """Ends the recording's tracks; returns its manifest's path."""
        recorder, self.recorder = self.recorder, None
        if recorder is None:
            raise MediaError(NOT_RECORDING, f"room {self.room_id} is not being recorded")
        return recorder.stop()

    def _record_new_producers(self) -> None:
        if self.recorder is None:
            return
        for peer in self._peers.values():
            for producer in peer.producers.values():
                self.recorder.add_producer(producer)

    async def remove_peer(self, peer_id: str) -> None:
        if peer_id not in self._peers:
            raise MediaError(UNKNOWN_PEER, f"{peer_id} has no peer connection in this room")
        await self._drop(peer_id)
        self._reassign(time.monotonic())

    async def close(self) -> None:
        """Stops the loop, then closes every peer (see docs/closures.md)."""
        if self.closed:
            return
        self.closed = True
        if self._loop_task is not None:
            self._loop_task.cancel()
            await self.exited.wait()
        if self.recorder is not None:
            self.stop_recording()
        for peer_id in list(self._peers):
            await self._drop(peer_id)
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def stats(self) -> RouterStats:
        total = RouterStats()
        total.add_counters(self._retired)
        losses_down: list[float] = []
        losses_up: list[float] = []
        for peer in self._peers.values():
            total.add_counters(_peer_counters(peer))
            total.peers += 1
            total.producers += len(peer.producers)
            total.consumers += sum(1 for c in peer.consumers.values() if c.target is not None)
            losses_down += [c.fraction_lost / 256 for c in peer.consumers.values() if c.packets_out]
            losses_up += [p.fraction_lost_upstream for p in peer.producers.values()]
        total.loss_downstream = sum(losses_down) / len(losses_down) if losses_down else 0.0
        total.loss_upstream = sum(losses_up) / len(losses_up) if losses_up else 0.0
        return total

    def slot_map(self, peer_id: str) -> dict[str, SlotSource]:
        return dict(self._mappings.get(peer_id, {}))

    @property
    def peer_ids(self) -> list[str]:
        return list(self._peers)

    def peer(self, peer_id: str) -> Peer:
        """The participant's ``Peer`` (for tests and diagnostics; not for the control plane)."""
        return self._peer(peer_id)

    @property
    def dominant(self) -> str | None:
        return self._dominant

    # PeerListener ------------------------------------------------------------------------
    def peer_connected(self, peer_id: str) -> None:
        now = time.monotonic()
        peer = self._peers.get(peer_id)
        if peer is None:
            return
        for consumer in peer.consumers.values():
            if consumer.is_video and consumer.target is not None and consumer.current is not consumer.target:
                # Video slots do not start before DTLS is up: ask for the keyframe they wait for.
                consumer.waiting_since = now
                consumer.target.request_keyframe(now)

    def peer_failed(self, peer_id: str, error: MediaError) -> None:
        if self.closed or peer_id not in self._peers:
            return
        self._listener.peer_failed(peer_id, error)
        self._spawn(self._remove_failed(peer_id))

    def media_changed(self, peer_id: str) -> None:
        self._record_new_producers()
        self._reassign(time.monotonic())

    def audio_level(self, peer_id: str, level_dbov: int, now: float) -> None:
        self._speakers.observe(peer_id, level_dbov, now)

    # internals ---------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self.closed:
            raise MediaError(ROUTER_CLOSED, f"room {self.room_id} is closed")

    def _peer(self, peer_id: str) -> Peer:
        peer = self._peers.get(peer_id)
        if peer is None:
            raise MediaError(UNKNOWN_PEER, f"{peer_id} has no peer connection in this room")
        return peer

    def _start(self) -> None:
        if self._loop_task is None:
            self._loop_task = asyncio.create_task(self._run(), name=f"router-{self.room_id}")

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _remove_failed(self, peer_id: str) -> None:
        if peer_id in self._peers:
            await self._drop(peer_id)
            self._reassign(time.monotonic())

    async def _drop(self, peer_id: str) -> None:
        peer = self._peers.pop(peer_id, None)
        self._views.pop(peer_id, None)
        self._mappings.pop(peer_id, None)
        self._speakers.remove(peer_id)
        if peer_id in self._recent:
            self._recent.remove(peer_id)
        if self._dominant == peer_id:
            self._dominant = None
            if not self.closed:
                self._listener.dominant_speaker(None)
        if peer is None:
            return
        self._retired.add_counters(_peer_counters(peer))
        await peer.close()

    async def _run(self) -> None:
        """started → loop (speakers, slots, feedback) → clean exit on cancel → exited."""
        self.started.set()
        next_report = time.monotonic()
        try:
            while True:
                await asyncio.sleep(self.config.tick)
                now = time.monotonic()
                try:
                    await self._tick(now)
                    if now >= next_report:
                        next_report = now + self.config.rtcp_interval
                        await self._report(time.monotonic())
                except Exception:
                    logger.exception("router %s: housekeeping failed", self.room_id)
        except asyncio.CancelledError:
            pass
        finally:
            self.exited.set()

    async def _each_peer_gradually(self) -> AsyncIterator[tuple[str, Peer]]:
        """The room's peers, yielding to the event loop every ``HOUSEKEEPING_CHUNK`` of them.

        Housekeeping of a 100-peer room takes milliseconds; done in one go it would hold every
        packet that arrives meanwhile (the forwarding path runs on the same loop), so it is cut
        into slices between which packets are forwarded. Peers that left during a pause are
        skipped."""
        for index, (peer_id, peer) in enumerate(list(self._peers.items())):
            if index and index % HOUSEKEEPING_CHUNK == 0:
                await asyncio.sleep(0)
            if self.closed:
                return
            if self._peers.get(peer_id) is peer:
                yield peer_id, peer

    async def _tick(self, now: float) -> None:
        if self.recorder is not None and now >= self._manifest_due:
            # What is on disk, for a composition after a crash (segments end on their own).
            self._manifest_due = now + MANIFEST_INTERVAL
            self.recorder.write_manifest()
        dominant = self._speakers.dominant(now)
        if dominant != self._dominant:
            self._dominant = dominant
            if dominant is not None:
                if dominant in self._recent:
                    self._recent.remove(dominant)
                self._recent.insert(0, dominant)
            self._listener.dominant_speaker(dominant)
        if self.closed:
            return
        publishers = self._publishers(now)
        seen = self._full_reassigns
        async for peer_id, peer in self._each_peer_gradually():
            # A join, leave or view change during a pause reassigned everyone with newer facts
            # than ``publishers``: the rest of this pass must not undo it.
            if self._full_reassigns == seen:
                self._reassign_peer(peer_id, peer, publishers, now)
            self._feedback(peer, now)

    def _feedback(self, peer: Peer, now: float) -> None:
        """NACK retries upstream; keyframe requests again for slots still waiting for one."""
        for producer in peer.producers.values():
            producer.retry_nacks()
        for consumer in peer.consumers.values():
            waiting = consumer.waiting_since
            if waiting is not None and consumer.target is not None and now - waiting >= self.config.keyframe_retry:
                consumer.waiting_since = now
                consumer.target.request_keyframe(now)

    async def _report(self, now: float) -> None:
        unix_time = time.time()
        budgets = {peer_id: self._budget(peer, now) for peer_id, peer in self._peers.items()}
        async for _, peer in self._each_peer_gradually():
            for consumer in peer.consumers.values():
                report = consumer.sender_report(now, unix_time)
                if report is not None:
                    peer.send_rtcp(report)
            for producer in peer.producers.values():
                for consumer in producer.consumers:
                    budget = budgets.get(consumer.peer_id)
                    if budget is not None:
                        producer.estimates.report(consumer.peer_id, budget, now)
                producer.report(
                    now, producer.estimates.minimum(now), self.config.remb_floor_bps, self.config.remb_cap_bps
                )

    def _budget(self, peer: Peer, now: float) -> int | None:
        """The subscriber's estimate per video slot in use (None: no estimate)."""
        estimates = [
            c.remb_bps for c in peer.consumers.values() if c.remb_bps is not None and now - c.remb_at < REMB_MAX_AGE
        ]
        if not estimates:
            return None
        in_use = sum(1 for c in peer.consumers.values() if c.is_video and c.target is not None) or 1
        return max(estimates) // in_use

    def _reassign(self, now: float) -> None:
        """Every peer's slots at once (after a join, a leave, a view or producer change)."""
        if self.closed:
            return
        self._full_reassigns += 1
        publishers = self._publishers(now)
        for peer_id, peer in self._peers.items():
            self._reassign_peer(peer_id, peer, publishers, now)

    def _publishers(self, now: float) -> Publishers:
        audio_pubs: list[str] = []
        camera_pubs: list[str] = []
        # Screens that are being shared now, the latest to start last (it wins the stage).
        sharing: list[tuple[float, str]] = []
        for peer_id, peer in self._peers.items():
            roles = {p.role for p in peer.producers.values()}
            if ProducerRole.AUDIO in roles:
                audio_pubs.append(peer_id)
            if roles & {ProducerRole.CAMERA_HIGH, ProducerRole.CAMERA_LOW}:
                camera_pubs.append(peer_id)
            screen = next((p for p in peer.producers.values() if p.role == ProducerRole.SCREEN), None)
            if screen is not None and screen.sending(now) and screen.sending_since is not None:
                sharing.append((screen.sending_since, peer_id))
        return Publishers(
            audio=audio_pubs,
            cameras=camera_pubs,
            screens=[peer_id for _, peer_id in sorted(sharing)],
            loudest=self._speakers.loudest(self.config.audio_slots + 1, now),
        )

    def _reassign_peer(self, peer_id: str, peer: Peer, publishers: Publishers, now: float) -> None:
        view = self._views.get(peer_id) or View()
        budget = self._budget(peer, now) if self.config.bandwidth_layers else None
        by_kind: dict[SlotKind, list[Consumer]] = {kind: [] for kind in SlotKind}
        for consumer in peer.consumers.values():
            if consumer.enabled:
                by_kind[consumer.slot].append(consumer)
        audio = by_kind[SlotKind.AUDIO]
        current = [c.participant for c in audio]
        chosen = assign(current, wanted_audio(peer_id, publishers.audio, publishers.loudest, current, len(audio)))
        for consumer, participant in zip(audio, chosen, strict=True):
            self._show(consumer, participant, ProducerRole.AUDIO, now)
        video = by_kind[SlotKind.VIDEO]
        wanted = wanted_video(peer_id, publishers.cameras, view.tiles, self._recent, len(video))
        chosen = assign([c.participant for c in video], wanted)
        for consumer, participant in zip(video, chosen, strict=True):
            self._show_camera(consumer, participant, view, budget, now)
        for consumer in by_kind[SlotKind.SCREEN]:
            others = [p for p in publishers.screens if p != peer_id]
            sharer = view.stage if view.stage in others else (others[-1] if others else None)
            self._show(consumer, sharer, ProducerRole.SCREEN, now)
        mapping = {
            c.mid: SlotSource(c.participant, c.slot) for c in peer.consumers.values() if c.participant is not None
        }
        if mapping != self._mappings.get(peer_id):
            self._mappings[peer_id] = mapping
            self._listener.slots_changed(peer_id, dict(mapping))

    def _producer(self, participant: str | None, role: ProducerRole) -> Producer | None:
        if participant is None:
            return None
        peer = self._peers.get(participant)
        if peer is None:
            return None
        return next((p for p in peer.producers.values() if p.role == role), None)

    def _show(self, consumer: Consumer, participant: str | None, role: ProducerRole, now: float) -> None:
        producer = self._producer(participant, role)
        consumer.participant = participant if producer is not None else None
        consumer.set_target(producer, now)

    def _show_camera(
        self, consumer: Consumer, participant: str | None, view: View, budget: int | None, now: float
    ) -> None:
        high = self._producer(participant, ProducerRole.CAMERA_HIGH)
        low = self._producer(participant, ProducerRole.CAMERA_LOW)
        producer = high or low
        if high is not None and low is not None and participant is not None:
            layers = [
                LayerInfo(Layer.LOW, low.height or DEFAULT_LOW[0], low.bitrate_bps or DEFAULT_LOW[1]),
                LayerInfo(Layer.HIGH, high.height or DEFAULT_HIGH[0], high.bitrate_bps or DEFAULT_HIGH[1]),
            ]
            current = Layer.HIGH if consumer.target is high else Layer.LOW if consumer.target is low else None
            tile = view.sizes.get(participant, self.config.default_tile_height)
            layer = choose_layer(max(tile, 1), budget, layers, current)
            producer = low if layer == Layer.LOW else high
        consumer.participant = participant if producer is not None else None
        consumer.set_target(producer, now)


def _peer_counters(peer: Peer) -> RouterStats:
    stats = RouterStats(
        packets_in=peer.packets_in,
        bytes_in=peer.bytes_in,
        unknown_ssrc=peer.unknown_ssrc,
        malformed=peer.malformed,
        dropped=peer.errors + peer.send_errors,
    )
    for producer in peer.producers.values():
        stats.rtx_in += producer.rtx_in
        stats.nacks_sent_upstream += producer.nacks_sent
        stats.plis_forwarded += producer.keyframes.forwarded
        stats.plis_suppressed += producer.keyframes.suppressed
        stats.dropped += producer.dropped
    for consumer in peer.consumers.values():
        stats.packets_out += consumer.packets_out
        stats.bytes_out += consumer.bytes_out
        stats.nacks_received += consumer.nacks_received
        stats.retransmitted += consumer.retransmitted
        stats.nacks_refused += consumer.nacks_refused
        stats.plis_received += consumer.plis_received
    return stats

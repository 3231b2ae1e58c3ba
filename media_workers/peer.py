"""One participant's RTCPeerConnection in the worker, turned into a forwarding endpoint.

aiortc does the signalling, ICE, DTLS and SRTP. Everything that would decode or encode is
bypassed before it can start:

- each receiver's ``receive`` is replaced, so no decoder thread and no jitter buffer exist;
- the DTLS transport's ``_handle_rtp_data`` (decrypted RTP) goes to ``Peer._on_rtp``, which
  routes by SSRC (or by MID for a new SSRC) to this peer's producers;
- each slot sender's RTP and RTCP loops are replaced by idle tasks (it never has a track, so
  never an encoder), and its RTCP handler goes to the slot's consumer (NACK, PLI, REMB, RR).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, Protocol

from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc.codecs import is_rtx
from aiortc.exceptions import InternalError, InvalidAccessError, InvalidStateError, OperationError
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtp import AnyRtcpPacket

from media_workers.announce import announce
from media_workers.consumer import Consumer, SlotKind
from media_workers.errors import BAD_SDP, CONNECTION_FAILED, ICE_TIMEOUT, NO_COMMON_CODEC, MediaError
from media_workers.ice_addresses import restrict_host_candidates
from media_workers.negotiation import FORWARDED_CODECS, OfferPlan, Section, parse_offer, plan_offer
from media_workers.producer import Producer, ProducerRole
from media_workers.router_config import RouterConfig
from media_workers.rtp_rewrite import HeaderWriter, RtpHeader, header_extensions
from media_workers.transport_io import TransportWriter

MID_URI = "urn:ietf:params:rtp-hdrext:sdes:mid"
ABS_SEND_TIME_URI = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
AUDIO_LEVEL_URI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"

_producer_keys = itertools.count(1)
logger = logging.getLogger(__name__)


class PeerListener(Protocol):
    def peer_connected(self, peer_id: str) -> None: ...
    def peer_failed(self, peer_id: str, error: MediaError) -> None: ...
    def media_changed(self, peer_id: str) -> None: ...
    def audio_level(self, peer_id: str, level_dbov: int, now: float) -> None: ...


def _extension_ids(transceiver: RTCRtpTransceiver) -> dict[str, int]:
    return {ext.uri: ext.id for ext in transceiver._headerExtensions}


async def _idle(started: asyncio.Event, exited: asyncio.Event) -> None:
    """Stands in for an aiortc sender loop: no track, no encoder, nothing to do until stopped."""
    started.set()
    try:
        await asyncio.Event().wait()
    finally:
        exited.set()


async def _no_receive(*_args: object) -> None:
    """Stands in for ``RTCRtpReceiver.receive``: no decoder thread, no jitter buffer."""


class Peer:
    def __init__(self, peer_id: str, config: RouterConfig, listener: PeerListener) -> None:
        self.peer_id = peer_id
        self._config = config
        self._listener = listener
        servers = [RTCIceServer(urls=url) for url in config.ice_servers]
        # max-bundle: every transceiver uses the first one's transport from the start. With aiortc's
        # default (balanced), the 2nd+ video sections of an offer stay on a transport that the
        # BUNDLE step then stops: their senders never start and their RTCP is never routed.
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=servers, bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
        self.producers: dict[str, Producer] = {}
        self.consumers: dict[str, Consumer] = {}
        self._roles: dict[str, ProducerRole] = {}
        self._slots: dict[str, SlotKind] = {}
        self._by_ssrc: dict[int, Producer] = {}
        self._mid_ext_id = 0
        self._patched: set[int] = set()
        self._dtls: RTCDtlsTransport | None = None
        self._writer: TransportWriter | None = None
        self._connected = asyncio.Event()
        self._watchdog: asyncio.Task[None] | None = None
        self._failed = False
        self.closed = False
        self.packets_in = 0
        self.bytes_in = 0
        self.unknown_ssrc = 0
        self.malformed = 0
        self.errors = 0
        self.pc.on("connectionstatechange", self._on_state)

    # negotiation -------------------------------------------------------------------------
    async def negotiate(self, offer_sdp: str, roles: Mapping[str, str] | None = None) -> str:
        """Applies a client offer (first or renegotiation) and returns the answer SDP."""
        sections = parse_offer(offer_sdp)
        plan = plan_offer(
            sections,
            known_roles=self._roles,
            known_slots=self._slots,
            requested_roles=roles,
            audio_slots=self._config.audio_slots,
            video_slots=self._config.video_slots,
        )
        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
        except OperationError as exc:
            raise MediaError(NO_COMMON_CODEC, str(exc)) from exc
        except (
            ValueError,
            TypeError,
            KeyError,
            IndexError,
            AssertionError,
            InvalidStateError,
            InvalidAccessError,
            InternalError,
        ) as exc:
            raise MediaError(BAD_SDP, f"the offer was refused: {exc}") from exc
        if self._config.ice_addresses:
            restrict_host_candidates(self.pc, self._config.ice_addresses)
        by_mid = {t.mid: t for t in self.pc.getTransceivers()}
        for section in sections:
            transceiver = by_mid.get(section.mid)
            if transceiver is None:
                continue
            self._prepare(transceiver, section, plan)
        try:
            await self.pc.setLocalDescription(await self.pc.createAnswer())
        except (ValueError, InvalidStateError, InternalError) as exc:
            raise MediaError(BAD_SDP, f"no answer could be made: {exc}") from exc
        self._install(sections, plan, by_mid)
        if self._watchdog is None:
            self._watchdog = asyncio.create_task(self._watch(), name=f"peer-watchdog-{self.peer_id}")
        answer = self.pc.localDescription.sdp
        return announce(answer, self._config.public_ip) if self._config.public_ip else answer

    def _prepare(self, transceiver: RTCRtpTransceiver, section: Section, plan: OfferPlan) -> None:
        allowed = FORWARDED_CODECS[transceiver.kind]
        base = [c for c in transceiver._codecs if not is_rtx(c) and c.name.lower() in allowed]
        base_types = {c.payloadType for c in base}
        rtx = [c for c in transceiver._codecs if is_rtx(c) and c.parameters.get("apt") in base_types]
        transceiver._codecs = base + rtx
        if section.mid in plan.roles:
            transceiver.direction = "recvonly"
        elif section.mid in plan.slots:
            transceiver.direction = "sendonly"
        if id(transceiver) in self._patched:
            return
        self._patched.add(id(transceiver))
        receiver = transceiver.receiver
        sender = transceiver.sender
        setattr(receiver, "receive", _no_receive)  # noqa: B010 - replacing aiortc's decoder start
        started_rtp = getattr(sender, "_RTCRtpSender__rtp_started")  # noqa: B009 - aiortc private
        exited_rtp = getattr(sender, "_RTCRtpSender__rtp_exited")  # noqa: B009 - aiortc private
        started_rtcp = getattr(sender, "_RTCRtpSender__rtcp_started")  # noqa: B009 - aiortc private
        exited_rtcp = getattr(sender, "_RTCRtpSender__rtcp_exited")  # noqa: B009 - aiortc private
        setattr(sender, "_run_rtp", lambda _codec: _idle(started_rtp, exited_rtp))  # noqa: B010
        setattr(sender, "_run_rtcp", lambda: _idle(started_rtcp, exited_rtcp))  # noqa: B010
        setattr(sender, "_handle_rtcp_packet", self._rtcp_handler(section.mid))  # noqa: B010

    def _rtcp_handler(self, mid: str) -> Callable[[AnyRtcpPacket], Coroutine[Any, Any, None]]:
        async def handle(packet: AnyRtcpPacket) -> None:
            consumer = self.consumers.get(mid)
            if consumer is None:
                return
            try:
                await consumer.handle_rtcp(packet)
            except Exception:
                self.errors += 1
                if self.errors == 1:
                    logger.exception("peer %s: RTCP handling failed", self.peer_id)

        return handle

    def _install(
        self, sections: list[Section], plan: OfferPlan, by_mid: Mapping[str | None, RTCRtpTransceiver]
    ) -> None:
        transceivers = self.pc.getTransceivers()
        if self._dtls is None and transceivers:
            self._dtls = transceivers[0].receiver.transport
            self._writer = TransportWriter(self._dtls)
            setattr(self._dtls, "_handle_rtp_data", self._on_rtp)  # noqa: B010 - decrypted RTP comes here
        writer = self._writer
        assert writer is not None
        cname = str(getattr(self.pc, "_RTCPeerConnection__cname", "sfu"))
        changed = False
        for section in sections:
            transceiver = by_mid.get(section.mid)
            if transceiver is None:
                continue
            ids = _extension_ids(transceiver)
            self._mid_ext_id = self._mid_ext_id or ids.get(MID_URI, 0)
            if section.mid in plan.roles and section.mid not in self.producers:
                self._add_producer(transceiver, section, plan.roles[section.mid], ids, writer)
                changed = True
            elif section.mid in plan.slots and section.mid not in self.consumers:
                self.consumers[section.mid] = self._make_consumer(
                    transceiver, plan.slots[section.mid], ids, writer, cname
                )
                changed = True
            if section.mid in self.producers and not section.publishes:
                self._remove_producer(section.mid)
                changed = True
            consumer = self.consumers.get(section.mid)
            if consumer is not None and consumer.enabled != section.receives:
                consumer.enabled = section.receives  # a slot the client set inactive is not fed
                if not consumer.enabled:
                    consumer.participant = None
                    consumer.set_target(None, time.monotonic())
                changed = True
        self._roles.update(plan.roles)
        self._slots.update(plan.slots)
        if changed:
            self._listener.media_changed(self.peer_id)

    def _add_producer(
        self,
        transceiver: RTCRtpTransceiver,
        section: Section,
        role: ProducerRole,
        ids: dict[str, int],
        writer: TransportWriter,
    ) -> None:
        codecs = {c.payloadType: (c.name.lower(), c.clockRate) for c in transceiver._codecs if not is_rtx(c)}
        rtx: dict[int, int] = {}
        for codec in transceiver._codecs:
            apt = codec.parameters.get("apt")
            if is_rtx(codec) and isinstance(apt, int) and codec.payloadType is not None:
                rtx[codec.payloadType] = apt
        producer = Producer(
            key=next(_producer_keys),
            peer_id=self.peer_id,
            role=role,
            mid=section.mid,
            codecs={pt: v for pt, v in codecs.items() if pt is not None},
            rtx_payload_types=rtx,
            audio_level_id=ids.get(AUDIO_LEVEL_URI, 0),
            abs_send_time_id=ids.get(ABS_SEND_TIME_URI, 0),
            transport=writer,
            rtcp_ssrc=transceiver.sender._ssrc,
            keyframe_interval=self._config.keyframe_interval,
            on_audio_level=self._listener.audio_level,
        )
        if section.ssrc is not None:
            producer.ssrc = section.ssrc
            self._by_ssrc[section.ssrc] = producer
        if section.rtx_ssrc is not None:
            producer.rtx_ssrc = section.rtx_ssrc
            self._by_ssrc[section.rtx_ssrc] = producer
        self.producers[section.mid] = producer

    def _remove_producer(self, mid: str) -> None:
        producer = self.producers.pop(mid)
        for ssrc in [s for s, p in self._by_ssrc.items() if p is producer]:
            del self._by_ssrc[ssrc]
        producer.close()

    def _make_consumer(
        self, transceiver: RTCRtpTransceiver, slot: SlotKind, ids: dict[str, int], writer: TransportWriter, cname: str
    ) -> Consumer:
        payload_types: dict[str, int] = {}
        for codec in transceiver._codecs:
            if not is_rtx(codec) and codec.payloadType is not None:
                payload_types.setdefault(codec.name.lower(), codec.payloadType)
        ssrc = transceiver.sender._ssrc
        mid = transceiver.mid or ""
        header = HeaderWriter(
            ssrc,
            mid=mid,
            mid_id=ids.get(MID_URI, 0),
            abs_send_time_id=ids.get(ABS_SEND_TIME_URI, 0),
            audio_level_id=ids.get(AUDIO_LEVEL_URI, 0),
        )
        return Consumer(
            peer_id=self.peer_id,
            slot=slot,
            mid=mid,
            ssrc=ssrc,
            cname=cname,
            payload_types=payload_types,
            header=header,
            transport=writer,
            history_size=self._config.history_size,
            nack_rate=self._config.nack_rate,
            nack_burst=self._config.nack_burst,
        )

    # media in ------------------------------------------------------------------------------
    async def _on_rtp(self, data: bytes, arrival_time_ms: int) -> None:
        """Replaces ``RTCDtlsTransport._handle_rtp_data``: decrypted RTP of this peer."""
        try:
            header = RtpHeader(data)
        except ValueError:
            self.malformed += 1
            return
        producer = self._by_ssrc.get(header.ssrc)
        if producer is None:
            producer = self._learn_ssrc(data, header)
            if producer is None:
                self.unknown_ssrc += 1
                return
        self.packets_in += 1
        self.bytes_in += len(data)
        try:
            producer.ingest(data, header, time.monotonic())
        except Exception:
            # Never let one packet kill aiortc's DTLS receive task (and so the whole peer).
            self.errors += 1
            if self.errors == 1:
                logger.exception("peer %s: forwarding failed", self.peer_id)

    def _learn_ssrc(self, data: bytes, header: RtpHeader) -> Producer | None:
        """A new SSRC (the offer had no a=ssrc): bind it by the MID header extension."""
        if not self._mid_ext_id:
            return None
        raw_mid = header_extensions(data, header).get(self._mid_ext_id)
        if not raw_mid:
            return None
        producer = self.producers.get(raw_mid.decode("utf-8", "replace"))
        if producer is None:
            return None
        if header.payload_type in producer.rtx_payload_types:
            producer.rtx_ssrc = header.ssrc
        elif header.payload_type in producer.codecs:
            if producer.ssrc is not None:
                self._by_ssrc.pop(producer.ssrc, None)
            producer.ssrc = header.ssrc
        else:
            return None
        self._by_ssrc[header.ssrc] = producer
        return producer

    # lifecycle -----------------------------------------------------------------------------
    def _on_state(self) -> None:
        state = self.pc.connectionState
        if state == "connected":
            if not self._connected.is_set():
                self._connected.set()
                self._listener.peer_connected(self.peer_id)
        elif state == "failed" and not self.closed:
            self._fail(MediaError(CONNECTION_FAILED, "the peer connection failed"))
        elif state == "closed" and not self.closed:
            # The client ended DTLS (close_notify): aiortc closes the connection by itself.
            self._fail(MediaError(CONNECTION_FAILED, "the client closed the connection"))

    def _fail(self, error: MediaError) -> None:
        if not self._failed:
            self._failed = True
            self._listener.peer_failed(self.peer_id, error)

    async def _watch(self) -> None:
        """Fails the peer when ICE + DTLS have not connected within ``ice_timeout``."""
        try:
            await asyncio.wait_for(self._connected.wait(), self._config.ice_timeout)
        except TimeoutError:
            self._fail(MediaError(ICE_TIMEOUT, f"no connection within {self._config.ice_timeout:g} s"))

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def send_rtcp(self, data: bytes) -> bool:
        """Compound RTCP to this participant (sender reports of its slots)."""
        return self._writer.send_rtcp(data) if self._writer is not None else False

    @property
    def send_errors(self) -> int:
        failed = sum(consumer.send_errors for consumer in self.consumers.values())
        return failed + (self._writer.errors if self._writer is not None else 0)

    @property
    def dtls(self) -> RTCDtlsTransport | None:
        return self._dtls

    async def close(self) -> None:
        """Stops the watchdog, detaches producers and consumers, closes the peer connection."""
        if self.closed:
            return
        self.closed = True
        watchdog = self._watchdog
        if watchdog is not None and watchdog is not asyncio.current_task():
            watchdog.cancel()
            await asyncio.gather(watchdog, return_exceptions=True)
        for consumer in self.consumers.values():
            consumer.close()
        for mid in list(self.producers):
            self._remove_producer(mid)
        self._by_ssrc.clear()
        await self.pc.close()

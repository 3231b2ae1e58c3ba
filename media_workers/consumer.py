"""A consumer: one subscriber slot (a sendonly transceiver) fed by at most one producer at a time.

The router decides which producer a slot should show (``set_target``); the consumer switches to
it on the target's next keyframe (at once for audio) and keeps forwarding the previous source
until then, so the subscriber's decoder never sees a delta frame it cannot use. Every forwarded
packet gets this slot's SSRC, payload type, extension ids and MID, and a gap-free sequence
number and continuous timestamp, from the slot's lane (``media_workers/lane.py``).
"""

from __future__ import annotations

import secrets
import time
from enum import StrEnum

from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTCP_PSFB_FIR,
    RTCP_PSFB_PLI,
    RTCP_RTPFB_NACK,
    AnyRtcpPacket,
    RtcpPsfbPacket,
    RtcpRrPacket,
    RtcpRtpfbPacket,
    RtcpSdesPacket,
    RtcpSenderInfo,
    RtcpSourceInfo,
    RtcpSrPacket,
    unpack_remb_fci,
)

from media_workers.feedback import TokenBucket
from media_workers.lane import make_lane
from media_workers.producer import Producer
from media_workers.rtp_rewrite import HeaderWriter, InboundPacket, abs_send_time_now
from media_workers.sequencing import TS_MOD
from media_workers.transport_io import TransportWriter, ntp_time


class SlotKind(StrEnum):
    AUDIO = "audio"
    VIDEO = "video"
    SCREEN = "screen"


class Consumer:
    def __init__(
        self,
        *,
        peer_id: str,
        slot: SlotKind,
        mid: str,
        ssrc: int,
        cname: str,
        payload_types: dict[str, int],
        header: HeaderWriter,
        transport: TransportWriter,
        history_size: int,
        nack_rate: float,
        nack_burst: float,
    ) -> None:
        self.peer_id = peer_id
        self.slot = slot
        self.mid = mid
        self.ssrc = ssrc
        self._cname = cname.encode()
        self.is_video = slot != SlotKind.AUDIO
        self.clock_rate = 90000 if self.is_video else 48000
        #: codec name (lower case) → this subscriber's payload type for it
        self.payload_types = payload_types
        self._transport = transport
        # Numbering, retransmission history, header and send of every forwarded copy.
        self._lane = make_lane(
            clock_rate=self.clock_rate,
            first_sequence=int.from_bytes(ssrc.to_bytes(4, "big")[:2]) % 32768,
            first_timestamp=secrets.randbelow(TS_MOD),
            header=header,
            writer=transport,
            history_size=history_size,
        )
        self._nack_budget = TokenBucket(rate=nack_rate, burst=nack_burst)
        #: the participant shown in this slot (router's choice), and the producers involved
        self.participant: str | None = None
        self.current: Producer | None = None
        self.target: Producer | None = None
        self.waiting_since: float | None = None
        #: False while the client has this slot's section inactive (the router skips it)
        self.enabled = True
        self.closed = False
        # feedback state
        self.remb_bps: int | None = None
        self.remb_at = 0.0
        self.fraction_lost = 0
        self.switches = 0
        self.nacks_received = 0
        self.retransmitted = 0
        self.nacks_refused = 0
        self.plis_received = 0

    # graph -------------------------------------------------------------------------------
    def set_target(self, producer: Producer | None, now: float) -> None:
        """Show ``producer`` in this slot from its next keyframe on (None: show nothing)."""
        if producer is self.target:
            return
        if self.target is not None and self.target is not self.current:
            self.target.detach(self)
        self.target = producer
        if producer is None:
            if self.current is not None:
                self.current.detach(self)
            self.current = None
            self.waiting_since = None
            return
        producer.attach(self)
        if producer is self.current:
            self.waiting_since = None
            return
        if not self.is_video:
            self._switch(producer)
            return
        self.waiting_since = now
        producer.request_keyframe(now)

    def _switch(self, producer: Producer) -> None:
        if self.current is not None and self.current is not producer:
            self.current.detach(self)
        self.current = producer
        self.waiting_since = None
        self.switches += 1

    def source_gone(self, producer: Producer) -> None:
        if producer is self.current:
            self.current = None
        if producer is self.target:
            self.target = None
            self.waiting_since = None

    def close(self) -> None:
        self.set_target(None, 0.0)
        self.closed = True
        self._lane.clear_history()

    # hot path ----------------------------------------------------------------------------
    def forward(self, producer: Producer, packet: InboundPacket, codec: str, abs_time: bytes, now: float) -> None:
        if producer is not self.current:
            if producer is not self.target or (self.is_video and not packet.keyframe):
                return
            if self.is_video and not self._transport.ready:
                return  # a keyframe the subscriber cannot get yet is no start: wait for the next
            self._switch(producer)
        payload_type = self.payload_types.get(codec)
        if payload_type is None:
            return
        self._lane.forward(producer.key, packet, payload_type, abs_time, now)

    # counters ----------------------------------------------------------------------------
    @property
    def packets_out(self) -> int:
        return self._lane.packets_out

    @property
    def bytes_out(self) -> int:
        return self._lane.bytes_out

    @property
    def send_errors(self) -> int:
        """Copies built but not sent by the lane itself (the writer counts its own failures)."""
        return self._lane.errors

    # feedback from the subscriber --------------------------------------------------------
    async def handle_rtcp(self, packet: AnyRtcpPacket) -> None:
        """Installed as the slot sender's RTCP handler (aiortc routes by our SSRC)."""
        now = time.monotonic()
        if isinstance(packet, RtcpRrPacket | RtcpSrPacket):
            for report in packet.reports:
                if report.ssrc == self.ssrc:
                    self.fraction_lost = report.fraction_lost
        elif isinstance(packet, RtcpRtpfbPacket) and packet.fmt == RTCP_RTPFB_NACK:
            self.retransmit(packet.lost, now)
        elif isinstance(packet, RtcpPsfbPacket) and packet.fmt in (RTCP_PSFB_PLI, RTCP_PSFB_FIR):
            self.plis_received += 1
            source = self.current or self.target
            if source is not None:
                source.request_keyframe(now)
        elif isinstance(packet, RtcpPsfbPacket) and packet.fmt == RTCP_PSFB_APP:
            try:
                bitrate, _ = unpack_remb_fci(packet.fci)
            except ValueError:
                return
            self.remb_bps = bitrate
            self.remb_at = now

    def retransmit(self, lost: list[int], now: float) -> None:
        """Answers a NACK from the history, within this slot's retransmission budget."""
        abs_time = abs_send_time_now(ntp_time(time.time()))
        for sequence in lost:
            self.nacks_received += 1
            if not self._lane.cached(sequence):  # never forwarded here, or no longer cached
                self.nacks_refused += 1
                continue
            if not self._nack_budget.take(now):
                self.nacks_refused += 1
                continue
            if self._lane.resend(sequence, abs_time) > 0:
                self.retransmitted += 1

    def sender_report(self, now: float, unix_time: float) -> bytes | None:
        """SR + SDES for this slot (None before the first packet)."""
        lane = self._lane
        if not lane.packets_out:
            return None
        rtp_time = (lane.last_timestamp + int((now - lane.last_time) * self.clock_rate)) & 0xFFFFFFFF
        sr = RtcpSrPacket(
            ssrc=self.ssrc,
            sender_info=RtcpSenderInfo(
                ntp_timestamp=ntp_time(unix_time),
                rtp_timestamp=rtp_time,
                packet_count=lane.packets_out & 0xFFFFFFFF,
                octet_count=lane.octets_out & 0xFFFFFFFF,
            ),
        )
        sdes = RtcpSdesPacket(chunks=[RtcpSourceInfo(ssrc=self.ssrc, items=[(1, self._cname)])])
        return bytes(sr) + bytes(sdes)

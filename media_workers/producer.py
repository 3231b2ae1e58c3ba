"""A producer: one incoming stream of one publisher (audio, camera high/low, screen).

It turns each received RTP packet (decrypted, before any jitter buffer) into one shared
``InboundPacket`` (RTX unwrapped, keyframe flag set) and hands it to the consumers currently
fed by it. Upstream it sends what aiortc's receiver would have sent: NACKs for gaps, receiver
reports, REMB, and (throttled) keyframe requests.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from aiortc.rate import RemoteBitrateEstimator
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTCP_PSFB_PLI,
    RTCP_RTPFB_NACK,
    RtcpPsfbPacket,
    RtcpReceiverInfo,
    RtcpRrPacket,
    RtcpRtpfbPacket,
    clamp_packets_lost,
    pack_remb_fci,
)

from media_workers.feedback import EstimateAggregator, KeyframeThrottle, upstream_estimate
from media_workers.frame_size import vp8_keyframe_size
from media_workers.keyframes import is_keyframe
from media_workers.rtp_rewrite import InboundPacket, RtpHeader, abs_send_time_now, parse_inbound, unwrap_rtx_payload
from media_workers.sequencing import SEQ_MOD, seq_delta
from media_workers.transport_io import TransportWriter, ntp_time

if TYPE_CHECKING:
    from media_workers.consumer import Consumer

#: Gaps larger than this are a restart or a jump, not loss worth a NACK.
MAX_NACK_GAP = 100
NACK_RETRIES = 3


class PacketTap(Protocol):
    """Reads a producer's packets without being a subscriber (the recorder)."""

    def forward(self, producer: Producer, packet: InboundPacket, codec: str, abs_time: bytes, now: float) -> None: ...

    def source_gone(self, producer: Producer) -> None: ...


#: A producer silent this long has stopped sending (a screen share that ended).
SENDING_PAUSE = 2.0


class ProducerRole(StrEnum):
    AUDIO = "audio"
    CAMERA_HIGH = "camera-high"
    CAMERA_LOW = "camera-low"
    SCREEN = "screen"


class Producer:
    def __init__(
        self,
        *,
        key: int,
        peer_id: str,
        role: ProducerRole,
        mid: str,
        codecs: dict[int, tuple[str, int]],
        rtx_payload_types: dict[int, int],
        audio_level_id: int,
        abs_send_time_id: int,
        transport: TransportWriter,
        rtcp_ssrc: int,
        keyframe_interval: float,
        on_audio_level: Callable[[str, int, float], None] | None,
    ) -> None:
        self.key = key
        self.peer_id = peer_id
        self.role = role
        self.mid = mid
        self.is_video = role != ProducerRole.AUDIO
        #: payload type → (codec name in lower case, clock rate)
        self.codecs = codecs
        self.rtx_payload_types = rtx_payload_types
        self.audio_level_id = audio_level_id
        self.abs_send_time_id = abs_send_time_id
        self.ssrc: int | None = None
        self.rtx_ssrc: int | None = None
        self._transport = transport
        self._rtcp_ssrc = rtcp_ssrc
        self._on_audio_level = on_audio_level
        self._fanout: tuple[Consumer, ...] = ()
        #: Other readers of every packet (the recorder): fed after the subscribers.
        self._taps: tuple[PacketTap, ...] = ()
        self.keyframes = KeyframeThrottle(interval=keyframe_interval)
        self._estimator = RemoteBitrateEstimator() if self.is_video else None
        self.link_bps: int | None = None
        #: per-stream estimates of the subscribers this producer feeds (REMB: the minimum goes up)
        self.estimates = EstimateAggregator()
        self.width = 0
        self.height = 0
        self.bitrate_bps = 0
        self._rate_bytes = 0
        self._rate_since = time.monotonic()
        self.closed = False
        #: When the last packet came, and since when this producer has been sending without a
        #: pause (a track-less sender, e.g. a screen share not started, never sends).
        self.last_packet_at: float | None = None
        self.sending_since: float | None = None
        # counters
        self.packets_in = 0
        self.bytes_in = 0
        self.rtx_in = 0
        self.dropped = 0
        self.nacks_sent = 0
        # receiver statistics (RFC 3550 A.3 / A.8)
        self._base_seq: int | None = None
        self._max_seq = 0
        self._cycles = 0
        self._received = 0
        self._expected_prior = 0
        self._received_prior = 0
        self._jitter = 0.0
        self._last_transit: float | None = None
        self._missing: dict[int, int] = {}

    # graph -------------------------------------------------------------------------------
    @property
    def consumers(self) -> tuple[Consumer, ...]:
        return self._fanout

    def sending(self, now: float) -> bool:
        return self.last_packet_at is not None and now - self.last_packet_at <= SENDING_PAUSE

    def attach(self, consumer: Consumer) -> None:
        if consumer not in self._fanout:
            self._fanout = (*self._fanout, consumer)

    def add_tap(self, tap: PacketTap) -> None:
        if tap not in self._taps:
            self._taps = (*self._taps, tap)

    def remove_tap(self, tap: PacketTap) -> None:
        self._taps = tuple(t for t in self._taps if t is not tap)

    def detach(self, consumer: Consumer) -> None:
        if consumer in self._fanout:
            self._fanout = tuple(c for c in self._fanout if c is not consumer)

    # hot path ----------------------------------------------------------------------------
    def ingest(self, data: bytes, header: RtpHeader, now: float) -> None:
        if header.ssrc == self.rtx_ssrc and header.ssrc != self.ssrc:
            apt = self.rtx_payload_types.get(header.payload_type)
            body = data[header.payload_offset :]
            if header.padding and body:
                body = body[: len(body) - body[-1]]
            unwrapped = unwrap_rtx_payload(body) if apt is not None else None
            if unwrapped is None or apt is None:  # padding-only probes, unknown apt
                self.dropped += 1
                return
            sequence, payload = unwrapped
            packet = InboundPacket(sequence, header.timestamp, header.marker, False, payload, None, None)
            payload_type = apt
            self.rtx_in += 1
        else:
            packet = parse_inbound(data, header, self.audio_level_id, self.abs_send_time_id)
            payload_type = header.payload_type
        codec = self.codecs.get(payload_type)
        if codec is None:
            self.dropped += 1
            return
        if self.last_packet_at is None or now - self.last_packet_at > SENDING_PAUSE:
            self.sending_since = now
        self.last_packet_at = now
        self.packets_in += 1
        self.bytes_in += len(data)
        self._rate_bytes += len(data)
        self._account(packet, codec[1], now)
        name = codec[0]
        if self.is_video:
            if packet.payload and is_keyframe(name, packet.payload):
                packet.keyframe = True
                if name == "vp8":
                    size = vp8_keyframe_size(packet.payload)
                    if size is not None:
                        self.width, self.height = size
            if self._estimator is not None and packet.abs_send_time is not None and self.ssrc is not None:
                remb = self._estimator.add(
                    abs_send_time=packet.abs_send_time,
                    arrival_time_ms=int(now * 1000),
                    payload_size=len(packet.payload),
                    ssrc=self.ssrc,
                )
                if remb is not None:
                    self.link_bps = remb[0]
        elif packet.audio_level is not None and self._on_audio_level is not None:
            self._on_audio_level(self.peer_id, packet.audio_level, now)
        abs_time = abs_send_time_now(ntp_time(time.time()))
        for consumer in self._fanout:
            consumer.forward(self, packet, name, abs_time, now)
        for tap in self._taps:
            tap.forward(self, packet, name, abs_time, now)

    def _account(self, packet: InboundPacket, clock_rate: int, now: float) -> None:
        sequence = packet.sequence
        self._received += 1
        if self._base_seq is None:
            self._base_seq = sequence
            self._max_seq = sequence
            return
        delta = seq_delta(sequence, self._max_seq)
        if delta > 0:
            if sequence < self._max_seq:
                self._cycles += SEQ_MOD
            if self.is_video and 1 < delta <= MAX_NACK_GAP:
                lost = [(self._max_seq + i) % SEQ_MOD for i in range(1, delta)]
                for seq in lost:
                    self._missing[seq] = 1
                self._send_nack(lost)
            self._max_seq = sequence
            transit = now * clock_rate - packet.timestamp
            if self._last_transit is not None:
                self._jitter += (abs(transit - self._last_transit) - self._jitter) / 16
            self._last_transit = transit
        elif self._missing:
            self._missing.pop(sequence, None)

    # upstream feedback -------------------------------------------------------------------
    def request_keyframe(self, now: float) -> bool:
        """Asks the publisher for a keyframe (PLI), at most once per throttle interval."""
        if not self.is_video or self.ssrc is None or self.closed:
            return False
        if not self.keyframes.allow(now):
            return False
        packet = RtcpPsfbPacket(fmt=RTCP_PSFB_PLI, ssrc=self._rtcp_ssrc, media_ssrc=self.ssrc)
        return self._transport.send_rtcp(bytes(packet))

    def _send_nack(self, lost: list[int]) -> None:
        if self.ssrc is None or not lost:
            return
        packet = RtcpRtpfbPacket(fmt=RTCP_RTPFB_NACK, ssrc=self._rtcp_ssrc, media_ssrc=self.ssrc)
        packet.lost = sorted(lost)
        if self._transport.send_rtcp(bytes(packet)):
            self.nacks_sent += 1

    def retry_nacks(self) -> None:
        """Asks again for packets still missing (called by the router's loop)."""
        if not self._missing:
            return
        retry: list[int] = []
        for seq, tries in list(self._missing.items()):
            if tries >= NACK_RETRIES or seq_delta(self._max_seq, seq) > 500:
                del self._missing[seq]
            else:
                self._missing[seq] = tries + 1
                retry.append(seq)
        self._send_nack(retry)

    def report(self, now: float, subscribers_bps: int | None, floor_bps: int, cap_bps: int) -> None:
        """Receiver report (and REMB for video) to the publisher; updates the measured bitrate."""
        elapsed = now - self._rate_since
        if elapsed > 0:
            measured = int(self._rate_bytes * 8 / elapsed)
            self.bitrate_bps = measured if not self.bitrate_bps else (self.bitrate_bps + measured) // 2
            self._rate_bytes = 0
            self._rate_since = now
        if self.ssrc is None or self._base_seq is None:
            return
        expected = self._cycles + self._max_seq - self._base_seq + 1
        expected_interval = expected - self._expected_prior
        received_interval = self._received - self._received_prior
        self._expected_prior = expected
        self._received_prior = self._received
        lost_interval = expected_interval - received_interval
        fraction = 0 if expected_interval <= 0 or lost_interval <= 0 else (lost_interval << 8) // expected_interval
        info = RtcpReceiverInfo(
            ssrc=self.ssrc,
            fraction_lost=min(fraction, 255),
            packets_lost=clamp_packets_lost(expected - self._received),
            highest_sequence=(self._cycles + self._max_seq) & 0xFFFFFFFF,
            jitter=int(self._jitter),
            lsr=0,
            dlsr=0,
        )
        data = bytes(RtcpRrPacket(ssrc=self._rtcp_ssrc, reports=[info]))
        if self.is_video:
            bitrate = upstream_estimate(self.link_bps, subscribers_bps, floor_bps, cap_bps)
            data += bytes(
                RtcpPsfbPacket(
                    fmt=RTCP_PSFB_APP, ssrc=self._rtcp_ssrc, media_ssrc=0, fci=pack_remb_fci(bitrate, [self.ssrc])
                )
            )
        self._transport.send_rtcp(data)

    @property
    def fraction_lost_upstream(self) -> float:
        if self._base_seq is None:
            return 0.0
        expected = self._cycles + self._max_seq - self._base_seq + 1
        return max(0.0, (expected - self._received) / expected) if expected > 0 else 0.0

    def close(self) -> None:
        self.closed = True
        for consumer in self._fanout:
            consumer.source_gone(self)
        self._fanout = ()
        for tap in self._taps:
            tap.source_gone(self)
        self._taps = ()

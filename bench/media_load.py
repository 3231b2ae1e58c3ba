"""P publishers x S subscribers of pre-encoded VP8 + Opus through an SFU, with aiortc peers.

Every peer lives in this process, so one monotonic clock serves both ends of the SFU:

* **departure**: each publisher's ``RTCDtlsTransport._send_rtp`` is wrapped; a media packet's
  time is taken just before SRTP protection and ``sendto`` (so the measured latency includes
  ~2-3 µs of SRTP protect on the publisher side), keyed by (publisher, kind, RTP payload).
  The payload is what an SFU forwards unchanged (Janus and our worker rewrite SSRC, sequence
  number, timestamp, payload type and header extensions, never the payload), and every payload
  of the clip is unique within one loop of it (VP8 carries a running picture id; the Opus
  signal is noise).
* **arrival**: each subscriber's aioice connection is wrapped where the datagram comes off the
  socket (``Connection.data_received``, before aioice's queue and the DTLS/SRTP transport), and
  the time is keyed by the SRTP header's SSRC + sequence number, which are in clear text; the
  subscriber's receiver hook (after SRTP unprotect and RTP parsing) then joins the two. The
  receiver hook REPLACES aiortc's receiver processing: no jitter buffer, no decoder, no NACKs,
  so the subscribers' CPU stays small and stable.

Added latency = arrival - departure. It includes the kernel's loopback path twice and this
process's event-loop delay on the receiving side (the loop lag is reported next to it).

The SFU under test is reached through a :class:`SfuAdapter` (Janus: ``bench/janus.py``;
our worker: ``bench/sfu.py``).
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import os
import struct
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, RTCRtpSender
from aiortc.rtcrtptransceiver import RTCRtpTransceiver
from aiortc.rtp import RtpPacket

from bench.machine import cpu_seconds, pin_process, runqueue_wait_seconds
from bench.media_clip import MediaClip, ReplayTrack
from bench.pacer import Pacer, Send
from bench.wire_capture import CaptureError, WireCapture, WireKey, rtp_timestamps
from media_workers.collector import CollectorPolicy

Kind = Literal["audio", "video"]
DEBUG = bool(os.environ.get("BENCH_SFU_DEBUG"))


def log(message: str) -> None:
    import sys

    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def new_peer_connection() -> RTCPeerConnection:
    # Never the implicit public STUN server: no ICE servers at all (network rule).
    # max-bundle: with aiortc's default ("balanced") only the first video section of a peer
    # connection ever receives (docs/sfu-media.md, "Negotiation").
    return RTCPeerConnection(RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))


def rtp_payload(data: bytes) -> tuple[int, bytes] | None:
    """(payload type, payload) of a plaintext RTP packet; None for RTCP or garbage."""
    if len(data) < 12 or data[0] >> 6 != 2:
        return None
    payload_type = data[1] & 0x7F
    if 64 <= payload_type <= 95:  # RTCP (RFC 5761 demultiplexing)
        return None
    offset = 12 + 4 * (data[0] & 0x0F)
    if data[0] & 0x10:
        if len(data) < offset + 4:
            return None
        (words,) = struct.unpack_from("!H", data, offset + 2)
        offset += 4 + 4 * words
    end = len(data)
    if data[0] & 0x20 and end > offset:
        end -= data[-1]
    if offset > end:
        return None
    return payload_type, data[offset:end]


def percentiles_ms(values_ns: Sequence[int]) -> dict[str, float | int | None]:
    if not values_ns:
        return {"count": 0, "p50": None, "p90": None, "p99": None, "max": None, "mean": None}
    ordered = sorted(values_ns)

    def rank(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))] / 1e6

    return {
        "count": len(ordered),
        "p50": round(rank(0.50), 3),
        "p90": round(rank(0.90), 3),
        "p99": round(rank(0.99), 3),
        "max": round(ordered[-1] / 1e6, 3),
        "mean": round(sum(ordered) / len(ordered) / 1e6, 3),
    }


def process_threads(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return 0


# --- the adapter interface ------------------------------------------------------------------


@dataclass(frozen=True)
class StreamInfo:
    """What a subscriber's transceiver (by MID) carries."""

    publisher: int
    kind: Kind


class SfuAdapter(abc.ABC):
    """How the benchmark reaches one SFU. The load generator owns the aiortc peers; the adapter
    only does the signalling (in whichever direction the SFU wants the offer)."""

    name: str = "sfu"

    @abc.abstractmethod
    async def connect(self, publishers: int, subscribers: int) -> None:
        """Start or reach the SFU and prepare one room for the run."""

    @abc.abstractmethod
    async def publish(self, index: int, pc: RTCPeerConnection) -> None:
        """Negotiate ``pc`` (its send-only audio + video transceivers already added) as publisher
        ``index`` of the room; return once the SDP exchange is done."""

    @abc.abstractmethod
    async def subscribe(self, index: int, pc: RTCPeerConnection, publishers: int) -> dict[str, StreamInfo]:
        """Negotiate ``pc`` to receive every publisher's audio and video; return MID -> stream."""

    @abc.abstractmethod
    def sfu_pid(self) -> int | None:
        """The process whose CPU is the SFU's (None: not measurable separately)."""

    def describe(self) -> dict[str, Any]:
        return {"name": self.name}

    async def settle(self) -> None:  # noqa: B027 (optional hook)
        """Before the window: let the SFU finish set-up work such as a pending garbage collection
        (our worker; Janus, in C, has none)."""

    async def stats(self) -> dict[str, Any] | None:
        """The SFU's own counters, if it has any (read before and after the window)."""
        return None

    async def close(self) -> None:  # noqa: B027 (optional hook)
        """Leave the room and stop what ``connect`` started."""


# --- measurement -----------------------------------------------------------------------------


@dataclass
class Window:
    start_ns: int = 0
    end_ns: int = 0  # 0 = still open
    arrivals_end_ns: int = 0  # 0 = still counting arrivals

    def open(self) -> bool:
        return self.start_ns > 0 and self.end_ns == 0


@dataclass
class Probe:
    """Shared by every peer of a run: departures, arrivals, latencies and loss in the window."""

    subscribers: int
    window: Window = field(default_factory=Window)
    # (publisher, kind, payload) -> (departure ns, counted in the window)
    departures: dict[tuple[int, str, bytes], tuple[int, bool]] = field(default_factory=dict)
    sent_in_window: dict[str, int] = field(default_factory=lambda: {"audio": 0, "video": 0})
    delivered: dict[str, int] = field(default_factory=lambda: {"audio": 0, "video": 0})
    latencies: dict[str, list[int]] = field(default_factory=lambda: {"audio": [], "video": []})
    arrivals_total: int = 0
    arrivals_in_window: int = 0  # by arrival time: what the SFU forwarded in the window
    unmatched: int = 0
    unmatched_by_stream: dict[str, int] = field(default_factory=dict)
    bucket_max: dict[int, int] = field(default_factory=dict)  # 100 ms of departure -> max latency
    retransmissions: int = 0
    unrouted: int = 0  # packets no stream of the subscriber claimed
    unstamped: int = 0  # arrivals without a socket-side stamp (timed after SRTP instead)
    warm: set[tuple[int, int, str]] = field(default_factory=set)  # (subscriber, publisher, kind) seen
    warm_wanted: int = 0
    all_warm: asyncio.Event = field(default_factory=asyncio.Event)
    # For the wire capture: each departure's (SSRC, sequence) as sent, and per delivery in the
    # window (kind, publisher's wire key, subscriber's wire key).
    departure_wire: dict[tuple[int, str, bytes], WireKey] = field(default_factory=dict)
    wire_pairs: list[tuple[str, WireKey, WireKey]] = field(default_factory=list)

    def departed(self, publisher: int, kind: str, payload: bytes, now_ns: int, wire: WireKey | None = None) -> None:
        counted = self.window.open()
        key = (publisher, kind, payload)
        self.departures[key] = (now_ns, counted)
        if wire is not None:
            self.departure_wire[key] = wire
        if counted:
            self.sent_in_window[kind] += 1

    def arrived(
        self,
        subscriber: int,
        publisher: int,
        kind: str,
        payload: bytes,
        arrival_ns: int,
        wire: WireKey | None = None,
    ) -> None:
        self.arrivals_total += 1
        window = self.window
        if not window.start_ns:
            self.warm.add((subscriber, publisher, kind))
            if self.warm_wanted and len(self.warm) >= self.warm_wanted:
                self.all_warm.set()
        if window.start_ns and window.start_ns <= arrival_ns and (not window.end_ns or arrival_ns < window.end_ns):
            self.arrivals_in_window += 1
        if window.arrivals_end_ns:
            return
        departure = self.departures.get((publisher, kind, payload))
        if departure is None:
            if DEBUG and self.unmatched < 3:
                others = [key[:2] for key in self.departures if key[2] == payload]
                log(f"unmatched {publisher}/{kind} {payload[:12].hex()} len {len(payload)}: sent as {others}")
            self.unmatched += 1
            self.unmatched_by_stream[f"{publisher}/{kind}"] = self.unmatched_by_stream.get(f"{publisher}/{kind}", 0) + 1
            return
        sent_ns, counted = departure
        if counted:
            sent_wire = self.departure_wire.get((publisher, kind, payload))
            if wire is not None and sent_wire is not None:
                self.wire_pairs.append((kind, sent_wire, wire))
            self.delivered[kind] += 1
            latency = arrival_ns - sent_ns
            self.latencies[kind].append(latency)
            bucket = (sent_ns - window.start_ns) // 100_000_000
            if latency > self.bucket_max.get(bucket, -1):
                self.bucket_max[bucket] = latency

    def prune(self, older_than_ns: int) -> None:
        stale = [key for key, (sent, _) in self.departures.items() if sent < older_than_ns]
        for key in stale:
            del self.departures[key]
            self.departure_wire.pop(key, None)


class LoopLag:
    """How late a 5 ms timer fires in this process's event loop: the load generator's own delay."""

    def __init__(self) -> None:
        self.samples: list[int] = []
        self.recording = False
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        period = 5_000_000
        while True:
            before = time.monotonic_ns()
            await asyncio.sleep(period / 1e9)
            if self.recording:
                self.samples.append(max(0, time.monotonic_ns() - before - period))

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="loop-lag")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


# --- peers -----------------------------------------------------------------------------------


def primary_payload_types(transceiver: RTCRtpTransceiver) -> set[int]:
    codecs = getattr(transceiver, "_codecs", [])
    return {codec.payloadType for codec in codecs if not codec.mimeType.lower().endswith("/rtx")}


def prefer_codecs(transceiver: RTCRtpTransceiver, kind: Kind) -> None:
    wanted = {"audio": ("audio/opus",), "video": ("video/vp8", "video/rtx")}[kind]
    codecs = [c for c in RTCRtpSender.getCapabilities(kind).codecs if c.mimeType.lower() in wanted]
    transceiver.setCodecPreferences(codecs)


@dataclass
class Publisher:
    index: int
    pc: RTCPeerConnection
    tracks: list[ReplayTrack]
    pacers: list[Pacer] = field(default_factory=list)


@dataclass
class Subscriber:
    index: int
    pc: RTCPeerConnection
    streams: dict[str, StreamInfo]


def hook_publisher(publisher: Publisher, probe: Probe, pacing_bps: float = 0.0) -> None:
    """Stamp each media packet the publisher sends (before SRTP protect + sendto); with
    ``pacing_bps`` > 0, video goes through a :class:`Pacer` first (stamped when it leaves it)."""
    # With BUNDLE the transceivers share one DTLS transport: wrap each transport once and tell
    # the kind by payload type (retransmissions, on the RTX payload types, are not stamped).
    kinds_by_transport: dict[int, tuple[Any, dict[int, str]]] = {}
    for transceiver in publisher.pc.getTransceivers():
        transport: Any = transceiver.sender.transport
        _, kinds = kinds_by_transport.setdefault(id(transport), (transport, {}))
        kinds.update(dict.fromkeys(primary_payload_types(transceiver), transceiver.kind))
    for transport, kinds in kinds_by_transport.values():
        original: Callable[[bytes], Awaitable[None]] = transport._send_rtp

        async def stamped(data: bytes, original: Send = original, kinds: dict[int, str] = kinds) -> None:
            parsed = rtp_payload(data)
            if parsed is not None:
                kind = kinds.get(parsed[0])
                if kind is not None:
                    sequence, ssrc = struct.unpack_from("!H4xI", data, 2)
                    probe.departed(publisher.index, kind, parsed[1], time.monotonic_ns(), (ssrc, sequence))
            await original(data)

        if pacing_bps <= 0:
            transport._send_rtp = stamped
            continue
        pacer = Pacer(pacing_bps, stamped)
        pacer.start()
        publisher.pacers.append(pacer)
        video_types = {payload_type for payload_type, kind in kinds.items() if kind == "video"}

        async def paced(
            data: bytes, pacer: Pacer = pacer, stamped: Send = stamped, video: set[int] = video_types
        ) -> None:
            parsed = rtp_payload(data)
            if parsed is not None and parsed[0] in video:
                await pacer.enqueue(data)
            else:
                await stamped(data)  # audio (and RTCP-free control) is not paced, as in browsers

        transport._send_rtp = paced


def hook_subscriber(subscriber: Subscriber, probe: Probe) -> None:
    """Stamp datagrams as they come off the socket, and replace the receive path after SRTP.

    Packets are told apart by their MID header extension (then by the SSRC it taught us), and
    ``subscriber.streams`` (MID -> stream, which an adapter may update while the run goes) is
    read per packet. aiortc's router is only the last resort: with several video m-lines it
    routed every video stream of Janus to one receiver (by payload type). Nothing goes to
    aiortc's receivers: no jitter buffer, no decoder, no NACK generator.
    """
    arrivals: dict[tuple[int, int], int] = {}
    streams = subscriber.streams
    # Primary (non-RTX) payload types per kind, from what aiortc negotiated.
    primary_by_kind: dict[str, set[int]] = {"audio": set(), "video": set()}
    mid_by_receiver: dict[int, str] = {}
    transports: dict[int, Any] = {}
    for transceiver in subscriber.pc.getTransceivers():
        primary_by_kind.setdefault(transceiver.kind, set()).update(primary_payload_types(transceiver))
        mid_by_receiver[id(transceiver.receiver)] = transceiver.mid or ""
        transports.setdefault(id(transceiver.receiver.transport), transceiver.receiver.transport)

    for dtls in transports.values():
        connection: Any = dtls.transport._connection
        original_received: Callable[[bytes, int], None] = connection.data_received

        def data_received(
            data: bytes, component: int, original: Callable[[bytes, int], None] = original_received
        ) -> None:
            # SRTP keeps the RTP header in clear text: SSRC + sequence number identify it.
            if len(data) >= 12 and 127 < data[0] < 192 and not 64 <= (data[1] & 0x7F) <= 95:
                seq, ssrc = struct.unpack_from("!H4xI", data, 2)
                if len(arrivals) > 10_000:  # stamps nobody collected (unknown SSRC): forget them
                    arrivals.clear()
                arrivals[(ssrc, seq)] = time.monotonic_ns()
            original(data, component)

        connection.data_received = data_received
        mid_by_ssrc: dict[int, str] = {}

        async def handle_rtp_data(
            data: bytes, arrival_time_ms: int, dtls: Any = dtls, mid_by_ssrc: dict[int, str] = mid_by_ssrc
        ) -> None:
            try:
                packet = RtpPacket.parse(data, dtls._rtp_header_extensions_map)
            except ValueError:
                probe.unrouted += 1
                return
            arrival = arrivals.pop((packet.ssrc, packet.sequence_number), None)
            if arrival is None:
                probe.unstamped += 1
                arrival = time.monotonic_ns()
            mid = packet.extensions.mid or mid_by_ssrc.get(packet.ssrc)
            if mid is None:
                mid = mid_by_receiver.get(id(dtls._rtp_router.route_rtp(packet)))
            if mid is None:
                probe.unrouted += 1
                return
            if packet.ssrc not in mid_by_ssrc:
                mid_by_ssrc[packet.ssrc] = mid
                if DEBUG:
                    log(f"sub{subscriber.index}: SSRC {packet.ssrc} pt {packet.payload_type} mid {mid!r}")
            info = streams.get(mid)
            if info is None:
                probe.unrouted += 1
                return
            if packet.payload_type not in primary_by_kind.get(info.kind, ()):
                probe.retransmissions += 1
                return
            wire = (packet.ssrc, packet.sequence_number)
            probe.arrived(subscriber.index, info.publisher, info.kind, packet.payload, arrival, wire)

        dtls._handle_rtp_data = handle_rtp_data


async def wait_connected(pc: RTCPeerConnection, limit: float) -> None:
    deadline = time.monotonic() + limit
    while pc.connectionState != "connected":
        if pc.connectionState in ("failed", "closed"):
            raise ConnectionError(f"peer connection {pc.connectionState}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"peer connection still {pc.connectionState} after {limit} s")
        await asyncio.sleep(0.05)


# --- the run ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadOptions:
    publishers: int
    subscribers: int
    seconds: float
    warmup_seconds: float = 3.0
    drain_seconds: float = 1.0
    connect_concurrency: int = 8
    connect_timeout: float = 30.0
    baseline: bool = True
    pacing_bps: float = 0.0  # video pacing rate of every publisher (0: aiortc's bursts)
    sfu_cpus: frozenset[int] = frozenset()  # pin the SFU process to these CPUs (empty: no pinning)
    capture_path: Path | None = None  # tcpdump file for the wire latency (None: no capture)


async def connect_direct_pair(
    clip: MediaClip, probe: Probe, limit: float, pacing_bps: float = 0.0
) -> tuple[list[RTCPeerConnection], Publisher]:
    """One more publisher sending straight to one more subscriber, no SFU in between.

    It runs through the same hooks, the same event loop and the same window as the SFU's peers:
    its latency is the floor of the measurement (aiortc send path, loopback, this process's
    receive path and event-loop delay) under the run's own load. Not counted in the SFU's numbers.
    """
    sender = new_peer_connection()
    receiver = new_peer_connection()
    tracks = [ReplayTrack(clip.audio, start_index=211), ReplayTrack(clip.video, start_index=113)]
    for track in tracks:
        kind: Kind = "audio" if track.kind == "audio" else "video"
        prefer_codecs(sender.addTransceiver(track, direction="sendonly"), kind)
    await sender.setLocalDescription(await sender.createOffer())
    await receiver.setRemoteDescription(sender.localDescription)
    await receiver.setLocalDescription(await receiver.createAnswer())
    await sender.setRemoteDescription(receiver.localDescription)
    streams: dict[str, StreamInfo] = {}
    for transceiver in receiver.getTransceivers():
        streams[transceiver.mid or ""] = StreamInfo(
            publisher=0, kind="audio" if transceiver.kind == "audio" else "video"
        )
    hook_subscriber(Subscriber(index=0, pc=receiver, streams=streams), probe)
    await wait_connected(sender, limit)
    await wait_connected(receiver, limit)
    publisher = Publisher(index=0, pc=sender, tracks=tracks)
    hook_publisher(publisher, probe, pacing_bps)
    return [sender, receiver], publisher


def wire_result(capture: WireCapture, probe: Probe) -> dict[str, Any]:
    """The SFU's added latency on the wire: kernel receive time of each forwarded copy minus that
    of the publisher's packet it carries (``bench/wire_capture.py``)."""
    summary = capture.stop()
    try:
        stamps = rtp_timestamps(capture.path)
    except (OSError, CaptureError) as exc:
        return {"error": str(exc), "tcpdump": summary}
    latencies: dict[str, list[int]] = {"audio": [], "video": []}
    missing = 0
    for kind, sent, received in probe.wire_pairs:
        sent_ns, received_ns = stamps.get(sent), stamps.get(received)
        if sent_ns is None or received_ns is None:
            missing += 1
            continue
        latencies[kind].append(received_ns - sent_ns)
    with contextlib.suppress(OSError):
        capture.path.unlink()
    return {
        "what": "kernel receive time of each forwarded copy - that of the publisher's packet (tcpdump on lo)",
        "latency_ms": percentiles_ms(latencies["audio"] + latencies["video"]),
        "latency_ms_by_kind": {kind: percentiles_ms(values) for kind, values in latencies.items()},
        "matched": sum(len(values) for values in latencies.values()),
        "not_in_capture": missing,
        "tcpdump": summary.splitlines()[-3:],
    }


def baseline_result(probe: Probe | None) -> dict[str, Any] | None:
    if probe is None:
        return None
    sent = sum(probe.sent_in_window.values())
    delivered = sum(probe.delivered.values())
    return {
        "what": "one aiortc publisher -> one aiortc subscriber directly (no SFU), same process and window",
        "published_packets": sent,
        "delivered": delivered,
        "latency_ms": percentiles_ms(probe.latencies["audio"] + probe.latencies["video"]),
    }


def worst_buckets(probe: Probe, publishers: Sequence[Publisher], count: int = 5) -> list[dict[str, Any]]:
    """The 100 ms slices of the window (by departure) with the latest packets, and whether a
    publisher had just sent a keyframe (a burst of ~30 packets, x subscribers) before each."""
    keyframes = [
        (t - probe.window.start_ns) / 1e9 for publisher in publishers for t in publisher.tracks[1].keyframe_times_ns
    ]
    worst = sorted(probe.bucket_max.items(), key=lambda item: item[1], reverse=True)[:count]
    result = []
    for bucket, latency in worst:
        start = bucket / 10
        recent = [k for k in keyframes if start - 0.5 <= k < start + 0.1]
        result.append(
            {
                "window_second": round(start, 1),
                "max_latency_ms": round(latency / 1e6, 2),
                "keyframe_sent_seconds_before": round(start + 0.1 - max(recent), 2) if recent else None,
            }
        )
    return result


def counter_delta(before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, Any] | None:
    if before is None or after is None:
        return None
    return {
        key: round(value - before[key], 4)
        for key, value in after.items()
        if isinstance(value, int | float) and isinstance(before.get(key), int | float)
    }


async def run_load(adapter: SfuAdapter, clip: MediaClip, options: LoadOptions) -> dict[str, Any]:
    """Connect P publishers and S subscribers through ``adapter``, measure ``options.seconds``."""
    probe = Probe(subscribers=options.subscribers)
    lag = LoopLag()
    publishers: list[Publisher] = []
    subscribers: list[Subscriber] = []
    baseline_probe: Probe | None = None
    baseline_pcs: list[RTCPeerConnection] = []
    publishers_paced: list[Publisher] = []  # the direct pair's publisher (its pacers stop too)
    result: dict[str, Any] = {"target": adapter.name}
    setup_started = time.monotonic()
    # The load generator holds 100+ aiortc peers too: without this, its own full garbage
    # collections (tens of ms) would show up as SFU latency in the end-to-end figure.
    collector = CollectorPolicy(busy=lambda: True)
    collector.start()
    try:
        await adapter.connect(options.publishers, options.subscribers)
        result["sfu"] = adapter.describe()
        sfu_pid = adapter.sfu_pid()
        if options.sfu_cpus and sfu_pid:
            pin_process(sfu_pid, set(options.sfu_cpus))
            result["sfu_cpus"] = sorted(options.sfu_cpus)
        for index in range(options.publishers):
            pc = new_peer_connection()
            # Publishers start at different points of the clip so their payloads differ.
            offset = index * 37
            audio = ReplayTrack(clip.audio, start_index=offset * 5)
            video = ReplayTrack(clip.video, start_index=offset)
            prefer_codecs(pc.addTransceiver(audio, direction="sendonly"), "audio")
            video_transceiver = pc.addTransceiver(video, direction="sendonly")
            prefer_codecs(video_transceiver, "video")
            # A PLI/FIR from the SFU restarts the clip at its keyframe (as a browser would encode
            # one); aiortc's sender ignores keyframe requests when it does not encode.
            sender: Any = video_transceiver.sender
            sender._send_keyframe = video.request_keyframe
            await adapter.publish(index, pc)
            await wait_connected(pc, options.connect_timeout)
            publisher = Publisher(index=index, pc=pc, tracks=[audio, video])
            hook_publisher(publisher, probe, options.pacing_bps)
            publishers.append(publisher)
        log(f"{adapter.name}: {len(publishers)} publisher(s) connected")

        gate = asyncio.Semaphore(options.connect_concurrency)

        async def connect_subscriber(index: int) -> Subscriber:
            async with gate:
                pc = new_peer_connection()
                streams = await adapter.subscribe(index, pc, options.publishers)
                subscriber = Subscriber(index=index, pc=pc, streams=streams)
                hook_subscriber(subscriber, probe)
                subscribers.append(subscriber)
                await wait_connected(pc, options.connect_timeout)
                return subscriber

        await asyncio.gather(*(connect_subscriber(index) for index in range(options.subscribers)))
        log(f"{adapter.name}: {len(subscribers)} subscriber(s) connected")
        result["setup_seconds"] = round(time.monotonic() - setup_started, 2)
        if options.baseline:
            baseline_probe = Probe(subscribers=1)
            baseline_pcs, baseline_publisher = await connect_direct_pair(
                clip, baseline_probe, options.connect_timeout, options.pacing_bps
            )
            publishers_paced.append(baseline_publisher)

        # Warm-up: every subscriber receives audio and video of every publisher.
        wanted = options.subscribers * options.publishers * 2
        probe.warm_wanted = wanted
        if len(probe.warm) >= wanted:
            probe.all_warm.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(probe.all_warm.wait(), max(options.warmup_seconds, 20.0))
        result["warm_streams"] = {"receiving": len(probe.warm), "expected": wanted}
        await asyncio.sleep(options.warmup_seconds)

        # Set-up leaves garbage in both processes: collect it before the window, not inside it.
        await adapter.settle()
        collector.settle()
        capture = WireCapture(options.capture_path) if options.capture_path else None
        if capture is not None:
            try:
                await asyncio.to_thread(capture.start)
            except CaptureError as exc:  # no tcpdump: the run goes on without the wire figures
                result["wire"] = {"error": str(exc)}
                capture = None

        # Measured window.
        pid = adapter.sfu_pid()
        own = os.getpid()
        lag.start()
        stats0 = await adapter.stats()
        cpu0 = cpu_seconds(pid) if pid else None
        rq0 = runqueue_wait_seconds(pid) if pid else None
        own0 = cpu_seconds(own) or 0.0
        lag.recording = True
        probe.window.start_ns = time.monotonic_ns()
        if baseline_probe is not None:
            baseline_probe.window = probe.window  # one window for both
        while time.monotonic_ns() - probe.window.start_ns < options.seconds * 1e9:
            await asyncio.sleep(min(1.0, options.seconds))
            probe.prune(time.monotonic_ns() - 5_000_000_000)
            if baseline_probe is not None:
                baseline_probe.prune(time.monotonic_ns() - 5_000_000_000)
        probe.window.end_ns = time.monotonic_ns()
        cpu1 = cpu_seconds(pid) if pid else None
        stats1 = await adapter.stats()
        rq1 = runqueue_wait_seconds(pid) if pid else None
        own1 = cpu_seconds(own) or 0.0
        lag.recording = False
        # Let packets sent in the window arrive, then stop counting.
        await asyncio.sleep(options.drain_seconds)
        probe.window.arrivals_end_ns = time.monotonic_ns()
        if capture is not None:
            result["wire"] = await asyncio.to_thread(wire_result, capture, probe)

        measured = (probe.window.end_ns - probe.window.start_ns) / 1e9
        forwarded = probe.arrivals_in_window
        sent = sum(probe.sent_in_window.values())
        expected = sent * options.subscribers
        delivered = sum(probe.delivered.values())
        all_latencies = probe.latencies["audio"] + probe.latencies["video"]
        sfu_cpu = None if cpu0 is None or cpu1 is None else cpu1 - cpu0
        result.update(
            {
                "measured_seconds": round(measured, 3),
                "sfu_pid": pid,
                "sfu_counters_in_window": counter_delta(stats0, stats1),
                "sfu_threads": process_threads(pid) if pid else None,
                "sfu_cpu_seconds": None if sfu_cpu is None else round(sfu_cpu, 3),
                "sfu_cpu_percent_of_one_core": None if sfu_cpu is None else round(100 * sfu_cpu / measured, 1),
                "sfu_runqueue_wait_seconds": None if rq0 is None or rq1 is None else round(rq1 - rq0, 3),
                "forwarded_packets": forwarded,
                "forwarded_packets_per_second": round(forwarded / measured, 1),
                "cpu_us_per_forwarded_packet": (
                    None if sfu_cpu is None or not forwarded else round(sfu_cpu * 1e6 / forwarded, 2)
                ),
                "published_packets": sent,
                "published_packets_per_second": round(sent / measured, 1),
                "published_by_kind": dict(probe.sent_in_window),
                "expected_deliveries": expected,
                "delivered": delivered,
                "subscriber_loss_percent": (
                    None if not expected else round(100 * max(0, expected - delivered) / expected, 3)
                ),
                "latency_ms": percentiles_ms(all_latencies),
                "latency_ms_by_kind": {kind: percentiles_ms(values) for kind, values in probe.latencies.items()},
                "unmatched_arrivals": probe.unmatched,
                "unmatched_by_stream": dict(probe.unmatched_by_stream),
                "unrouted_packets": probe.unrouted,
                "retransmissions_received": probe.retransmissions,
                "worst_100ms": worst_buckets(probe, publishers),
                "pacing": {
                    "video_bps": options.pacing_bps or None,
                    "max_queued_packets": max(
                        (pacer.max_queue for publisher in publishers for pacer in publisher.pacers), default=0
                    ),
                },
                "keyframes_sent_on_request": sum(publisher.tracks[1].keyframes_on_request for publisher in publishers),
                "arrivals_without_socket_stamp": probe.unstamped,
                "direct_baseline": baseline_result(baseline_probe),
                "load_generator": {
                    "cpu_seconds": round(own1 - own0, 3),
                    "cpu_percent_of_one_core": round(100 * (own1 - own0) / measured, 1),
                    "event_loop_lag_ms": percentiles_ms(lag.samples),
                },
            }
        )
        return result
    finally:
        await collector.stop()
        await lag.stop()
        for publisher in [*publishers, *publishers_paced]:
            for pacer in publisher.pacers:
                await pacer.stop()
        peers = [subscriber.pc for subscriber in subscribers] + [publisher.pc for publisher in publishers]
        for pc in [*peers, *baseline_pcs]:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(pc.close(), 5)
        with contextlib.suppress(Exception):
            await adapter.close()

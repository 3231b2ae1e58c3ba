"""aiortc clients for the SFU tests: real peer connections on loopback, in-process.

Publishers encode on the CLIENT side (aiortc's own encoder; the worker must never). Observers
wrap the client's DTLS transport: ``_send_rtp`` (plain RTP before SRTP) on publishers, and
``_handle_rtp_data`` (decrypted RTP before the receiver) on subscribers, where a loss pattern
can be injected. They observe and drop; they never stand in for the router.
"""

from __future__ import annotations

import asyncio
import fractions
import math
import struct
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

import av
from aiortc import (
    MediaStreamTrack,
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpCodecCapability,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc.rtcdtlstransport import RTCDtlsTransport

from media_workers.ice_addresses import restrict_host_candidates
from media_workers.rtp_rewrite import RtpHeader, header_extensions

MID_URI = "urn:ietf:params:rtp-hdrext:sdes:mid"
#: Every test peer (clients and worker) gathers on loopback only.
LOOPBACK = ("127.0.0.1",)


class ToneTrack(MediaStreamTrack):
    """A loud 440 Hz tone, 20 ms frames, paced in real time."""

    kind = "audio"

    def __init__(self, amplitude: float = 0.5) -> None:
        super().__init__()
        self._pts = 0
        self._start: float | None = None
        #: may be changed while the track runs (a speaker getting louder or quieter)
        self.amplitude = amplitude

    async def recv(self) -> av.AudioFrame:
        if self._start is None:
            self._start = time.monotonic()
        due = self._start + self._pts / 48000
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        samples = bytearray()
        for i in range(960):
            value = int(self.amplitude * 32767 * math.sin(2 * math.pi * 440 * (self._pts + i) / 48000))
            samples += struct.pack("<h", value)
        frame = av.AudioFrame(format="s16", layout="mono", samples=960)
        frame.planes[0].update(bytes(samples))
        frame.sample_rate = 48000
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, 48000)
        self._pts += 960
        return frame


class PatternTrack(MediaStreamTrack):
    """Moving gradient frames of a fixed size."""

    kind = "video"

    def __init__(self, width: int, height: int, fps: int = 15) -> None:
        super().__init__()
        self.width = width
        self.height = height
        self._fps = fps
        self._count = 0
        self._start: float | None = None

    async def recv(self) -> av.VideoFrame:
        if self._start is None:
            self._start = time.monotonic()
        due = self._start + self._count / self._fps
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        frame = av.VideoFrame(self.width, self.height, "yuv420p")
        shift = (self._count * 7) % 256
        luma = bytes((x + y + shift) & 0xFF for y in range(self.height) for x in range(self.width))
        frame.planes[0].update(luma)
        frame.planes[1].update(bytes([128]) * frame.planes[1].buffer_size)
        frame.planes[2].update(bytes([128]) * frame.planes[2].buffer_size)
        frame.pts = self._count * (90000 // self._fps)
        frame.time_base = fractions.Fraction(1, 90000)
        self._count += 1
        return frame


@dataclass
class Seen:
    ssrc: int
    sequence: int
    timestamp: int
    payload_type: int
    marker: bool
    mid: str | None
    payload: bytes


@dataclass
class Client:
    name: str
    pc: RTCPeerConnection
    sent: list[Seen] = field(default_factory=list)
    received: list[Seen] = field(default_factory=list)
    dropped: list[Seen] = field(default_factory=list)
    #: return True to drop a received packet on the wire (before SRTP, so before the receiver)
    drop: Callable[[Seen], bool] | None = None
    tracks: list[MediaStreamTrack] = field(default_factory=list)

    @property
    def dtls(self) -> RTCDtlsTransport:
        return self.pc.getTransceivers()[0].receiver.transport

    def mid_id(self) -> int:
        for transceiver in self.pc.getTransceivers():
            for ext in transceiver._headerExtensions:
                if ext.uri == MID_URI:
                    return ext.id
        return 0

    def received_on(self, mid: str) -> list[Seen]:
        return [s for s in self.received if s.mid == mid]

    def sent_on(self, mid: str) -> list[Seen]:
        return [s for s in self.sent if s.mid == mid]


def client_pc() -> RTCPeerConnection:
    """aiortc clients must use max-bundle: with "balanced", aiortc leaves its 2nd+ video
    transceivers on a transport that BUNDLE then stops, and they never receive."""
    return RTCPeerConnection(RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))


def _seen(data: bytes, mid_id: int) -> Seen:
    header = RtpHeader(data)
    raw_mid = header_extensions(data, header).get(mid_id) if mid_id else None
    return Seen(
        header.ssrc,
        header.sequence,
        header.timestamp,
        header.payload_type,
        header.marker,
        raw_mid.decode() if raw_mid else None,
        data[header.payload_offset :],
    )


def _observe(client: Client) -> None:
    dtls = client.dtls
    ice = dtls.transport
    mid_id = client.mid_id()
    original_send: Callable[[bytes], Awaitable[None]] = dtls._send_rtp
    original_handle: Callable[[bytes, int], Awaitable[None]] = dtls._handle_rtp_data
    original_recv: Callable[[], Awaitable[bytes]] = ice._recv

    async def send(data: bytes) -> None:
        if len(data) >= 12 and not (192 <= data[1] <= 208):
            client.sent.append(_seen(data, mid_id))
        await original_send(data)

    async def recv() -> bytes:
        # Loss is injected on the wire, before SRTP: the RTP header travels in clear.
        while True:
            data = await original_recv()
            if client.drop is None or not (128 <= data[0] < 192) or 192 <= data[1] <= 208:
                return data
            seen = _seen(data, mid_id)
            if not client.drop(seen):
                return data
            client.dropped.append(seen)

    async def handle(data: bytes, arrival_time_ms: int) -> None:
        client.received.append(_seen(data, mid_id))
        await original_handle(data, arrival_time_ms)

    setattr(dtls, "_send_rtp", send)  # noqa: B010
    setattr(dtls, "_handle_rtp_data", handle)  # noqa: B010
    setattr(ice, "_recv", recv)  # noqa: B010


class Negotiator(Protocol):
    """What ``join`` needs: an in-process ``Router``, or a worker process behind the protocol."""

    async def add_peer(self, peer_id: str, offer_sdp: str) -> str: ...


async def join(
    router: Negotiator,
    name: str,
    *,
    audio: bool = True,
    video: list[tuple[int, int]] | None = None,
    audio_slots: int = 3,
    video_slots: int = 2,
    screen_slot: bool = True,
    fps: int = 15,
    prefer: list[RTCRtpCodecCapability] | None = None,
) -> Client:
    """A client that publishes (tone audio, pattern video per (width, height)) and subscribes."""
    pc = client_pc()
    client = Client(name, pc)
    if audio:
        track = ToneTrack()
        client.tracks.append(track)
        pc.addTransceiver(track, direction="sendonly")
    for width, height in video or []:
        video_track = PatternTrack(width, height, fps)
        client.tracks.append(video_track)
        sending = pc.addTransceiver(video_track, direction="sendonly")
        if prefer:
            sending.setCodecPreferences(prefer)
    for _ in range(audio_slots):
        pc.addTransceiver("audio", direction="recvonly")
    for _ in range(video_slots + (1 if screen_slot else 0)):
        pc.addTransceiver("video", direction="recvonly")
    restrict_host_candidates(pc, LOOPBACK)
    await pc.setLocalDescription(await pc.createOffer())
    answer = await router.add_peer(name, pc.localDescription.sdp)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    _observe(client)
    return client


def slot_mids(client: Client, kind: str) -> list[str]:
    return [t.mid for t in client.pc.getTransceivers() if t.kind == kind and t.direction == "recvonly" and t.mid]


def send_mids(client: Client) -> list[str]:
    return [t.mid for t in client.pc.getTransceivers() if t.direction == "sendonly" and t.mid]


def transceiver(client: Client, mid: str) -> RTCRtpTransceiver:
    return next(t for t in client.pc.getTransceivers() if t.mid == mid)


async def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.02)

"""The native lane (media_workers._lane) does exactly what the Python lane does: same numbers,
same bytes, same history, same counters; and its own output protects with the subscriber's SRTP
session and sends to the nominated pair, re-resolving when either changes."""

from __future__ import annotations

import random
import socket
import sys
from dataclasses import dataclass, field
from typing import Any

import pytest
from pylibsrtp import Policy, Session

from media_workers.lane import Lane, PyLane, make_lane, native_lanes
from media_workers.rtp_rewrite import HeaderWriter, InboundPacket
from media_workers.transport_io import TransportWriter

KEY = bytes(range(30))  # AES-128 key + 14-byte salt


def test_the_native_lanes_are_built() -> None:
    # `make test` builds them (scripts/install); forwarding in Python would be a silent slowdown.
    assert native_lanes()


class RecordingWriter:
    """Stands in for TransportWriter without a native binding: every copy comes to send_rtp."""

    def __init__(self, fail: bool = False) -> None:
        self.sent: list[bytes] = []
        self.fail = fail

    def native_binding(self) -> None:
        return None

    def send_rtp(self, data: bytes) -> int:
        if self.fail:
            return 0
        self.sent.append(data)
        return len(data) + 10  # as if protected


def lane_pair(header: HeaderWriter, history_size: int = 64) -> tuple[Lane, RecordingWriter, Lane, RecordingWriter]:
    python_writer, native_writer = RecordingWriter(), RecordingWriter()
    common: dict[str, Any] = {"clock_rate": 90000, "first_sequence": 65530, "first_timestamp": 4294967000}
    python_lane = make_lane(header=header, writer=python_writer, history_size=history_size, native=False, **common)
    native_lane = make_lane(header=header, writer=native_writer, history_size=history_size, native=True, **common)
    assert isinstance(python_lane, PyLane)
    assert not isinstance(native_lane, PyLane)
    return python_lane, python_writer, native_lane, native_writer


def audio_lane(
    header: HeaderWriter,
    writer: Any,
    *,
    native: bool,
    first_sequence: int = 0,
    first_timestamp: int = 0,
    history_size: int = 16,
) -> Lane:
    return make_lane(
        clock_rate=48000,
        first_sequence=first_sequence,
        first_timestamp=first_timestamp,
        header=header,
        writer=writer,
        history_size=history_size,
        native=native,
    )


def packet(rng: random.Random, sequence: int, timestamp: int) -> InboundPacket:
    return InboundPacket(
        sequence=sequence % 65536,
        timestamp=timestamp % (1 << 32),
        marker=rng.random() < 0.3,
        padding=rng.random() < 0.1,
        payload=rng.randbytes(rng.randint(0, 1200)),
        audio_level=rng.choice([None, 0, 37, 127]),
        abs_send_time=None,
    )


HEADERS = [
    {"mid": "1", "mid_id": 4, "abs_send_time_id": 2, "audio_level_id": 1},  # one-byte form
    {"mid": None, "mid_id": 0, "abs_send_time_id": 0, "audio_level_id": 0},  # no extension at all
    {"mid": "video-camera-high", "mid_id": 9, "abs_send_time_id": 3, "audio_level_id": 0},  # MID > 16: two-byte
    {"mid": "0", "mid_id": 15, "abs_send_time_id": 200, "audio_level_id": 14},  # ids > 14: two-byte
]


@pytest.mark.parametrize("layout", HEADERS)
def test_the_native_lane_numbers_builds_keeps_and_counts_like_the_python_one(layout: dict[str, Any]) -> None:
    rng = random.Random(7)
    header = HeaderWriter(0xDEADBEEF, **layout)
    python_lane, python_writer, native_lane, native_writer = lane_pair(header)
    now = 1000.0
    sources = [(11, rng.randrange(65536), rng.randrange(1 << 32)), (22, rng.randrange(65536), rng.randrange(1 << 32))]
    for step in range(600):
        now += rng.choice([0.0, 0.001, 0.02, 0.5])
        index = (step // 37) % 2  # the source switches every 37 packets
        key, base_seq, base_ts = sources[index]
        offset = step + rng.choice([0, 0, 0, 0, -3, -1500, 2, 40000])  # late, too old, jumps
        sources[index] = (key, base_seq, base_ts)
        inbound = packet(rng, base_seq + offset, base_ts + 3000 * offset)
        abs_time = rng.choice([None, b"\x01\x02\x03"])
        pt = rng.choice([96, 100, 111])
        assert native_lane.forward(key, inbound, pt, abs_time, now) == python_lane.forward(
            key, inbound, pt, abs_time, now
        )
        if step % 17 == 0:  # NACKs: some in the history, some never sent, some long gone
            for wanted in (rng.randrange(65536), (65530 + step) % 65536, (65530 + step - 100) % 65536):
                assert native_lane.cached(wanted) == python_lane.cached(wanted)
                assert native_lane.resend(wanted, abs_time) == python_lane.resend(wanted, abs_time)
    assert native_writer.sent == python_writer.sent
    assert len(python_writer.sent) > 400
    for name in ("packets_out", "octets_out", "bytes_out", "last_timestamp", "last_time", "errors"):
        assert getattr(native_lane, name) == getattr(python_lane, name), name
    native_lane.clear_history()
    python_lane.clear_history()
    sent_last = int.from_bytes(python_writer.sent[-1][2:4], "big")
    assert native_lane.resend(sent_last, None) == python_lane.resend(sent_last, None) == -1


def test_failed_sends_are_not_counted_as_sent_and_bad_input_is_refused() -> None:
    header = HeaderWriter(1, mid="0", mid_id=1, abs_send_time_id=2, audio_level_id=0)
    failing = RecordingWriter(fail=True)
    lane = audio_lane(header, failing, native=True)
    rng = random.Random(1)
    assert lane.forward(5, packet(rng, 1, 1), 111, None, 1.0) == 0
    assert lane.packets_out == 0
    assert lane.cached(0)
    # Too long for any datagram: dropped and counted, never an exception in the forwarding loop.
    huge = InboundPacket(2, 2, False, False, b"x" * 5000, None, None)
    assert lane.forward(5, huge, 111, None, 1.0) == 0
    assert lane.errors == 1
    with pytest.raises(ValueError, match="3 bytes"):
        lane.forward(5, packet(rng, 3, 3), 111, b"\x01", 1.0)
    with pytest.raises(RuntimeError, match="not initialised"):
        type(lane).__new__(type(lane)).forward(5, packet(rng, 4, 4), 111, None, 1.0)
    with pytest.raises(ValueError, match="power of two"):
        audio_lane(header, failing, native=True, history_size=12)


# --- the native output ------------------------------------------------------------------------


@dataclass
class FakePair:
    address: tuple[str, int]
    sock: socket.socket


@dataclass
class FakeDtls:
    """The attributes of aiortc's RTCDtlsTransport that the lane reads."""

    _state: object
    _tx_srtp: Session | None
    nominated: dict[int, FakePair] = field(default_factory=dict)


class SocketWriter:
    """TransportWriter's native interface over plain sockets; send_rtp counts what falls back."""

    connected = object()

    def __init__(self, dtls: FakeDtls) -> None:
        self.dtls = dtls
        self.fallback: list[bytes] = []
        self.relayed = False
        self.broken = False

    def native_binding(self) -> tuple[FakeDtls, dict[int, FakePair], object]:
        return self.dtls, self.dtls.nominated, self.connected

    def native_output(self, pair: FakePair, session: Session) -> tuple[int, str, int, int] | None:
        if self.broken:
            raise OSError("the socket went away")
        if self.relayed:
            return None
        return pair.sock.fileno(), pair.address[0], pair.address[1], TransportWriter.srtp_address(session)

    def send_rtp(self, data: bytes) -> int:
        self.fallback.append(data)
        return len(data)


def udp_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5)
    return sock


def test_the_native_output_protects_with_the_session_and_follows_the_nominated_pair(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sender, first, second = udp_socket(), udp_socket(), udp_socket()
    tx_policy = Policy(key=KEY, ssrc_type=Policy.SSRC_ANY_OUTBOUND)
    tx_policy.allow_repeat_tx = True  # as aiortc sets it: retransmissions re-protect an index
    tx = Session(tx_policy)
    rx = Session(Policy(key=KEY, ssrc_type=Policy.SSRC_ANY_INBOUND))
    dtls = FakeDtls(_state=SocketWriter.connected, _tx_srtp=tx)
    dtls.nominated[1] = FakePair(first.getsockname(), sender)
    writer = SocketWriter(dtls)
    header = HeaderWriter(0x01020304, mid="1", mid_id=3, abs_send_time_id=0, audio_level_id=0)
    reference_writer = RecordingWriter()
    reference = audio_lane(header, reference_writer, native=False, first_sequence=100, first_timestamp=5)
    lane = audio_lane(header, writer, native=True, first_sequence=100, first_timestamp=5)
    rng = random.Random(3)
    try:
        inbound = packet(rng, 7, 700)
        sent = lane.forward(9, inbound, 111, None, 1.0)
        reference.forward(9, inbound, 111, None, 1.0)
        datagram = first.recv(2048)
        assert sent == len(datagram) > len(reference_writer.sent[-1])
        assert rx.unprotect(datagram) == reference_writer.sent[-1]
        assert lane.native_sends == 1
        assert writer.fallback == []

        # ICE nominates another pair: the next copy goes there.
        dtls.nominated[1] = FakePair(second.getsockname(), sender)
        lane.forward(9, packet(rng, 8, 800), 111, None, 1.1)
        assert int.from_bytes(rx.unprotect(second.recv(2048))[2:4], "big") == 101
        # A retransmission goes the same way, with the number it had (to a receiver that lost it:
        # a fresh session, since this one saw 100 and would call it a replay).
        assert lane.resend(100, None) > 0
        lost_it = Session(Policy(key=KEY, ssrc_type=Policy.SSRC_ANY_INBOUND))
        assert lost_it.unprotect(second.recv(2048)) == reference_writer.sent[0]

        # DTLS not connected (closing): nothing is sent, nothing counted.
        dtls._state = object()
        assert lane.forward(9, packet(rng, 9, 900), 111, None, 1.2) == 0
        dtls._state = SocketWriter.connected
        # No nominated pair (ICE closed): nothing is sent either.
        pair = dtls.nominated.pop(1)
        assert lane.forward(9, packet(rng, 10, 1000), 111, None, 1.3) == 0
        # A relayed pair: the writer sends it (TURN framing is aioice's coroutine).
        writer.relayed = True
        dtls.nominated[1] = FakePair(pair.address, pair.sock)
        assert lane.forward(9, packet(rng, 11, 1100), 111, None, 1.4) > 0
        assert len(writer.fallback) == 1
        assert lane.native_sends == 3
        assert lane.packets_out == 3
        # Resolving fails (reported as unraisable): this copy is dropped and counted, the caller's
        # loop over the other subscribers goes on; the next packet tries again.
        writer.broken = True
        dtls.nominated[1] = FakePair(first.getsockname(), sender)
        reported: list[BaseException | None] = []
        monkeypatch.setattr(sys, "unraisablehook", lambda unraisable: reported.append(unraisable.exc_value))
        assert lane.forward(9, packet(rng, 12, 1200), 111, None, 1.5) == 0
        assert lane.errors == 1
        assert [type(exc) for exc in reported] == [OSError]
        writer.broken = False
        writer.relayed = False
        assert lane.forward(9, packet(rng, 13, 1300), 111, None, 1.6) > 0
        assert int.from_bytes(rx.unprotect(first.recv(2048))[2:4], "big") == 106  # 102-105 numbered, not sent
    finally:
        for sock in (sender, first, second):
            sock.close()

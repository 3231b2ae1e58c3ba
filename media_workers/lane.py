"""A lane: the per-copy forwarding path of one subscriber slot.

For every packet a slot forwards, the lane gives it this subscriber's gap-free numbers
(``OutgoingNumbering``), keeps it for retransmissions (``PacketCache``), builds the header the
subscriber negotiated (``HeaderWriter``), protects and sends it (``TransportWriter``). In a room
of 100 this runs 100 times per received packet, so the worker uses a C implementation of it
(``media_workers/native/lane.c``, module ``media_workers._lane``, built by ``scripts/install``);
``PyLane`` below is the same lane made of the Python classes: the reference the tests hold the
native one to, and what runs where the module is not built (``MEDIA_LANES=python`` forces it).
"""

from __future__ import annotations

import logging
import os
from types import ModuleType
from typing import Protocol

from media_workers.packet_cache import PacketCache
from media_workers.rtp_rewrite import HeaderWriter, InboundPacket
from media_workers.sequencing import OutgoingNumbering

logger = logging.getLogger(__name__)


class LaneWriter(Protocol):
    """What a lane sends through (TransportWriter; tests use stand-ins)."""

    def send_rtp(self, data: bytes) -> int: ...

    def native_binding(self) -> object:
        """None, or what a native lane checks before each send (TransportWriter.native_binding)."""
        ...


class Lane(Protocol):
    packets_out: int
    octets_out: int
    bytes_out: int
    errors: int
    native_sends: int  # sent by the lane itself, not through the writer's send_rtp
    last_timestamp: int
    last_time: float

    def forward(
        self, source: int, packet: InboundPacket, payload_type: int, abs_send_time: bytes | None, now: float
    ) -> int:
        """Numbers, keeps, builds and sends one packet of ``source``: bytes sent (0: not sent)."""
        ...

    def cached(self, sequence: int) -> bool:
        """Whether the history holds the packet sent with this (outgoing) sequence number."""
        ...

    def resend(self, sequence: int, abs_send_time: bytes | None) -> int:
        """Sends the kept packet again: bytes sent, -1 when the history has no such packet."""
        ...

    def clear_history(self) -> None: ...


class PyLane:
    """The lane in Python (see the module docstring)."""

    def __init__(
        self,
        *,
        clock_rate: int,
        first_sequence: int,
        first_timestamp: int,
        header: HeaderWriter,
        writer: LaneWriter,
        history_size: int,
    ) -> None:
        self._numbering = OutgoingNumbering(clock_rate, first_sequence=first_sequence, first_timestamp=first_timestamp)
        self._history: PacketCache[tuple[int, int, InboundPacket]] = PacketCache(history_size)
        self._header = header
        self._writer = writer
        self.packets_out = 0
        self.octets_out = 0
        self.bytes_out = 0
        self.errors = 0  # failed sends are counted by the writer
        self.native_sends = 0
        self.last_timestamp = 0
        self.last_time = 0.0

    def forward(
        self, source: int, packet: InboundPacket, payload_type: int, abs_send_time: bytes | None, now: float
    ) -> int:
        numbers = self._numbering.rewrite(source, packet.sequence, packet.timestamp, now)
        if numbers is None:
            return 0
        sequence, timestamp = numbers
        self._history.put(sequence, (timestamp, payload_type, packet))
        sent = self._writer.send_rtp(self._header.build(packet, payload_type, sequence, timestamp, abs_send_time))
        if sent:
            self.packets_out += 1
            self.octets_out += len(packet.payload)
            self.bytes_out += sent
            self.last_timestamp = timestamp
            self.last_time = now
        return sent

    def cached(self, sequence: int) -> bool:
        return self._history.get(sequence) is not None

    def resend(self, sequence: int, abs_send_time: bytes | None) -> int:
        entry = self._history.get(sequence)
        if entry is None:
            return -1
        timestamp, payload_type, packet = entry
        return self._writer.send_rtp(self._header.build(packet, payload_type, sequence, timestamp, abs_send_time))

    def clear_history(self) -> None:
        self._history.clear()


def _native_module() -> ModuleType | None:
    """media_workers._lane, wired to pylibsrtp's libsrtp; None when it cannot be used."""
    if os.environ.get("MEDIA_LANES", "native") == "python":
        return None
    try:
        from pylibsrtp._binding import ffi, lib

        from media_workers import _lane
    except ImportError as exc:
        logger.warning("native lanes unavailable (%s): forwarding in Python; run scripts/install to build them", exc)
        return None
    _lane.set_srtp_protect(int(ffi.cast("uintptr_t", ffi.addressof(lib, "srtp_protect"))))
    return _lane


_NATIVE = _native_module()


def native_lanes() -> bool:
    """Whether new lanes are native (C) ones."""
    return _NATIVE is not None


def make_lane(
    *,
    clock_rate: int,
    first_sequence: int,
    first_timestamp: int,
    header: HeaderWriter,
    writer: LaneWriter,
    history_size: int,
    native: bool | None = None,
) -> Lane:
    """A lane for one subscriber slot (its SSRC is the header's): native unless unavailable or
    ``native=False``."""
    if native is None:
        native = _NATIVE is not None
    if not native:
        return PyLane(
            clock_rate=clock_rate,
            first_sequence=first_sequence,
            first_timestamp=first_timestamp,
            header=header,
            writer=writer,
            history_size=history_size,
        )
    if _NATIVE is None:
        raise RuntimeError("native lanes are not available (media_workers._lane is not built)")
    two_byte, mid_element, abs_id, level_id = header.layout
    lane: Lane = _NATIVE.Lane(
        ssrc=header.ssrc,
        clock_rate=clock_rate,
        first_sequence=first_sequence,
        first_timestamp=first_timestamp,
        mid_element=mid_element,
        two_byte=two_byte,
        abs_send_time_id=abs_id,
        audio_level_id=level_id,
        history_size=history_size,
        writer=writer,
    )
    return lane

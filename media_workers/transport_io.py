"""Sending already-built RTP/RTCP through a peer's DTLS-SRTP transport with no asyncio work.

aiortc's own send path (``RTCDtlsTransport._send_rtp`` → ``RTCIceTransport._send`` → aioice)
is three awaited coroutines per datagram. The forwarding path protects with the transport's
SRTP session and writes to the nominated candidate pair's datagram transport directly; this is
the same socket and the same session aiortc uses, so ordering and keys are shared with it.
Forwarded RTP normally goes out through a native lane (media_workers/lane.py), which does the
same from C with what ``native_binding`` / ``native_output`` give it; RTCP, the Python lane and
TURN-relayed pairs use ``send_rtp`` / ``send_rtcp`` here.
"""

from __future__ import annotations

import asyncio

import pylibsrtp
from aioice.ice import CandidatePair, StunProtocol
from aiortc.rtcdtlstransport import RTCDtlsTransport, State
from pylibsrtp._binding import ffi


class TransportWriter:
    """Synchronous writer for one peer's (bundled) DTLS transport."""

    __slots__ = ("_address", "_direct", "_dtls", "_nominated", "_pair", "_relayed", "errors")

    def __init__(self, dtls: RTCDtlsTransport) -> None:
        self._dtls = dtls
        # aioice's nominated pairs by component: one dict for the connection's life (filled when
        # ICE nominates, cleared when it closes), so it is looked up once, not per packet.
        self._nominated: dict[int, CandidatePair] = dtls.transport._connection._nominated
        self._relayed: set[asyncio.Task[None]] = set()
        self.errors = 0
        # The nominated pair's address and kind, looked up once per pair (the hot path sends
        # a hundred copies of each packet; aioice builds the address tuple on every access).
        self._pair: CandidatePair | None = None
        self._address: tuple[str, int] = ("", 0)
        self._direct = False

    @property
    def ready(self) -> bool:
        """DTLS is up and a candidate pair is nominated: what is sent now can arrive."""
        dtls = self._dtls
        return dtls._state is State.CONNECTED and dtls._tx_srtp is not None and bool(self._nominated)

    def _write(self, pair: CandidatePair, protected: bytes) -> None:
        if pair is not self._pair:
            self._pair = pair
            self._address = pair.remote_addr
            self._direct = type(pair.protocol) is StunProtocol
        if self._direct:
            try:
                pair.protocol.transport.sendto(protected, self._address)
            except (OSError, RuntimeError, AttributeError):
                # A socket closed under us (consent lost, peer closing): this subscriber only.
                self.errors += 1
            return
        # A TURN-relayed pair frames data itself (channel data): use its coroutine, tracked.
        task = asyncio.get_running_loop().create_task(pair.protocol.send_data(protected, self._address))
        self._relayed.add(task)
        task.add_done_callback(self._relayed.discard)

    def send_rtp(self, data: bytes) -> int:
        """Protects and sends one RTP packet; returns the bytes sent (0: not connected / failed)."""
        dtls = self._dtls
        srtp = dtls._tx_srtp
        pair = self._nominated.get(1)
        if srtp is None or pair is None or dtls._state is not State.CONNECTED:
            return 0
        try:
            protected = srtp.protect(data)
        except (pylibsrtp.Error, ValueError):  # ValueError: too long for the session's buffer
            self.errors += 1
            return 0
        self._write(pair, protected)
        return len(protected)

    # What a native lane (media_workers/_lane) needs to send as this writer would -------------
    def native_binding(self) -> tuple[RTCDtlsTransport, dict[int, CandidatePair], State]:
        """What the lane checks before every send: the DTLS transport (its ``_state`` and
        ``_tx_srtp``), the nominated pairs by component, and the connected state."""
        return self._dtls, self._nominated, State.CONNECTED

    def native_output(self, pair: CandidatePair, session: pylibsrtp.Session) -> tuple[int, str, int, int] | None:
        """(socket descriptor, host, port, srtp_t address) to protect with ``session`` and send
        to ``pair`` directly, or None: send through ``send_rtp`` (a TURN-relayed pair, a
        transport without a socket)."""
        if type(pair.protocol) is not StunProtocol or pair.protocol.transport is None:
            return None
        sock = pair.protocol.transport.get_extra_info("socket")
        if sock is None or sock.fileno() < 0:
            return None
        host, port = pair.remote_addr[0], pair.remote_addr[1]
        return sock.fileno(), host, port, self.srtp_address(session)

    @staticmethod
    def srtp_address(session: pylibsrtp.Session) -> int:
        """The address of the libsrtp ``srtp_t`` behind a pylibsrtp session (the lane holds a
        reference to the session, so the address stays valid while the lane uses it)."""
        return int(ffi.cast("uintptr_t", session._srtp[0]))

    def send_rtcp(self, data: bytes) -> bool:
        srtp = self._dtls._tx_srtp
        pair = self._nominated.get(1)
        if srtp is None or pair is None or self._dtls._state is not State.CONNECTED:
            return False
        try:
            protected = srtp.protect_rtcp(data)
        except pylibsrtp.Error:
            self.errors += 1
            return False
        self._write(pair, protected)
        return True


NTP_EPOCH_OFFSET = 2208988800


def ntp_time(unix_time: float) -> int:
    """64-bit NTP timestamp for a Unix time."""
    return int((unix_time + NTP_EPOCH_OFFSET) * (1 << 32))

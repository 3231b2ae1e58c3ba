"""Kernel timestamps of the SFU's packets, taken on the wire (``tcpdump`` on ``lo``).

The end-to-end latency of ``bench/media_load.py`` runs from the publisher's send call to the
moment the load generator's event loop reads the datagram, so at 100 subscribers it also holds
the load generator's own receive queue (one process reading ~11,000 datagrams/s). This capture
stamps every RTP packet where the kernel receives it: the publisher's packet arriving for the
SFU and each forwarded copy arriving for a subscriber. Their difference is the SFU's **added
forwarding latency** on the wire (its socket queue, its processing, its fan-out), the same way
for every SFU, without the load generator's receive path.

Every address of the benchmark's namespace is local, so the traffic crosses ``lo``; libpcap
shows each loopback packet once, stamped when it enters the receive path. Packets are matched by
their RTP SSRC and sequence number, which SRTP leaves in clear text (the probe records which
publisher packet each subscriber packet carried). Needs the Debian package ``tcpdump``.
"""

from __future__ import annotations

import shutil
import signal
import struct
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from bench.machine import die_with_parent

SNAPLEN = 96  # Ethernet + IPv4 + UDP + the RTP header's first 12 bytes, with room for IP options
PCAP_NANO_MAGIC = 0xA1B23C4D
ETHERTYPE_IPV4 = 0x0800

WireKey = tuple[int, int]  # (SSRC, sequence number)


class CaptureError(Exception):
    pass


class WireCapture:
    """``tcpdump -i lo`` writing UDP packet headers with nanosecond timestamps to a file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._process: subprocess.Popen[bytes] | None = None
        self.stderr = ""

    def start(self, settle_seconds: float = 0.5) -> None:
        binary = shutil.which("tcpdump")
        if binary is None:
            raise CaptureError("tcpdump is not installed: apt-get install tcpdump")
        # -Z root: as root, tcpdump would otherwise drop to the user "tcpdump", who cannot write
        # into the benchmark's private temp folder.
        command = [binary, "-i", "lo", "-n", "-p", "-Z", "root", "-s", str(SNAPLEN), "-B", "16384"]
        command += ["--time-stamp-precision=nano", "-w", str(self.path), "udp"]
        self._process = subprocess.Popen(  # noqa: S603 (fixed binary, our own arguments)
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=die_with_parent
        )
        time.sleep(settle_seconds)  # tcpdump opens the device before it captures anything
        if self._process.poll() is not None:
            raise CaptureError(f"tcpdump exited: {self._finish()}")

    def stop(self) -> str:
        """Stops the capture (flushing the file); returns tcpdump's summary (drops)."""
        if self._process is None:
            return ""
        self._process.send_signal(signal.SIGINT)
        return self._finish()

    def _finish(self) -> str:
        assert self._process is not None
        try:
            _, err = self._process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self._process.kill()
            _, err = self._process.communicate()
        self.stderr = err.decode(errors="replace").strip()
        return self.stderr


def rtp_timestamps(path: Path) -> dict[WireKey, int]:
    """(SSRC, sequence) -> capture time in ns of each RTP packet in the file (first seen wins:
    a retransmission on the same SSRC keeps the original's time)."""
    stamps: dict[WireKey, int] = {}
    for key, stamp in _rtp_packets(path):
        stamps.setdefault(key, stamp)
    return stamps


def _rtp_packets(path: Path) -> Iterator[tuple[WireKey, int]]:
    data = path.read_bytes()
    if len(data) < 24:
        return
    magic, _, _, _, _, _, linktype = struct.unpack_from("<IHHiIII", data, 0)
    if magic != PCAP_NANO_MAGIC:
        raise CaptureError(f"{path}: not a little-endian nanosecond pcap file (magic {magic:#x})")
    if linktype != 1:
        raise CaptureError(f"{path}: link type {linktype}, expected Ethernet (1) for lo")
    offset = 24
    end = len(data)
    while offset + 16 <= end:
        seconds, nanos, captured, _ = struct.unpack_from("<IIII", data, offset)
        offset += 16
        frame = offset
        offset += captured
        if offset > end or captured < 14 + 20 + 8 + 12:
            continue
        if struct.unpack_from("!H", data, frame + 12)[0] != ETHERTYPE_IPV4:
            continue
        ip_header = (data[frame + 14] & 0x0F) * 4
        rtp = frame + 14 + ip_header + 8
        if rtp + 12 > offset:
            continue
        first, second = data[rtp], data[rtp + 1]
        if not 128 <= first < 192 or 64 <= (second & 0x7F) <= 95:
            continue  # not RTP version 2, or RTCP (payload types 64-95 are RTCP's range)
        sequence, ssrc = struct.unpack_from("!H4xI", data, rtp + 2)
        yield (ssrc, sequence), seconds * 1_000_000_000 + nanos

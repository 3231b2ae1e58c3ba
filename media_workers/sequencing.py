"""Per-subscriber RTP numbering: gap-free sequence numbers and continuous timestamps across
switches of the forwarded source (a layer switch, a new dominant speaker).

A subscriber's decoder must see one stream: sequence numbers that go up by one with no gaps
(a gap means loss and triggers NACKs) and timestamps that keep advancing with wall-clock time
even when the packets now come from another publisher's SSRC.
"""

from __future__ import annotations

import secrets
from typing import NamedTuple

SEQ_MOD = 1 << 16
TS_MOD = 1 << 32
HALF_SEQ = 1 << 15
#: How far behind the newest packet a late (reordered or retransmitted) packet may be.
MAX_LATE = 1000


def seq_delta(a: int, b: int) -> int:
    """Signed distance from sequence number ``b`` to ``a`` (positive: ``a`` is newer)."""
    return ((a - b + HALF_SEQ) % SEQ_MOD) - HALF_SEQ


class Rewritten(NamedTuple):
    """Outgoing numbers of one packet (a tuple: made once per forwarded copy, so cheap)."""

    sequence: int
    timestamp: int


class OutgoingNumbering:
    """Numbering state of one stream as one subscriber receives it."""

    def __init__(self, clock_rate: int, *, first_sequence: int | None = None, first_timestamp: int | None = None):
        self.clock_rate = clock_rate
        self._next_seq = secrets.randbelow(SEQ_MOD) if first_sequence is None else first_sequence
        self._next_ts = secrets.randbelow(TS_MOD) if first_timestamp is None else first_timestamp
        self._source: int | None = None
        self._seq_offset = 0
        self._ts_offset = 0
        self._epoch_start = 0  # first input sequence number of the current source
        self._highest = 0  # newest input sequence number of the current source
        self._last_out_seq: int | None = None
        self._last_out_ts = 0
        self._last_time = 0.0

    @property
    def source(self) -> int | None:
        return self._source

    def rewrite(self, ssrc: int, sequence: int, timestamp: int, now: float) -> Rewritten | None:
        """Numbers for an input packet, or None when it must not be forwarded (a late packet of a
        previous source, or one too old to place)."""
        if ssrc != self._source:
            self._rebase(ssrc, sequence, timestamp, now)
        else:
            delta = seq_delta(sequence, self._highest)
            if delta > 0:
                self._highest = sequence
            elif seq_delta(sequence, self._epoch_start) < 0 or -delta > MAX_LATE:
                return None
        out_seq = (sequence + self._seq_offset) % SEQ_MOD
        out_ts = (timestamp + self._ts_offset) % TS_MOD
        if self._last_out_seq is None or seq_delta(out_seq, self._last_out_seq) > 0:
            self._last_out_seq = out_seq
            self._last_out_ts = out_ts
            self._last_time = now
        return Rewritten(out_seq, out_ts)

    def skip(self, ssrc: int, sequence: int) -> None:
        """The newest packet of the current source will not be forwarded: close the gap it leaves."""
        if ssrc == self._source and seq_delta(sequence, self._highest) > 0:
            self._highest = sequence
            self._seq_offset = (self._seq_offset - 1) % SEQ_MOD

    def _rebase(self, ssrc: int, sequence: int, timestamp: int, now: float) -> None:
        if self._last_out_seq is not None:
            self._next_seq = (self._last_out_seq + 1) % SEQ_MOD
            elapsed = max(1, round((now - self._last_time) * self.clock_rate))
            self._next_ts = (self._last_out_ts + elapsed) % TS_MOD
        self._source = ssrc
        self._seq_offset = (self._next_seq - sequence) % SEQ_MOD
        self._ts_offset = (self._next_ts - timestamp) % TS_MOD
        self._epoch_start = sequence
        self._highest = sequence

from __future__ import annotations

import pytest

from media_workers.sequencing import SEQ_MOD, TS_MOD, OutgoingNumbering, seq_delta


@pytest.mark.parametrize(
    ("a", "b", "delta"), [(5, 3, 2), (3, 5, -2), (1, 65535, 2), (65535, 1, -2), (0, 32768, -32768)]
)
def test_seq_delta_wraps(a: int, b: int, delta: int) -> None:
    assert seq_delta(a, b) == delta


def numbering() -> OutgoingNumbering:
    return OutgoingNumbering(90000, first_sequence=100, first_timestamp=1000)


def test_one_source_is_renumbered_consecutively_across_wraparound() -> None:
    out = numbering()
    results = [out.rewrite(0xA, seq % SEQ_MOD, 5000 + i * 3000, i / 30) for i, seq in enumerate(range(65534, 65539))]
    assert [r.sequence for r in results if r] == [100, 101, 102, 103, 104]
    assert [r.timestamp for r in results if r] == [1000, 4000, 7000, 10000, 13000]


def test_a_source_switch_continues_without_a_gap_and_keeps_time_moving() -> None:
    out = numbering()
    out.rewrite(0xA, 10, 0, 0.0)
    out.rewrite(0xA, 11, 3000, 1 / 30)
    switched = out.rewrite(0xB, 50000, 777777, 1 / 30 + 0.5)
    assert switched is not None
    assert switched.sequence == 102
    assert switched.timestamp == (1000 + 3000 + 45000) % TS_MOD
    following = out.rewrite(0xB, 50001, 780777, 0.6)
    assert following is not None
    assert following.sequence == 103
    assert following.timestamp == switched.timestamp + 3000


def test_late_packets_of_the_current_source_keep_their_place() -> None:
    out = numbering()
    for seq in (10, 11, 13):
        out.rewrite(0xA, seq, seq * 3000, 0.0)
    late = out.rewrite(0xA, 12, 36000, 0.1)
    assert late is not None
    assert late.sequence == 102


def test_late_packets_of_a_previous_source_are_dropped() -> None:
    out = numbering()
    out.rewrite(0xA, 10, 0, 0.0)
    out.rewrite(0xB, 500, 0, 0.1)
    assert out.rewrite(0xB, 499, 0, 0.1) is None  # from before the switch point
    assert out.rewrite(0xA, 11, 0, 0.2) is not None  # a switch back is a new epoch


def test_far_too_old_packets_are_dropped() -> None:
    out = numbering()
    out.rewrite(0xA, 0, 0, 0.0)
    out.rewrite(0xA, 5000, 0, 0.0)
    assert out.rewrite(0xA, 3000, 0, 0.0) is None


def test_skipping_a_packet_leaves_no_gap() -> None:
    out = numbering()
    out.rewrite(0xA, 10, 0, 0.0)
    out.skip(0xA, 11)
    nxt = out.rewrite(0xA, 12, 0, 0.0)
    assert nxt is not None
    assert nxt.sequence == 101

from __future__ import annotations

import struct

import pytest

from media_workers.frame_size import vp8_keyframe_size
from media_workers.rtp_rewrite import (
    HeaderWriter,
    InboundPacket,
    RtpHeader,
    abs_send_time_now,
    header_extensions,
    parse_inbound,
    unwrap_rtx_payload,
)


def rtp(
    *, pt: int = 96, seq: int = 7, ts: int = 1000, ssrc: int = 0xAABBCCDD, marker: bool = False, ext: bytes = b"",
    csrcs: int = 0, payload: bytes = b"payload", profile: int = 0xBEDE,
) -> bytes:  # fmt: skip
    first = 0x80 | csrcs | (0x10 if ext else 0)
    data = struct.pack("!BBHII", first, pt | (0x80 if marker else 0), seq, ts, ssrc)
    data += b"\x00\x00\x00\x01" * csrcs
    if ext:
        padded = ext + b"\x00" * (-len(ext) % 4)
        data += struct.pack("!HH", profile, len(padded) // 4) + padded
    return data + payload


def test_the_fixed_header_is_read() -> None:
    header = RtpHeader(rtp(pt=111, seq=65535, ts=4_000_000_000, marker=True, csrcs=2))
    assert (header.payload_type, header.sequence, header.timestamp, header.ssrc) == (
        111,
        65535,
        4_000_000_000,
        0xAABBCCDD,
    )
    assert header.marker
    assert header.payload_offset == 12 + 8


@pytest.mark.parametrize("data", [b"", b"\x80" * 11, b"\x40" + b"\x00" * 20, rtp(ext=b"\x10\x01")[:14]])
def test_malformed_packets_are_refused(data: bytes) -> None:
    with pytest.raises(ValueError, match="RTP"):
        RtpHeader(data)


def test_one_byte_extensions_are_read_with_the_publishers_ids() -> None:
    data = rtp(ext=bytes([0x10, 0x85]) + bytes([0x32, 1, 2, 3]) + bytes([0x41]) + b"m0")
    header = RtpHeader(data)
    assert header_extensions(data, header) == {1: b"\x85", 3: b"\x01\x02\x03", 4: b"m0"}
    packet = parse_inbound(data, header, audio_level_id=1, abs_send_time_id=3)
    assert packet.audio_level == 5
    assert packet.abs_send_time == 0x010203
    assert packet.payload == b"payload"


def test_two_byte_extensions_are_read() -> None:
    data = rtp(ext=bytes([20, 1, 0x7F, 0, 21, 2]) + b"ab", profile=0x1000)
    header = RtpHeader(data)
    assert header_extensions(data, header) == {20: b"\x7f", 21: b"ab"}


def test_the_writer_uses_the_subscribers_ids_ssrc_and_mid() -> None:
    writer = HeaderWriter(0x01020304, mid="5", mid_id=9, abs_send_time_id=2, audio_level_id=4)
    packet = InboundPacket(10, 20, True, False, b"xyz", 33, None)
    out = writer.build(packet, 109, 4242, 777, b"\x0a\x0b\x0c")
    header = RtpHeader(out)
    assert (header.payload_type, header.sequence, header.timestamp, header.ssrc) == (109, 4242, 777, 0x01020304)
    assert header.marker
    assert header_extensions(out, header) == {9: b"5", 2: b"\x0a\x0b\x0c", 4: bytes([33])}
    assert out[header.payload_offset :] == b"xyz"


def test_the_writer_switches_to_two_byte_extensions_for_high_ids_and_omits_empty_blocks() -> None:
    packet = InboundPacket(1, 2, False, False, b"p", None, None)
    high = HeaderWriter(1, mid="0", mid_id=15, abs_send_time_id=0, audio_level_id=0).build(packet, 96, 1, 2, None)
    assert header_extensions(high, RtpHeader(high)) == {15: b"0"}
    bare = HeaderWriter(1, mid=None, mid_id=0, abs_send_time_id=0, audio_level_id=0).build(packet, 96, 1, 2, None)
    assert len(bare) == 13
    assert not bare[0] & 0x10


def test_rtx_payloads_give_back_the_original_sequence_number() -> None:
    assert unwrap_rtx_payload(b"\x12\x34rest") == (0x1234, b"rest")
    assert unwrap_rtx_payload(b"\x01") is None


def test_abs_send_time_is_six_point_eighteen_seconds() -> None:
    assert abs_send_time_now(3 << 32) == (3 << 18).to_bytes(3, "big")


def test_vp8_key_frame_size_is_read_from_the_frame_header() -> None:
    key = (
        bytes([0x10])
        + bytes([0x00, 0x00, 0x00])
        + b"\x9d\x01\x2a"
        + (640).to_bytes(2, "little")
        + (480).to_bytes(2, "little")
    )
    assert vp8_keyframe_size(key) == (640, 480)
    assert vp8_keyframe_size(bytes([0x10, 0x01]) + key[2:]) is None  # inter frame
    extended = bytes([0x90, 0x80, 0x81, 0x02]) + key[1:]
    assert vp8_keyframe_size(extended) == (640, 480)

from __future__ import annotations

import pytest

from media_workers.keyframes import is_h264_keyframe, is_keyframe, is_vp8_keyframe


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (bytes([0x10, 0x00]), True),  # S=1, PID=0, no extension, P=0 (key frame)
        (bytes([0x10, 0x01]), False),  # P=1: interframe
        (bytes([0x00, 0x00]), False),  # not the start of a partition
        (bytes([0x11, 0x00]), False),  # partition 1
        (bytes([0x90, 0x80, 0x85, 0x21, 0x00]), True),  # X: I with 15-bit picture id, then P=0
        (bytes([0x90, 0x80, 0x05, 0x01]), False),  # 7-bit picture id, P=1
        (bytes([0x90, 0xE0, 0x05, 0x02, 0x40, 0x00]), True),  # I, L, T present
        (bytes([0x90, 0xE0, 0x05]), False),  # truncated
        (b"", False),
    ],
)
def test_vp8(payload: bytes, expected: bool) -> None:
    assert is_vp8_keyframe(payload) is expected
    assert is_keyframe("VP8", payload) is expected


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (bytes([0x65, 0x88]), True),  # IDR
        (bytes([0x67, 0x42]), True),  # SPS
        (bytes([0x41, 0x9A]), False),  # non-IDR slice
        (bytes([0x18, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x68, 0xCE]), True),  # STAP-A with SPS
        (bytes([0x18, 0x00, 0x02, 0x41, 0x9A]), False),
        (bytes([0x7C, 0x85, 0x00]), True),  # FU-A start of IDR
        (bytes([0x7C, 0x05, 0x00]), False),  # FU-A continuation
        (b"", False),
    ],
)
def test_h264(payload: bytes, expected: bool) -> None:
    assert is_h264_keyframe(payload) is expected


def test_other_codecs_never_switch() -> None:
    assert is_keyframe("opus", b"\x00") is False

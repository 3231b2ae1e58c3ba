"""Picture size from a VP8 key frame's header (RFC 6386 §9.1), without decoding: the worker
learns each quality layer's height from the stream itself."""

from __future__ import annotations


def vp8_descriptor_length(payload: bytes) -> int:
    """Length of the VP8 payload descriptor (RFC 7741 §4.2), or 0 when truncated."""
    if not payload:
        return 0
    offset = 1
    if payload[0] & 0x80:
        if len(payload) < 2:
            return 0
        flags = payload[1]
        offset = 2
        if flags & 0x80:
            if len(payload) <= offset:
                return 0
            offset += 2 if payload[offset] & 0x80 else 1
        if flags & 0x40:
            offset += 1
        if flags & 0x30:
            offset += 1
    return offset if offset < len(payload) else 0


def vp8_keyframe_size(payload: bytes) -> tuple[int, int] | None:
    """(width, height) from the first packet of a VP8 key frame, or None."""
    offset = vp8_descriptor_length(payload)
    if not offset:
        return None
    frame = payload[offset : offset + 10]
    if len(frame) < 10 or frame[0] & 0x01 or frame[3:6] != b"\x9d\x01\x2a":
        return None
    width = int.from_bytes(frame[6:8], "little") & 0x3FFF
    height = int.from_bytes(frame[8:10], "little") & 0x3FFF
    return width, height

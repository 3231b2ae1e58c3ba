"""Keyframe detection from RTP payloads, without decoding: a layer or source switch may only
happen on a keyframe, or the subscriber's decoder shows garbage until the next one."""

from __future__ import annotations


def is_vp8_keyframe(payload: bytes) -> bool:
    """True for the first packet of a VP8 key frame (RFC 7741 payload descriptor + VP8 header)."""
    if len(payload) < 1:
        return False
    first = payload[0]
    extended = first & 0x80
    start_of_partition = first & 0x10
    partition_index = first & 0x07
    if not start_of_partition or partition_index != 0:
        return False
    offset = 1
    if extended:
        if len(payload) < 2:
            return False
        flags = payload[1]
        offset = 2
        if flags & 0x80:  # I: picture id present
            if len(payload) <= offset:
                return False
            offset += 2 if payload[offset] & 0x80 else 1
        if flags & 0x40:  # L: TL0PICIDX present
            offset += 1
        if flags & 0x30:  # T or K: TID/KEYIDX byte present
            offset += 1
    if len(payload) <= offset:
        return False
    return (payload[offset] & 0x01) == 0  # P bit: 0 means key frame


H264_IDR = 5
H264_SPS = 7
H264_STAP_A = 24
H264_FU_A = 28


def is_h264_keyframe(payload: bytes) -> bool:
    """True for a packet carrying (the start of) an IDR picture or an SPS (RFC 6184)."""
    if len(payload) < 1:
        return False
    nal_type = payload[0] & 0x1F
    if nal_type in (H264_IDR, H264_SPS):
        return True
    if nal_type == H264_STAP_A:
        offset = 1
        while offset + 2 < len(payload):
            size = int.from_bytes(payload[offset : offset + 2], "big")
            offset += 2
            if size == 0 or offset >= len(payload):
                return False
            if payload[offset] & 0x1F in (H264_IDR, H264_SPS):
                return True
            offset += size
        return False
    if nal_type == H264_FU_A and len(payload) >= 2:
        start = payload[1] & 0x80
        return bool(start) and (payload[1] & 0x1F) in (H264_IDR, H264_SPS)
    return False


def is_keyframe(codec: str, payload: bytes) -> bool:
    name = codec.lower()
    if name == "vp8":
        return is_vp8_keyframe(payload)
    if name == "h264":
        return is_h264_keyframe(payload)
    return False

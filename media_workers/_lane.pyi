# Types of the native lane module built from media_workers/native/lane.c (see media_workers/lane.py).
from media_workers.rtp_rewrite import InboundPacket

class Lane:
    packets_out: int
    octets_out: int
    bytes_out: int
    errors: int
    native_sends: int
    last_timestamp: int
    last_time: float
    native: bool
    def __init__(
        self,
        ssrc: int,
        clock_rate: int,
        first_sequence: int,
        first_timestamp: int,
        *,
        mid_element: bytes,
        two_byte: bool,
        abs_send_time_id: int,
        audio_level_id: int,
        history_size: int,
        writer: object,
    ) -> None: ...
    def forward(
        self, source: int, packet: InboundPacket, payload_type: int, abs_send_time: bytes | None, now: float, /
    ) -> int: ...
    def cached(self, sequence: int, /) -> bool: ...
    def resend(self, sequence: int, abs_send_time: bytes | None, /) -> int: ...
    def clear_history(self) -> None: ...

def set_srtp_protect(address: int, /) -> None: ...

"""Tunables of one room's media router."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RouterConfig:
    #: ICE server URLs given to every peer connection (empty: host candidates only, no STUN).
    ice_servers: tuple[str, ...] = ()
    #: Addresses to gather host candidates on (empty: every interface, as aioice does).
    ice_addresses: tuple[str, ...] = ()
    #: The public IP a 1:1 NAT maps to this machine: host candidates are announced with it.
    public_ip: str | None = None
    #: Sendonly slots per subscriber.
    audio_slots: int = 3
    video_slots: int = 9
    #: A peer that has not connected (ICE + DTLS) this long after its answer is failed.
    ice_timeout: float = 15.0
    #: At most one keyframe request upstream per producer per this many seconds.
    keyframe_interval: float = 0.5
    #: A slot waiting for a keyframe asks again after this long.
    keyframe_retry: float = 1.0
    #: Retransmissions answered per slot: rate (packets/s) and burst.
    nack_rate: float = 300.0
    nack_burst: float = 100.0
    #: Packets kept per slot for retransmission.
    history_size: int = 512
    #: Period of the router's housekeeping loop (speakers, slots) and of RTCP reports.
    tick: float = 0.1
    rtcp_interval: float = 1.0
    #: Let each subscriber's REMB limit the quality layer it gets (off: tile size only).
    bandwidth_layers: bool = True
    #: Tile height assumed when the client gave no size.
    default_tile_height: int = 360
    #: Bounds of the estimate sent upstream to publishers (REMB).
    remb_floor_bps: int = 100_000
    remb_cap_bps: int = 2_500_000

    def __post_init__(self) -> None:
        if self.audio_slots < 0 or self.video_slots < 0:
            raise ValueError("slot counts must not be negative")
        if self.ice_timeout <= 0 or self.tick <= 0:
            raise ValueError("timeouts must be positive")

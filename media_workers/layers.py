"""Quality-layer choice per subscriber, and switching only on keyframes.

Without RID simulcast a publisher sends two separate video tracks, a high and a low quality
one. Each subscriber gets the layer that fits the tile it shows and the bandwidth it has; a
switch waits for a keyframe of the new layer (``LayerSwitch``), so the decoder never sees a
delta frame that refers to pictures it never got.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Layer(IntEnum):
    LOW = 0
    HIGH = 1


@dataclass(frozen=True)
class LayerInfo:
    layer: Layer
    height: int
    bitrate_bps: int


@dataclass(frozen=True)
class Policy:
    #: The low layer is enough for tiles up to this many times its height.
    low_covers: float = 1.25
    #: Keep a layer only while the estimate exceeds its bitrate by this factor...
    keep_headroom: float = 1.1
    #: ...and move up to it only when the estimate exceeds its bitrate by this one.
    up_headroom: float = 1.4


def choose_layer(
    tile_height: int,
    available_bps: int | None,
    layers: list[LayerInfo],
    current: Layer | None,
    policy: Policy | None = None,
) -> Layer | None:
    """The layer to send for a tile of ``tile_height`` pixels (0: not shown → none).

    ``available_bps`` is the subscriber's bandwidth estimate (None: unknown, do not limit).
    """
    policy = policy or Policy()
    if tile_height <= 0 or not layers:
        return None
    by_layer = {info.layer: info for info in layers}
    ordered = sorted(by_layer)
    lowest = by_layer[ordered[0]]
    wanted = ordered[0] if tile_height <= lowest.height * policy.low_covers else ordered[-1]
    if available_bps is None:
        return wanted
    for layer in sorted((candidate for candidate in ordered if candidate <= wanted), reverse=True):
        headroom = policy.keep_headroom if current is not None and layer <= current else policy.up_headroom
        if available_bps >= by_layer[layer].bitrate_bps * headroom or layer == ordered[0]:
            return layer
    return ordered[0]


class LayerSwitch:
    """Which layer's packets to forward right now: ``target`` is what we want, ``current`` is what
    the subscriber's decoder is on; ``current`` becomes ``target`` at a keyframe of ``target``."""

    def __init__(self) -> None:
        self.current: Layer | None = None
        self.target: Layer | None = None

    def want(self, layer: Layer | None) -> bool:
        """Sets the target; returns True when a keyframe of it must be requested."""
        changed = layer != self.target
        self.target = layer
        if layer is None:
            self.current = None
        return changed and layer is not None and layer != self.current

    def forward(self, layer: Layer, keyframe: bool) -> bool:
        """Whether a packet of ``layer`` goes to the subscriber (and switches on a keyframe)."""
        if self.target is None:
            return False
        if layer == self.target and (keyframe or self.current == layer):
            self.current = layer
            return True
        return layer == self.current

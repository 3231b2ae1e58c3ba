from __future__ import annotations

import pytest

from media_workers.layers import Layer, LayerInfo, LayerSwitch, choose_layer

LAYERS = [
    LayerInfo(Layer.LOW, height=180, bitrate_bps=150_000),
    LayerInfo(Layer.HIGH, height=720, bitrate_bps=1_200_000),
]


@pytest.mark.parametrize(
    ("tile", "bandwidth", "current", "expected"),
    [
        (0, None, None, None),  # not on screen
        (120, None, None, Layer.LOW),  # thumbnail
        (225, None, None, Layer.LOW),  # within 1.25 x the low height
        (480, None, None, Layer.HIGH),  # big tile
        (480, 1_000_000, None, Layer.LOW),  # not enough bandwidth for high
        (480, 1_500_000, None, Layer.LOW),  # enough to keep high, not to move up to it
        (480, 1_500_000, Layer.HIGH, Layer.HIGH),  # ...so whoever has it keeps it
        (480, 1_700_000, Layer.LOW, Layer.HIGH),  # clearly enough: move up
        (480, 50_000, Layer.HIGH, Layer.LOW),  # starving: lowest layer anyway
    ],
)
def test_choose_layer(tile: int, bandwidth: int | None, current: Layer | None, expected: Layer | None) -> None:
    assert choose_layer(tile, bandwidth, LAYERS, current) == expected


def test_a_switch_happens_only_on_a_keyframe_of_the_target() -> None:
    switch = LayerSwitch()
    assert switch.want(Layer.LOW) is True
    assert switch.forward(Layer.LOW, keyframe=False) is False  # no decoder state yet
    assert switch.forward(Layer.LOW, keyframe=True) is True
    assert switch.forward(Layer.LOW, keyframe=False) is True
    assert switch.forward(Layer.HIGH, keyframe=True) is False  # not wanted
    assert switch.want(Layer.HIGH) is True  # ask the publisher for a keyframe
    assert switch.forward(Layer.HIGH, keyframe=False) is False
    assert switch.forward(Layer.LOW, keyframe=False) is True  # keep the old layer flowing meanwhile
    assert switch.forward(Layer.HIGH, keyframe=True) is True
    assert switch.forward(Layer.LOW, keyframe=False) is False
    assert switch.current == Layer.HIGH


def test_hiding_a_tile_stops_it() -> None:
    switch = LayerSwitch()
    switch.want(Layer.HIGH)
    switch.forward(Layer.HIGH, keyframe=True)
    assert switch.want(None) is False
    assert switch.forward(Layer.HIGH, keyframe=True) is False

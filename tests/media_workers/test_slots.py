from __future__ import annotations

import pytest

from media_workers.slots import assign, wanted_audio, wanted_video


@pytest.mark.parametrize(
    ("current", "wanted", "expected"),
    [
        ([None, None, None], ["a", "b"], ["a", "b", None]),
        (["a", "b", None], ["b", "a"], ["a", "b", None]),  # no needless switch
        (["a", "b", "c"], ["d", "a", "c"], ["a", "d", "c"]),  # the newcomer takes the freed slot
        (["a", None], ["b", "c", "a"], ["b", "c"]),  # priority decides who fits
        (["a", "b"], [], [None, None]),
        ([None, None], ["a", "a", "b"], ["a", "b"]),
    ],
)
def test_assignment_is_stable(current: list[str | None], wanted: list[str], expected: list[str | None]) -> None:
    assert assign(current, wanted) == expected


def test_video_follows_the_tiles_a_client_shows_when_it_said_so() -> None:
    assert wanted_video("me", ["a", "b", "c", "me"], ["c", "x", "me", "a"], ["b"], 9) == ["c", "a"]


def test_video_follows_the_last_speakers_otherwise_then_join_order() -> None:
    assert wanted_video("me", ["a", "b", "c", "d"], None, ["c", "me", "a"], 3) == ["c", "a", "b"]


def test_audio_is_everyone_when_it_fits_else_the_loudest_then_those_playing() -> None:
    assert wanted_audio("me", ["a", "b", "me"], [], [None, None, None], 3) == ["a", "b"]
    assert wanted_audio("me", ["a", "b", "c", "d", "me"], ["d", "me"], ["a", None, "b"], 3) == ["d", "a", "b"]

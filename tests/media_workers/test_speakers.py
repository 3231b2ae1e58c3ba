from __future__ import annotations

from media_workers.speakers import SpeakerConfig, SpeakerDetector, activity_of


def feed(detector: SpeakerDetector, levels: dict[str, int], start: float, seconds: float) -> float:
    """One packet per speaker every 20 ms, and a dominant-speaker decision every 100 ms, as the
    worker does; returns the end time."""
    now = start
    ticks = 0
    while now < start + seconds:
        for name, level in levels.items():
            detector.observe(name, level, now)
        ticks += 1
        if ticks % 5 == 0:
            detector.dominant(now)
        now += 0.02
    return now


def test_activity_from_levels() -> None:
    assert activity_of(127, 70) == 0.0
    assert activity_of(70, 70) == 0.0
    assert activity_of(0, 70) == 1.0
    assert 0.4 < activity_of(35, 70) < 0.6


def test_the_only_speaker_becomes_dominant_after_the_hold_time() -> None:
    detector = SpeakerDetector(SpeakerConfig())
    now = feed(detector, {"ada": 20, "bob": 127}, 0.0, 0.3)
    assert detector.dominant(now) is None  # not held long enough yet
    now = feed(detector, {"ada": 20, "bob": 127}, now, 1.0)
    assert detector.dominant(now) == "ada"


def test_a_short_interjection_does_not_take_the_stage() -> None:
    detector = SpeakerDetector(SpeakerConfig())
    now = feed(detector, {"ada": 25, "bob": 127}, 0.0, 3.0)
    assert detector.dominant(now) == "ada"
    now = feed(detector, {"ada": 25, "bob": 5}, now, 0.25)  # bob coughs
    assert detector.dominant(now) == "ada"
    now = feed(detector, {"ada": 127, "bob": 20}, now, 2.0)  # bob really talks, ada stops
    assert detector.dominant(now) == "bob"


def test_silence_keeps_the_last_speaker() -> None:
    detector = SpeakerDetector(SpeakerConfig())
    now = feed(detector, {"ada": 20, "bob": 127}, 0.0, 2.0)
    now = feed(detector, {"ada": 127, "bob": 127}, now, 5.0)
    assert detector.dominant(now) == "ada"


def test_the_loudest_are_ranked_and_silent_ones_left_out() -> None:
    detector = SpeakerDetector(SpeakerConfig())
    now = feed(detector, {"ada": 10, "bob": 30, "cy": 50, "dee": 127}, 0.0, 2.0)
    assert detector.loudest(3, now) == ["ada", "bob", "cy"]
    assert detector.loudest(2, now) == ["ada", "bob"]


def test_muted_speakers_fade_out_without_packets() -> None:
    detector = SpeakerDetector(SpeakerConfig())
    now = feed(detector, {"ada": 10}, 0.0, 2.0)
    assert detector.activity("ada", now) > 0.5
    assert detector.activity("ada", now + 3.0) < 0.01
    detector.remove("ada")
    assert detector.loudest(3, now + 3.0) == []

"""Active-speaker detection from the RFC 6464 audio level header extension, without decoding.

Each audio packet carries the sender's level in -dBov (0 = loudest, 127 = silence). Levels are
turned into a 0..1 activity, smoothed per speaker, and the dominant speaker changes only with
hysteresis: a challenger must be clearly louder than the current speaker for ``hold`` seconds,
and a speaker stays dominant for at least ``dwell`` seconds, so the stage does not flicker.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

SILENCE_DBOV = 127


@dataclass
class SpeakerConfig:
    #: Levels at or below this loudness (in -dBov) count as silence.
    noise_floor_dbov: int = 70
    #: Time constant of the activity smoothing, in seconds.
    smoothing: float = 0.3
    #: A challenger must exceed the current speaker's activity by this much...
    margin: float = 0.15
    #: ...continuously for this long.
    hold: float = 0.6
    #: Minimum time a dominant speaker keeps the stage.
    dwell: float = 1.0
    #: Activity below which a speaker counts as silent.
    speaking_threshold: float = 0.1


@dataclass
class _Speaker:
    activity: float = 0.0
    updated: float = 0.0
    ahead_since: float | None = None


def activity_of(level_dbov: int, noise_floor_dbov: int) -> float:
    level = min(max(level_dbov, 0), SILENCE_DBOV)
    if level >= noise_floor_dbov:
        return 0.0
    return (noise_floor_dbov - level) / noise_floor_dbov


@dataclass
class SpeakerDetector:
    config: SpeakerConfig = field(default_factory=SpeakerConfig)
    _speakers: dict[str, _Speaker] = field(default_factory=dict)
    _dominant: str | None = None
    _dominant_since: float = 0.0

    def observe(self, speaker: str, level_dbov: int, now: float) -> None:
        state = self._speakers.setdefault(speaker, _Speaker(updated=now))
        self._decay(state, now)
        target = activity_of(level_dbov, self.config.noise_floor_dbov)
        # Packets arrive every ~20 ms: move towards the new value by the elapsed share of the time constant.
        state.activity += (target - state.activity) * min(1.0, 0.02 / self.config.smoothing)

    def remove(self, speaker: str) -> None:
        self._speakers.pop(speaker, None)
        if self._dominant == speaker:
            self._dominant = None

    def activity(self, speaker: str, now: float) -> float:
        state = self._speakers.get(speaker)
        if state is None:
            return 0.0
        self._decay(state, now)
        return state.activity

    def _decay(self, state: _Speaker, now: float) -> None:
        elapsed = now - state.updated
        if elapsed > 0.1:  # no packets for a while (muted, DTX): fade out
            state.activity *= math.exp(-(elapsed - 0.1) / self.config.smoothing)
        state.updated = now

    def loudest(self, count: int, now: float) -> list[str]:
        active = [(self.activity(name, now), name) for name in self._speakers]
        ranked = sorted((item for item in active if item[0] >= self.config.speaking_threshold), reverse=True)
        return [name for _, name in ranked[:count]]

    def dominant(self, now: float) -> str | None:
        """The current dominant speaker, updated with hysteresis."""
        current = self._dominant
        current_activity = self.activity(current, now) if current else 0.0
        best: tuple[float, str] | None = None
        for name in list(self._speakers):
            if name == current:
                continue
            level = self.activity(name, now)
            state = self._speakers[name]
            ahead = level >= self.config.speaking_threshold and level > current_activity + self.config.margin
            if not ahead:
                state.ahead_since = None
                continue
            if state.ahead_since is None:
                state.ahead_since = now
            if best is None or level > best[0]:
                best = (level, name)
        if best is None:
            return current
        challenger = self._speakers[best[1]]
        held = challenger.ahead_since is not None and now - challenger.ahead_since >= self.config.hold
        dwelled = current is None or now - self._dominant_since >= self.config.dwell
        if held and dwelled:
            self._dominant = best[1]
            self._dominant_since = now
            for state in self._speakers.values():
                state.ahead_since = None
        return self._dominant

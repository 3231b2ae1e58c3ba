"""Which participant feeds which subscriber slot: pure, stable assignment.

A subscriber has a fixed set of slots (sendonly transceivers). When the wanted set of
participants changes, those still wanted keep their slot (no switch, no keyframe needed) and
newcomers take the freed slots in order of priority.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def assign(current: Sequence[str | None], wanted: Iterable[str]) -> list[str | None]:
    """New slot contents: ``wanted`` (in priority order, duplicates ignored) placed stably."""
    capacity = len(current)
    chosen: list[str] = []
    for participant in wanted:
        if participant not in chosen:
            chosen.append(participant)
        if len(chosen) == capacity:
            break
    keep = set(chosen)
    result: list[str | None] = [p if p in keep else None for p in current]
    placed = {p for p in result if p is not None}
    free = [index for index, p in enumerate(result) if p is None]
    for participant in chosen:
        if participant not in placed:
            result[free.pop(0)] = participant
    return result


def wanted_video(
    me: str,
    publishers: Sequence[str],
    tiles: Sequence[str] | None,
    recent_speakers: Sequence[str],
    limit: int,
) -> list[str]:
    """Camera sources for one subscriber: the tiles it shows if it said so, else last-N speakers.

    ``publishers`` are participants with a camera, in join order; ``recent_speakers`` is most
    recent dominant speaker first.
    """
    available = set(publishers)
    available.discard(me)
    if tiles is not None:
        ordered = [p for p in tiles if p in available]
    else:
        ordered = [p for p in recent_speakers if p in available]
        ordered += [p for p in publishers if p in available and p not in ordered]
    return ordered[:limit]


def wanted_audio(
    me: str, publishers: Sequence[str], loudest: Sequence[str], current: Sequence[str | None], limit: int
) -> list[str]:
    """Audio sources: everyone when they fit, else the loudest, then those already playing."""
    others = [p for p in publishers if p != me]
    if len(others) <= limit:
        return others
    ordered = [p for p in loudest if p in others]
    ordered += [p for p in current if p is not None and p in others and p not in ordered]
    return ordered[:limit]

"""VTIMEZONE components built from the IANA database (zoneinfo), the way calendar clients expect.

Transitions are found by scanning the zone, then each kind of transition (to daylight time, to
standard time) that repeats every year on the same rule becomes one observance with a yearly
RRULE (``BYMONTH=3;BYDAY=-1SU``), which clients extend into the future; one-off changes become
a plain DTSTART. The DTSTART of an observance is its onset in the local time *before* the change
(RFC 5545 §3.6.5), e.g. ``20260329T020000`` for Europe/Berlin's spring change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from icalendar import Timezone, TimezoneDaylight, TimezoneStandard, vRecur

from scheduling.recurrence import WEEKDAYS, is_last_week, week_of_month

EPOCH_ONSET = datetime(1970, 1, 1)


@dataclass(frozen=True)
class Transition:
    at: datetime  # UTC instant
    offset_from: timedelta
    offset_to: timedelta
    name: str

    @property
    def onset(self) -> datetime:
        """The local wall-clock time at which it happens, read on the clock before the change."""
        return (self.at + self.offset_from).replace(tzinfo=None)

    @property
    def daylight(self) -> bool:
        return self.offset_to > self.offset_from

    @property
    def kind(self) -> tuple[bool, timedelta, timedelta, str]:
        return (self.daylight, self.offset_from, self.offset_to, self.name)


def transitions(tz: ZoneInfo, first_year: int, last_year: int) -> list[Transition]:
    """Every change of UTC offset or abbreviation from Jan 1 of ``first_year`` to the end of ``last_year``."""
    found: list[Transition] = []
    moment = datetime(first_year, 1, 1, tzinfo=UTC)
    end = datetime(last_year + 1, 1, 1, tzinfo=UTC)
    step = timedelta(hours=6)
    while moment < end:
        later = moment + step
        before, after = moment.astimezone(tz), later.astimezone(tz)
        if (before.utcoffset(), before.tzname()) != (after.utcoffset(), after.tzname()):
            low, high = moment, later
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                probe = middle.astimezone(tz)
                if (probe.utcoffset(), probe.tzname()) == (before.utcoffset(), before.tzname()):
                    low = middle
                else:
                    high = middle
            high = high.replace(microsecond=0)
            offset_from, offset_to = before.utcoffset() or timedelta(), after.utcoffset() or timedelta()
            found.append(Transition(high, offset_from, offset_to, after.tzname() or ""))
        moment = later
    return found


def _yearly_byday(onsets: list[datetime]) -> str | None:
    """The BYDAY (``2SU``, ``-1SU``) shared by all onsets, if they follow one yearly rule."""
    first = onsets[0]
    if any(
        (onset.month, onset.time(), onset.weekday()) != (first.month, first.time(), first.weekday()) for onset in onsets
    ):
        return None
    weekday = WEEKDAYS[first.weekday()]
    if all(is_last_week(onset.date()) for onset in onsets):
        return f"-1{weekday}"
    nth = {week_of_month(onset.date()) for onset in onsets}
    return f"{nth.pop()}{weekday}" if len(nth) == 1 else None


def _runs(group: list[Transition]) -> list[list[Transition]]:
    """Splits same-kind transitions into runs of consecutive years that share one yearly rule."""
    runs: list[list[Transition]] = []
    for item in group:
        current = runs[-1] if runs else None
        if (
            current is not None
            and item.onset.year == current[-1].onset.year + 1
            and _yearly_byday([current[0].onset, item.onset]) is not None
            and _yearly_byday([*(t.onset for t in current), item.onset]) is not None
        ):
            current.append(item)
        else:
            runs.append([item])
    return runs


def _observance(
    daylight: bool, offset_from: timedelta, offset_to: timedelta, name: str, onset: datetime
) -> TimezoneStandard | TimezoneDaylight:
    component = TimezoneDaylight() if daylight else TimezoneStandard()
    component.add("DTSTART", onset)
    component.add("TZOFFSETFROM", offset_from)
    component.add("TZOFFSETTO", offset_to)
    if name:
        component.add("TZNAME", name)
    return component


@lru_cache(maxsize=256)
def build_vtimezone(tz_name: str, first_year: int, last_year: int) -> bytes:
    """The VTIMEZONE of ``tz_name``, correct for every instant from ``first_year`` to ``last_year``
    (and beyond, as long as the zone's current rule holds). Returned serialised, for caching."""
    tz = ZoneInfo(tz_name)
    found = transitions(tz, first_year - 1, last_year)
    component = Timezone()
    component.add("TZID", tz_name)
    if not found:
        sample = datetime(first_year, 1, 1, tzinfo=UTC).astimezone(tz)
        offset = sample.utcoffset() or timedelta()
        component.add_component(_observance(False, offset, offset, sample.tzname() or "", EPOCH_ONSET))
        return bytes(component.to_ical())
    # What was in force before the first transition found, so the range start is covered.
    opening = found[0]
    component.add_component(
        _observance(False, opening.offset_from, opening.offset_from, _name_before(tz, opening), EPOCH_ONSET)
    )
    groups: dict[tuple[bool, timedelta, timedelta, str], list[Transition]] = {}
    for item in found:
        groups.setdefault(item.kind, []).append(item)
    for (daylight, offset_from, offset_to, name), group in groups.items():
        for run in _runs(group):
            observance = _observance(daylight, offset_from, offset_to, name, run[0].onset)
            if len(run) > 1:
                byday = _yearly_byday([item.onset for item in run])
                assert byday is not None
                rule: dict[str, object] = {"FREQ": "YEARLY", "BYMONTH": run[0].onset.month, "BYDAY": byday}
                if run[-1].onset.year < last_year:
                    rule["UNTIL"] = run[-1].at
                observance.add("RRULE", vRecur(rule))
            component.add_component(observance)
    return bytes(component.to_ical())


def _name_before(tz: ZoneInfo, item: Transition) -> str:
    return (item.at - timedelta(seconds=1)).astimezone(tz).tzname() or ""


def vtimezone(tz_name: str, first: date, last: date) -> Timezone:
    """A fresh VTIMEZONE component (parsed from the cached text, so callers may add it anywhere)."""
    parsed = Timezone.from_ical(build_vtimezone(tz_name, first.year, max(last.year, first.year)))
    assert isinstance(parsed, Timezone)
    return parsed

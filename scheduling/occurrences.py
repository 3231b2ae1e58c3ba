"""The occurrences of a scheduled meeting: its rule expanded, excluded dates removed, and the
occurrences edited on their own (``OccurrenceChange``) put where they were moved."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from scheduling import recurrence
from scheduling.models import OccurrenceChange, ScheduledMeeting


@dataclass(frozen=True)
class Occurrence:
    series_id: int
    recurrence_id: datetime  # the original start, aware (series' time zone)
    start: datetime  # aware, series' time zone
    end: datetime
    title: str
    changed: bool

    @property
    def key(self) -> str:
        """The occurrence's id in URLs: its original start in UTC, ``20260302T080000Z``."""
        return occurrence_key(self.recurrence_id)


def occurrence_key(recurrence_id: datetime) -> str:
    return f"{recurrence_id.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def parse_occurrence_key(key: str) -> datetime | None:
    try:
        return datetime.strptime(key, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def tz_of(series: ScheduledMeeting) -> ZoneInfo:
    return ZoneInfo(series.time_zone)


def first_local(series: ScheduledMeeting) -> datetime:
    return recurrence.wall_time(series.start, tz_of(series))


def rule_of(series: ScheduledMeeting) -> recurrence.Rule:
    return recurrence.Rule(
        frequency=series.frequency,
        interval=series.interval,
        weekdays=recurrence.parse_weekdays(code for code in series.weekdays.split(",") if code),
        monthly_by=series.monthly_by,
        count=series.count,
        until=series.until,
        excluded=frozenset(date.fromisoformat(day) for day in series.excluded_dates),
    )


def rrule_of(series: ScheduledMeeting) -> str | None:
    return recurrence.to_rrule(first_local(series), rule_of(series), tz_of(series))


def describe(series: ScheduledMeeting) -> str:
    return recurrence.describe(first_local(series), rule_of(series))


def _changes_by_id(
    series: ScheduledMeeting, changes: Iterable[OccurrenceChange] | None
) -> dict[datetime, OccurrenceChange]:
    rows = series.changes.all() if changes is None else changes
    return {change.recurrence_id.astimezone(UTC): change for change in rows}


def _make(series: ScheduledMeeting, recurrence_id: datetime, change: OccurrenceChange | None) -> Occurrence:
    tz = tz_of(series)
    if change is None:
        return Occurrence(series.pk, recurrence_id, recurrence_id, recurrence_id + series.duration, series.title, False)
    start = change.start.astimezone(tz)
    return Occurrence(series.pk, recurrence_id, start, start + change.duration, change.title or series.title, True)


def occurrences_between(
    series: ScheduledMeeting,
    begin: datetime,
    end: datetime,
    changes: Iterable[OccurrenceChange] | None = None,
) -> list[Occurrence]:
    """Occurrences overlapping ``[begin, end)``, in start order (cancelled ones are not here)."""
    tz = tz_of(series)
    by_id = _changes_by_id(series, changes)
    longest = max([series.duration, *(change.duration for change in by_id.values())])
    found: dict[datetime, Occurrence] = {}
    for start in recurrence.starts_between(first_local(series), rule_of(series), tz, begin - longest, end):
        occurrence = _make(series, start, by_id.get(start.astimezone(UTC)))
        found[start.astimezone(UTC)] = occurrence
    # Moved occurrences: drop those moved out of the range, add those moved into it.
    rule = rule_of(series)
    for key, change in by_id.items():
        local_id = recurrence.wall_time(change.recurrence_id, tz)
        if local_id.date() in rule.excluded:
            found.pop(key, None)
            continue
        found[key] = _make(series, change.recurrence_id.astimezone(tz), change)
    begin_utc, end_utc = begin.astimezone(UTC), end.astimezone(UTC)
    return sorted(
        (
            item
            for item in found.values()
            if item.end.astimezone(UTC) > begin_utc and item.start.astimezone(UTC) < end_utc
        ),
        key=lambda item: (item.start.astimezone(UTC), item.recurrence_id.astimezone(UTC)),
    )


def occurrence_at(series: ScheduledMeeting, recurrence_id: datetime) -> Occurrence | None:
    """The occurrence originally starting at ``recurrence_id``, if the series has it (not excluded)."""
    if not recurrence.convertible(recurrence_id):  # no occurrence there, and converting could overflow
        return None
    tz = tz_of(series)
    rule = rule_of(series)
    lower = recurrence.wall_time(recurrence_id, tz).date() - timedelta(days=2)
    for local in recurrence.local_starts(first_local(series), rule, not_before=lower):
        moment = recurrence.localize(local, tz)
        if moment.astimezone(UTC) < recurrence_id.astimezone(UTC):
            continue
        if moment.astimezone(UTC) != recurrence_id.astimezone(UTC) or local.date() in rule.excluded:
            return None
        change = series.changes.filter(recurrence_id=recurrence_id).first()
        return _make(series, moment, change)
    return None


def compute_last_end(series: ScheduledMeeting) -> datetime | None:
    """End of the last occurrence (moved ones included), or None for an endless series."""
    tz = tz_of(series)
    last = recurrence.last_local_start(first_local(series), rule_of(series))
    if last is None and rule_of(series).bounded:
        return series.start + series.duration
    if last is None:
        return None
    ends = [recurrence.localize(last, tz) + series.duration]
    ends.extend(change.start + change.duration for change in series.changes.all())
    return max(ends)


def next_occurrence(
    series: ScheduledMeeting, now: datetime, horizon: timedelta = timedelta(days=400)
) -> Occurrence | None:
    upcoming = occurrences_between(series, now, max(now, series.start) + horizon)
    return upcoming[0] if upcoming else None

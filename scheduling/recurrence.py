"""Recurrence rules (the RFC 5545 subset the platform offers) and their expansion.

Pure code, no Django: a ``Rule`` is daily / weekly on chosen days / monthly (same day of the
month, same n-th weekday, or last weekday), with an interval and a ``count`` or an ``until``
date. Expansion works on local wall-clock times in the series' time zone and only then attaches
the zone, so a weekly 09:00 Europe/Berlin meeting stays at 09:00 across DST transitions.

RFC 5545 semantics kept here: DTSTART is the first instance (we refuse a start that the rule
would not produce), COUNT counts instances before EXDATE removes any, a monthly rule skips months
without the day (the 31st, the 5th Monday), a local time in a DST gap resolves with the offset
before the gap (zoneinfo's ``fold=0``), and UNTIL is inclusive.
"""

from __future__ import annotations

import calendar
import re
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
FREQUENCIES = ("none", "daily", "weekly", "monthly")
MONTHLY_MODES = ("month_day", "weekday", "last_weekday")
MAX_OCCURRENCES = 1000
MAX_INTERVAL = 99
MAX_EXCLUDED_DATES = 500
LAST_YEAR = 9000  # occurrences (local dates) and "until" end with this year
# Series start in [EARLIEST_START, LATEST_START) (UTC): far enough from years 1 and 9999 that
# converting between zones, adding a duration and expanding a rule never overflow.
EARLIEST_START = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_START = datetime(LAST_YEAR, 1, 1, tzinfo=UTC)
# Naive or aware times outside this wall-clock window are refused before any conversion
# (a UTC offset is less than a day).
_WALL_LOW = EARLIEST_START.replace(tzinfo=None) - timedelta(days=2)
_WALL_HIGH = LATEST_START.replace(tzinfo=None) + timedelta(days=2)


class RuleError(ValueError):
    """Bad input, with a stable ``code`` and the ``field`` it concerns."""

    def __init__(self, code: str, message: str, field: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


@dataclass(frozen=True)
class Rule:
    frequency: str = "none"
    interval: int = 1
    weekdays: tuple[int, ...] = ()  # 0 = Monday; weekly only
    monthly_by: str = ""
    count: int | None = None
    until: date | None = None  # inclusive, a local date
    excluded: frozenset[date] = field(default_factory=frozenset)

    @property
    def recurring(self) -> bool:
        return self.frequency != "none"

    @property
    def bounded(self) -> bool:
        return not self.recurring or self.count is not None or self.until is not None


# --- Local time helpers ---------------------------------------------------------------------


def localize(local: datetime, tz: ZoneInfo) -> datetime:
    """A naive local time in ``tz`` as an aware datetime (first of two ambiguous times; a time in
    a DST gap keeps the offset before the gap, i.e. moves forward, as RFC 5545 prescribes)."""
    return local.replace(tzinfo=tz, fold=0).astimezone(UTC).astimezone(tz)


def exists_locally(local: datetime, tz: ZoneInfo) -> bool:
    aware = localize(local, tz)
    return aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == local


def convertible(moment: datetime) -> bool:
    """Whether ``moment`` (naive or aware) is near enough the window of starts to convert safely."""
    return _WALL_LOW <= moment.replace(tzinfo=None) <= _WALL_HIGH


def in_window(moment: datetime) -> bool:
    """Whether the aware ``moment`` is a possible start: in [EARLIEST_START, LATEST_START)."""
    return convertible(moment) and EARLIEST_START <= moment < LATEST_START


def wall_time(moment: datetime, tz: ZoneInfo) -> datetime:
    return moment.astimezone(tz).replace(tzinfo=None)


def _add_months(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + months
    return index // 12, index % 12 + 1


def _nth_weekday(year: int, month: int, weekday: int, nth: int) -> date | None:
    days = calendar.monthrange(year, month)[1]
    if nth > 0:
        first = date(year, month, 1)
        day = 1 + (weekday - first.weekday()) % 7 + (nth - 1) * 7
        return date(year, month, day) if day <= days else None
    last = date(year, month, days)
    return date(year, month, days - (last.weekday() - weekday) % 7)


def week_of_month(day: date) -> int:
    return (day.day - 1) // 7 + 1


def is_last_week(day: date) -> bool:
    return day.day + 7 > calendar.monthrange(day.year, day.month)[1]


# --- Expansion ------------------------------------------------------------------------------


def _period_dates(first: date, rule: Rule, period: int) -> list[date]:
    """The dates the rule produces in period number ``period`` (0 = the period of ``first``)."""
    if rule.frequency == "daily":
        return [first + timedelta(days=period * rule.interval)]
    if rule.frequency == "weekly":
        week = first - timedelta(days=first.weekday()) + timedelta(weeks=period * rule.interval)
        return [week + timedelta(days=weekday) for weekday in sorted(rule.weekdays or (first.weekday(),))]
    year, month = _add_months(first.year, first.month, period * rule.interval)
    if rule.monthly_by == "weekday":
        found = _nth_weekday(year, month, first.weekday(), week_of_month(first))
    elif rule.monthly_by == "last_weekday":
        found = _nth_weekday(year, month, first.weekday(), -1)
    else:
        found = date(year, month, first.day) if first.day <= calendar.monthrange(year, month)[1] else None
    return [found] if found is not None else []


def _first_period(first: date, rule: Rule, not_before: date | None) -> int:
    """A period index at or before the one containing ``not_before`` (0 if unknown or with COUNT)."""
    if not_before is None or rule.count is not None or not_before <= first:
        return 0
    if rule.frequency == "daily":
        return max(0, (not_before - first).days // rule.interval - 1)
    if rule.frequency == "weekly":
        return max(0, (not_before - first).days // 7 // rule.interval - 1)
    months = (not_before.year - first.year) * 12 + not_before.month - first.month
    return max(0, months // rule.interval - 1)


def local_starts(first: datetime, rule: Rule, *, not_before: date | None = None) -> Iterator[datetime]:
    """Local (naive) starts of the rule's instances in order, EXDATEs not yet removed.
    ``not_before`` lets an endless rule skip ahead; instances before it may still be produced."""
    if not rule.recurring:
        yield first
        return
    produced = 0
    period = _first_period(first.date(), rule, not_before)
    while True:
        for day in _period_dates(first.date(), rule, period):
            if day < first.date():
                continue
            if day.year > LAST_YEAR or (rule.until is not None and day > rule.until):
                return
            yield datetime.combine(day, first.time())
            produced += 1
            if rule.count is not None and produced >= rule.count:
                return
        period += 1


def instance_starts(first: datetime, rule: Rule, *, not_before: date | None = None) -> Iterator[datetime]:
    """Like ``local_starts`` with the excluded dates removed."""
    for start in local_starts(first, rule, not_before=not_before):
        if start.date() not in rule.excluded:
            yield start


def starts_between(first: datetime, rule: Rule, tz: ZoneInfo, begin: datetime, end: datetime) -> list[datetime]:
    """Aware starts (in ``tz``) of the instances that start in ``[begin, end)``."""
    result: list[datetime] = []
    begin_utc, end_utc = begin.astimezone(UTC), end.astimezone(UTC)
    lower = wall_time(begin, tz).date() - timedelta(days=2)
    for local in instance_starts(first, rule, not_before=lower):
        moment = localize(local, tz)
        instant = moment.astimezone(UTC)  # (aware datetimes sharing a tzinfo compare by wall time)
        if instant >= end_utc:
            break
        if instant >= begin_utc:
            result.append(moment)
    return result


def last_local_start(first: datetime, rule: Rule) -> datetime | None:
    """The last instance's local start, or None for an endless rule (or when all are excluded)."""
    if not rule.bounded:
        return None
    tail = deque(instance_starts(first, rule), maxlen=1)
    return tail[0] if tail else None


def is_instance(first: datetime, rule: Rule, local: datetime) -> bool:
    for candidate in local_starts(first, rule, not_before=local.date() - timedelta(days=1)):
        if candidate >= local:
            return candidate == local
    return False


# --- Validation -----------------------------------------------------------------------------


def parse_weekdays(codes: Iterable[str]) -> tuple[int, ...]:
    days: set[int] = set()
    for code in codes:
        upper = code.strip().upper()
        if upper not in WEEKDAYS:
            raise RuleError("invalid_weekday", f"{code!r} is not a weekday (use {', '.join(WEEKDAYS)}).", "weekdays")
        days.add(WEEKDAYS.index(upper))
    return tuple(sorted(days))


def check_rule(first: datetime, rule: Rule) -> Rule:
    """Validates ``rule`` for a series whose first instance starts at local ``first``; returns the
    normalised rule (weekly without days means the start's weekday; monthly defaults to the day)."""
    if rule.frequency not in FREQUENCIES:
        raise RuleError("invalid_choice", f"Frequency must be one of {', '.join(FREQUENCIES)}.", "frequency")
    if not rule.recurring:
        if rule.count is not None or rule.until is not None or rule.excluded or rule.weekdays:
            raise RuleError(
                "not_recurring", "Count, until, weekdays and excluded dates need a repetition.", "frequency"
            )
        return replace(rule, interval=1, monthly_by="")
    if not 1 <= rule.interval <= MAX_INTERVAL:
        raise RuleError("out_of_range", f"The interval must be between 1 and {MAX_INTERVAL}.", "interval")
    if rule.weekdays and rule.frequency != "weekly":
        raise RuleError("weekdays_need_weekly", "Weekdays can only be chosen for a weekly repetition.", "weekdays")
    if rule.monthly_by and rule.frequency != "monthly":
        raise RuleError("monthly_by_needs_monthly", "This option is for monthly repetitions only.", "monthly_by")
    if rule.frequency == "weekly":
        rule = replace(rule, weekdays=rule.weekdays or (first.weekday(),))
        if first.weekday() not in rule.weekdays:
            raise RuleError("start_not_in_rule", "The first meeting must fall on one of the chosen weekdays.", "start")
    if rule.frequency == "monthly":
        rule = replace(rule, monthly_by=rule.monthly_by or "month_day")
        if rule.monthly_by not in MONTHLY_MODES:
            raise RuleError("invalid_choice", f"Use one of {', '.join(MONTHLY_MODES)}.", "monthly_by")
        if rule.monthly_by == "last_weekday" and not is_last_week(first.date()):
            raise RuleError(
                "start_not_in_rule", "The first meeting must be on the last such weekday of its month.", "start"
            )
    if rule.count is not None and rule.until is not None:
        raise RuleError("count_and_until", "Give either a number of occurrences or an end date, not both.", "count")
    if rule.count is not None and rule.count < 1:
        raise RuleError("out_of_range", "The number of occurrences must be at least 1.", "count")
    if rule.count is not None and rule.count > MAX_OCCURRENCES:
        raise RuleError("too_many_occurrences", f"A series has at most {MAX_OCCURRENCES} occurrences.", "count")
    if rule.until is not None:
        if rule.until < first.date():
            raise RuleError("until_before_start", "The end date is before the first meeting.", "until")
        if rule.until.year > LAST_YEAR:
            raise RuleError("out_of_range", f"The end date must be in {LAST_YEAR} or earlier.", "until")
        for index, _ in enumerate(local_starts(first, rule)):
            if index >= MAX_OCCURRENCES:
                raise RuleError(
                    "too_many_occurrences",
                    f"A series has at most {MAX_OCCURRENCES} occurrences: choose an earlier end date.",
                    "until",
                )
    if len(rule.excluded) > MAX_EXCLUDED_DATES:
        raise RuleError("too_many_excluded_dates", f"At most {MAX_EXCLUDED_DATES} excluded dates.", "excluded_dates")
    for day in sorted(rule.excluded):
        if not first.date() <= day <= date(LAST_YEAR, 12, 31) or not is_instance(
            first, replace(rule, excluded=frozenset()), datetime.combine(day, first.time())
        ):
            raise RuleError(
                "not_an_occurrence", f"There is no meeting on {day.isoformat()} to leave out.", "excluded_dates"
            )
    if rule.excluded and next(instance_starts(first, rule), None) is None:
        raise RuleError("no_occurrences", "Every occurrence is excluded.", "excluded_dates")
    return rule


# --- RRULE text -----------------------------------------------------------------------------


def to_rrule(first: datetime, rule: Rule, tz: ZoneInfo) -> str | None:
    """The RRULE value (without EXDATE) for the series, or None when it does not repeat.
    UNTIL is given in UTC, as RFC 5545 requires when DTSTART has a TZID."""
    if not rule.recurring:
        return None
    parts = [f"FREQ={rule.frequency.upper()}"]
    if rule.interval != 1:
        parts.append(f"INTERVAL={rule.interval}")
    if rule.frequency == "weekly":
        parts.append("WKST=MO")
        parts.append("BYDAY=" + ",".join(WEEKDAYS[day] for day in rule.weekdays))
    elif rule.frequency == "monthly":
        weekday = WEEKDAYS[first.weekday()]
        if rule.monthly_by == "weekday":
            parts.append(f"BYDAY={week_of_month(first.date())}{weekday}")
        elif rule.monthly_by == "last_weekday":
            parts.append(f"BYDAY=-1{weekday}")
        else:
            parts.append(f"BYMONTHDAY={first.day}")
    if rule.count is not None:
        parts.append(f"COUNT={rule.count}")
    if rule.until is not None:
        until = localize(datetime.combine(rule.until, first.time()), tz).astimezone(UTC)
        parts.append(f"UNTIL={until:%Y%m%dT%H%M%SZ}")
    return ";".join(parts)


_PART = re.compile(r"^[A-Z]+=[A-Z0-9,+\-]+$")
_UNTIL = re.compile(r"^(\d{8})(?:T(\d{6})(Z?))?$")
_BYDAY_MONTHLY = re.compile(r"^([+-]?\d)?(MO|TU|WE|TH|FR|SA|SU)$")


def _int(value: str, name: str) -> int:
    if not re.fullmatch(r"\d{1,6}", value):
        raise RuleError("invalid_rrule", f"{name} must be a positive number.", "rrule")
    return int(value)


def _until_date(value: str, first: datetime, tz: ZoneInfo) -> date:
    match = _UNTIL.match(value)
    if not match:
        raise RuleError("invalid_rrule", "UNTIL must look like 20260630 or 20260630T170000Z.", "rrule")
    try:
        day = datetime.strptime(match.group(1), "%Y%m%d").date()
        if match.group(2) is None:
            return day
        moment = datetime.strptime(match.group(1) + match.group(2), "%Y%m%d%H%M%S")
    except ValueError as exc:
        raise RuleError("invalid_rrule", "UNTIL is not a valid date.", "rrule") from exc
    if not convertible(moment):
        raise RuleError("out_of_range", f"UNTIL must be in {LAST_YEAR} or earlier.", "rrule")
    local = wall_time(moment.replace(tzinfo=UTC), tz) if match.group(3) else moment
    return local.date() if local.time() >= first.time() else local.date() - timedelta(days=1)


def parse_rrule(text: str, first: datetime, tz: ZoneInfo) -> Rule:
    """Reads an RRULE (``FREQ=WEEKLY;BYDAY=MO,WE;COUNT=10``) into a Rule, refusing what the
    platform does not offer (yearly, hourly, BYSETPOS, …) with ``unsupported_rrule``."""
    value = text.strip().upper()
    value = value.removeprefix("RRULE:")
    if not value:
        raise RuleError("invalid_rrule", "The recurrence rule is empty.", "rrule")
    parts: dict[str, str] = {}
    for part in value.split(";"):
        if not _PART.match(part):
            raise RuleError("invalid_rrule", f"{part!r} is not NAME=VALUE.", "rrule")
        name, _, item = part.partition("=")
        if name in parts:
            raise RuleError("invalid_rrule", f"{name} appears twice.", "rrule")
        parts[name] = item
    unsupported = set(parts) - {"FREQ", "INTERVAL", "BYDAY", "BYMONTHDAY", "COUNT", "UNTIL", "WKST"}
    if unsupported:
        raise RuleError("unsupported_rrule", f"Not supported here: {', '.join(sorted(unsupported))}.", "rrule")
    frequency = parts.get("FREQ", "").lower()
    if frequency not in ("daily", "weekly", "monthly"):
        raise RuleError("unsupported_rrule", "FREQ must be DAILY, WEEKLY or MONTHLY.", "rrule")
    if parts.get("WKST", "MO") != "MO":
        raise RuleError("unsupported_rrule", "Weeks start on Monday here (WKST=MO).", "rrule")
    rule = Rule(frequency=frequency, interval=_int(parts.get("INTERVAL", "1"), "INTERVAL"))
    if "COUNT" in parts:
        rule = replace(rule, count=_int(parts["COUNT"], "COUNT"))
    if "UNTIL" in parts:
        rule = replace(rule, until=_until_date(parts["UNTIL"], first, tz))
    byday = [item for item in parts.get("BYDAY", "").split(",") if item]
    if frequency == "weekly" and byday:
        try:
            rule = replace(rule, weekdays=parse_weekdays(byday))
        except RuleError as exc:
            raise RuleError("invalid_rrule", exc.message, "rrule") from exc
    elif frequency == "monthly" and (byday or "BYMONTHDAY" in parts):
        rule = replace(rule, monthly_by=_monthly_mode(byday, parts.get("BYMONTHDAY"), first))
    elif byday or "BYMONTHDAY" in parts:
        raise RuleError("unsupported_rrule", "BYDAY/BYMONTHDAY do not fit this frequency here.", "rrule")
    return rule


def _monthly_mode(byday: list[str], bymonthday: str | None, first: datetime) -> str:
    if byday and bymonthday is not None:
        raise RuleError("unsupported_rrule", "Use BYDAY or BYMONTHDAY, not both.", "rrule")
    if bymonthday is not None:
        if bymonthday != str(first.day):
            raise RuleError("start_not_in_rule", "BYMONTHDAY must be the first meeting's day.", "rrule")
        return "month_day"
    match = _BYDAY_MONTHLY.match(byday[0]) if len(byday) == 1 else None
    if match is None or match.group(1) is None:
        raise RuleError("unsupported_rrule", "Monthly BYDAY must be one day like 2TU or -1FR.", "rrule")
    if WEEKDAYS.index(match.group(2)) != first.weekday():
        raise RuleError("start_not_in_rule", "BYDAY must be the first meeting's weekday.", "rrule")
    nth = int(match.group(1))
    if nth == -1:
        return "last_weekday"
    if nth == week_of_month(first.date()):
        return "weekday"
    raise RuleError("start_not_in_rule", "BYDAY must match the first meeting's week of the month.", "rrule")


def describe(first: datetime, rule: Rule) -> str:
    """A short English description: "Every 2 weeks on Mon, Wed, 10 times"."""
    if not rule.recurring:
        return "Once"
    unit = {"daily": "day", "weekly": "week", "monthly": "month"}[rule.frequency]
    text = f"Every {unit}" if rule.interval == 1 else f"Every {rule.interval} {unit}s"
    if rule.frequency == "weekly":
        text += " on " + ", ".join(calendar.day_abbr[day] for day in rule.weekdays)
    elif rule.frequency == "monthly":
        weekday = calendar.day_name[first.weekday()]
        if rule.monthly_by == "weekday":
            ordinal = ("first", "second", "third", "fourth", "fifth")[week_of_month(first.date()) - 1]
            text += f" on the {ordinal} {weekday}"
        elif rule.monthly_by == "last_weekday":
            text += f" on the last {weekday}"
        else:
            text += f" on day {first.day}"
    if rule.count is not None:
        text += f", {rule.count} times"
    elif rule.until is not None:
        text += f", until {rule.until:%b} {rule.until.day}, {rule.until.year}"
    return text

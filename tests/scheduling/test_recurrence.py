"""Recurrence expansion, checked against dateutil's RFC 5545 implementation (an independent one),
and the DST rules: the local wall-clock time stays, the UTC offset follows the zone."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from dateutil import rrule as du

from scheduling import recurrence
from scheduling.recurrence import Rule, RuleError

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def ours(first: datetime, rule: Rule, tz: ZoneInfo) -> list[datetime]:
    checked = recurrence.check_rule(first, rule)
    return [recurrence.localize(local, tz).astimezone(UTC) for local in recurrence.instance_starts(first, checked)]


def dateutils(first: datetime, rule: Rule, tz: ZoneInfo) -> list[datetime]:
    """The same series according to dateutil: RRULE text + DTSTART with the zone + EXDATEs."""
    checked = recurrence.check_rule(first, rule)
    text = recurrence.to_rrule(first, checked, tz)
    assert text is not None
    start = recurrence.localize(first, tz)
    series = du.rruleset()
    parsed = du.rrulestr(text, dtstart=start)
    assert isinstance(parsed, du.rrule)
    series.rrule(parsed)
    for day in checked.excluded:
        series.exdate(datetime.combine(day, first.time()).replace(tzinfo=tz))
    return [moment.astimezone(UTC) for moment in series]


CASES = [
    ("weekly Mon+Wed, 10 times", datetime(2027, 3, 1, 9), Rule("weekly", weekdays=(0, 2), count=10), BERLIN),
    (
        "every 2 weeks Tue+Thu until",
        datetime(2027, 3, 2, 18, 30),
        Rule("weekly", 2, (1, 3), until=date(2027, 12, 31)),
        NEW_YORK,
    ),
    ("every 3 days across October", datetime(2027, 10, 20, 8), Rule("daily", 3, count=40), BERLIN),
    ("monthly on the 31st skips short months", datetime(2027, 1, 31, 12), Rule("monthly", count=12), BERLIN),
    (
        "monthly on the 2nd Tuesday",
        datetime(2027, 1, 12, 15),
        Rule("monthly", monthly_by="weekday", count=12),
        NEW_YORK,
    ),
    (
        "monthly on the last Friday",
        datetime(2027, 1, 29, 16),
        Rule("monthly", monthly_by="last_weekday", until=date(2028, 6, 30)),
        BERLIN,
    ),
    ("monthly on the 5th Monday", datetime(2027, 3, 29, 10), Rule("monthly", monthly_by="weekday", count=6), BERLIN),
    ("every 2 months on Feb 29th", datetime(2028, 2, 29, 9), Rule("monthly", 2, count=8), BERLIN),
    (
        "daily with skipped dates",
        datetime(2027, 3, 25, 9),
        Rule("daily", count=10, excluded=frozenset({date(2027, 3, 27), date(2027, 3, 28)})),
        BERLIN,
    ),
    ("daily 02:30 through the spring gap", datetime(2027, 3, 26, 2, 30), Rule("daily", count=5), BERLIN),
    ("daily 02:30 through the autumn fold", datetime(2027, 10, 29, 2, 30), Rule("daily", count=5), BERLIN),
    ("once", datetime(2027, 5, 5, 9), Rule(), BERLIN),
]


@pytest.mark.parametrize(("name", "first", "rule", "tz"), CASES, ids=[case[0] for case in CASES])
def test_expansion_matches_dateutil(name: str, first: datetime, rule: Rule, tz: ZoneInfo) -> None:
    if not rule.recurring:
        assert ours(first, rule, tz) == [first.replace(tzinfo=tz).astimezone(UTC)]
        return
    expected = dateutils(first, rule, tz)
    assert expected, name
    assert ours(first, rule, tz) == expected


def test_random_rules_match_dateutil() -> None:
    """200 random rules (fixed seed): frequencies, intervals, weekdays, counts, until dates,
    excluded dates, zones with and without DST, start times near the DST change hours."""
    generator = random.Random(20270301)
    zones = [BERLIN, NEW_YORK, ZoneInfo("Australia/Sydney"), ZoneInfo("Asia/Tokyo"), ZoneInfo("UTC")]
    for _ in range(200):
        tz = generator.choice(zones)
        first = datetime(2027, 1, 1, generator.choice([0, 1, 2, 3, 9, 23]), generator.choice([0, 30])) + timedelta(
            days=generator.randrange(0, 700)
        )
        if not recurrence.exists_locally(first, tz):
            continue
        frequency = generator.choice(["daily", "weekly", "monthly"])
        rule = Rule(frequency, generator.randint(1, 5))
        if frequency == "weekly":
            days = {first.weekday(), *generator.sample(range(7), generator.randint(0, 3))}
            rule = Rule(frequency, rule.interval, tuple(sorted(days)))
        if frequency == "monthly":
            modes = ["month_day", "weekday"] + (["last_weekday"] if recurrence.is_last_week(first.date()) else [])
            rule = Rule(frequency, rule.interval, monthly_by=generator.choice(modes))
        if generator.random() < 0.5:
            rule = Rule(**{**rule.__dict__, "count": generator.randint(1, 60)})
        else:
            rule = Rule(**{**rule.__dict__, "until": first.date() + timedelta(days=generator.randint(0, 900))})
        all_starts = list(recurrence.local_starts(first, recurrence.check_rule(first, rule)))
        if len(all_starts) > 2:
            skipped = frozenset(start.date() for start in generator.sample(all_starts[1:], 2))
            rule = Rule(**{**rule.__dict__, "excluded": skipped})
        assert ours(first, rule, tz) == dateutils(first, rule, tz), (first, tz, rule)


def test_a_window_of_an_endless_series_matches_dateutil() -> None:
    """Endless rules skip ahead to the requested window instead of walking from the start."""
    for rule in (Rule("weekly", 1, (0,)), Rule("daily", 7), Rule("monthly", 3, monthly_by="weekday")):
        first = datetime(2027, 1, 4, 9)
        checked = recurrence.check_rule(first, rule)
        text = recurrence.to_rrule(first, checked, BERLIN)
        assert text is not None
        begin, end = datetime(2031, 1, 1, tzinfo=UTC), datetime(2031, 9, 1, tzinfo=UTC)
        expected = du.rrulestr(text, dtstart=first.replace(tzinfo=BERLIN)).between(begin, end, inc=True)
        assert recurrence.starts_between(first, checked, BERLIN, begin, end) == [
            moment for moment in expected if moment < end
        ]


def test_weekly_0900_berlin_keeps_its_wall_clock_time_across_both_dst_changes() -> None:
    first = datetime(2027, 3, 15, 9)  # Mondays; DST starts Sun 2027-03-28, ends Sun 2027-10-31
    starts = ours(first, Rule("weekly", until=date(2027, 11, 15)), BERLIN)
    assert all(start.astimezone(BERLIN).strftime("%H:%M") == "09:00" for start in starts)
    by_day = {start.date(): start.astimezone(UTC).strftime("%H:%M") for start in starts}
    assert by_day[date(2027, 3, 22)] == "08:00"  # CET, UTC+1
    assert by_day[date(2027, 3, 29)] == "07:00"  # CEST, UTC+2
    assert by_day[date(2027, 10, 25)] == "07:00"
    assert by_day[date(2027, 11, 1)] == "08:00"


def test_weekly_0900_new_york_keeps_its_wall_clock_time_across_both_dst_changes() -> None:
    first = datetime(2027, 3, 8, 9)  # US DST starts Sun 2027-03-14, ends Sun 2027-11-07
    starts = ours(first, Rule("weekly", until=date(2027, 11, 15)), NEW_YORK)
    by_day = {start.date(): start.astimezone(UTC).strftime("%H:%M") for start in starts}
    assert by_day[date(2027, 3, 8)] == "14:00"  # EST, UTC-5
    assert by_day[date(2027, 3, 15)] == "13:00"  # EDT, UTC-4
    assert by_day[date(2027, 11, 1)] == "13:00"
    assert by_day[date(2027, 11, 8)] == "14:00"
    # Berlin changes two weeks later: for people there the meeting moves by an hour twice.
    in_berlin = {start.date(): start.astimezone(BERLIN).strftime("%H:%M") for start in starts}
    assert (in_berlin[date(2027, 3, 8)], in_berlin[date(2027, 3, 15)], in_berlin[date(2027, 3, 29)]) == (
        "15:00",
        "14:00",
        "15:00",
    )


def test_a_time_in_the_spring_gap_moves_forward_as_rfc_5545_says() -> None:
    starts = ours(datetime(2027, 3, 27, 2, 30), Rule("daily", count=3), BERLIN)
    assert [start.astimezone(UTC).astimezone(BERLIN).strftime("%m-%d %H:%M") for start in starts] == [
        "03-27 02:30",
        "03-28 03:30",
        "03-29 02:30",
    ]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("FREQ=YEARLY", "unsupported_rrule"),
        ("FREQ=HOURLY;COUNT=3", "unsupported_rrule"),
        ("FREQ=WEEKLY;BYSETPOS=-1", "unsupported_rrule"),
        ("FREQ=WEEKLY;WKST=SU", "unsupported_rrule"),
        ("FREQ=WEEKLY;;COUNT=2", "invalid_rrule"),
        ("FREQ=WEEKLY;COUNT=abc", "invalid_rrule"),
        ("FREQ=WEEKLY;UNTIL=2027-01-01", "invalid_rrule"),
        ("FREQ=WEEKLY;UNTIL=20271345", "invalid_rrule"),
        ("FREQ=WEEKLY;BYDAY=XY", "invalid_rrule"),
        ("FREQ=MONTHLY;BYDAY=2TU", "start_not_in_rule"),
        ("FREQ=MONTHLY;BYMONTHDAY=3", "start_not_in_rule"),
        ("FREQ=MONTHLY;BYDAY=TU,WE", "unsupported_rrule"),
        ("FREQ=DAILY;FREQ=DAILY", "invalid_rrule"),
        ("", "invalid_rrule"),
    ],
)
def test_bad_rrules_are_refused(text: str, code: str) -> None:
    with pytest.raises(RuleError) as caught:
        recurrence.parse_rrule(text, datetime(2027, 3, 1, 9), BERLIN)
    assert (caught.value.code, caught.value.field) == (code, "rrule")


def test_rrules_round_trip() -> None:
    first = datetime(2027, 3, 1, 9)
    for text in (
        "FREQ=WEEKLY;INTERVAL=2;WKST=MO;BYDAY=MO,FR;COUNT=7",
        "FREQ=MONTHLY;BYDAY=1MO;UNTIL=20271206T080000Z",
        "FREQ=MONTHLY;BYMONTHDAY=1;COUNT=3",
        "FREQ=DAILY;INTERVAL=3",
    ):
        rule = recurrence.check_rule(first, recurrence.parse_rrule(text, first, BERLIN))
        assert recurrence.to_rrule(first, rule, BERLIN) == text


def test_until_read_from_utc_keeps_rfc_semantics() -> None:
    first = datetime(2027, 3, 1, 9)  # 08:00Z
    # An UNTIL at 07:59Z on Mar 8 excludes the 09:00 (08:00Z) meeting that day.
    assert recurrence.parse_rrule("FREQ=DAILY;UNTIL=20270308T075900Z", first, BERLIN).until == date(2027, 3, 7)
    assert recurrence.parse_rrule("FREQ=DAILY;UNTIL=20270308T080000Z", first, BERLIN).until == date(2027, 3, 8)
    assert recurrence.parse_rrule("FREQ=DAILY;UNTIL=20270308", first, BERLIN).until == date(2027, 3, 8)


def test_counts_are_capped() -> None:
    first = datetime(2027, 3, 1, 9)
    recurrence.check_rule(first, Rule("daily", count=recurrence.MAX_OCCURRENCES))
    with pytest.raises(RuleError) as caught:
        recurrence.check_rule(first, Rule("daily", count=recurrence.MAX_OCCURRENCES + 1))
    assert caught.value.code == "too_many_occurrences"


def test_excluding_every_occurrence_is_refused() -> None:
    first = datetime(2027, 3, 1, 9)
    with pytest.raises(RuleError) as caught:
        recurrence.check_rule(first, Rule("daily", count=2, excluded=frozenset({date(2027, 3, 1), date(2027, 3, 2)})))
    assert caught.value.code == "no_occurrences"


def test_descriptions_read_well() -> None:
    first = datetime(2027, 3, 9, 9)  # the 2nd Tuesday
    assert recurrence.describe(first, Rule()) == "Once"
    assert recurrence.describe(first, Rule("daily", 2, count=5)) == "Every 2 days, 5 times"
    assert recurrence.describe(first, Rule("weekly", weekdays=(1, 3))) == "Every week on Tue, Thu"
    assert recurrence.describe(first, Rule("monthly", monthly_by="weekday")) == "Every month on the second Tuesday"
    assert (
        recurrence.describe(first, Rule("monthly", until=date(2027, 12, 31)))
        == "Every month on day 9, until Dec 31, 2027"
    )

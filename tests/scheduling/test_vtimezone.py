"""VTIMEZONE components: parsed back by icalendar, they give the same UTC offsets as the IANA
database (zoneinfo) at every instant, and they use yearly rules with the RFC 5545 onsets."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from icalendar import Timezone

from scheduling.vtimezone import build_vtimezone, vtimezone

ZONES = [
    "Europe/Berlin",
    "America/New_York",
    "America/Sao_Paulo",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "Asia/Tokyo",
    "Asia/Kolkata",
    "Europe/Dublin",
    "Africa/Casablanca",
    "UTC",
]


@pytest.mark.parametrize("name", ZONES)
def test_offsets_match_the_iana_database(name: str) -> None:
    parsed = vtimezone(name, date(2027, 1, 1), date(2030, 12, 31)).to_tz()
    zone = ZoneInfo(name)
    moment = datetime(2027, 1, 1, tzinfo=UTC)
    while moment < datetime(2034, 1, 1, tzinfo=UTC):
        assert moment.astimezone(parsed).utcoffset() == moment.astimezone(zone).utcoffset(), (name, moment)
        moment += timedelta(hours=5, minutes=17)


def test_berlin_uses_yearly_rules_with_onsets_in_the_old_local_time() -> None:
    component = Timezone.from_ical(build_vtimezone("Europe/Berlin", 2027, 2027))
    assert isinstance(component, Timezone)
    assert component["TZID"] == "Europe/Berlin"
    daylight: list[Any] = component.walk("DAYLIGHT")
    standard: list[Any] = [item for item in component.walk("STANDARD") if "RRULE" in item]
    assert len(daylight) == 1
    assert len(standard) == 1
    spring, autumn = daylight[0], standard[0]
    # The spring change happens at 02:00 on the CET clock, the autumn one at 03:00 on the CEST clock.
    assert spring["DTSTART"].dt == datetime(2026, 3, 29, 2, 0)
    assert autumn["DTSTART"].dt == datetime(2026, 10, 25, 3, 0)
    assert spring["RRULE"].to_ical() == b"FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3"
    assert autumn["RRULE"].to_ical() == b"FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10"
    assert (spring["TZOFFSETFROM"].td, spring["TZOFFSETTO"].td) == (timedelta(hours=1), timedelta(hours=2))
    assert (str(spring["TZNAME"]), str(autumn["TZNAME"])) == ("CEST", "CET")


def test_new_york_uses_the_second_and_first_sunday() -> None:
    text = build_vtimezone("America/New_York", 2027, 2027).decode()
    assert "RRULE:FREQ=YEARLY;BYDAY=2SU;BYMONTH=3" in text
    assert "RRULE:FREQ=YEARLY;BYDAY=1SU;BYMONTH=11" in text


def test_a_zone_without_dst_has_a_single_observance() -> None:
    component = Timezone.from_ical(build_vtimezone("Asia/Tokyo", 2027, 2027))
    assert isinstance(component, Timezone)
    assert [item.name for item in component.subcomponents] == ["STANDARD"]
    observance: Any = component.subcomponents[0]
    assert observance["TZOFFSETTO"].td == timedelta(hours=9)

"""iCalendar output parsed back and checked field by field; the expansion of the generated
calendar by recurring-ical-events (an independent RFC 5545 implementation) equals ours; and a
real calendar client (Debian's khal) imports a feed without warnings."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, date, datetime, timedelta
from email.mime.base import MIMEBase
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import recurring_ical_events  # type: ignore[import-untyped]
from django.core import mail
from django.core.mail import EmailMessage
from icalendar import Calendar, Event

from accounts.models import User
from scheduling import actions, ical, occurrences
from scheduling.models import Invitation, PartStat, ScheduledMeeting
from tests.scheduling.conftest import parse_ics, schedule

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")


def itip(message: EmailMessage, method: str) -> Calendar:
    """The calendar of an email: the text/calendar alternative and the invite.ics attachment agree."""
    alternatives = [alt for alt in getattr(message, "alternatives", []) if alt[1].startswith("text/calendar")]
    assert [alt[1] for alt in alternatives] == [f"text/calendar; method={method}"]
    attachments = [att for att in message.attachments if not isinstance(att, MIMEBase) and att[0] == "invite.ics"]
    assert len(attachments) == 1
    assert attachments[0][2] == "application/ics"
    content = attachments[0][1]
    text = content.decode() if isinstance(content, bytes) else str(content)
    assert text == alternatives[0][0]
    calendar = parse_ics(text)
    assert str(calendar["METHOD"]) == method
    return calendar


def events(calendar: Calendar) -> list[Any]:
    return [item for item in calendar.walk("VEVENT") if isinstance(item, Event)]


def attendees(event: Event) -> dict[str, dict[str, str]]:
    values = event.get("ATTENDEE")
    values = values if isinstance(values, list) else [values]
    return {str(value).removeprefix("mailto:"): dict(value.params) for value in values}


def test_an_invitation_is_an_itip_request_with_every_field(berlin_owner: User, invitee: User) -> None:
    series = schedule(
        berlin_owner,
        ("ivy@example.com", "ext@partner.example"),
        description="Bring numbers; commas, semicolons; and\nnew lines.",
        recurrence={"frequency": "weekly", "weekdays": ["MO", "TH"], "count": 10, "excluded_dates": [date(2027, 3, 4)]},
    )
    assert len(mail.outbox) == 2
    message = next(message for message in mail.outbox if message.to == ["ivy@example.com"])
    assert message.reply_to == ["olivia@example.com"]
    calendar = itip(message, "REQUEST")
    assert str(calendar["VERSION"]) == "2.0"
    assert str(calendar["PRODID"]) == ical.PRODID
    assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == ["Europe/Berlin"]
    (event,) = events(calendar)
    assert str(event["UID"]) == series.uid
    assert event["SEQUENCE"] == 0
    assert event["DTSTART"].dt == datetime(2027, 3, 1, 9, tzinfo=BERLIN)
    assert event["DTSTART"].params["TZID"] == "Europe/Berlin"
    assert event["DTEND"].dt == datetime(2027, 3, 1, 10, tzinfo=BERLIN)
    assert event["DTSTAMP"].dt.tzinfo is not None
    assert event["DTSTAMP"].dt.utcoffset() == timedelta(0)
    assert dict(event["RRULE"]) == {"FREQ": ["WEEKLY"], "WKST": ["MO"], "BYDAY": ["MO", "TH"], "COUNT": [10]}
    assert [item.dt for item in event["EXDATE"].dts] == [datetime(2027, 3, 4, 9, tzinfo=BERLIN)]
    assert event["EXDATE"].params["TZID"] == "Europe/Berlin"
    assert str(event["SUMMARY"]) == "Planning"
    assert str(event["DESCRIPTION"]).startswith(
        "Bring numbers; commas, semicolons; and\nnew lines.\n\nJoin the meeting: "
    )
    join = ical.join_url(series)
    assert join.startswith("https://testserver/m/")
    assert str(event["DESCRIPTION"]).endswith(join)
    assert (str(event["URL"]), str(event["LOCATION"])) == (join, join)
    assert str(event["STATUS"]) == "CONFIRMED"
    assert str(event["ORGANIZER"]) == "mailto:olivia@example.com"
    assert event["ORGANIZER"].params["CN"] == "olivia"
    assert attendees(event) == {
        "ext@partner.example": {
            "CUTYPE": "INDIVIDUAL",
            "ROLE": "REQ-PARTICIPANT",
            "PARTSTAT": "NEEDS-ACTION",
            "RSVP": "TRUE",
        },
        "ivy@example.com": {
            "CUTYPE": "INDIVIDUAL",
            "ROLE": "REQ-PARTICIPANT",
            "PARTSTAT": "NEEDS-ACTION",
            "RSVP": "TRUE",
        },
    }
    # The text and HTML parts say the same, in the invitee's own time zone too.
    assert "Mon, Mar 1, 2027, 09:00–10:00 (Europe/Berlin)" in message.body
    assert "Mon, Mar 1, 2027, 03:00–04:00 (America/New_York)" in message.body
    html = next(alt[0] for alt in message.alternatives if alt[1] == "text/html")  # type: ignore[attr-defined]
    assert join in html
    assert "/schedule/rsvp/" in html


def test_every_change_raises_the_sequence_and_keeps_the_uid(weekly: ScheduledMeeting) -> None:
    uid = weekly.uid
    actions.do_update_series(weekly, actions.ScheduleChanges(title="Planning (new room)"))
    (event,) = events(itip(mail.outbox[-1], "REQUEST"))
    assert (str(event["UID"]), event["SEQUENCE"], str(event["SUMMARY"])) == (uid, 1, "Planning (new room)")

    third = occurrences.occurrences_between(weekly, datetime(2027, 3, 1, tzinfo=UTC), datetime(2027, 4, 1, tzinfo=UTC))[
        2
    ]
    mail.outbox.clear()
    actions.do_update_occurrence(
        weekly, third.recurrence_id, actions.OccurrenceChanges(start=datetime(2027, 3, 16, 14, 0))
    )
    assert len(mail.outbox) == 2
    (event,) = events(itip(mail.outbox[0], "REQUEST"))
    assert (str(event["UID"]), event["SEQUENCE"]) == (uid, 2)
    assert event["RECURRENCE-ID"].dt == datetime(2027, 3, 15, 9, tzinfo=BERLIN)
    assert event["DTSTART"].dt == datetime(2027, 3, 16, 14, tzinfo=BERLIN)
    assert event["DTEND"].dt == datetime(2027, 3, 16, 15, tzinfo=BERLIN)

    mail.outbox.clear()
    fourth = occurrences.occurrences_between(
        weekly, datetime(2027, 3, 20, tzinfo=UTC), datetime(2027, 3, 23, tzinfo=UTC)
    )[0]
    actions.do_cancel_occurrence(weekly, fourth.recurrence_id)
    (event,) = events(itip(mail.outbox[0], "CANCEL"))
    assert (str(event["UID"]), event["SEQUENCE"], str(event["STATUS"])) == (uid, 3, "CANCELLED")
    assert event["RECURRENCE-ID"].dt == datetime(2027, 3, 22, 9, tzinfo=BERLIN)

    mail.outbox.clear()
    actions.do_cancel_series(weekly)
    calendar = itip(mail.outbox[0], "CANCEL")
    (event,) = events(calendar)
    assert (str(event["UID"]), event["SEQUENCE"], str(event["STATUS"])) == (uid, 4, "CANCELLED")
    assert "RECURRENCE-ID" not in event
    assert set(attendees(event)) == {"ivy@example.com", "ext@partner.example"}


def test_the_series_file_carries_overrides_and_excluded_dates(weekly: ScheduledMeeting) -> None:
    in_march = occurrences.occurrences_between(
        weekly, datetime(2027, 3, 1, tzinfo=UTC), datetime(2027, 4, 1, tzinfo=UTC)
    )
    actions.do_update_occurrence(
        weekly, in_march[1].recurrence_id, actions.OccurrenceChanges(title="Special", duration=timedelta(minutes=30))
    )
    actions.do_cancel_occurrence(weekly, in_march[3].recurrence_id)
    invitation = Invitation.objects.get(email="ivy@example.com")
    actions.do_respond(invitation, PartStat.ACCEPTED)
    actions.do_respond(invitation, PartStat.DECLINED, in_march[1].recurrence_id)
    weekly.refresh_from_db()
    master, override = events(parse_ics(ical.publish([weekly])))
    assert "METHOD" not in parse_ics(ical.publish([weekly]))
    assert [item.dt for item in master["EXDATE"].dts] == [datetime(2027, 3, 22, 9, tzinfo=BERLIN)]
    assert attendees(master)["ivy@example.com"]["PARTSTAT"] == "ACCEPTED"
    assert override["RECURRENCE-ID"].dt == datetime(2027, 3, 8, 9, tzinfo=BERLIN)
    assert (str(override["SUMMARY"]), override["DTEND"].dt) == ("Special", datetime(2027, 3, 8, 9, 30, tzinfo=BERLIN))
    assert attendees(override)["ivy@example.com"]["PARTSTAT"] == "DECLINED"
    assert master["DTSTAMP"].dt == weekly.updated_at.replace(microsecond=0)


def test_recurring_ical_events_expands_the_file_like_we_do(weekly: ScheduledMeeting) -> None:
    """Weekly 09:00 Europe/Berlin across the March DST change, with a moved and a cancelled occurrence."""
    begin, end = datetime(2027, 2, 1, tzinfo=UTC), datetime(2027, 6, 1, tzinfo=UTC)
    listed = occurrences.occurrences_between(weekly, begin, end)
    actions.do_update_occurrence(
        weekly, listed[2].recurrence_id, actions.OccurrenceChanges(start=datetime(2027, 3, 17, 13, 0))
    )
    actions.do_cancel_occurrence(weekly, listed[5].recurrence_id)
    weekly.refresh_from_db()
    expected = [
        (item.start.astimezone(UTC), item.end.astimezone(UTC))
        for item in occurrences.occurrences_between(weekly, begin, end)
    ]
    theirs = recurring_ical_events.of(parse_ics(ical.publish([weekly]))).between(begin, end)
    assert sorted((item["DTSTART"].dt.astimezone(UTC), item["DTEND"].dt.astimezone(UTC)) for item in theirs) == expected
    assert len(expected) == 9
    local_times = {start.astimezone(BERLIN).strftime("%H:%M") for start, _ in expected}
    assert local_times == {"09:00", "13:00"}
    offsets = {start.astimezone(BERLIN).utcoffset() for start, _ in expected}
    assert offsets == {timedelta(hours=1), timedelta(hours=2)}


def test_a_us_series_expands_the_same_in_both_implementations(owner: User) -> None:
    series = schedule(
        owner,
        time_zone="America/Los_Angeles",
        start=datetime(2027, 10, 4, 16, 30),
        recurrence={"frequency": "weekly", "weekdays": ["MO", "FR"], "until": date(2027, 11, 30)},
    )
    begin, end = datetime(2027, 10, 1, tzinfo=UTC), datetime(2027, 12, 31, tzinfo=UTC)
    ours = [item.start.astimezone(UTC) for item in occurrences.occurrences_between(series, begin, end)]
    theirs = sorted(
        item["DTSTART"].dt.astimezone(UTC)
        for item in recurring_ical_events.of(parse_ics(ical.publish([series]))).between(begin, end)
    )
    assert ours == theirs
    la = ZoneInfo("America/Los_Angeles")
    assert {moment.astimezone(la).strftime("%H:%M") for moment in ours} == {"16:30"}
    assert {moment.strftime("%H:%M") for moment in ours} == {"23:30", "00:30"}


def khal(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    executable = shutil.which("khal")
    assert executable, "khal is installed by scripts/install (Debian package khal)"
    config = tmp_path / "khal.conf"
    if not config.exists():
        (tmp_path / "calendar").mkdir()
        config.write_text(
            f"""[calendars]
[[conference]]
path = {tmp_path / "calendar"}
type = calendar
[locale]
timeformat = %H:%M
dateformat = %Y-%m-%d
longdateformat = %Y-%m-%d
datetimeformat = %Y-%m-%d %H:%M
longdatetimeformat = %Y-%m-%d %H:%M
default_timezone = America/New_York
local_timezone = America/New_York
[default]
default_calendar = conference
[sqlite]
path = {tmp_path / "khal.db"}
"""
        )
    return subprocess.run(  # noqa: S603  (a fixed program with our own arguments)
        [executable, "-c", str(config), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8", "TZ": "America/New_York"},
    )


def test_a_feed_imports_into_khal_without_warnings(
    weekly: ScheduledMeeting, berlin_owner: User, invitee: User, client: object, tmp_path: Path
) -> None:
    from django.test import Client

    from scheduling import feeds

    assert isinstance(client, Client)
    listed = occurrences.occurrences_between(weekly, datetime(2027, 3, 1, tzinfo=UTC), datetime(2027, 4, 1, tzinfo=UTC))
    actions.do_update_occurrence(
        weekly, listed[1].recurrence_id, actions.OccurrenceChanges(start=datetime(2027, 3, 9, 11, 0), title="Moved")
    )
    actions.do_cancel_occurrence(weekly, listed[3].recurrence_id)
    schedule(
        berlin_owner,
        ("ivy@example.com",),
        title="Tokyo call",
        time_zone="Asia/Tokyo",
        start=datetime(2027, 3, 3, 18, 0),
    )
    response = client.get(f"/schedule/feed/{feeds.feed_token(feeds.feed_of(invitee))}.ics")
    assert response.status_code == 200
    feed_file = tmp_path / "feed.ics"
    feed_file.write_bytes(response.content)

    printed = khal(tmp_path, "printics", str(feed_file))
    assert printed.returncode == 0, printed.stderr
    assert printed.stderr.strip() == ""
    assert "2 events found" in printed.stdout  # (one per UID: the series with its override, and the other)

    imported = khal(tmp_path, "import", "--batch", "-a", "conference", str(feed_file))
    assert imported.returncode == 0, imported.stderr
    assert imported.stderr.strip() == ""
    listing = khal(tmp_path, "list", "--format", "{start} {title}", "2027-03-01", "2027-04-10")
    assert listing.returncode == 0, listing.stderr
    assert listing.stderr.strip() == ""
    lines = [line for line in listing.stdout.splitlines() if line[:4] == "2027"]
    # Shown in New York time: 09:00 Berlin is 03:00 (CET vs EST), 04:00 after the US change on
    # Mar 14, 03:00 again after Europe's on Mar 28; the moved one at 11:00 Berlin; Tokyo 18:00 = 04:00.
    assert lines == [
        "2027-03-01 03:00 Planning",
        "2027-03-03 04:00 Tokyo call",
        "2027-03-09 05:00 Moved",
        "2027-03-15 04:00 Planning",
        "2027-03-29 03:00 Planning",
        "2027-04-05 03:00 Planning",
    ]

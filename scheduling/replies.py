"""iTIP REPLY documents (RFC 5546 §3.2.3) from attendees' calendar clients, parsed and checked.

A REPLY names one attendee and their PARTSTAT for the series (no RECURRENCE-ID) or for one
occurrence. Anything else (not iCalendar, another METHOD, no UID, several attendees, an unknown
PARTSTAT) is refused with a stable code before anything is applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event

from conference.api import ApiError
from scheduling.models import PartStat

MAX_BYTES = 256 * 1024
ANSWERS = {PartStat.ACCEPTED, PartStat.TENTATIVE, PartStat.DECLINED, PartStat.NEEDS_ACTION}
FIELD = "file"


@dataclass(frozen=True)
class ReplyLine:
    uid: str
    email: str
    partstat: str
    recurrence_id: datetime | None  # aware


def _refuse(code: str, message: str) -> ApiError:
    return ApiError(code, message, field=FIELD)


def _recurrence_id(event: Event, tz: ZoneInfo) -> datetime | None:
    prop = event.get("RECURRENCE-ID")
    if prop is None:
        return None
    value = getattr(prop, "dt", None)
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=tz)
    if isinstance(value, date):
        raise _refuse("unsupported_reply", "A RECURRENCE-ID must be a date-time.")
    raise _refuse("malformed_ics", "The RECURRENCE-ID cannot be read.")


def parse_reply(data: bytes, tz: ZoneInfo) -> list[ReplyLine]:
    """Reads a REPLY; floating times are read in ``tz`` (the series' time zone)."""
    if len(data) > MAX_BYTES:
        raise _refuse("too_large", f"A reply is at most {MAX_BYTES // 1024} KiB.")
    try:
        text = data.decode("utf-8")
        cal = Calendar.from_ical(text)
    except (UnicodeDecodeError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise _refuse("malformed_ics", "This is not a readable iCalendar file.") from exc
    if not isinstance(cal, Calendar) or cal.name != "VCALENDAR":
        raise _refuse("malformed_ics", "This is not an iCalendar file (no VCALENDAR).")
    if str(cal.get("METHOD", "")).upper() != "REPLY":
        raise _refuse("not_a_reply", "The file is not a reply (METHOD:REPLY).")
    events = [component for component in cal.walk("VEVENT") if isinstance(component, Event)]
    if not events:
        raise _refuse("malformed_ics", "The reply has no event.")
    lines: list[ReplyLine] = []
    for event in events:
        uid = str(event.get("UID", "")).strip()
        if not uid:
            raise _refuse("malformed_ics", "The reply's event has no UID.")
        attendees = event.get("ATTENDEE")
        if attendees is None:
            raise _refuse("attendee_missing", "The reply names no attendee.")
        if isinstance(attendees, list):
            if len(attendees) != 1:
                raise _refuse("several_attendees", "A reply names exactly one attendee.")
            attendees = attendees[0]
        address = str(attendees)
        if not address.lower().startswith("mailto:") or "@" not in address:
            raise _refuse("attendee_missing", "The attendee has no email address.")
        partstat = str(attendees.params.get("PARTSTAT", PartStat.NEEDS_ACTION)).upper()
        if partstat not in ANSWERS:
            raise _refuse("invalid_partstat", f"PARTSTAT {partstat!r} is not an answer we take.")
        lines.append(ReplyLine(uid, address[7:].strip().lower(), partstat, _recurrence_id(event, tz)))
    return lines


def as_utc(moment: datetime | None) -> datetime | None:
    return moment.astimezone(UTC) if moment is not None else None

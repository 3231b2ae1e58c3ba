"""iCalendar (RFC 5545) and iTIP (RFC 5546) documents for scheduled meetings.

- ``request``: METHOD:REQUEST, the whole series (master with RRULE/EXDATE + edited occurrences),
  or only one edited occurrence (with RECURRENCE-ID).
- ``cancel``: METHOD:CANCEL for the whole series or one occurrence.
- ``publish``: no METHOD, for the per-meeting download and the subscription feed.

Every component carries the series' stable UID and its SEQUENCE, the ORGANIZER, the ATTENDEEs
with PARTSTAT and RSVP, and the times with the series' TZID plus a matching VTIMEZONE.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.utils import timezone
from icalendar import Calendar, Event, vCalAddress, vRecur

from accounts.access import profile_of
from scheduling import occurrences
from scheduling.models import Invitation, OccurrenceChange, OccurrenceResponse, ScheduledMeeting
from scheduling.vtimezone import vtimezone

PRODID = "-//Conference//Scheduling 1.0//EN"
FEED_REFRESH = timedelta(minutes=15)
ENDLESS_HORIZON = timedelta(days=5 * 366)


def site_url(path: str) -> str:
    """An absolute URL on this site (emails and feeds are built without a request)."""
    return str(settings.SITE_URL).rstrip("/") + path


def join_url(series: ScheduledMeeting) -> str:
    return site_url(series.meeting.get_absolute_url())


@dataclass(frozen=True)
class Attendee:
    email: str
    name: str
    partstat: str
    per_occurrence: dict[datetime, str]

    @classmethod
    def of(cls, invitation: Invitation, responses: Iterable[OccurrenceResponse] = ()) -> Attendee:
        return cls(
            invitation.email,
            invitation.name,
            invitation.partstat,
            {response.recurrence_id.astimezone(UTC): response.partstat for response in responses},
        )


def attendees_of(series: ScheduledMeeting) -> list[Attendee]:
    invitations = series.invitations.prefetch_related("occurrence_responses")
    return [Attendee.of(invitation, invitation.occurrence_responses.all()) for invitation in invitations]


def _address(email: str, name: str, **params: str) -> vCalAddress:
    address = vCalAddress(f"mailto:{email}")
    if name:
        address.params["CN"] = name
    for key, value in params.items():
        address.params[key.upper()] = value
    return address


def _organizer(series: ScheduledMeeting) -> vCalAddress:
    return _address(series.organizer.email, profile_of(series.organizer).name)


def _attendee(attendee: Attendee, recurrence_id: datetime | None, *, cancelled: bool = False) -> vCalAddress:
    partstat = attendee.partstat
    if recurrence_id is not None:
        partstat = attendee.per_occurrence.get(recurrence_id.astimezone(UTC), partstat)
    return _address(
        attendee.email,
        attendee.name,
        cutype="INDIVIDUAL",
        role="REQ-PARTICIPANT",
        partstat=partstat,
        rsvp="FALSE" if cancelled else "TRUE",
    )


def _description(series: ScheduledMeeting) -> str:
    text = series.description.strip()
    return (text + "\n\n" if text else "") + f"Join the meeting: {join_url(series)}"


def _base_event(series: ScheduledMeeting, dtstamp: datetime) -> Event:
    event = Event()
    event.add("UID", series.uid)
    event.add("DTSTAMP", dtstamp.astimezone(UTC))
    event.add("SEQUENCE", series.sequence)
    event.add("ORGANIZER", _organizer(series))
    event.add("DESCRIPTION", _description(series))
    event.add("LOCATION", join_url(series))
    event.add("URL", join_url(series))
    event.add("CREATED", series.created_at.astimezone(UTC))
    event.add("LAST-MODIFIED", series.updated_at.astimezone(UTC))
    return event


def master_event(
    series: ScheduledMeeting, attendees: Sequence[Attendee], dtstamp: datetime, *, cancelled: bool = False
) -> Event:
    tz = occurrences.tz_of(series)
    start = series.start.astimezone(tz)
    event = _base_event(series, dtstamp)
    event.add("SUMMARY", series.title)
    event.add("DTSTART", start)
    event.add("DTEND", start + series.duration)
    rrule = occurrences.rrule_of(series)
    if rrule is not None:
        event.add("RRULE", vRecur.from_ical(rrule))
        excluded = sorted(occurrences.rule_of(series).excluded)
        if excluded:
            local = start.replace(tzinfo=None)
            event.add("EXDATE", [datetime.combine(day, local.time()).replace(tzinfo=tz) for day in excluded])
    event.add("STATUS", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("TRANSP", "OPAQUE")
    for attendee in attendees:
        event.add("ATTENDEE", _attendee(attendee, None, cancelled=cancelled))
    return event


def occurrence_event(
    series: ScheduledMeeting,
    occurrence: occurrences.Occurrence,
    attendees: Sequence[Attendee],
    dtstamp: datetime,
    *,
    cancelled: bool = False,
) -> Event:
    tz = occurrences.tz_of(series)
    event = _base_event(series, dtstamp)
    event.add("RECURRENCE-ID", occurrence.recurrence_id.astimezone(tz))
    event.add("SUMMARY", occurrence.title)
    event.add("DTSTART", occurrence.start.astimezone(tz))
    event.add("DTEND", occurrence.end.astimezone(tz))
    event.add("STATUS", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("TRANSP", "OPAQUE")
    for attendee in attendees:
        event.add("ATTENDEE", _attendee(attendee, occurrence.recurrence_id, cancelled=cancelled))
    return event


def changed_occurrences(series: ScheduledMeeting) -> list[occurrences.Occurrence]:
    result = []
    for change in OccurrenceChange.objects.filter(series=series):
        occurrence = occurrences.occurrence_at(series, change.recurrence_id)
        if occurrence is not None:
            result.append(occurrence)
    return result


def series_events(
    series: ScheduledMeeting, attendees: Sequence[Attendee], dtstamp: datetime, *, cancelled: bool = False
) -> list[Event]:
    events = [master_event(series, attendees, dtstamp, cancelled=cancelled)]
    if not cancelled:
        events.extend(occurrence_event(series, item, attendees, dtstamp) for item in changed_occurrences(series))
    return events


def horizon(series_list: Iterable[ScheduledMeeting]) -> date | None:
    """The last day a VTIMEZONE must describe for these series (endless ones: five years on)."""
    ends = [(series.last_end or series.start + ENDLESS_HORIZON).date() for series in series_list]
    return max(ends) if ends else None


def calendar(
    events: Iterable[Event], method: str | None, *, name: str | None = None, through: date | None = None
) -> Calendar:
    cal = Calendar()
    cal.add("PRODID", PRODID)
    cal.add("VERSION", "2.0")
    cal.add("CALSCALE", "GREGORIAN")
    if method is not None:
        cal.add("METHOD", method)
    if name is not None:
        cal.add("NAME", name)
        cal.add("X-WR-CALNAME", name)
    starts: list[datetime] = []
    zones: set[str] = set()
    for event in events:
        cal.add_component(event)
        for key in ("DTSTART", "DTEND", "RECURRENCE-ID"):
            value = event.get(key)
            if value is not None and isinstance(value.dt, datetime) and value.params.get("TZID"):
                zones.add(str(value.params["TZID"]))
                starts.append(value.dt)
    if zones:
        first, last = min(starts).date(), max([*(start.date() for start in starts), *([through] if through else [])])
        for zone in sorted(zones):
            cal.subcomponents.insert(0, vtimezone(zone, first, last))
    return cal


def request(
    series: ScheduledMeeting, attendees: Sequence[Attendee], *, occurrence: occurrences.Occurrence | None = None
) -> bytes:
    now = timezone.now()
    if occurrence is not None:
        events = [occurrence_event(series, occurrence, attendees, now)]
    else:
        events = series_events(series, attendees, now)
    return bytes(calendar(events, "REQUEST", through=horizon([series])).to_ical())


def cancel(
    series: ScheduledMeeting, attendees: Sequence[Attendee], *, occurrence: occurrences.Occurrence | None = None
) -> bytes:
    now = timezone.now()
    if occurrence is not None:
        events = [occurrence_event(series, occurrence, attendees, now, cancelled=True)]
    else:
        events = [master_event(series, attendees, now, cancelled=True)]
    return bytes(calendar(events, "CANCEL", through=horizon([series])).to_ical())


def publish(series_list: Iterable[ScheduledMeeting], *, name: str | None = None) -> bytes:
    """A calendar without METHOD, for downloads and subscriptions. DTSTAMP is the last change of
    each series (RFC 5545 §3.8.7.2 for objects without METHOD), so the same data gives the same bytes."""
    events: list[Event] = []
    chosen = list(series_list)
    for series in chosen:
        events.extend(series_events(series, attendees_of(series), series.updated_at))
    cal = calendar(events, None, name=name, through=horizon(chosen))
    if name is not None:
        cal.add("REFRESH-INTERVAL", FEED_REFRESH, parameters={"VALUE": "DURATION"})
        cal.add("X-PUBLISHED-TTL", FEED_REFRESH)
    return bytes(cal.to_ical())

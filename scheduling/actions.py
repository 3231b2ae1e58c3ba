"""Write paths for scheduled meetings: check_* (validate), do_* (change data in a transaction),
then notify (invitation / update / cancellation emails, queued when the transaction commits).

Every refusal is an ``ApiError`` with a stable code and the field it concerns, raised before
anything is written, so bad input changes nothing. Every change made by the organizer raises
the series' SEQUENCE; attendees' answers do not (RFC 5546), but they touch ``updated_at`` so
calendar feeds see them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.access import profile_of
from accounts.models import User, validate_time_zone
from conference.api import ApiError
from meetings.actions import (
    MeetingChanges,
    do_create_meeting,
    do_end_meeting,
    do_update_meeting,
)
from meetings.actions import do_reopen_meeting as reopen_meeting_link
from scheduling import feeds, invitations, occurrences, recurrence, replies, rsvp
from scheduling.models import (
    CalendarFeed,
    Invitation,
    OccurrenceChange,
    OccurrenceResponse,
    PartStat,
    RsvpTokenUse,
    ScheduledMeeting,
    SeriesStatus,
)

MIN_DURATION = timedelta(minutes=1)
MAX_DURATION = timedelta(hours=24)
MAX_INVITEES = 200
ANSWERS = (PartStat.ACCEPTED, PartStat.TENTATIVE, PartStat.DECLINED)


# --- Inputs ---------------------------------------------------------------------------------


@dataclass
class RecurrenceInput:
    frequency: str = "none"
    interval: int = 1
    weekdays: list[str] = field(default_factory=list)
    monthly_by: str = ""
    count: int | None = None
    until: date | None = None
    excluded_dates: list[date] = field(default_factory=list)


@dataclass
class ScheduleChanges:
    """What an organizer sets. ``None`` means "leave as it is" (for updates). ``start`` may be
    naive (a wall-clock time in ``time_zone``) or aware (an instant)."""

    title: str | None = None
    description: str | None = None
    time_zone: str | None = None
    start: datetime | None = None
    duration: timedelta | None = None
    end: datetime | None = None
    recurrence: RecurrenceInput | None = None
    rrule: str | None = None
    allow_guests: bool | None = None


@dataclass
class Invitee:
    email: str
    name: str = ""


@dataclass(frozen=True)
class CheckedSchedule:
    title: str
    description: str
    time_zone: str
    start: datetime  # aware, in time_zone, fold 0
    duration: timedelta
    rule: recurrence.Rule


# --- Checks ---------------------------------------------------------------------------------


_CONTROL_CATEGORIES = frozenset({"Cc", "Zl", "Zp"})


def check_title(title: str) -> None:
    """Titles go into email subjects (and calendar summaries): line breaks, tabs and other
    control characters (C0, DEL, C1, Unicode line / paragraph separators) are refused."""
    if any(unicodedata.category(char) in _CONTROL_CATEGORIES for char in title):
        raise ApiError(
            "control_characters",
            "A title cannot contain line breaks, tabs or other control characters.",
            field="title",
        )


def check_time_zone(name: str) -> ZoneInfo:
    try:
        validate_time_zone(name)
    except ValidationError as exc:
        raise ApiError("unknown_time_zone", f"{name!r} is not a known time zone.", field="time_zone") from exc
    return ZoneInfo(name)


def _outside_window(field_name: str) -> ApiError:
    return ApiError(
        "out_of_range",
        f"Choose a time from {recurrence.EARLIEST_START:%Y-%m-%d} up to (not including) "
        f"{recurrence.LATEST_START:%Y-%m-%d}, UTC.",
        field=field_name,
    )


def check_convertible(moment: datetime, field_name: str) -> None:
    """Refuses a (naive or aware) time so far from the window that converting it could overflow."""
    if not recurrence.convertible(moment):
        raise _outside_window(field_name)


def check_start_window(start: datetime, field_name: str = "start") -> None:
    """An aware start must lie in [EARLIEST_START, LATEST_START) (see ``recurrence``)."""
    if not recurrence.in_window(start):
        raise _outside_window(field_name)


def check_local_start(moment: datetime, tz: ZoneInfo, field_name: str = "start") -> datetime:
    """An aware start in ``tz``, within the window of starts: naive times are wall-clock times
    there; a time skipped by a DST change does not exist and is refused; of two ambiguous times
    the first is taken."""
    check_convertible(moment, field_name)
    if moment.tzinfo is not None:
        local = recurrence.wall_time(moment, tz)
    else:
        local = moment
        if not recurrence.exists_locally(local, tz):
            raise ApiError(
                "nonexistent_time",
                f"{local:%Y-%m-%d %H:%M} does not exist in {tz.key} (clocks change).",
                field=field_name,
            )
    start = recurrence.localize(local.replace(second=0, microsecond=0), tz)
    check_start_window(start, field_name)
    return start


def _duration_out_of_range() -> ApiError:
    return ApiError("out_of_range", "A meeting lasts between 1 minute and 24 hours.", field="duration_minutes")


def duration_from_minutes(minutes: int | None) -> timedelta | None:
    """``duration_minutes`` of the API as a duration; out of bounds is refused before any
    arithmetic (a huge number would overflow ``timedelta``)."""
    if minutes is None:
        return None
    if not MIN_DURATION // timedelta(minutes=1) <= minutes <= MAX_DURATION // timedelta(minutes=1):
        raise _duration_out_of_range()
    return timedelta(minutes=minutes)


def check_duration(
    start: datetime, duration: timedelta | None, end: datetime | None, fallback: timedelta, tz: ZoneInfo
) -> timedelta:
    if end is not None:
        check_convertible(end, "end")
        end_at = end if end.tzinfo is not None else recurrence.localize(end, tz)
        if end_at <= start:
            raise ApiError("end_before_start", "The end must be after the start.", field="end")
        duration = end_at - start
    duration = fallback if duration is None else duration
    if not MIN_DURATION <= duration <= MAX_DURATION:
        raise _duration_out_of_range()
    return duration


def _rule_from_input(value: RecurrenceInput) -> recurrence.Rule:
    return recurrence.Rule(
        frequency=value.frequency,
        interval=value.interval,
        weekdays=recurrence.parse_weekdays(value.weekdays),
        monthly_by=value.monthly_by,
        count=value.count,
        until=value.until,
        excluded=frozenset(value.excluded_dates),
    )


def check_rule(changes: ScheduleChanges, start: datetime, tz: ZoneInfo, current: recurrence.Rule) -> recurrence.Rule:
    first = start.replace(tzinfo=None)
    try:
        if changes.rrule is not None and changes.recurrence is not None:
            raise recurrence.RuleError("rrule_and_recurrence", "Give either rrule or recurrence, not both.", "rrule")
        if changes.rrule is not None:
            rule = recurrence.parse_rrule(changes.rrule, first, tz)
            excluded = changes.recurrence.excluded_dates if changes.recurrence else []
            rule = replace(rule, excluded=frozenset(excluded))
        elif changes.recurrence is not None:
            rule = _rule_from_input(changes.recurrence)
        else:
            rule = current
        return recurrence.check_rule(first, rule)
    except recurrence.RuleError as exc:
        if exc.field in ("rrule", "start"):
            name = exc.field
        else:
            name = "rrule" if changes.rrule is not None else f"recurrence.{exc.field}"
        raise ApiError(exc.code, exc.message, field=name) from exc


def check_schedule(
    organizer: User, changes: ScheduleChanges, series: ScheduledMeeting | None = None
) -> CheckedSchedule:
    title = (changes.title if changes.title is not None else (series.title if series else "")).strip()
    if not title:
        raise ApiError("required", "A meeting needs a title.", field="title")
    if len(title) > 200:
        raise ApiError("max_length", "At most 200 characters.", field="title")
    check_title(title)
    description = changes.description if changes.description is not None else (series.description if series else "")
    if len(description) > 5000:
        raise ApiError("max_length", "At most 5000 characters.", field="description")
    zone_name = changes.time_zone or (series.time_zone if series else profile_of(organizer).time_zone)
    tz = check_time_zone(zone_name)
    if changes.start is not None:
        start = check_local_start(changes.start, tz)
    elif series is not None:
        start = recurrence.localize(occurrences.first_local(series), tz)
        check_start_window(start)  # the same wall-clock time in a new time zone
    else:
        raise ApiError("required", "When does the meeting start?", field="start")
    current_duration = series.duration if series else timedelta(hours=1)
    duration = check_duration(start, changes.duration, changes.end, current_duration, tz)
    current_rule = occurrences.rule_of(series) if series else recurrence.Rule()
    rule = check_rule(changes, start, tz, current_rule)
    return CheckedSchedule(title, description.strip(), zone_name, start, duration, rule)


_EMAIL_SPLIT = re.compile(r"[\s,;]+")


def parse_invitee_text(text: str) -> list[Invitee]:
    """Emails separated by commas, semicolons or new lines (``Name <email>`` works too)."""
    found: list[Invitee] = []
    for line in re.split(r"[\n,;]+", text):
        item = line.strip()
        if not item:
            continue
        match = re.fullmatch(r"(.*?)\s*<([^<>\s]+)>", item)
        if match:
            found.append(Invitee(match.group(2), match.group(1).strip().strip('"')))
        else:
            found.extend(Invitee(part) for part in _EMAIL_SPLIT.split(item) if part)
    return found


def check_invitees(organizer: User, wanted: Sequence[Invitee], already: int = 0) -> list[Invitee]:
    result: dict[str, Invitee] = {}
    for invitee in wanted:
        email = invitee.email.strip().lower()
        try:
            validate_email(email)
        except ValidationError as exc:
            raise ApiError("invalid_email", f"{invitee.email!r} is not an email address.", field="invitees") from exc
        if email != organizer.email.lower() and email not in result:
            result[email] = Invitee(email, invitee.name.strip()[:120])
    if already + len(result) > MAX_INVITEES:
        raise ApiError("too_many_invitees", f"At most {MAX_INVITEES} people per meeting.", field="invitees")
    return list(result.values())


def check_not_cancelled(series: ScheduledMeeting) -> None:
    if series.status == SeriesStatus.CANCELLED:
        raise ApiError("meeting_cancelled", "This meeting has been cancelled.", status_code=409)


def check_occurrence(series: ScheduledMeeting, recurrence_id: datetime | None) -> occurrences.Occurrence:
    found = occurrences.occurrence_at(series, recurrence_id) if recurrence_id is not None else None
    if found is None:
        raise ApiError("unknown_occurrence", "The meeting has no such occurrence.", field="recurrence_id")
    return found


# --- Helpers --------------------------------------------------------------------------------


def _apply(series: ScheduledMeeting, checked: CheckedSchedule) -> None:
    series.title = checked.title
    series.description = checked.description
    series.time_zone = checked.time_zone
    series.start = checked.start
    series.duration = checked.duration
    rule = checked.rule
    series.frequency = rule.frequency
    series.interval = rule.interval
    series.weekdays = ",".join(recurrence.WEEKDAYS[day] for day in rule.weekdays)
    series.monthly_by = rule.monthly_by
    series.count = rule.count
    series.until = rule.until
    series.excluded_dates = [day.isoformat() for day in sorted(rule.excluded)]


def _schedule_key(series: ScheduledMeeting) -> tuple[object, ...]:
    return (
        series.time_zone,
        series.start,
        series.duration,
        series.frequency,
        series.interval,
        series.weekdays,
        series.monthly_by,
        series.count,
        series.until,
        tuple(series.excluded_dates),
    )


def _save(series: ScheduledMeeting) -> None:
    series.save()
    series.last_end = occurrences.compute_last_end(series)
    series.save(update_fields=["last_end"])


def _touch(series: ScheduledMeeting) -> None:
    """Marks the series changed for feed ETags without a new SEQUENCE (attendee answers)."""
    ScheduledMeeting.objects.filter(pk=series.pk).update(updated_at=timezone.now())


def _link_user(email: str) -> User | None:
    user_model = get_user_model()
    user = user_model.objects.filter(email__iexact=email, is_active=True).order_by("pk").first()
    return user if isinstance(user, User) else None


def _create_invitations(series: ScheduledMeeting, invitees: Sequence[Invitee]) -> list[Invitation]:
    existing = set(series.invitations.values_list("email", flat=True))
    created = [
        Invitation.objects.create(series=series, email=item.email, name=item.name, user=_link_user(item.email))
        for item in invitees
        if item.email not in existing
    ]
    return created


def _locked(series: ScheduledMeeting) -> ScheduledMeeting:
    return ScheduledMeeting.objects.select_for_update().select_related("meeting", "organizer").get(pk=series.pk)


# --- Series ---------------------------------------------------------------------------------


def do_schedule_meeting(
    organizer: User, changes: ScheduleChanges, invitees: Sequence[Invitee] = ()
) -> ScheduledMeeting:
    """Creates the series, the meeting whose link all its occurrences share, and the invitations;
    each invitee gets a REQUEST once the transaction commits."""
    checked = check_schedule(organizer, changes)
    wanted = check_invitees(organizer, invitees)
    with transaction.atomic():
        allow_guests = changes.allow_guests if changes.allow_guests is not None else True
        meeting = do_create_meeting(organizer, MeetingChanges(title=checked.title, allow_guests=allow_guests))
        series = ScheduledMeeting(organizer=organizer, meeting=meeting)
        _apply(series, checked)
        _save(series)
        created = _create_invitations(series, wanted)
        invitations.send_requests(series, created, updated=False)
    return series


def do_update_series(series: ScheduledMeeting, changes: ScheduleChanges) -> ScheduledMeeting:
    """Edits the whole series. A new time or rule drops single-occurrence edits and answers (their
    occurrences may no longer exist). Everyone invited gets an updated REQUEST."""
    check_not_cancelled(series)
    checked = check_schedule(series.organizer, changes, series)
    with transaction.atomic():
        series = _locked(series)
        before = (_schedule_key(series), series.title, series.description)
        _apply(series, checked)
        schedule_changed = _schedule_key(series) != before[0]
        guests_changed = changes.allow_guests is not None and changes.allow_guests != series.meeting.allow_guests
        if not schedule_changed and (series.title, series.description) == before[1:] and not guests_changed:
            return series
        if schedule_changed:
            series.changes.all().delete()
            OccurrenceResponse.objects.filter(invitation__series=series).delete()
        series.sequence += 1
        _save(series)
        do_update_meeting(series.meeting, MeetingChanges(title=series.title, allow_guests=changes.allow_guests))
        invitations.send_requests(series, list(series.invitations.select_related("user")), updated=True)
    return series


def do_cancel_series(series: ScheduledMeeting) -> ScheduledMeeting:
    """Cancels every occurrence: a CANCEL to everyone invited, and the meeting is ended.
    Cancelling a cancelled series changes nothing."""
    with transaction.atomic():
        series = _locked(series)
        if series.status == SeriesStatus.CANCELLED:
            return series
        series.status = SeriesStatus.CANCELLED
        series.sequence += 1
        series.save()
        invitations.send_cancellations(series, list(series.invitations.select_related("user")))
        do_end_meeting(series.meeting)
    return series


# --- Occurrences ----------------------------------------------------------------------------


@dataclass
class OccurrenceChanges:
    start: datetime | None = None
    duration: timedelta | None = None
    end: datetime | None = None
    title: str | None = None


def do_update_occurrence(
    series: ScheduledMeeting, recurrence_id: datetime, changes: OccurrenceChanges
) -> occurrences.Occurrence:
    """Moves / shortens / retitles one occurrence; invitees get a REQUEST for that occurrence."""
    check_not_cancelled(series)
    current = check_occurrence(series, recurrence_id)
    tz = occurrences.tz_of(series)
    start = check_local_start(changes.start, tz) if changes.start is not None else current.start
    fallback = current.end - current.start
    duration = check_duration(start, changes.duration, changes.end, fallback, tz)
    title = (changes.title if changes.title is not None else (current.title if current.changed else "")).strip()
    if len(title) > 200:
        raise ApiError("max_length", "At most 200 characters.", field="title")
    check_title(title)
    if title == series.title:
        title = ""
    with transaction.atomic():
        series = _locked(series)
        original = current.recurrence_id.astimezone(UTC)
        if start == original and duration == series.duration and not title:
            series.changes.filter(recurrence_id=original).delete()
        else:
            OccurrenceChange.objects.update_or_create(
                series=series, recurrence_id=original, defaults={"start": start, "duration": duration, "title": title}
            )
        series.sequence += 1
        _save(series)
        updated = check_occurrence(series, original)
        invitations.send_requests(
            series, list(series.invitations.select_related("user")), updated=True, occurrence=updated
        )
    return updated


def do_cancel_occurrence(series: ScheduledMeeting, recurrence_id: datetime) -> ScheduledMeeting:
    """Cancels one occurrence (it becomes an excluded date); invitees get a CANCEL with its
    RECURRENCE-ID. Cancelling the only or last remaining occurrence cancels the series."""
    check_not_cancelled(series)
    occurrence = check_occurrence(series, recurrence_id)
    rule = occurrences.rule_of(series)
    local_day = recurrence.wall_time(occurrence.recurrence_id, occurrences.tz_of(series)).date()
    remaining = recurrence.instance_starts(
        occurrences.first_local(series), replace(rule, excluded=rule.excluded | {local_day})
    )
    if not series.is_recurring or next(remaining, None) is None:
        return do_cancel_series(series)
    with transaction.atomic():
        series = _locked(series)
        series.excluded_dates = sorted({*series.excluded_dates, local_day.isoformat()})
        series.changes.filter(recurrence_id=occurrence.recurrence_id).delete()
        OccurrenceResponse.objects.filter(invitation__series=series, recurrence_id=occurrence.recurrence_id).delete()
        series.sequence += 1
        _save(series)
        invitations.send_cancellations(series, list(series.invitations.select_related("user")), occurrence=occurrence)
    return series


# --- Invitations ----------------------------------------------------------------------------


def do_invite(series: ScheduledMeeting, invitees: Sequence[Invitee]) -> list[Invitation]:
    """Adds attendees (people already invited are left as they are); the new ones get a REQUEST."""
    check_not_cancelled(series)
    wanted = check_invitees(series.organizer, invitees, already=series.invitations.count())
    with transaction.atomic():
        series = _locked(series)
        created = _create_invitations(series, wanted)
        if created:
            series.sequence += 1
            _save(series)
            invitations.send_requests(series, created, updated=False)
    return created


def do_uninvite(series: ScheduledMeeting, invitation: Invitation) -> None:
    """Removes an attendee, who gets a CANCEL."""
    with transaction.atomic():
        series = _locked(series)
        if series.status == SeriesStatus.CONFIRMED:
            series.sequence += 1
            _save(series)
            invitations.send_cancellations(series, [invitation])
        invitation.delete()


def do_respond(invitation: Invitation, partstat: str, recurrence_id: datetime | None = None) -> Invitation:
    """An attendee's answer for the series, or for one occurrence. Answering for the series
    replaces earlier answers for single occurrences."""
    if partstat not in (*ANSWERS, PartStat.NEEDS_ACTION):
        raise ApiError("invalid_choice", "Answer accepted, tentative or declined.", field="response")
    series = invitation.series
    check_not_cancelled(series)
    if recurrence_id is not None:
        check_occurrence(series, recurrence_id)
    with transaction.atomic():
        if recurrence_id is None:
            invitation.partstat = partstat
            invitation.responded_at = timezone.now()
            invitation.save(update_fields=["partstat", "responded_at", "updated_at"])
            invitation.occurrence_responses.all().delete()
        else:
            OccurrenceResponse.objects.update_or_create(
                invitation=invitation, recurrence_id=recurrence_id.astimezone(UTC), defaults={"partstat": partstat}
            )
            invitation.save(update_fields=["updated_at"])
        _touch(series)
    return invitation


def check_rsvp_token(token: str) -> tuple[Invitation, rsvp.RsvpToken]:
    """The invitation a link answers for. Forged, expired and used links are refused (400)."""
    parsed = rsvp.read_token(token)
    invitation = (
        Invitation.objects.select_related("series", "series__meeting", "series__organizer")
        .filter(pk=parsed.invitation_id)
        .first()
    )
    if invitation is None:
        raise ApiError("invalid_token", "This answer link is not valid any more.", field="token")
    if RsvpTokenUse.objects.filter(nonce=parsed.nonce).exists():
        raise ApiError("token_used", "This answer link has already been used.", field="token")
    check_not_cancelled(invitation.series)
    return invitation, parsed


def do_rsvp_by_token(token: str) -> Invitation:
    invitation, parsed = check_rsvp_token(token)
    try:
        with transaction.atomic():
            RsvpTokenUse.objects.create(nonce=parsed.nonce, invitation=invitation, partstat=parsed.partstat)
            do_respond(invitation, parsed.partstat)
    except IntegrityError as exc:  # the same link used twice at the same moment
        raise ApiError("token_used", "This answer link has already been used.", field="token") from exc
    return invitation


def do_apply_reply(series: ScheduledMeeting, data: bytes) -> list[Invitation]:
    """Applies an iTIP REPLY (from an attendee's calendar client) to the series. Every line is
    checked before any is applied."""
    check_not_cancelled(series)
    lines = replies.parse_reply(data, occurrences.tz_of(series))
    planned: list[tuple[Invitation, str, datetime | None]] = []
    for line in lines:
        if line.uid != series.uid:
            raise ApiError("wrong_meeting", "The reply is for another meeting (UID).", field=replies.FIELD)
        invitation = series.invitations.filter(email=line.email).first()
        if invitation is None:
            raise ApiError("unknown_attendee", f"{line.email} is not invited.", field=replies.FIELD)
        if line.recurrence_id is not None and occurrences.occurrence_at(series, line.recurrence_id) is None:
            raise ApiError(
                "unknown_occurrence", "The reply is for an occurrence the meeting does not have.", field=replies.FIELD
            )
        planned.append((invitation, line.partstat, line.recurrence_id))
    with transaction.atomic():
        for invitation, partstat, recurrence_id in planned:
            do_respond(invitation, partstat, recurrence_id)
    return [item[0] for item in planned]


# --- Feeds ----------------------------------------------------------------------------------


def do_regenerate_feed(user: User) -> CalendarFeed:
    """A new secret feed URL; the old one stops working at once."""
    feed, created = CalendarFeed.objects.get_or_create(user=user, defaults={"key": feeds.new_key()})
    if not created:
        feed.key = feeds.new_key()
        feed.save(update_fields=["key"])
    return feed


# --- The meeting link ----------------------------------------------------------------------


def do_reopen_meeting(series: ScheduledMeeting) -> bool:
    """A host who ends the room ends the meeting; the next occurrence of a series must be
    joinable again with the same link. Returns True when the meeting was reopened."""
    if series.status != SeriesStatus.CONFIRMED:
        return False
    return reopen_meeting_link(series.meeting_id)

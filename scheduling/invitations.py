"""Invitation, update, cancellation and reminder emails.

Each attendee gets their own email (their own RSVP links), with a text and an HTML part, the
iTIP document as a ``text/calendar; method=…`` alternative (what Gmail and Outlook read to show
an invitation card) and the same document as an ``invite.ics`` attachment. Messages go through
``settings.EMAIL_BACKEND`` (Celery, after the transaction commits).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from accounts.access import profile_of
from scheduling import ical, occurrences, rsvp
from scheduling.models import Invitation, ScheduledMeeting


def when(start: datetime, end: datetime, tz: ZoneInfo) -> str:
    """``Mon, Mar 2, 2026, 09:00-10:00 (Europe/Berlin)`` (with an en dash)."""
    local_start, local_end = start.astimezone(tz), end.astimezone(tz)
    day = f"{local_start:%a, %b} {local_start.day}, {local_start.year}"
    end_text = (
        f"{local_end:%H:%M}"
        if local_end.date() == local_start.date()
        else f"{local_end:%b} {local_end.day} {local_end:%H:%M}"
    )
    return f"{day}, {local_start:%H:%M}–{end_text} ({tz.key})"


def recipient_zone(invitation: Invitation | None, series: ScheduledMeeting) -> ZoneInfo | None:
    """The invitee's own time zone, when it differs from the series'."""
    if invitation is None or invitation.user is None:
        return None
    name = profile_of(invitation.user).time_zone
    return ZoneInfo(name) if name != series.time_zone else None


def _context(
    series: ScheduledMeeting, occurrence: occurrences.Occurrence | None, invitation: Invitation | None
) -> dict[str, object]:
    tz = occurrences.tz_of(series)
    start = occurrence.start if occurrence else series.start
    end = occurrence.end if occurrence else series.start + series.duration
    own = recipient_zone(invitation, series)
    return {
        "series": series,
        "title": occurrence.title if occurrence else series.title,
        "organizer": profile_of(series.organizer).name,
        "organizer_email": series.organizer.email,
        "when": when(start, end, tz),
        "when_yours": when(start, end, own) if own else "",
        "repeats": occurrences.describe(series) if series.is_recurring and occurrence is None else "",
        "join_url": ical.join_url(series),
        "description": series.description,
        "occurrence": occurrence,
    }


def _send(
    subject: str, template: str, context: dict[str, object], to: str, reply_to: str, ics: bytes | None, method: str
) -> None:
    text = render_to_string(f"scheduling/email/{template}.txt", context)
    html = render_to_string(f"scheduling/email/{template}.html", context)
    message = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, [to], reply_to=[reply_to])
    message.attach_alternative(html, "text/html")
    if ics is not None:
        message.attach_alternative(ics.decode(), f"text/calendar; method={method}")
        message.attach("invite.ics", ics, "application/ics")
    message.send()


def send_requests(
    series: ScheduledMeeting,
    invitations: Iterable[Invitation],
    *,
    updated: bool,
    occurrence: occurrences.Occurrence | None = None,
) -> None:
    """A REQUEST to each of ``invitations`` (the whole series, or one edited occurrence)."""
    attendees = ical.attendees_of(series)
    document = ical.request(series, attendees, occurrence=occurrence)
    prefix = "Updated invitation" if updated else "Invitation"
    for invitation in invitations:
        context = _context(series, occurrence, invitation)
        context["updated"] = updated
        context["rsvp"] = {
            answer.lower(): ical.site_url(reverse("rsvp", kwargs={"token": token}))
            for answer, token in rsvp.links(invitation).items()
        }
        subject = f"{prefix}: {context['title']} @ {context['when']}"
        _send(subject, "invitation", context, invitation.email, series.organizer.email, document, "REQUEST")


def send_cancellations(
    series: ScheduledMeeting,
    invitations: Sequence[Invitation],
    *,
    occurrence: occurrences.Occurrence | None = None,
) -> None:
    """A CANCEL of the series (or of one occurrence) to each of ``invitations``; the document
    lists only the recipients, so it also serves to uninvite someone."""
    attendees = [ical.Attendee.of(invitation) for invitation in invitations]
    document = ical.cancel(series, attendees, occurrence=occurrence)
    for invitation in invitations:
        context = _context(series, occurrence, invitation)
        subject = f"Cancelled: {context['title']} @ {context['when']}"
        _send(subject, "cancellation", context, invitation.email, series.organizer.email, document, "CANCEL")


def send_reminder(
    series: ScheduledMeeting, occurrence: occurrences.Occurrence, email: str, invitation: Invitation | None
) -> None:
    context = _context(series, occurrence, invitation)
    subject = f"Reminder: {context['title']} @ {context['when']}"
    text = render_to_string("scheduling/email/reminder.txt", context)
    html = render_to_string("scheduling/email/reminder.html", context)
    message = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, [email])
    message.attach_alternative(html, "text/html")
    message.send()

"""The agenda: occurrences of every meeting a user organizes or is invited to, in a date range."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from django.db.models import Q

from accounts.models import User
from scheduling import access, ical, occurrences
from scheduling.models import Invitation, ScheduledMeeting

MAX_ITEMS = 1000


@dataclass(frozen=True)
class AgendaEntry:
    occurrence: occurrences.Occurrence
    series: ScheduledMeeting
    role: str  # "organizer" or "invitee"
    response: str | None  # the user's answer for this occurrence (invitees)

    @property
    def join_url(self) -> str:
        return ical.join_url(self.series)

    @property
    def time_zone(self) -> str:
        return self.series.time_zone


def agenda(user: User, begin: datetime, end: datetime) -> list[AgendaEntry]:
    series_list = (
        access.active(access.series_visible_to(user))
        .filter(Q(last_end__isnull=True) | Q(last_end__gt=begin))
        .select_related("meeting", "organizer")
        .prefetch_related("changes")
    )
    invitations = {
        invitation.series_id: invitation
        for invitation in Invitation.objects.filter(user_id=user.pk).prefetch_related("occurrence_responses")
    }
    entries: list[AgendaEntry] = []
    for series in series_list:
        invitation = None if series.organizer_id == user.pk else invitations.get(series.pk)
        answers = (
            {answer.recurrence_id.astimezone(UTC): answer.partstat for answer in invitation.occurrence_responses.all()}
            if invitation
            else {}
        )
        for occurrence in occurrences.occurrences_between(series, begin, end, series.changes.all()):
            response = (
                answers.get(occurrence.recurrence_id.astimezone(UTC), invitation.partstat) if invitation else None
            )
            role = "invitee" if invitation else "organizer"
            entries.append(AgendaEntry(occurrence, series, role, response))
    entries.sort(key=lambda entry: (entry.occurrence.start, entry.series.pk))
    return entries[:MAX_ITEMS]

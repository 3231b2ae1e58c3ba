"""Who may see and change scheduled meetings, invitations and feeds: one place, one condition a line.

Someone else's series or invitation is reported as missing (404), never as forbidden.
"""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from django.db.models import Q, QuerySet
from django.http import Http404

from accounts.models import User
from scheduling.models import Invitation, ScheduledMeeting, SeriesStatus

AnyUser = User | AnonymousUser


def _as_id(value: int | str) -> int | None:
    text = str(value)
    return int(text) if text.isdigit() and len(text) < 19 else None


def series_organized_by(user: AnyUser) -> QuerySet[ScheduledMeeting]:
    if not user.is_authenticated:
        return ScheduledMeeting.objects.none()
    return ScheduledMeeting.objects.filter(organizer_id=user.pk)


def series_visible_to(user: AnyUser) -> QuerySet[ScheduledMeeting]:
    """Series the user organizes or is invited to."""
    if not user.is_authenticated:
        return ScheduledMeeting.objects.none()
    invited = Invitation.objects.filter(user_id=user.pk).values("series_id")
    return ScheduledMeeting.objects.filter(Q(organizer_id=user.pk) | Q(pk__in=invited))


def active(queryset: QuerySet[ScheduledMeeting]) -> QuerySet[ScheduledMeeting]:
    return queryset.filter(status=SeriesStatus.CONFIRMED)


def access_series_to_manage(user: AnyUser, series_id: int | str) -> ScheduledMeeting:
    """The organizer's own series. Invitees and everyone else get a 404."""
    pk = _as_id(series_id)
    series = (
        None if pk is None else series_organized_by(user).select_related("meeting", "organizer").filter(pk=pk).first()
    )
    if series is None:
        raise Http404("No such scheduled meeting.")
    return series


def access_series_to_view(user: AnyUser, series_id: int | str) -> ScheduledMeeting:
    """The organizer's series or one the user is invited to."""
    pk = _as_id(series_id)
    series = (
        None if pk is None else series_visible_to(user).select_related("meeting", "organizer").filter(pk=pk).first()
    )
    if series is None:
        raise Http404("No such scheduled meeting.")
    return series


def invitations_to(user: AnyUser) -> QuerySet[Invitation]:
    if not user.is_authenticated:
        return Invitation.objects.none()
    return Invitation.objects.filter(user_id=user.pk)


def access_invitation_to_answer(user: AnyUser, invitation_id: int | str) -> Invitation:
    """An invitation addressed to the user (as a platform account)."""
    pk = _as_id(invitation_id)
    invitation = (
        None if pk is None else invitations_to(user).select_related("series", "series__meeting").filter(pk=pk).first()
    )
    if invitation is None:
        raise Http404("No such invitation.")
    return invitation


def access_invitation_of_series(series: ScheduledMeeting, invitation_id: int | str) -> Invitation:
    pk = _as_id(invitation_id)
    invitation = None if pk is None else series.invitations.filter(pk=pk).first()
    if invitation is None:
        raise Http404("No such invitation.")
    return invitation


def is_organizer(user: AnyUser, series: ScheduledMeeting) -> bool:
    return user.is_authenticated and series.organizer_id == user.pk

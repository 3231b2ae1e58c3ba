"""Scheduling pages: the scheduling form, a series' page, the agenda, invitations, RSVP links,
the per-meeting .ics download and the calendar feed. Thin: access and actions do the work."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import get_conditional_response, patch_cache_control
from django.utils.http import http_date, quote_etag
from django.views.decorators.http import require_GET, require_POST

from accounts.access import profile_of
from accounts.models import User
from conference.api import ApiError
from scheduling import access, actions, agenda, feeds, ical, occurrences, rsvp
from scheduling.forms import InviteForm, OccurrenceForm, ReplyUploadForm, ScheduleForm
from scheduling.invitations import when
from scheduling.models import PartStat, ScheduledMeeting

AGENDA_DAYS = 28


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _occurrence(series: ScheduledMeeting, key: str) -> occurrences.Occurrence:
    recurrence_id = occurrences.parse_occurrence_key(key)
    found = occurrences.occurrence_at(series, recurrence_id) if recurrence_id is not None else None
    if found is None:
        raise Http404("No such occurrence.")
    return found


# --- Scheduling form ------------------------------------------------------------------------


@login_required
def schedule(request: HttpRequest) -> HttpResponse:
    """The scheduling form (the dashboard's "Schedule")."""
    user = _user(request)
    form = ScheduleForm(request.POST or None, time_zone=profile_of(user).time_zone)
    if request.method == "POST" and form.is_valid():
        try:
            series = actions.do_schedule_meeting(user, form.changes(), form.cleaned_data["invitees"])
        except ApiError as exc:
            form.add_action_error(exc.field, str(exc.detail))
        else:
            messages.success(request, "Meeting scheduled. Invitations are on their way.")
            return redirect("series_detail", series_id=series.pk)
    status = 400 if form.errors else 200
    return render(
        request, "scheduling/schedule.html", {"form": form, "editing": None, "section": "schedule"}, status=status
    )


@login_required
def series_edit(request: HttpRequest, series_id: str) -> HttpResponse:
    series = access.access_series_to_manage(request.user, series_id)
    form = ScheduleForm.for_series(series, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            actions.do_update_series(series, form.changes())
        except ApiError as exc:
            form.add_action_error(exc.field, str(exc.detail))
        else:
            messages.success(request, "Meeting updated. Invitees get the new details.")
            return redirect("series_detail", series_id=series.pk)
    status = 400 if form.errors else 200
    return render(
        request, "scheduling/schedule.html", {"form": form, "editing": series, "section": "schedule"}, status=status
    )


# --- A series -------------------------------------------------------------------------------


@login_required
def series_detail(request: HttpRequest, series_id: str) -> HttpResponse:
    series = access.access_series_to_view(request.user, series_id)
    now = timezone.now()
    upcoming = occurrences.occurrences_between(series, now - series.duration, now + timedelta(days=120))[:20]
    is_organizer = access.is_organizer(request.user, series)
    mine = access.invitations_to(request.user).filter(series=series).first()
    context = {
        "series": series,
        "summary": occurrences.describe(series),
        "series_end": series.start + series.duration,
        "join_url": ical.join_url(series),
        "upcoming": upcoming,
        "section": "agenda",
        "is_organizer": is_organizer,
        "my_invitation": mine,
        "attendees": series.invitations.select_related("user").order_by("email"),
        "organizer_name": profile_of(series.organizer).name,
        "invite_form": InviteForm(),
        "reply_form": ReplyUploadForm(),
    }
    return render(request, "scheduling/series.html", context)


@login_required
@require_POST
def series_cancel(request: HttpRequest, series_id: str) -> HttpResponse:
    series = access.access_series_to_manage(request.user, series_id)
    actions.do_cancel_series(series)
    messages.success(request, f"“{series.title}” was cancelled. Invitees are told.")
    return redirect("series_detail", series_id=series.pk)


def _form_errors_message(request: HttpRequest, form: Any) -> None:
    for errors in form.errors.values():
        for error in errors:
            messages.error(request, error)


@login_required
@require_POST
def series_invite(request: HttpRequest, series_id: str) -> HttpResponse:
    series = access.access_series_to_manage(request.user, series_id)
    form = InviteForm(request.POST)
    if form.is_valid():
        try:
            created = actions.do_invite(series, form.cleaned_data["invitees"])
        except ApiError as exc:
            messages.error(request, str(exc.detail))
        else:
            messages.success(request, f"{len(created)} invitation(s) sent.")
    else:
        _form_errors_message(request, form)
    return redirect("series_detail", series_id=series.pk)


@login_required
@require_POST
def series_uninvite(request: HttpRequest, series_id: str, invitation_id: str) -> HttpResponse:
    series = access.access_series_to_manage(request.user, series_id)
    invitation = access.access_invitation_of_series(series, invitation_id)
    actions.do_uninvite(series, invitation)
    messages.success(request, f"{invitation.email} is no longer invited and was told so.")
    return redirect("series_detail", series_id=series.pk)


@login_required
@require_POST
def series_reply(request: HttpRequest, series_id: str) -> HttpResponse:
    series = access.access_series_to_manage(request.user, series_id)
    form = ReplyUploadForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            applied = actions.do_apply_reply(series, form.cleaned_data["file"].read(512 * 1024))
        except ApiError as exc:
            messages.error(request, f"The reply was not applied: {exc.detail}")
        else:
            messages.success(request, "Reply applied: " + ", ".join(item.email for item in applied))
    else:
        _form_errors_message(request, form)
    return redirect("series_detail", series_id=series.pk)


# --- One occurrence -------------------------------------------------------------------------


@login_required
def occurrence_edit(request: HttpRequest, series_id: str, key: str) -> HttpResponse:
    series = access.access_series_to_manage(request.user, series_id)
    occurrence = _occurrence(series, key)
    form = OccurrenceForm.for_occurrence(occurrence, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            actions.do_update_occurrence(series, occurrence.recurrence_id, form.changes())
        except ApiError as exc:
            form.add_action_error(exc.field, str(exc.detail))
        else:
            messages.success(request, "This occurrence was changed. Invitees get the update.")
            return redirect("series_detail", series_id=series.pk)
    status = 400 if form.errors else 200
    context = {"series": series, "occurrence": occurrence, "form": form}
    return render(request, "scheduling/occurrence.html", context, status=status)


@login_required
@require_POST
def occurrence_cancel(request: HttpRequest, series_id: str, key: str) -> HttpResponse:
    series = access.access_series_to_manage(request.user, series_id)
    occurrence = _occurrence(series, key)
    actions.do_cancel_occurrence(series, occurrence.recurrence_id)
    messages.success(request, "This occurrence was cancelled. Invitees are told.")
    return redirect("series_detail", series_id=series.pk)


# --- Agenda and invitations -----------------------------------------------------------------


@login_required
def agenda_page(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    now = timezone.now()
    entries = agenda.agenda(user, now, now + timedelta(days=AGENDA_DAYS))
    context = {
        "entries": entries,
        "days": AGENDA_DAYS,
        "section": "agenda",
        "feed_url": request.build_absolute_uri(
            reverse("calendar_feed", kwargs={"token": feeds.feed_token(feeds.feed_of(user))})
        ),
    }
    return render(request, "scheduling/agenda.html", context)


@login_required
def invitations_page(request: HttpRequest) -> HttpResponse:
    received = (
        access.invitations_to(request.user)
        .select_related("series", "series__organizer", "series__organizer__profile")
        .order_by("-series__start")[:100]
    )
    organized = access.series_organized_by(request.user).prefetch_related("invitations").order_by("-start")[:100]
    return render(
        request, "scheduling/invitations.html", {"received": received, "organized": organized, "section": "invitations"}
    )


@login_required
@require_POST
def invitation_respond(request: HttpRequest, invitation_id: str) -> HttpResponse:
    invitation = access.access_invitation_to_answer(request.user, invitation_id)
    answer = request.POST.get("response", "")
    try:
        actions.do_respond(invitation, answer)
    except ApiError as exc:
        messages.error(request, str(exc.detail))
    else:
        messages.success(request, f"Answer saved: {PartStat(answer).label}.")
    if request.POST.get("next") == "series":
        return redirect("series_detail", series_id=invitation.series_id)
    return redirect("scheduling_invitations")


@login_required
@require_POST
def feed_regenerate(request: HttpRequest) -> HttpResponse:
    actions.do_regenerate_feed(_user(request))
    messages.success(request, "New feed address created. The old one no longer works: update your calendar app.")
    return redirect("agenda")


# --- RSVP links (no sign-in) ----------------------------------------------------------------


def rsvp_page(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows the answer to confirm (link scanners in mail systems only GET, so they do not
    answer for anyone); POST applies it. A used, forged or expired link is a 400."""
    try:
        invitation, parsed = actions.check_rsvp_token(token)
    except ApiError as exc:
        return render(request, "scheduling/rsvp.html", {"error": exc, "code": exc.error_code}, status=400)
    if request.method == "POST":
        try:
            invitation = actions.do_rsvp_by_token(token)
        except ApiError as exc:
            return render(request, "scheduling/rsvp.html", {"error": exc, "code": exc.error_code}, status=400)
        return render(request, "scheduling/rsvp.html", {"invitation": invitation, "done": True})
    others = {
        answer: reverse("rsvp", kwargs={"token": other})
        for answer, other in rsvp.links(invitation).items()
        if answer != parsed.partstat
    }
    context = {
        "invitation": invitation,
        "series": invitation.series,
        "answer": PartStat(parsed.partstat),
        "summary": occurrences.describe(invitation.series),
        "when": _first_when(invitation.series),
        "others": [(PartStat(answer), url) for answer, url in others.items()],
    }
    return render(request, "scheduling/rsvp.html", context)


def _first_when(series: ScheduledMeeting) -> str:
    return when(series.start, series.start + series.duration, occurrences.tz_of(series))


# --- Calendar files -------------------------------------------------------------------------


def _conditional_ics(
    request: HttpRequest, etag: str, last_modified: datetime, build: Callable[[], bytes], filename: str
) -> HttpResponseBase:
    """200 with the calendar, or 304 when the client's copy (ETag / Last-Modified) is current."""
    stamp = int(last_modified.timestamp())
    not_modified = get_conditional_response(request, etag=etag, last_modified=stamp)
    if not_modified is None:
        response: HttpResponseBase = HttpResponse(build(), content_type="text/calendar; charset=utf-8")
        response["Content-Disposition"] = f'inline; filename="{filename}"'
    else:
        response = not_modified
    response["ETag"] = quote_etag(etag)
    response["Last-Modified"] = http_date(stamp)
    patch_cache_control(response, private=True, no_cache=True)
    return response


@login_required
@require_GET
def series_ics(request: HttpRequest, series_id: str) -> HttpResponseBase:
    series = access.access_series_to_view(request.user, series_id)
    etag, last_modified = feeds.download_validators(series)
    return _conditional_ics(request, etag, last_modified, lambda: ical.publish([series]), "invite.ics")


@require_GET
def calendar_feed(request: HttpRequest, token: str) -> HttpResponseBase:
    """The user's subscription feed; the token is the only credential (no session needed)."""
    feed = feeds.access_feed_by_token(token)
    series_list = feeds.feed_series(feed.user)
    etag, last_modified = feeds.validators(feed.user, series_list)
    response = _conditional_ics(
        request, etag, last_modified, lambda: feeds.body(feed.user, series_list), "conference.ics"
    )
    response["X-Robots-Tag"] = "noindex"
    return response

"""Pages: home, dashboard, instant meeting, join by code, the meeting page and its settings."""

from __future__ import annotations

import secrets

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Case, IntegerField, Value, When
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.access import profile_of
from conference.api import ApiError
from meetings import access, actions
from meetings.forms import JoinByCodeForm, MeetingSettingsForm
from meetings.models import MeetingStatus
from meetings.throttling import code_lookup_retry_after


def home(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("dashboard")
    return render(request, "meetings/home.html", {"join_form": JoinByCodeForm()})


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    status_order = Case(
        When(status=MeetingStatus.LIVE, then=Value(0)),
        When(status=MeetingStatus.SCHEDULED, then=Value(1)),
        default=Value(2),
        output_field=IntegerField(),
    )
    meetings = (
        access.meetings_hosted_by(request.user)
        .select_related("owner", "owner__profile")
        .annotate(status_order=status_order)
        .order_by("status_order", "-created_at")[:50]
    )
    return render(request, "meetings/dashboard.html", {"meetings": meetings, "join_form": JoinByCodeForm()})


@login_required
@require_POST
def new_instant_meeting(request: HttpRequest) -> HttpResponse:
    meeting = actions.do_create_instant_meeting(request.user, profile_of(request.user).name)  # type: ignore[arg-type]
    return redirect(meeting)


def join_by_code(request: HttpRequest) -> HttpResponse:
    form = JoinByCodeForm(request.GET or None)
    if form.is_valid():
        return redirect("meeting", code=form.cleaned_data["code"])
    template = "meetings/dashboard.html" if request.user.is_authenticated else "meetings/home.html"
    context = {"join_form": form, "meetings": access.meetings_hosted_by(request.user)[:50]}
    return render(request, template, context, status=400)


def _throttled(request: HttpRequest) -> HttpResponse | None:
    retry_after = code_lookup_retry_after(request)
    if retry_after is None:
        return None
    response = render(request, "errors/429.html", {"retry_after": retry_after}, status=429)
    response["Retry-After"] = str(retry_after)
    return response


def meeting_page(request: HttpRequest, code: str) -> HttpResponse:
    throttled = _throttled(request)
    if throttled is not None:
        return throttled
    meeting = access.meeting_by_code(code)
    if meeting.code != code:
        return redirect(meeting)
    policy = access.join_policy(request.user, meeting)
    context = {
        "meeting": meeting,
        "host_name": profile_of(meeting.owner).name,
        "policy": policy,
        "is_owner": access.is_owner(request.user, meeting),
        "join_url": request.build_absolute_uri(meeting.get_absolute_url()),
    }
    if not policy.may_join:
        return render(request, "meetings/meeting.html", context)
    if not request.user.is_authenticated and "guest_key" not in request.session:
        # A guest's identity in this browser, so that a host's "deny" or "ban" sticks.
        request.session["guest_key"] = secrets.token_urlsafe(16)
    context["room_config"] = {
        "ws_url": f"/ws/meetings/{meeting.code}/",
        "code": meeting.code,
        "title": meeting.title,
        "display_name": profile_of(request.user).name if request.user.is_authenticated else "",
        "is_guest": policy.as_guest,
        "needs_passcode": policy.needs_passcode,
        "as_host": policy.as_host,
    }
    return render(request, "meetings/room.html", context)


@login_required
def meeting_settings(request: HttpRequest, code: str) -> HttpResponse:
    meeting = access.access_owned_meeting_by_code(request.user, code)
    form = MeetingSettingsForm.for_meeting(meeting, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            actions.do_update_meeting(meeting, form.changes())
        except ApiError as exc:
            form.add_error(exc.field, str(exc.detail))
        else:
            messages.success(request, "Meeting settings saved.")
            return redirect(meeting)
    status = 400 if form.errors else 200
    return render(request, "meetings/settings.html", {"meeting": meeting, "form": form}, status=status)


@login_required
@require_POST
def end_meeting(request: HttpRequest, code: str) -> HttpResponse:
    meeting = access.access_owned_meeting_by_code(request.user, code)
    actions.do_end_meeting(meeting)
    messages.success(request, f"“{meeting.title}” has ended.")
    return redirect(meeting)


@login_required
@require_POST
def delete_meeting(request: HttpRequest, code: str) -> HttpResponse:
    meeting = access.access_owned_meeting_by_code(request.user, code)
    title = meeting.title
    actions.do_delete_meeting(meeting)
    messages.success(request, f"“{title}” was deleted.")
    return redirect("dashboard")

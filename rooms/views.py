"""The breakout set-up page: hosts create the rooms, choose the settings and pre-assign invitees
by email before a meeting (``/m/<code>/breakouts``). Every change goes through
``rooms.breakout_setup.as_host`` (permissions, the meeting row locked, the domain step)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from meetings import access
from meetings.models import Meeting, MeetingStatus
from rooms import breakout_setup, breakouts
from rooms.breakout_state import breakout_rooms, plan_of, state_json
from rooms.forms import BreakoutSettingsForm, CreateRoomsForm, PreassignForm
from rooms.permissions import Action
from rooms.protocol import ProtocolError

T = TypeVar("T")


@login_required
def breakout_setup_page(request: HttpRequest, code: str) -> HttpResponse:
    meeting = access.access_hosted_meeting_by_code(request.user, code)
    rooms = list(breakout_rooms(meeting.pk))
    post = request.POST if request.method == "POST" else None
    what = post.get("form") if post is not None else None
    rooms_form = CreateRoomsForm(post if what == "rooms" else None, label_suffix="")
    settings_form = BreakoutSettingsForm.for_plan(plan_of(meeting.pk), post if what == "settings" else None)
    preassign_form = PreassignForm(
        rooms, post if what == "preassign" else None, request.FILES if what == "preassign" else None, label_suffix=""
    )
    if post is not None:
        done = _submit(request, meeting, what, rooms_form, settings_form, preassign_form)
        if done is not None:
            messages.success(request, done)
            return redirect("breakout_setup", code=meeting.code)
    context = {
        "meeting": meeting,
        "ended": meeting.status == MeetingStatus.ENDED,
        "state": state_json(meeting.pk),
        "rooms_form": rooms_form,
        "settings_form": settings_form,
        "preassign_form": preassign_form,
        "preassignments": breakout_setup.preassignments(meeting.pk),
    }
    failed = post is not None
    return render(request, "rooms/breakouts.html", context, status=400 if failed else 200)


def _submit(
    request: HttpRequest,
    meeting: Meeting,
    what: str | None,
    rooms_form: CreateRoomsForm,
    settings_form: BreakoutSettingsForm,
    preassign_form: PreassignForm,
) -> str | None:
    """Applies the posted form; the success message, or None (errors are on the form)."""
    assert request.method == "POST"
    if what == "rooms" and rooms_form.is_valid():
        count, names = rooms_form.cleaned_data["count"], rooms_form.cleaned_data["room_names"]
        made = _as_host(request, meeting, rooms_form, lambda m: breakouts.create_rooms(m, count, names))
        return None if made is None else f"{len(made)} breakout rooms set up."
    if what == "settings" and settings_form.is_valid():
        changes = settings_form.settings()
        changed = _as_host(request, meeting, settings_form, lambda m: breakouts.change_settings(m, changes))
        return None if changed is None else "Breakout settings saved."
    if what == "preassign" and preassign_form.is_valid():
        pairs = preassign_form.cleaned_data["pairs"]
        placed = _as_host(request, meeting, preassign_form, lambda m: breakouts.preassign(m, pairs))
        return None if placed is None else f"{placed} invitees pre-assigned."
    if what == "remove":
        email = request.POST.get("email", "")
        removed = _as_host(request, meeting, rooms_form, lambda m: breakout_setup.remove_preassignments(m, [email]))
        return None if removed is None else f"{email} is no longer pre-assigned."
    return None


def _as_host(request: HttpRequest, meeting: Meeting, form: forms.Form, step: Callable[[Meeting], T]) -> T | None:
    try:
        return breakout_setup.as_host(request.user, meeting, Action.MANAGE_BREAKOUTS, step)
    except ProtocolError as exc:
        form.add_error(None, exc.message)
        return None

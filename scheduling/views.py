"""Scheduling pages. The scheduling form, agenda and invitations arrive with the scheduling work;
until then the dashboard's "Schedule" leads to a page that says so and offers an instant meeting."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


@login_required
def schedule(request: HttpRequest) -> HttpResponse:
    return render(request, "scheduling/schedule.html")

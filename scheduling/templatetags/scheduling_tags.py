"""Template helpers of scheduling: the dashboard's "Upcoming" list and answer labels."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import template
from django.utils import timezone

from accounts.models import User
from scheduling.agenda import agenda
from scheduling.models import PartStat

register = template.Library()

UPCOMING_DAYS = 14
UPCOMING_ITEMS = 5


@register.inclusion_tag("scheduling/_upcoming.html", takes_context=True)
def upcoming_meetings(context: dict[str, Any]) -> dict[str, Any]:
    """The next few occurrences for the signed-in user (``{% upcoming_meetings %}``)."""
    user = context.get("user")
    if not isinstance(user, User):
        return {"entries": []}
    now = timezone.now()
    return {"entries": agenda(user, now, now + timedelta(days=UPCOMING_DAYS))[:UPCOMING_ITEMS]}


@register.filter
def partstat_label(value: str | None) -> str:
    if not value:
        return ""
    try:
        return str(PartStat(value).label)
    except ValueError:
        return value

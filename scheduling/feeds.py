"""Calendar subscription feeds: a secret URL per user, and cheap polling with ETag/Last-Modified.

The URL token is ``<key>.<hmac>``: ``key`` is random and stored, the HMAC (keyed with
SECRET_KEY) is not, so the database alone does not give away working feed URLs. Regenerating
replaces the key, and every old URL stops working.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from django.db.models import Q
from django.http import Http404
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from accounts.models import User
from scheduling import access, ical
from scheduling.models import CalendarFeed, Invitation, PartStat, ScheduledMeeting

SALT = "scheduling.feed"
PAST_WINDOW = timedelta(days=30)


def _signature(key: str) -> str:
    return salted_hmac(SALT, key).hexdigest()[:32]


def new_key() -> str:
    return secrets.token_urlsafe(12)


def feed_token(feed: CalendarFeed) -> str:
    return f"{feed.key}.{_signature(feed.key)}"


def feed_of(user: User) -> CalendarFeed:
    feed, _ = CalendarFeed.objects.get_or_create(user=user, defaults={"key": new_key()})
    return feed


def access_feed_by_token(token: str) -> CalendarFeed:
    """The feed a token opens; a wrong, altered or regenerated-away token is a 404."""
    key, _, signature = token.partition(".")
    if not key or not constant_time_compare(signature, _signature(key)):
        raise Http404("No such feed.")
    feed = CalendarFeed.objects.select_related("user").filter(key=key).first()
    if feed is None or not feed.user.is_active:
        raise Http404("No such feed.")
    return feed


def feed_series(user: User, now: datetime | None = None) -> list[ScheduledMeeting]:
    """Upcoming (and recent) series the user hosts or is invited to and has not declined."""
    since = (now or timezone.now()) - PAST_WINDOW
    declined = Invitation.objects.filter(user_id=user.pk, partstat=PartStat.DECLINED).values("series_id")
    return list(
        access.active(access.series_visible_to(user))
        .filter(Q(last_end__isnull=True) | Q(last_end__gte=since))
        .exclude(pk__in=declined)
        .select_related("meeting", "organizer", "organizer__profile")
        .order_by("start", "pk")
    )


def validators(user: User, series_list: list[ScheduledMeeting]) -> tuple[str, datetime]:
    """(ETag, Last-Modified) of a feed. The ETag changes whenever a series in it changes (every
    change, RSVPs included, touches the series) or the set of series changes."""
    stamp = "|".join(f"{series.pk}:{series.updated_at.isoformat()}" for series in series_list)
    digest = hashlib.sha256(f"{user.pk}|{stamp}".encode()).hexdigest()[:32]
    latest_visible = access.series_visible_to(user).order_by("-updated_at").values_list("updated_at", flat=True).first()
    moments = [moment for moment in (latest_visible, *(series.updated_at for series in series_list)) if moment]
    return f'"{digest}"', max(moments, default=user.date_joined)


def body(user: User, series_list: list[ScheduledMeeting]) -> bytes:
    return ical.publish(series_list, name="Conference meetings")


def download_validators(series: ScheduledMeeting) -> tuple[str, datetime]:
    digest = hashlib.sha256(f"{series.pk}|{series.sequence}|{series.updated_at.isoformat()}".encode()).hexdigest()
    return f'"{digest[:32]}"', series.updated_at

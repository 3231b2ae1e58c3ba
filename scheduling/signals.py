"""Reactions to changes made elsewhere (connected in ``SchedulingConfig.ready``).

Deleting a meeting (its page, the API or the admin) deletes its schedule with it; the invitees
must not be left with a dead entry in their calendars, so they get a cancellation first.
"""

from __future__ import annotations

from typing import Any

from scheduling import invitations
from scheduling.models import ScheduledMeeting, SeriesStatus


def cancel_schedule_of_deleted_meeting(sender: Any, instance: Any, **kwargs: Any) -> None:
    series = ScheduledMeeting.objects.filter(meeting_id=instance.pk, status=SeriesStatus.CONFIRMED).first()
    if series is None:
        return
    series.status = SeriesStatus.CANCELLED
    series.sequence += 1
    invitations.send_cancellations(series, list(series.invitations.select_related("user")))

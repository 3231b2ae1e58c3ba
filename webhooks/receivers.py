"""Events from the meetings, recordings and live-room apps become webhook deliveries (connected in
``WebhooksConfig.ready``). They run after the commit that caused them; the sender logs a failure
here and carries on, so a webhook problem never breaks a meeting or a composition."""

from __future__ import annotations

from typing import Any

from meetings.models import BreakoutPlan, Meeting, Room
from meetings.recordings.models import Recording
from webhooks import actions, events
from webhooks.events import Event


def _meeting_event(event: Event, meeting_id: int) -> None:
    meeting = Meeting.objects.filter(pk=meeting_id).first()
    if meeting is not None:
        actions.do_send_event(meeting.owner_id, event, events.meeting_data(meeting))


def on_meeting_started(sender: Any, meeting_id: int, **kwargs: Any) -> None:
    _meeting_event(Event.MEETING_STARTED, meeting_id)


def on_meeting_ended(sender: Any, meeting_id: int, **kwargs: Any) -> None:
    _meeting_event(Event.MEETING_ENDED, meeting_id)


def on_recording_ready(sender: Any, recording_id: int, **kwargs: Any) -> None:
    recording = Recording.objects.select_related("meeting").filter(pk=recording_id).first()
    if recording is not None:
        actions.do_send_event(recording.meeting.owner_id, Event.RECORDING_READY, events.recording_data(recording))


def _breakout_event(event: Event, meeting_id: int, room_ids: list[int]) -> None:
    meeting = Meeting.objects.filter(pk=meeting_id).first()
    if meeting is None:
        return
    rooms = list(Room.objects.filter(meeting=meeting, pk__in=room_ids).order_by("position", "id"))
    plan = BreakoutPlan.objects.filter(meeting=meeting).first()
    actions.do_send_event(meeting.owner_id, event, events.breakout_data(meeting, rooms, plan))


def on_breakout_opened(sender: Any, meeting_id: int, rooms: list[int], **kwargs: Any) -> None:
    _breakout_event(Event.BREAKOUT_OPENED, meeting_id, rooms)


def on_breakout_closed(sender: Any, meeting_id: int, rooms: list[int], **kwargs: Any) -> None:
    _breakout_event(Event.BREAKOUT_CLOSED, meeting_id, rooms)

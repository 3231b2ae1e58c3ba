"""Events from the meetings and recordings apps become webhook deliveries (connected in
``WebhooksConfig.ready``). They run after the commit that caused them; the sender logs a failure
here and carries on, so a webhook problem never breaks a meeting or a composition."""

from __future__ import annotations

from typing import Any

from meetings.models import Meeting
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

"""Who may see, play, download and delete recordings: the meeting's owner and co-hosts.

Everyone else is told the recording does not exist (404), as for meetings.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from conference.recordings.models import Recording
from meetings.access import AnyUser, meetings_hosted_by


def recordings_visible_to(user: AnyUser) -> QuerySet[Recording]:
    if not user.is_authenticated:
        return Recording.objects.none()
    return Recording.objects.filter(meeting__in=meetings_hosted_by(user)).select_related("meeting")


def may_access_recording(user: AnyUser, recording: Recording) -> bool:
    return recordings_visible_to(user).filter(pk=recording.pk).exists()


def access_recording_by_id(user: AnyUser, recording_id: int) -> Recording:
    recording = recordings_visible_to(user).filter(pk=recording_id).first()
    if recording is None:
        raise Http404("No recording with this id.")
    return recording

"""Who may see, play, download and delete recordings.

- The meeting's owner and co-hosts see, play, download and delete its recordings.
- People invited to the scheduled meeting (an invitation linked to their account) see, play and
  download them when the meeting shares its recordings with invitees
  (``Meeting.recordings_for_invitees``); they cannot delete them.

Everyone else is told the recording does not exist (404), as for meetings.
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404

from meetings.access import AnyUser, meetings_hosted_by
from meetings.recordings.models import Recording


def recordings_managed_by(user: AnyUser) -> QuerySet[Recording]:
    """Recordings the user may delete: those of meetings they own or co-host."""
    if not user.is_authenticated:
        return Recording.objects.none()
    return Recording.objects.filter(meeting__in=meetings_hosted_by(user))


def _shared_with_invitee(user_id: int) -> Q:
    return Q(meeting__recordings_for_invitees=True, meeting__schedule__invitations__user_id=user_id)


def recordings_visible_to(user: AnyUser) -> QuerySet[Recording]:
    """Recordings the user may list, play and download."""
    if not user.is_authenticated:
        return Recording.objects.none()
    hosted = Q(meeting__in=meetings_hosted_by(user))
    visible = Recording.objects.filter(hosted | _shared_with_invitee(int(user.pk)))
    return Recording.objects.filter(pk__in=visible.values("pk")).select_related("meeting")


def with_manageable(recordings: QuerySet[Recording], user: AnyUser) -> QuerySet[Recording]:
    """``recordings`` with a ``manageable`` flag: whether ``user`` may delete each one."""
    return recordings.annotate(manageable=Exists(recordings_managed_by(user).filter(pk=OuterRef("pk"))))


def may_access_recording(user: AnyUser, recording: Recording) -> bool:
    return recordings_visible_to(user).filter(pk=recording.pk).exists()


def may_manage_recording(user: AnyUser, recording: Recording) -> bool:
    return recordings_managed_by(user).filter(pk=recording.pk).exists()


def access_recording_by_id(user: AnyUser, recording_id: int) -> Recording:
    recording = recordings_visible_to(user).filter(pk=recording_id).first()
    if recording is None:
        raise Http404("No recording with this id.")
    return recording


def access_recording_to_manage(user: AnyUser, recording_id: int) -> Recording:
    """A recording the user may delete (pages); anything else is missing (404)."""
    recording = recordings_managed_by(user).select_related("meeting").filter(pk=recording_id).first()
    if recording is None:
        raise Http404("No recording with this id.")
    return recording

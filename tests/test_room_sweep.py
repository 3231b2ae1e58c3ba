"""Participants left behind by a web process that died are swept out by the beat task."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from meetings.models import Meeting, Participant, ParticipantState
from rooms.tasks import expire_stale_participants

pytestmark = pytest.mark.django_db


def test_the_sweep_removes_only_those_past_their_grace_period(meeting: Meeting) -> None:
    long_gone = Participant.objects.create(
        meeting=meeting, display_name="Gone", guest_key="a", state=ParticipantState.JOINED,
        joined_at=timezone.now(), disconnected_at=timezone.now() - timedelta(minutes=5),
    )  # fmt: skip
    reconnecting = Participant.objects.create(
        meeting=meeting, display_name="Back soon", guest_key="b", state=ParticipantState.JOINED,
        joined_at=timezone.now(), disconnected_at=timezone.now() - timedelta(seconds=3),
    )  # fmt: skip
    connected = Participant.objects.create(
        meeting=meeting, display_name="Here", guest_key="c", state=ParticipantState.JOINED, joined_at=timezone.now()
    )
    assert expire_stale_participants() == 1
    states = {p.display_name: (p.state, p.leave_reason) for p in Participant.objects.all()}
    assert states == {
        "Gone": ("left", "disconnected"),
        "Back soon": ("joined", ""),
        "Here": ("joined", ""),
    }
    assert {long_gone.pk, reconnecting.pk, connected.pk} == set(Participant.objects.values_list("pk", flat=True))


def test_the_sweep_is_scheduled_by_beat() -> None:
    from django.conf import settings

    schedule = settings.CELERY_BEAT_SCHEDULE["expire-stale-participants"]
    assert schedule["task"] == expire_stale_participants.name

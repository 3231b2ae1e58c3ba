"""Recording fixtures: track files generated once per run with FFmpeg, a spool folder and a
media root of each test's own, small output settings so that composition takes about a second."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pytest_django.fixtures import Settings as SettingsWrapper

from accounts.models import User
from conference import celery_app
from meetings.models import Meeting
from meetings.recordings.models import Recording
from tests.recordings.media import generate_tracks, spool_recording


@pytest.fixture(scope="session")
def track_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_tracks(tmp_path_factory.mktemp("tracks"))


@pytest.fixture
def spool(tmp_path: Path, settings: SettingsWrapper) -> Path:
    settings.RECORDINGS_SPOOL_DIR = tmp_path / "spool"
    settings.MEDIA_ROOT = tmp_path / "media"
    # Small output in tests (production: 1280x720, veryfast): the same graph, a fraction of the work.
    settings.RECORDINGS_VIDEO_SIZE = "320x180"
    settings.RECORDINGS_FPS = 15
    settings.RECORDINGS_X264_PRESET = "ultrafast"
    return tmp_path / "spool"


@pytest.fixture
def make_recording(meeting: Meeting, owner: User) -> Callable[..., Recording]:
    def make(**fields: object) -> Recording:
        values: dict[str, object] = {
            "meeting": meeting,
            "started_by": owner,
            "started_at": datetime(2026, 11, 27, 9, 0, tzinfo=UTC),
            "ended_at": datetime(2026, 11, 27, 9, 0, 7, tzinfo=UTC),
        }
        values.update(fields)
        return Recording.objects.create(**values)

    return make


@pytest.fixture
def spooled(spool: Path, track_files: Path, make_recording: Callable[..., Recording]) -> Callable[[], Recording]:
    """A pending recording whose tracks and manifest are in the spool folder."""

    def make() -> Recording:
        recording = make_recording()
        spool_recording(spool, track_files, recording.pk)
        return recording

    return make


@pytest.fixture
def eager_celery() -> Iterator[None]:
    """Tasks queued with ``delay`` run at once in this process (as the worker would run them)."""
    conf = celery_app.conf
    saved = conf.task_always_eager, conf.task_eager_propagates
    conf.task_always_eager, conf.task_eager_propagates = True, True
    yield
    conf.task_always_eager, conf.task_eager_propagates = saved

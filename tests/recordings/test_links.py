"""Signed, expiring links to a recording's files: 200 / 206 with Range, 403 expired or forged,
404 for someone who may not see the recording."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from django.core import signing
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse
from pytest_django.fixtures import Settings as SettingsWrapper

from accounts.models import User
from meetings.recordings.links import SALT, Link, LinkKind, make_token, signed_url
from meetings.recordings.models import Recording, RecordingStatus
from meetings.recordings.ranges import parse_range
from meetings.recordings.tasks import compose

pytestmark = pytest.mark.django_db


@pytest.fixture
def ready(spooled: Callable[[], Recording]) -> Recording:
    recording = spooled()
    compose.apply(args=(recording.pk,)).get()
    recording.refresh_from_db()
    assert recording.status == RecordingStatus.READY
    return recording


def body(response: object) -> bytes:
    return b"".join(response.streaming_content)  # type: ignore[attr-defined]


def test_a_valid_link_serves_the_whole_video(ready: Recording, owner: User) -> None:
    response = Client().get(signed_url(ready.pk, LinkKind.PLAY, owner.pk))

    assert response.status_code == 200
    assert response["Content-Type"] == "video/mp4"
    assert response["Accept-Ranges"] == "bytes"
    assert body(response) == Path(default_storage.path(ready.file_name)).read_bytes()


def test_a_range_request_gets_206_with_exactly_those_bytes(ready: Recording, member: User) -> None:
    data = Path(default_storage.path(ready.file_name)).read_bytes()

    response = Client().get(signed_url(ready.pk, LinkKind.PLAY, member.pk), HTTP_RANGE="bytes=100-1099")

    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes 100-1099/{len(data)}"
    assert response["Content-Length"] == "1000"
    assert body(response) == data[100:1100]


def test_an_open_ended_and_a_suffix_range_are_served(ready: Recording, owner: User) -> None:
    data = Path(default_storage.path(ready.file_name)).read_bytes()
    url = signed_url(ready.pk, LinkKind.PLAY, owner.pk)

    assert body(Client().get(url, HTTP_RANGE=f"bytes={len(data) - 10}-")) == data[-10:]
    assert body(Client().get(url, HTTP_RANGE="bytes=-20")) == data[-20:]
    assert Client().get(url, HTTP_RANGE=f"bytes={len(data) + 5}-").status_code == 416


def test_the_download_link_is_an_attachment_and_the_thumbnail_a_jpeg(ready: Recording, owner: User) -> None:
    download = Client().get(signed_url(ready.pk, LinkKind.DOWNLOAD, owner.pk))
    thumbnail = Client().get(signed_url(ready.pk, LinkKind.THUMBNAIL, owner.pk))

    assert download.status_code == 200
    assert download["Content-Disposition"].startswith("attachment;")
    assert thumbnail["Content-Type"] == "image/jpeg"
    assert body(thumbnail)[:2] == b"\xff\xd8"


class IssuedTwoHoursAgo(signing.TimestampSigner):
    def timestamp(self) -> str:
        return signing.b62_encode(int(time.time()) - 7200)


def test_an_expired_link_is_refused_with_403(ready: Recording, owner: User, settings: SettingsWrapper) -> None:
    settings.RECORDINGS_URL_MAX_AGE_SECONDS = 3600
    token = IssuedTwoHoursAgo(salt=SALT).sign_object({"r": ready.pk, "k": "play", "u": owner.pk})

    response = Client().get(reverse("recording_file", kwargs={"token": token}))

    assert response.status_code == 403
    assert response.json()["code"] == "link_expired"


def test_a_forged_link_is_refused_with_403(ready: Recording, owner: User, outsider: User) -> None:
    token = make_token(Link(recording_id=ready.pk, kind=LinkKind.PLAY, user_id=owner.pk))
    value, _, signature = token.rpartition(":")
    forged_signer = signing.TimestampSigner(key="not-the-secret-key-but-long-enough-to-look-real", salt=SALT)
    forged = forged_signer.sign_object({"r": ready.pk, "k": "play", "u": outsider.pk})

    for bad in [f"{value}:{'A' * len(signature)}", forged, "garbage"]:
        response = Client().get(reverse("recording_file", kwargs={"token": bad}))
        assert response.status_code == 403
        assert response.json()["code"] == "link_invalid"


def test_a_link_held_by_an_outsider_answers_404(ready: Recording, outsider: User) -> None:
    response = Client().get(signed_url(ready.pk, LinkKind.PLAY, outsider.pk))

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_a_link_stops_working_when_its_holder_is_no_longer_co_host(ready: Recording, member: User) -> None:
    url = signed_url(ready.pk, LinkKind.PLAY, member.pk)
    ready.meeting.co_hosts.remove(member)

    assert Client().get(url).status_code == 404


def test_a_link_to_a_recording_that_is_not_ready_answers_404(
    make_recording: Callable[..., Recording], owner: User
) -> None:
    pending = make_recording()

    assert Client().get(signed_url(pending.pk, LinkKind.PLAY, owner.pk)).status_code == 404


@pytest.mark.parametrize(
    ("header", "expected"),
    [("", None), ("bytes=0-99", (0, 99)), ("bytes=990-", (990, 999)), ("bytes=-10", (990, 999)),
     ("bytes=0-5000", (0, 999)), ("items=0-1", None), ("bytes=0-1,5-9", None)],
)  # fmt: skip
def test_range_headers_are_read_as_one_byte_range(header: str, expected: tuple[int, int] | None) -> None:
    assert parse_range(header, 1000) == expected


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=5-2", "bytes=-0"])
def test_unsatisfiable_ranges_are_refused(header: str) -> None:
    with pytest.raises(ValueError, match="range"):
        parse_range(header, 1000)

"""FILE_STORAGE=s3: composition stores the MP4 and thumbnail in an S3-compatible bucket through
django-storages, signed links are checked here and redirect to presigned URLs the bucket serves
itself (with Range), deletion removes the objects.

The bucket is served by moto's standalone S3 server, a separate process speaking the S3 HTTP API
on 127.0.0.1 (installed by ``make test`` from requirements-dev.txt): boto3 and the browser-side
HTTP requests are the real ones."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3  # type: ignore[import-untyped]
import pytest
from django.test import Client
from pytest_django.fixtures import Settings as SettingsWrapper

from accounts.models import User
from meetings.recordings.actions import do_delete_recording
from meetings.recordings.links import LinkKind, signed_url
from meetings.recordings.models import Recording, RecordingStatus
from meetings.recordings.tasks import compose
from tests.subprocesses import free_port

pytestmark = pytest.mark.django_db(transaction=True)

ACCESS_KEY, SECRET_KEY, REGION = "test-access-key", "test-secret-key", "us-east-1"


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    port = free_port()
    server = subprocess.Popen(  # noqa: S603 (fixed arguments)
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(endpoint, timeout=2).close()
            break
        except urllib.error.HTTPError:
            break  # it answers
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the S3 server did not start") from None
            time.sleep(0.2)
    yield endpoint
    server.terminate()
    server.wait(timeout=10)


def s3_client(endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name=REGION,
    )


@pytest.fixture
def bucket(s3_endpoint: str, settings: SettingsWrapper, spool: object) -> str:
    """A fresh bucket, configured as the default storage exactly as FILE_STORAGE=s3 does."""
    name = f"recordings-{uuid.uuid4().hex[:12]}"
    s3_client(s3_endpoint).create_bucket(Bucket=name)
    settings.FILE_STORAGE = "s3"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": name,
                "endpoint_url": s3_endpoint,
                "region_name": REGION,
                "access_key": ACCESS_KEY,
                "secret_key": SECRET_KEY,
                "location": "site-a",
                "addressing_style": "path",
                "signature_version": "s3v4",
                "default_acl": None,
                "querystring_auth": True,
                "file_overwrite": True,
            },
        },
    }
    return name


@pytest.fixture
def ready(bucket: str, spooled: Callable[[], Recording]) -> Recording:
    recording = spooled()
    compose.apply(args=(recording.pk,)).get()
    recording.refresh_from_db()
    assert recording.status == RecordingStatus.READY, recording.failure_reason
    return recording


def fetch(url: str, range_header: str | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers={"Range": range_header} if range_header else {})  # noqa: S310
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (loopback)
        return response.status, {key.lower(): value for key, value in response.headers.items()}, response.read()


def stored_object(endpoint: str, bucket: str, name: str) -> bytes:
    return bytes(s3_client(endpoint).get_object(Bucket=bucket, Key=f"site-a/{name}")["Body"].read())


def test_composition_stores_the_video_and_thumbnail_in_the_bucket(
    ready: Recording, bucket: str, s3_endpoint: str, spool: object, settings: SettingsWrapper
) -> None:
    video = stored_object(s3_endpoint, bucket, ready.file_name)
    thumbnail = stored_object(s3_endpoint, bucket, ready.thumbnail_name)

    assert len(video) == ready.size_bytes
    assert video[4:8] == b"ftyp"
    assert thumbnail[:2] == b"\xff\xd8"
    assert not (settings.MEDIA_ROOT / ready.file_name).exists()


def test_a_signed_link_redirects_to_a_presigned_url_that_serves_ranges(
    ready: Recording, owner: User, bucket: str, s3_endpoint: str
) -> None:
    video = stored_object(s3_endpoint, bucket, ready.file_name)

    response = Client().get(signed_url(ready.pk, LinkKind.PLAY, owner.pk))

    assert response.status_code == 302
    assert response["Cache-Control"] == "no-store"
    location = response["Location"]
    assert location.startswith(f"{s3_endpoint}/{bucket}/site-a/{ready.file_name}?")
    assert "X-Amz-Signature=" in location
    status, headers, part = fetch(location, "bytes=100-1099")
    assert status == 206
    assert headers["content-range"] == f"bytes 100-1099/{len(video)}"
    assert part == video[100:1100]
    assert headers["content-type"] == "video/mp4"


def test_the_download_link_asks_the_bucket_for_an_attachment(ready: Recording, member: User) -> None:
    location = Client().get(signed_url(ready.pk, LinkKind.DOWNLOAD, member.pk))["Location"]

    status, headers, data = fetch(location)

    assert status == 200
    assert headers["content-disposition"].startswith('attachment; filename="')
    assert len(data) == ready.size_bytes


def test_the_presigned_url_lives_as_long_as_configured(
    ready: Recording, owner: User, settings: SettingsWrapper
) -> None:
    settings.RECORDINGS_STORAGE_URL_SECONDS = 900

    location = Client().get(signed_url(ready.pk, LinkKind.THUMBNAIL, owner.pk))["Location"]

    query = parse_qs(urlsplit(location).query)
    assert query["X-Amz-Expires"] == ["900"]
    assert query["response-content-type"] == ["image/jpeg"]


def test_an_outsider_gets_404_and_no_bucket_url(ready: Recording, outsider: User) -> None:
    response = Client().get(signed_url(ready.pk, LinkKind.PLAY, outsider.pk))

    assert response.status_code == 404
    assert "Location" not in response


def test_deleting_the_recording_removes_its_objects(ready: Recording, bucket: str, s3_endpoint: str) -> None:
    keys = [f"site-a/{ready.file_name}", f"site-a/{ready.thumbnail_name}"]

    do_delete_recording(ready)

    listed = s3_client(s3_endpoint).list_objects_v2(Bucket=bucket).get("Contents", [])
    assert not {item["Key"] for item in listed} & set(keys)

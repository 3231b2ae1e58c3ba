"""The recordings page in headless Chromium against a real daphne: the progress bar follows the
REST API while a recording is composed, and the composed MP4 plays and seeks in <video>
through its signed link (seeking needs the server's 206 answers)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from accounts.models import User
from meetings.recordings.models import Recording, RecordingStatus
from meetings.recordings.tasks import compose
from tests.e2e.conftest import asgi_server, browser, chromium_args, playwright  # noqa: F401  (fixtures)
from tests.e2e.support import AsgiServer, sign_in

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT_MS = 20_000


@pytest.fixture
def asgi_env(spool: Path) -> dict[str, str]:
    """The server reads the same spool folder and media root as the test (MEDIA_ROOT = DATA_DIR/media)."""
    return {"DATA_DIR": str(spool.parent), "RECORDINGS_SPOOL_DIR": str(spool)}


def test_the_page_follows_progress_then_plays_and_seeks_the_recording(
    asgi_server: AsgiServer,  # noqa: F811
    browser: Browser,  # noqa: F811
    owner: User,
    spooled: Callable[[], Recording],
    make_recording: Callable[..., Recording],
) -> None:
    ready = spooled()
    assert compose.apply(args=(ready.pk,)).get() == RecordingStatus.READY
    busy = make_recording(status=RecordingStatus.PROCESSING, progress=10)
    context = browser.new_context()
    sign_in(context, asgi_server, owner)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    file_answers: list[int] = []
    page.on("response", lambda r: file_answers.append(r.status) if "/recordings/file/" in r.url else None)

    page.goto(f"{asgi_server.url}/recordings/")
    bar = page.locator(f'[data-recording-id="{busy.pk}"] progress')
    assert bar.get_attribute("value") == "10"
    Recording.objects.filter(pk=busy.pk).update(progress=60)
    page.wait_for_function(
        "id => document.querySelector(`[data-recording-id='${id}'] progress`).value === 60", arg=busy.pk
    )

    item = page.locator(f'[data-recording-id="{ready.pk}"]')
    item.get_by_label("Play the recording of Weekly sync in the browser").click()
    page.wait_for_function(
        "id => document.querySelector(`[data-recording-id='${id}'] video`).readyState >= 1", arg=ready.pk
    )
    duration = page.evaluate("id => document.querySelector(`[data-recording-id='${id}'] video`).duration", ready.pk)
    assert abs(duration - 7.0) <= 1.0
    page.evaluate(
        """id => new Promise((resolve, reject) => {
            const video = document.querySelector(`[data-recording-id='${id}'] video`);
            video.addEventListener("seeked", resolve, { once: true });
            const failed = () => reject(new Error(`video error ${video.error?.code}`));
            video.addEventListener("error", failed, { once: true });
            video.currentTime = 5;
        })""",
        ready.pk,
    )
    assert page.evaluate(
        "id => document.querySelector(`[data-recording-id='${id}'] video`).currentTime", ready.pk
    ) == pytest.approx(5, abs=0.5)
    assert 206 in file_answers  # the browser asked for ranges and got them
    assert errors == []
    context.close()

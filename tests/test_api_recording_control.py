"""Starting and stopping a recording through the REST API (the meeting's owner), with a real
SFU worker; everyone else is refused."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from channels.db import database_sync_to_async as sync_to_async
from rest_framework.test import APIClient

from meetings.models import Meeting
from meetings.recordings.models import Recording
from tests.room_client import RoomClient, close_all_clients
from tests.sfu_workers import SfuWorkers
from tests.test_sfu_meeting import offer_through, save

pytestmark = pytest.mark.django_db(transaction=True)


def post(api: APIClient, meeting: Meeting, what: str) -> tuple[int, str | None]:
    response = api.post(f"/api/v1/meetings/{meeting.code}/recording/{what}/")
    code = response.json().get("code") if response.content else None
    return response.status_code, code


@pytest.mark.parametrize("who", ["outsider_api", "anon_api"])
@pytest.mark.parametrize("what", ["start", "stop"])
def test_only_hosts_may_start_or_stop(request: pytest.FixtureRequest, who: str, what: str, meeting: Meeting) -> None:
    status, _ = post(request.getfixturevalue(who), meeting, what)
    assert status in (401, 404)
    assert not Recording.objects.exists()


@pytest.mark.parametrize("who", ["owner_api", "member_api"])
def test_an_empty_room_cannot_be_recorded_and_stop_needs_a_recording(
    request: pytest.FixtureRequest, who: str, meeting: Meeting
) -> None:
    host_api = request.getfixturevalue(who)  # the owner, or a co-host
    assert post(host_api, meeting, "start") == (409, "room_empty")
    assert post(host_api, meeting, "stop") == (409, "not_recording")
    assert not Recording.objects.exists()


@pytest_asyncio.fixture
async def _clean_loop_state() -> AsyncIterator[None]:
    yield
    await close_all_clients()


@pytest.mark.asyncio
@pytest.mark.usefixtures("_clean_loop_state")
async def test_the_owner_starts_and_a_co_host_stops_a_recording_of_a_live_meeting(
    owner_api: APIClient, member_api: APIClient, meeting: Meeting, owner: object, sfu_workers: SfuWorkers
) -> None:
    await sync_to_async(sfu_workers.start)()
    await save(meeting, waiting_room=False, topology="sfu")
    host = await RoomClient.connect(meeting.code, owner, name="host")  # type: ignore[arg-type]
    await host.join()
    pc = await offer_through(host)
    try:
        assert await sync_to_async(post)(owner_api, meeting, "start") == (204, None)
        assert (await host.expect("recording", timeout=20))["active"] is True
        assert await sync_to_async(post)(owner_api, meeting, "start") == (409, "already_recording")
        assert await sync_to_async(post)(member_api, meeting, "stop") == (204, None)
        assert (await host.expect("recording", timeout=20))["active"] is False
        recording = await sync_to_async(Recording.objects.get)(meeting=meeting)
        assert recording.ended_at is not None
    finally:
        await pc.close()

"""Guessing over the meeting WebSocket is limited per client address (``rooms.guessing``):
wrong passcodes across reconnects, and connections to codes that do not exist (counted with
the pages' and API's code lookups). Other addresses, and codes that exist, are unaffected."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from channels.db import database_sync_to_async as sync_to_async
from django.conf import settings
from pytest_django.fixtures import Settings as SettingsWrapper

from meetings.models import Meeting
from tests.factories import make_meeting
from tests.room_client import RoomClient, close_all_clients

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

GUESSER = "198.51.100.7"
SOMEONE_ELSE = "198.51.100.8"


@pytest_asyncio.fixture(autouse=True)
async def _clean_loop_state() -> AsyncIterator[None]:
    yield
    await close_all_clients()


@pytest_asyncio.fixture
async def locked_meeting(transactional_db: None) -> Meeting:
    meeting: Meeting = await sync_to_async(make_meeting)(allow_guests=True, waiting_room=False)
    await sync_to_async(meeting.set_passcode)("2468")
    await sync_to_async(meeting.save)()
    return meeting


def unknown_code(n: int) -> str:
    """A well-formed code that no meeting has."""
    letters = "".join("bcdfghjkmnpqrstvwxz"[int(digit)] for digit in f"{n:03d}")
    return f"zzz-zzzz-{letters}"


async def guess(meeting: Meeting, passcode: str, address: str, name: str) -> RoomClient:
    client = await RoomClient.connect(meeting.code, guest_key=name, name=name, address=address)
    await client.send({"type": "join", "display_name": name, "passcode": passcode})
    return client


async def test_wrong_passcodes_are_limited_per_address_across_reconnects(
    locked_meeting: Meeting, settings: SettingsWrapper
) -> None:
    settings.MEETING_PASSCODE_RATE = "3/hour"
    for attempt in range(3):  # a new connection for every guess
        client = await guess(locked_meeting, f"000{attempt}", GUESSER, f"guesser-{attempt}")
        await client.expect_error("wrong_passcode")
        await client.close()
    fourth = await guess(locked_meeting, "2468", GUESSER, "guesser-4")  # even the right one, now
    refusal = await fourth.expect_error("too_many_attempts")
    assert 1 <= refusal["retry_after"] <= 3600
    assert await fourth.expect_closed() == 4429
    # Someone else, elsewhere, gets in with the passcode.
    other = await guess(locked_meeting, "2468", SOMEONE_ELSE, "other")
    other.joined = await other.expect("joined")
    assert other.joined["you"]["name"] == "other"


async def test_connections_to_codes_that_do_not_exist_spend_the_code_lookup_budget(
    locked_meeting: Meeting,
) -> None:
    limit = int(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["code_lookup"].split("/")[0])  # type: ignore[index]
    for n in range(limit):
        miss = await RoomClient.connect(unknown_code(n), name=f"miss-{n}", address=GUESSER)
        assert miss.hello["code"] == "not_found"
        assert await miss.expect_closed() == 4404
    # Spent: even a code that exists is refused from that address (a hit would tell its title).
    refused = await RoomClient.connect(locked_meeting.code, name="refused", address=GUESSER)
    assert refused.hello["code"] == "rate_limited"
    assert refused.hello["retry_after"] >= 1
    assert "title" not in str(refused.hello)
    assert await refused.expect_closed() == 4429
    # Another address is not affected.
    fine = await RoomClient.connect(locked_meeting.code, name="fine", address=SOMEONE_ELSE)
    assert fine.hello["type"] == "hello"


async def test_connections_to_a_code_that_exists_do_not_count(locked_meeting: Meeting) -> None:
    limit = int(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["code_lookup"].split("/")[0])  # type: ignore[index]
    for n in range(limit + 5):  # a lecture hall behind one address
        client = await RoomClient.connect(locked_meeting.code, name=f"student-{n}", address=GUESSER)
        assert client.hello["type"] == "hello"
        await client.close()

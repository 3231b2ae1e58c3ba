"""The web's SFU client (rooms/sfu_client.py) on the Redis channel layer: responses
matched by id, worker errors passed on with their codes, timeouts and a missing worker reported
with stable codes. (Real worker processes are driven by this client in
tests/media_workers/test_worker_process.py.)"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from channels.exceptions import ChannelFull
from channels.layers import BaseChannelLayer
from channels_redis.core import RedisChannelLayer  # type: ignore[import-untyped]

from media_workers import protocol
from rooms import sfu_client as sfu
from rooms.sfu_client import SfuClient, SfuError, sfu_client
from tests.media_workers.control_helpers import redis_url, unique

WORKER = "sfu.worker.fake"


@pytest_asyncio.fixture
async def layer() -> AsyncIterator[RedisChannelLayer]:
    """The web's channel-layer class and options, on a prefix (and Redis database) of its own,
    so that other test processes clearing the cache database cannot drop queued messages."""
    found = RedisChannelLayer(
        hosts=[{"address": redis_url(), "socket_timeout": None}], prefix=unique("sfuclient") + ":", capacity=1000
    )
    try:
        yield found
    finally:
        await found.flush()


@pytest_asyncio.fixture
async def client(layer: RedisChannelLayer) -> AsyncIterator[SfuClient]:
    found = SfuClient(layer)
    try:
        yield found
    finally:
        await found.close()


async def next_request(layer: RedisChannelLayer, channel: str = WORKER) -> dict[str, Any]:
    message: dict[str, Any] = await asyncio.wait_for(layer.receive(channel), 10)
    return message


async def answer(layer: RedisChannelLayer, request: dict[str, Any], response: dict[str, Any]) -> None:
    await layer.send(request["reply_to"], response)


def test_the_web_speaks_the_workers_protocol_version() -> None:
    assert sfu.PROTOCOL_VERSION == protocol.PROTOCOL_VERSION
    assert sfu.CONTROL_CHANNEL == protocol.CONTROL_CHANNEL
    assert sfu.room_group("m42") == protocol.room_group("m42")


@pytest.mark.asyncio
async def test_requests_carry_the_envelope_and_responses_are_matched_by_id(
    client: SfuClient, layer: RedisChannelLayer
) -> None:
    first = asyncio.ensure_future(client.request(WORKER, {"method": "room.stats", "room_id": "a"}))
    second = asyncio.ensure_future(client.request(WORKER, {"method": "room.stats", "room_id": "b"}))
    requests = [await next_request(layer), await next_request(layer)]
    for request in requests:
        assert (request["type"], request["v"]) == ("sfu.request", 1)
        assert protocol.parse_request(request).method == "room.stats"
    assert requests[0]["id"] != requests[1]["id"]
    # Answered in reverse order: each caller still gets its own result.
    for request in reversed(requests):
        await answer(layer, request, protocol.ok_response(request["id"], {"room_id": request["room_id"]}))
    assert await asyncio.wait_for(first, 10) == {"room_id": "a"}
    assert await asyncio.wait_for(second, 10) == {"room_id": "b"}


@pytest.mark.asyncio
async def test_a_worker_error_keeps_its_code(client: SfuClient, layer: RedisChannelLayer) -> None:
    pending = asyncio.ensure_future(client.request(WORKER, {"method": "room.leave", "room_id": "a", "peer_id": "p"}))
    request = await next_request(layer)
    await answer(layer, request, protocol.error_response(request["id"], "unknown_peer", "Peer p is not in room a."))
    with pytest.raises(SfuError) as refused:
        await asyncio.wait_for(pending, 10)
    assert (refused.value.code, refused.value.message) == ("unknown_peer", "Peer p is not in room a.")


@pytest.mark.asyncio
async def test_a_malformed_error_is_reported_as_such(client: SfuClient, layer: RedisChannelLayer) -> None:
    pending = asyncio.ensure_future(client.request(WORKER, {"method": "worker.ping"}))
    request = await next_request(layer)
    await answer(layer, request, {"type": "sfu.response", "v": 1, "id": request["id"], "ok": False})
    with pytest.raises(SfuError) as refused:
        await asyncio.wait_for(pending, 10)
    assert refused.value.code == "bad_response"


@pytest.mark.asyncio
async def test_no_answer_in_time_is_sfu_timeout_and_a_late_answer_is_ignored(
    client: SfuClient, layer: RedisChannelLayer
) -> None:
    with pytest.raises(SfuError) as timed_out:
        await client.request(WORKER, {"method": "worker.ping"}, timeout=0.2)
    assert timed_out.value.code == "sfu_timeout"
    late = await next_request(layer)
    await answer(layer, late, protocol.ok_response(late["id"], {}))
    pending = asyncio.ensure_future(client.request(WORKER, {"method": "worker.ping"}))
    request = await next_request(layer)
    await answer(layer, request, protocol.ok_response(request["id"], {"worker_id": "w1"}))
    assert await asyncio.wait_for(pending, 10) == {"worker_id": "w1"}


@pytest.mark.asyncio
async def test_assign_returns_the_worker_address(client: SfuClient, layer: RedisChannelLayer) -> None:
    pending = asyncio.ensure_future(client.assign("m42"))
    request = await next_request(layer, sfu.CONTROL_CHANNEL)
    assert (request["method"], request["room_id"]) == ("room.assign", "m42")
    result = {"room_id": "m42", "worker_id": "w1", "channel": "sfu.worker.w1", "address": "10.0.0.7"}
    await answer(layer, request, protocol.ok_response(request["id"], result))
    found = await asyncio.wait_for(pending, 10)
    assert (found.worker_id, found.channel, found.address) == ("w1", "sfu.worker.w1", "10.0.0.7")


@pytest.mark.asyncio
async def test_assign_without_any_worker_is_sfu_unavailable(client: SfuClient, layer: RedisChannelLayer) -> None:
    with pytest.raises(SfuError) as refused:
        await client.assign("m42", timeout=0.2)
    assert refused.value.code == "sfu_unavailable"


@pytest.mark.asyncio
async def test_assign_when_no_worker_can_take_the_room_is_sfu_unavailable(
    client: SfuClient, layer: RedisChannelLayer
) -> None:
    pending = asyncio.ensure_future(client.assign("m42"))
    request = await next_request(layer, sfu.CONTROL_CHANNEL)
    await answer(layer, request, protocol.error_response(request["id"], "sfu_unavailable", "No live SFU worker."))
    with pytest.raises(SfuError) as refused:
        await asyncio.wait_for(pending, 10)
    assert refused.value.code == "sfu_unavailable"


class FullLayer(BaseChannelLayer):
    """A channel layer whose channels are all full."""

    async def new_channel(self, prefix: str = "specific.") -> str:
        return "specific.full!1"

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        raise ChannelFull

    async def receive(self, channel: str) -> dict[str, Any]:
        await asyncio.Event().wait()
        return {}


@pytest.mark.asyncio
async def test_a_full_channel_is_sfu_unavailable() -> None:
    client = SfuClient(FullLayer())
    try:
        with pytest.raises(SfuError) as refused:
            await client.request(WORKER, {"method": "worker.ping"})
        assert refused.value.code == "sfu_unavailable"
    finally:
        await client.close()


@pytest.mark.asyncio
async def test_one_client_per_event_loop() -> None:
    found = sfu_client()
    try:
        assert sfu_client() is found
    finally:
        await found.close()

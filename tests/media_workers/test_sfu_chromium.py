"""Headless Chromium (Debian's ``chromium``) publishes and subscribes through the router,
next to aiortc clients: its offer is accepted as it comes, what it sends is forwarded with
each subscriber's own ids, and it decodes what the worker forwards to it."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Page, async_playwright

from media_workers.keyframes import is_vp8_keyframe
from media_workers.sequencing import seq_delta
from tests.e2e.conftest import CHROMIUM, CHROMIUM_FLAGS
from tests.media_workers.sfu_clients import join, slot_mids, wait_for
from tests.media_workers.sfu_fixtures import Room, open_room

CHROMIUM_PRESENT = CHROMIUM.exists()
BLANK_PAGE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 13\r\nConnection: close\r\n\r\n<html></html>"
)
OFFER = """async () => {
  const pc = new RTCPeerConnection({iceServers: []});
  window.pc = pc;
  const media = await navigator.mediaDevices.getUserMedia({audio: true, video: {width: 320, height: 240}});
  pc.addTransceiver(media.getAudioTracks()[0], {direction: 'sendonly'});
  pc.addTransceiver(media.getVideoTracks()[0], {direction: 'sendonly'});
  for (let i = 0; i < 3; i++) pc.addTransceiver('audio', {direction: 'recvonly'});
  for (let i = 0; i < 3; i++) pc.addTransceiver('video', {direction: 'recvonly'});
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((done) => {
    if (pc.iceGatheringState === 'complete') done();
    pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && done();
  });
  return pc.localDescription.sdp;
}"""
INBOUND = """async () => {
  const out = {};
  (await pc.getStats()).forEach((r) => {
    if (r.type !== 'inbound-rtp') return;
    out[r.mid] = {packets: r.packetsReceived, frames: r.framesDecoded || 0, plis: r.pliCount || 0};
  });
  return out;
}"""


async def _serve_blank(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.write(BLANK_PAGE)
    await writer.drain()
    writer.close()


@pytest_asyncio.fixture
async def page() -> AsyncIterator[Page]:
    assert CHROMIUM_PRESENT, "the Debian package chromium is required"
    server = await asyncio.start_server(_serve_blank, "127.0.0.1", 0)  # a secure context for getUserMedia
    port = server.sockets[0].getsockname()[1]
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True)
        try:
            page = await browser.new_page()
            await page.goto(f"http://127.0.0.1:{port}/")
            yield page
        finally:
            await browser.close()
            server.close()
            await server.wait_closed()


@pytest_asyncio.fixture
async def room() -> AsyncIterator[Room]:
    async with open_room() as room:
        yield room


def loopback_only(sdp: str) -> str:
    """Chromium gathers on every interface: keep its loopback UDP candidates only."""
    lines = sdp.splitlines(keepends=True)
    return "".join(
        line for line in lines if not line.startswith("a=candidate") or (" 127.0.0.1 " in line and " udp " in line)
    )


@pytest.mark.asyncio
async def test_chromium_and_aiortc_clients_meet_through_the_router(room: Room, page: Page) -> None:
    alice = room.keep(await join(room.router, "alice", video=[(320, 240)]))
    bob = room.keep(await join(room.router, "bob", audio=False))
    answer = await room.router.add_peer("chrome", loopback_only(await page.evaluate(OFFER)))
    await page.evaluate("async (sdp) => { await pc.setRemoteDescription({type: 'answer', sdp}); }", answer)

    chrome_slots = {
        source.participant + ":" + source.kind: mid for mid, source in room.router.slot_map("chrome").items()
    }
    assert set(chrome_slots) == {"alice:audio", "alice:video"}

    async def decoded() -> dict[str, Any]:
        result: dict[str, Any] = await page.evaluate(INBOUND)
        return result

    stats: dict[str, Any] = {}

    def chrome_decodes() -> bool:
        video = stats.get(chrome_slots["alice:video"], {})
        audio = stats.get(chrome_slots["alice:audio"], {})
        return int(video.get("frames", 0)) >= 20 and int(audio.get("packets", 0)) >= 50

    deadline = asyncio.get_running_loop().time() + 20
    while not chrome_decodes():
        assert asyncio.get_running_loop().time() < deadline, f"Chromium did not decode alice: {stats}"
        await asyncio.sleep(0.2)
        stats = await decoded()

    bob_slots = {source.participant + ":" + source.kind: mid for mid, source in room.router.slot_map("bob").items()}
    chrome_video = bob_slots["chrome:video"]
    await wait_for(lambda: len(bob.received_on(chrome_video)) >= 40, 20, "Chromium's video at bob")
    await wait_for(lambda: len(bob.received_on(bob_slots["chrome:audio"])) >= 50, 20, "Chromium's audio at bob")
    video = bob.received_on(chrome_video)
    assert is_vp8_keyframe(video[0].payload)
    assert all(seq_delta(b.sequence, a.sequence) == 1 for a, b in itertools.pairwise(video))
    assert chrome_video in slot_mids(bob, "video")
    assert room.router.stats().plis_received < 10, "no keyframe-request storm"
    assert stats[chrome_slots["alice:video"]]["plis"] < 5
    del alice

"""A breakout room of 6 real aiortc peers goes through an SFU worker, and its media never
reaches the other rooms.

A host and nine guests meet (waiting room off, guests allowed); the host opens two breakout rooms
over the WebSocket: six guests in room 1, three in room 2. With the SFU threshold at 3 both rooms
move to the same real worker process (``python -m media_workers``). Every guest then does what the
browser does: one ``RTCPeerConnection`` to the worker, negotiated through the meeting WebSocket
(``media.offer`` with ``roles`` for its send sections, ``media.answer``, ``media.slots``),
publishing a tone and a camera (full size, and a low layer a quarter of its size) and receiving the
room's slots. Each publisher paints its camera's chroma with a colour of its own, so every decoded
frame tells who sent it: room 1's peers see their roommates, room 2's peers only theirs, and the
slot maps, the worker's ``room.stats`` and the decoded pictures agree. When the rooms close, the
worker lets go of the breakout peers before the browsers do anything, and the guests' new offers
land in the main room.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import math
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import av
import pytest
import pytest_asyncio
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCRtpTransceiver, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from channels.db import database_sync_to_async as sync_to_async
from pytest_django.fixtures import Settings as SettingsWrapper

from accounts.models import User
from media_workers.ice_addresses import restrict_host_candidates
from meetings.models import Meeting
from rooms.sfu_client import SfuError, sfu_client
from tests.media_workers.sfu_clients import LOOPBACK, client_pc
from tests.room_client import RoomClient, close_all_clients
from tests.sfu_workers import SfuWorkers
from tests.test_breakout_rooms import guests, host_with_rooms, open_meeting, roster_ids

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

ROOM_1 = [f"one-{n}" for n in range(6)]
ROOM_2 = [f"two-{n}" for n in range(3)]
#: What each send section carries, in the browser's order (docs/protocol.md, "Media (SFU)").
SEND_ROLES = ("audio", "camera-high", "camera-low", "screen")
CAMERA = (96, 72)  # the low layer is this scaled down by 4
FPS = 5
#: Each publisher's camera has a flat chroma (U plane) of its own: 20, 44, 68, …
CHROMA_BASE, CHROMA_STEP = 20, 24
#: Decoded frames (from roommates) every room-1 peer must see before the checks.
ENOUGH_FRAMES = 20
ENOUGH_AUDIO_FRAMES = 25
#: Generous: the machine may be loaded; nothing here measures time. (The test's own wait for an
#: answer is longer than the server's for the worker's, so the server's error arrives first.)
MESSAGE_TIMEOUT = 60.0
ANSWER_TIMEOUT = 90.0
MEDIA_TIMEOUT = 180.0
WORKER_TIMEOUT = 90.0
#: A worker starved of CPU may answer slowly; slow is not gone.
WORKER_REPLY_TIMEOUT = 30.0
SERVER_OFFER_TIMEOUT = 60.0
OFFER_ATTEMPTS = 3
#: Refusals a browser answers by offering again after a moment.
RETRYABLE = frozenset({"sfu_timeout", "sfu_unavailable", "worker_draining", "room_busy"})


@pytest_asyncio.fixture(autouse=True)
async def _clean_loop_state() -> AsyncIterator[None]:
    yield
    await close_all_clients()


# --- media ------------------------------------------------------------------------------------


def chroma_of(tag: int) -> int:
    return CHROMA_BASE + CHROMA_STEP * tag


def loudness_of(tag: int) -> float:
    """About 2.5 dB quieter per tag: equally loud tones would swap places among the loudest all
    the time, and every swap changes the slots of everyone in the room."""
    return 0.6 * 0.75**tag


def tag_of(frame: av.VideoFrame) -> int | None:
    """The publisher tag painted into a decoded frame (None: no tag's colour)."""
    plane = frame.planes[1]
    value = memoryview(plane)[(frame.height // 4) * plane.line_size + frame.width // 4]
    tag = round((value - CHROMA_BASE) / CHROMA_STEP)
    return tag if tag >= 0 and abs(value - chroma_of(tag)) <= CHROMA_STEP // 2 - 1 else None


class Tone(MediaStreamTrack):
    """A 400 Hz tone in 20 ms frames (eight whole periods: one frame repeats), paced in real time.
    Each publisher has a loudness of its own (``amplitude``), so the loudest speakers stand in a
    stable order."""

    kind = "audio"
    SAMPLES = 960

    def __init__(self, amplitude: float) -> None:
        super().__init__()
        self._pts = 0
        self._start: float | None = None
        self._samples = b"".join(
            struct.pack("<h", int(amplitude * 32767 * math.sin(2 * math.pi * 400 * i / 48000)))
            for i in range(self.SAMPLES)
        )

    async def recv(self) -> av.AudioFrame:
        if self._start is None:
            self._start = time.monotonic()
        await asyncio.sleep(max(0.0, self._start + self._pts / 48000 - time.monotonic()))
        frame = av.AudioFrame(format="s16", layout="mono", samples=self.SAMPLES)
        frame.planes[0].update(self._samples)
        frame.sample_rate = 48000
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, 48000)
        self._pts += self.SAMPLES
        return frame


class TaggedCamera(MediaStreamTrack):
    """A moving luma ramp over a flat chroma that names the publisher (``tag``)."""

    kind = "video"

    def __init__(self, width: int, height: int, tag: int) -> None:
        super().__init__()
        self.width = width
        self.height = height
        self.chroma = chroma_of(tag)
        self._ramp: bytes | None = None
        self._count = 0
        self._start: float | None = None

    async def recv(self) -> av.VideoFrame:
        if self._start is None:
            self._start = time.monotonic()
        await asyncio.sleep(max(0.0, self._start + self._count / FPS - time.monotonic()))
        frame = av.VideoFrame(self.width, self.height, "yuv420p")
        luma = frame.planes[0]
        if self._ramp is None:
            self._ramp = bytes(i & 0xFF for i in range(luma.line_size + self.height + 256))
        ramp = self._ramp
        shift = (self._count * 7) % 256
        luma.update(b"".join(ramp[y + shift : y + shift + luma.line_size] for y in range(self.height)))
        frame.planes[1].update(bytes([self.chroma]) * frame.planes[1].buffer_size)
        frame.planes[2].update(bytes([128]) * frame.planes[2].buffer_size)
        frame.pts = self._count * (90000 // FPS)
        frame.time_base = fractions.Fraction(1, 90000)
        self._count += 1
        return frame


# --- one guest: its WebSocket, its peer connection to the worker, what it got -------------------


@dataclass
class Guest:
    client: RoomClient
    tag: int
    room_id: int
    #: messages since the last ``joined`` (the room it is in now), not yet waited for
    inbox: list[dict[str, Any]] = field(default_factory=list)
    #: every ``media.slots`` it got, with the room it was in
    slots: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    #: every ``error`` and ``media.failed`` it got (for the failure messages)
    trouble: list[dict[str, Any]] = field(default_factory=list)
    pc: RTCPeerConnection | None = None
    pcs: list[RTCPeerConnection] = field(default_factory=list)
    readers: list[asyncio.Task[None]] = field(default_factory=list)
    #: decoded video frames by (room, receive slot mid): the publisher tag of each (None: no
    #: publisher's colour), and audio frames likewise
    frames: dict[tuple[int, str], list[int | None]] = field(default_factory=dict)
    audio_frames: dict[tuple[int, str], int] = field(default_factory=dict)
    offers: int = 0
    kinds: dict[str, int] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.client.name

    @property
    def id(self) -> str:
        return self.client.id

    def slot_participants(self, room_id: int, mid: str | None = None) -> set[str]:
        return {
            slot["participant"]
            for room, slots in self.slots
            if room == room_id
            for slot_mid, slot in slots.items()
            if mid is None or slot_mid == mid
        }

    def video_tags(self, room_id: int) -> list[int | None]:
        return [tag for (room, _), tags in self.frames.items() if room == room_id for tag in tags]

    def audio_count(self, room_id: int) -> int:
        return sum(count for (room, _), count in self.audio_frames.items() if room == room_id)


async def collect(guest: Guest) -> None:
    """Takes in what the server sent, without waiting for more (a receive that times out would
    cancel the consumer). A ``joined`` starts a new room: what came before it is dropped."""
    client = guest.client
    messages, client.backlog = client.backlog, []
    while not await client.communicator.receive_nothing(0):
        messages.append(await client._read(MESSAGE_TIMEOUT))
    for message in messages:
        kind = message["type"]
        guest.kinds[kind] = guest.kinds.get(kind, 0) + 1
        if kind == "joined":
            client.joined = message
            guest.room_id = message["room"]["id"]
            guest.inbox.clear()
        elif kind == "media.slots":
            guest.slots.append((guest.room_id, message["slots"]))
        elif kind in ("error", "media.failed"):
            guest.trouble.append(message)
        guest.inbox.append(message)


async def next_message(
    guest: Guest,
    kinds: set[str],
    timeout: float = MESSAGE_TIMEOUT,
    condition: Callable[[dict[str, Any]], bool] | None = None,
) -> dict[str, Any]:
    """The first message (since the last ``joined``) of one of ``kinds`` meeting ``condition``."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        await collect(guest)
        for index, message in enumerate(guest.inbox):
            if message["type"] in kinds and (condition is None or condition(message)):
                del guest.inbox[index]
                return message
        if asyncio.get_running_loop().time() > deadline:
            seen = [message["type"] for message in guest.inbox]
            raise AssertionError(f"{guest.name}: no {sorted(kinds)} within {timeout:g} s; got {seen}")
        await asyncio.sleep(0.1)


async def wait_until(what: str, check: Callable[[], Awaitable[bool]], everyone: list[Guest], timeout: float) -> None:
    """Waits for ``check`` while taking in every guest's messages (and re-offering, like the
    browser, for a guest whose worker peer failed)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        for guest in everyone:
            await collect(guest)
            failed = [message for message in guest.inbox if message["type"] == "media.failed"]
            if failed and guest.pc is not None:
                guest.inbox = [message for message in guest.inbox if message["type"] != "media.failed"]
                await publish(guest)
        if await check():
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what}: not reached within {timeout:g} s{report(everyone)}")
        await asyncio.sleep(0.5)


def report(everyone: list[Guest], rooms: dict[str, int] | None = None) -> str:
    """What each guest got in its room now (or in ``rooms[guest id]``), for messages."""
    lines = []
    for guest in everyone:
        room = rooms[guest.id] if rooms else guest.room_id
        tags = guest.video_tags(room)
        seen = {tag: tags.count(tag) for tag in sorted(set(tags), key=str)}
        state = guest.pc.connectionState if guest.pc is not None else "-"
        lines.append(
            f"{guest.name} (tag {guest.tag}, room {room}, now in {guest.room_id}, pc {state}, "
            f"offers {guest.offers}): frames by tag {seen}, audio frames {guest.audio_count(room)}, "
            f"slot maps {sum(1 for r, _ in guest.slots if r == room)}, trouble {guest.trouble}, kinds {guest.kinds}"
        )
    return "\n" + "\n".join(lines)


async def stop_media(guest: Guest) -> None:
    for task in guest.readers:
        task.cancel()
    for task in guest.readers:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    guest.readers.clear()
    if guest.pc is not None:
        await guest.pc.close()
        guest.pc = None


async def read_video(guest: Guest, mid: str, track: MediaStreamTrack) -> None:
    tags = guest.frames.setdefault((guest.room_id, mid), [])
    while True:
        try:
            frame = await track.recv()
        except MediaStreamError:
            return
        if isinstance(frame, av.VideoFrame):
            tags.append(tag_of(frame))


async def read_audio(guest: Guest, mid: str, track: MediaStreamTrack) -> None:
    key = (guest.room_id, mid)
    while True:
        try:
            await track.recv()
        except MediaStreamError:
            return
        guest.audio_frames[key] = guest.audio_frames.get(key, 0) + 1


def mid_of(transceiver: RTCRtpTransceiver) -> str:
    assert transceiver.mid is not None
    return transceiver.mid


async def publish(guest: Guest) -> None:
    """What the browser does in an SFU room: a new peer connection to the worker with its send
    sections (tone, camera high and low, a screen section without a track) and the room's
    receive slots, offered through the WebSocket with ``roles`` and ``restart: true``."""
    await stop_media(guest)
    media = guest.client.joined["media"]
    for attempt in range(1, OFFER_ATTEMPTS + 1):
        pc = client_pc()
        guest.pcs.append(pc)
        width, height = CAMERA
        sending = [
            pc.addTransceiver(Tone(loudness_of(guest.tag)), direction="sendonly"),
            pc.addTransceiver(TaggedCamera(width, height, guest.tag), direction="sendonly"),
            pc.addTransceiver(TaggedCamera(width // 4, height // 4, guest.tag), direction="sendonly"),
            pc.addTransceiver("video", direction="sendonly"),
        ]
        for _ in range(media["audio_slots"]):
            pc.addTransceiver("audio", direction="recvonly")
        for _ in range(media["video_slots"] + 1):
            pc.addTransceiver("video", direction="recvonly")
        restrict_host_candidates(pc, LOOPBACK)

        await pc.setLocalDescription(await pc.createOffer())
        roles = {mid_of(transceiver): role for transceiver, role in zip(sending, SEND_ROLES, strict=True)}
        guest.offers += 1
        await guest.client.send(
            {"type": "media.offer", "sdp": pc.localDescription.sdp, "roles": roles, "restart": True}
        )
        reply = await next_message(guest, {"media.answer", "error"}, ANSWER_TIMEOUT)
        if reply["type"] == "media.answer":
            await pc.setRemoteDescription(RTCSessionDescription(sdp=reply["sdp"], type="answer"))
            guest.pc = pc
            for transceiver in pc.getTransceivers():
                if transceiver.direction != "recvonly":
                    continue
                reader = read_audio if transceiver.kind == "audio" else read_video
                task = asyncio.create_task(reader(guest, mid_of(transceiver), transceiver.receiver.track))
                guest.readers.append(task)
            return
        assert reply["code"] in RETRYABLE, f"{guest.name}: the offer was refused: {reply}"
        assert attempt < OFFER_ATTEMPTS, f"{guest.name}: every offer was refused, the last with {reply}"
        await pc.close()
        await asyncio.sleep(2)


async def enter(guest: Guest, room_id: int) -> dict[str, Any]:
    """Waits for the guest's ``joined`` for ``room_id`` and for the room to be on the SFU."""
    await next_message(guest, {"joined"}, MESSAGE_TIMEOUT, lambda m: m["room"]["id"] == room_id)
    assert guest.room_id == room_id, f"{guest.name} went on to room {guest.room_id} instead of {room_id}"
    if guest.client.joined["media"]["topology"] != "sfu":
        moved = await next_message(guest, {"media.topology"}, MESSAGE_TIMEOUT, lambda m: m["topology"] == "sfu")
        guest.client.joined["media"] = {key: value for key, value in moved.items() if key != "type"}
    return guest.client.joined


async def stats_peers(room_id: int) -> list[str]:
    """The peers the room's worker holds (``room.stats``; [] once the room is gone there)."""
    worker = await sfu_client().assign(str(room_id), WORKER_REPLY_TIMEOUT)
    request = {"method": "room.stats", "room_id": str(room_id)}
    try:
        result = await sfu_client().request(worker.channel, request, WORKER_REPLY_TIMEOUT)
    except SfuError as exc:
        if exc.code == "unknown_room":
            return []
        raise
    return sorted(result["peer_ids"])


def patient_with_the_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    """The server waits long for the worker: it answers in milliseconds when it gets the CPU, but
    on a loaded machine a slow answer must not read as "no worker" (a small room would fall back
    to peer-to-peer) or as a lost leave."""
    monkeypatch.setattr("rooms.sfu_relay.ASSIGN_TIMEOUT", WORKER_REPLY_TIMEOUT)
    monkeypatch.setattr("rooms.sfu_relay.OFFER_TIMEOUT", SERVER_OFFER_TIMEOUT)
    monkeypatch.setattr("rooms.sfu_relay.LEAVE_TIMEOUT", WORKER_REPLY_TIMEOUT)


# --- the test ---------------------------------------------------------------------------------


async def test_a_breakout_room_of_six_goes_through_the_worker_and_its_media_stays_in_it(
    meeting: Meeting, owner: User, sfu_workers: SfuWorkers, settings: SettingsWrapper, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.MEETING_SFU_THRESHOLD = 3  # room 2 (three people) goes through the worker too
    # Five camera slots: room 1's five roommates fit, and back in the main room nobody receives
    # eight cameras (all nine peers run in this process, on a possibly loaded machine).
    settings.MEETING_SFU_VIDEO_SLOTS = 5
    patient_with_the_worker(monkeypatch)
    await sync_to_async(sfu_workers.start)()
    await open_meeting(meeting)
    host, (room_1, room_2) = await host_with_rooms(meeting, owner, count=2)
    main_id = host.joined["room"]["id"]
    clients = await guests(meeting, *ROOM_1, *ROOM_2)
    everyone = [Guest(client, tag, main_id) for tag, client in enumerate(clients)]
    first, second = everyone[: len(ROOM_1)], everyone[len(ROOM_1) :]
    room_of = {guest.id: room for group, room in ((first, room_1), (second, room_2)) for guest in group}
    members = {
        room_1: {guest.id for guest in first},
        room_2: {guest.id for guest in second},
        main_id: {host.id} | {guest.id for guest in everyone},
    }
    tag_room = {guest.tag: room_of[guest.id] for guest in everyone}
    try:
        await host.send({"type": "breakout.assign", "assignments": room_of})
        await host.send({"type": "breakout.open"})
        for guest in everyone:
            joined = await enter(guest, room_of[guest.id])
            assert roster_ids(joined) == members[guest.room_id], guest.name
            assert joined["breakouts"]["state"] == "open"
        assert sfu_workers.serving(str(room_1)) is sfu_workers.serving(str(room_2))  # one worker for both

        # Every guest connects to the worker through the meeting WebSocket and publishes.
        for guest in everyone:
            await publish(guest)

        def roommates_seen(guest: Guest) -> list[int | None]:
            return [
                tag
                for tag in guest.video_tags(guest.room_id)
                if tag is not None and tag != guest.tag and tag_room[tag] == guest.room_id
            ]

        async def media_flows() -> bool:
            return all(
                len(roommates_seen(guest)) >= ENOUGH_FRAMES and guest.audio_count(guest.room_id) >= ENOUGH_AUDIO_FRAMES
                for guest in everyone
            )

        await wait_until("media from roommates at every peer", media_flows, everyone, MEDIA_TIMEOUT)

        # The worker holds exactly each room's peers, in that room.
        async def worker_rooms_match() -> bool:
            return await stats_peers(room_1) == sorted(members[room_1]) and await stats_peers(room_2) == sorted(
                members[room_2]
            )

        await wait_until("room.stats of both rooms", worker_rooms_match, everyone, WORKER_TIMEOUT)
        # A last look at what arrived meanwhile, then the checks over everything received.
        for guest in everyone:
            await collect(guest)
        for guest in everyone:
            named = guest.slot_participants(guest.room_id)
            assert named, f"{guest.name} got no media.slots{report(everyone)}"
            for room, slots in guest.slots:
                outsiders = {slot["participant"] for slot in slots.values()} - members[room]
                assert not outsiders, f"{guest.name} in room {room} got slots of {outsiders}: {slots}"
            tags = guest.video_tags(guest.room_id)
            assert None not in tags, f"{guest.name} decoded frames of no publisher's colour{report(everyone)}"
            leaked = {tag for tag in tags if tag is not None and tag_room[tag] != guest.room_id}
            assert not leaked, f"{guest.name} (room {guest.room_id}) decoded frames of tags {leaked}{report(everyone)}"
            assert guest.tag not in tags, f"{guest.name} got its own camera back"
            # Each slot showed only publishers its media.slots named for it.
            publisher_of = {other.tag: other.id for other in everyone}
            for (room, mid), mid_tags in guest.frames.items():
                shown = {publisher_of[tag] for tag in mid_tags if tag is not None}
                assert shown <= guest.slot_participants(room, mid), (guest.name, mid, shown)
            for room, mid in guest.audio_frames:
                assert guest.slot_participants(room, mid), f"{guest.name}: audio on slot {mid} that shows nobody"

        # The rooms close: everyone is back in the main room, and the worker lets go of the
        # breakout peers on the server's own move (the old peer connections are still open).
        await host.send({"type": "breakout.close", "now": True})
        for guest in everyone:
            await enter(guest, main_id)
            assert roster_ids(guest.client.joined) == members[main_id], guest.name

        async def breakout_peers_gone() -> bool:
            return await stats_peers(room_1) == [] and await stats_peers(room_2) == []

        await wait_until("the breakout rooms' worker peers gone", breakout_peers_gone, everyone, WORKER_TIMEOUT)

        # The browsers start over in the main room.
        for guest in everyone:
            await stop_media(guest)
            await publish(guest)

        async def in_main_room() -> bool:
            return (
                await stats_peers(main_id) == sorted(guest.id for guest in everyone)
                and await breakout_peers_gone()
                and all(guest.slot_participants(main_id) for guest in everyone)
            )

        await wait_until("every guest's worker peer in the main room only", in_main_room, everyone, WORKER_TIMEOUT)
        for guest in everyone:
            for room, slots in guest.slots:
                outsiders = {slot["participant"] for slot in slots.values()} - members[room]
                assert not outsiders, f"{guest.name} in room {room} got slots of {outsiders}: {slots}"
        print(f"main room {main_id}, breakout rooms {room_1} and {room_2}:{report(everyone, room_of)}")
    finally:
        for guest in everyone:
            await stop_media(guest)
            for pc in guest.pcs:
                await pc.close()
        for client in (host, *clients):
            await client.close()

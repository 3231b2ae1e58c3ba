"""Recording from the room: a host starts and stops it; everyone in the main room (late joiners
too, through ``joined``) sees that the meeting is being recorded. Recording records the main
room (as Zoom does): breakout rooms are never recorded, and hosts start it from the main room.

Starting moves a peer-to-peer meeting to an SFU worker first (the recorder runs there), then
creates the ``Recording`` row and asks the room's worker to record; if the worker refuses, the
row ends failed with the reason and the host gets the worker's error code. Stopping asks the
worker to stop (it queues the composition) and ends the row. Events go out after commit.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.db import transaction

from meetings.models import Meeting, MeetingStatus, Topology
from meetings.recordings.actions import (
    RecordingConflict,
    active_recording,
    do_abandon_recording,
    do_begin_recording,
    do_end_recording,
)
from rooms import events
from rooms.breakout_state import main_room
from rooms.events import send_to_room_on_commit
from rooms.host_controls import acting
from rooms.permissions import Action
from rooms.presence import joined_participants, recording_state
from rooms.protocol import ProtocolError
from rooms.sfu_client import SfuError, close_sfu_client, sfu_client
from rooms.sfu_relay import ASSIGN_TIMEOUT, do_set_topology

#: After a move to the SFU the worker opens the room when the first browser joins it.
ROOM_OPEN_WAIT = 15.0
WORKER_TIMEOUT = 10.0


@transaction.atomic
def check_start(host_id: uuid.UUID) -> Target:
    """What a host in the main room may start recording (recording records the main room)."""
    host = acting(host_id, Action.RECORD)
    return _startable(Meeting.objects.get(pk=host.meeting_id), host.user_id)


@dataclass(frozen=True)
class Target:
    """The meeting whose main room a recording is started in, by whom, and its topology now."""

    meeting_id: int
    room_id: int
    user_id: int | None
    topology: str


def _startable(meeting: Meeting, user_id: int | None) -> Target:
    if meeting.status == MeetingStatus.ENDED:
        raise ProtocolError("meeting_ended", "The meeting has ended.")
    if active_recording(meeting.pk) is not None:
        raise ProtocolError("already_recording", "This meeting is already being recorded.")
    if not joined_participants(meeting.pk).exists():
        raise ProtocolError("room_empty", "Nobody is in the meeting: there is nothing to record.")
    room = main_room(meeting.pk)
    return Target(meeting.pk, room.pk, user_id, room.topology)


@transaction.atomic
def check_start_by_owner(meeting_id: int, user_id: int) -> Target:
    """The REST API's start: the owner, in the room or not (the view checked ownership)."""
    return _startable(Meeting.objects.get(pk=meeting_id), user_id)


@transaction.atomic
def begin(meeting_id: int, user_id: int | None) -> int:
    try:
        recording = do_begin_recording(meeting_id, user_id)
    except RecordingConflict as exc:
        raise ProtocolError(exc.code, exc.message) from exc
    return recording.pk


@transaction.atomic
def announce(meeting_id: int, by: uuid.UUID | None) -> None:
    send_to_room_on_commit(meeting_id, main_room(meeting_id).pk, events.recording(recording_state(meeting_id), by))


@transaction.atomic
def check_stop(host_id: uuid.UUID) -> tuple[int, int, int]:
    """(meeting id, main room id, recording id) of the recording a host may stop."""
    host = acting(host_id, Action.RECORD)
    return check_stop_by_owner(host.meeting_id)


def _active_id(meeting_id: int) -> int:
    recording = active_recording(meeting_id)
    if recording is None:
        raise ProtocolError("not_recording", "This meeting is not being recorded.")
    return recording.pk


@transaction.atomic
def check_stop_by_owner(meeting_id: int) -> tuple[int, int, int]:
    return meeting_id, main_room(meeting_id).pk, _active_id(meeting_id)


async def start_recording(host_id: uuid.UUID) -> None:
    """A host in the room starts recording."""
    await start(await database_sync_to_async(check_start)(host_id), by=host_id)


async def stop_recording(host_id: uuid.UUID) -> None:
    """A host in the room stops recording."""
    await stop(*await database_sync_to_async(check_stop)(host_id), by=host_id)


async def start(target: Target, *, by: uuid.UUID | None) -> None:
    meeting_id, room_id = target.meeting_id, str(target.room_id)
    client = sfu_client()
    try:
        worker = await client.assign(room_id, ASSIGN_TIMEOUT)
    except SfuError as exc:
        raise ProtocolError(exc.code, "No media server is available to record this meeting.") from exc
    if target.topology != Topology.SFU:
        await database_sync_to_async(do_set_topology)(target.room_id, Topology.SFU)
    recording_id = await database_sync_to_async(begin)(meeting_id, target.user_id)
    message = {"method": "room.record.start", "room_id": room_id, "recording_id": recording_id}
    deadline = asyncio.get_running_loop().time() + ROOM_OPEN_WAIT
    while True:
        try:
            await client.request(worker.channel, message, WORKER_TIMEOUT)
            break
        except SfuError as exc:
            failure = exc
        # Just moved to the SFU: the room opens on the worker when the first browser joins.
        if failure.code == "unknown_room" and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.5)
            try:
                worker = await client.assign(room_id, ASSIGN_TIMEOUT)
                continue
            except SfuError as exc:
                failure = exc
        # Never leave a row "capturing" that nothing records: it would block the next start.
        await database_sync_to_async(do_abandon_recording)(recording_id, f"{failure.code}: {failure.message}")
        raise ProtocolError(failure.code, "The media server could not start recording.") from failure
    await database_sync_to_async(announce)(meeting_id, by)


async def stop(meeting_id: int, main_room_id: int, recording_id: int, *, by: uuid.UUID | None) -> None:
    room_id = str(main_room_id)
    try:
        worker = await sfu_client().assign(room_id, ASSIGN_TIMEOUT)
        await sfu_client().request(worker.channel, {"method": "room.record.stop", "room_id": room_id}, WORKER_TIMEOUT)
    except SfuError as exc:
        # The worker is gone or the room closed: whatever was written is composed anyway (the
        # manifest lists it; the stuck-recording sweep queues it once the row has ended).
        if exc.code not in ("not_recording", "unknown_room", "sfu_unavailable", "sfu_timeout"):
            raise ProtocolError(exc.code, "The media server could not stop recording.") from exc
    await database_sync_to_async(do_end_recording)(recording_id)
    await database_sync_to_async(announce)(meeting_id, by)


def run_from_sync(action: str, meeting_id: int, user_id: int) -> None:
    """Start or stop from synchronous code (the REST API): one event loop for the call, whose
    SFU client is closed before it ends."""

    async def call() -> None:
        try:
            if action == "start":
                await start(await database_sync_to_async(check_start_by_owner)(meeting_id, user_id), by=None)
            else:
                await stop(*await database_sync_to_async(check_stop_by_owner)(meeting_id), by=None)
        finally:
            await close_sfu_client()

    async_to_sync(call)()

"""Recording from the room: a host starts and stops it; everyone in the room (late joiners too,
through ``joined``) sees that the meeting is being recorded.

Starting moves a peer-to-peer meeting to an SFU worker first (the recorder runs there), then
creates the ``Recording`` row and asks the room's worker to record; if the worker refuses, the
row ends failed with the reason and the host gets the worker's error code. Stopping asks the
worker to stop (it queues the composition) and ends the row. Events go out after commit.
"""

from __future__ import annotations

import asyncio
import uuid

from channels.db import database_sync_to_async
from django.db import transaction

from conference.recordings.actions import (
    RecordingConflict,
    active_recording,
    do_abandon_recording,
    do_begin_recording,
    do_end_recording,
)
from meetings.events import meeting_group, send_on_commit
from meetings.host_controls import acting_host
from meetings.models import Meeting
from meetings.protocol import ProtocolError
from meetings.room import recording_state
from meetings.sfu import SfuError, sfu_client
from meetings.sfu_relay import ASSIGN_TIMEOUT, do_set_topology
from meetings.topology import Topology

#: After a move to the SFU the worker opens the room when the first browser joins it.
ROOM_OPEN_WAIT = 15.0
WORKER_TIMEOUT = 10.0


@transaction.atomic
def check_start(host_id: uuid.UUID) -> tuple[int, int | None, str]:
    """(meeting id, user id, topology) of a host who may start a recording."""
    host = acting_host(host_id)
    meeting = Meeting.objects.get(pk=host.meeting_id)
    if active_recording(meeting.pk) is not None:
        raise ProtocolError("already_recording", "This meeting is already being recorded.")
    return meeting.pk, host.user_id, meeting.topology


@transaction.atomic
def begin(meeting_id: int, user_id: int | None) -> int:
    try:
        recording = do_begin_recording(meeting_id, user_id)
    except RecordingConflict as exc:
        raise ProtocolError(exc.code, exc.message) from exc
    return recording.pk


@transaction.atomic
def announce(meeting_id: int, by: uuid.UUID) -> None:
    send_on_commit(meeting_group(meeting_id), {"type": "recording", **recording_state(meeting_id), "by": str(by)})


@transaction.atomic
def check_stop(host_id: uuid.UUID) -> tuple[int, int]:
    host = acting_host(host_id)
    recording = active_recording(host.meeting_id)
    if recording is None:
        raise ProtocolError("not_recording", "This meeting is not being recorded.")
    return host.meeting_id, recording.pk


async def start_recording(host_id: uuid.UUID) -> None:
    meeting_id, user_id, topology = await database_sync_to_async(check_start)(host_id)
    room_id = str(meeting_id)
    client = sfu_client()
    try:
        worker = await client.assign(room_id, ASSIGN_TIMEOUT)
    except SfuError as exc:
        raise ProtocolError(exc.code, "No media server is available to record this meeting.") from exc
    if topology != Topology.SFU:
        await database_sync_to_async(do_set_topology)(meeting_id, Topology.SFU)
    recording_id = await database_sync_to_async(begin)(meeting_id, user_id)
    message = {"method": "room.record.start", "room_id": room_id, "recording_id": recording_id}
    deadline = asyncio.get_running_loop().time() + ROOM_OPEN_WAIT
    while True:
        try:
            await client.request(worker.channel, message, WORKER_TIMEOUT)
            break
        except SfuError as exc:
            # Just moved to the SFU: the room opens on the worker when the first browser joins.
            if exc.code == "unknown_room" and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.5)
                worker = await client.assign(room_id, ASSIGN_TIMEOUT)
                continue
            await database_sync_to_async(do_abandon_recording)(recording_id, f"{exc.code}: {exc.message}")
            raise ProtocolError(exc.code, "The media server could not start recording.") from exc
    await database_sync_to_async(announce)(meeting_id, host_id)


async def stop_recording(host_id: uuid.UUID) -> None:
    meeting_id, recording_id = await database_sync_to_async(check_stop)(host_id)
    room_id = str(meeting_id)
    try:
        worker = await sfu_client().assign(room_id, ASSIGN_TIMEOUT)
        await sfu_client().request(worker.channel, {"method": "room.record.stop", "room_id": room_id}, WORKER_TIMEOUT)
    except SfuError as exc:
        # The worker is gone or the room closed: whatever was written is composed anyway (the
        # manifest lists it; the stuck-recording sweep queues it once the row has ended).
        if exc.code not in ("not_recording", "unknown_room", "sfu_unavailable", "sfu_timeout"):
            raise ProtocolError(exc.code, "The media server could not stop recording.") from exc
    await database_sync_to_async(do_end_recording)(recording_id)
    await database_sync_to_async(announce)(meeting_id, host_id)

"""A participant's media through an SFU worker: the consumer's side of the relay between the
browser (``media.offer`` / ``media.ice`` / ``media.view``) and the worker serving the meeting
(``rooms.sfu_client``), plus moving a room from peer-to-peer to the SFU (and back, for a small
room, when no worker is left).

Peer ids on the worker are participant ids; the worker's room id is the room's id (main or
breakout room). Worker notifications (``sfu.notify`` to the group ``sfu.room.<room id>``) are turned into client
messages by ``client_event``: a participant sees its own slot map, everyone sees the dominant
speaker, and a room that moved to another worker makes the browser offer again.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import transaction

from meetings.models import Room, Topology
from rooms import events
from rooms.events import Joined, send_to_room_on_commit
from rooms.protocol import ProtocolError
from rooms.sfu_client import SfuError, WorkerAddress, sfu_client
from rooms.topology import media_config, wanted_topology

logger = logging.getLogger(__name__)

#: How long a browser's offer may wait for the worker's answer (ICE gathering included).
OFFER_TIMEOUT = 15.0
LEAVE_TIMEOUT = 3.0
#: A live worker answers an assignment in milliseconds; silence means none is running.
ASSIGN_TIMEOUT = 3.0


@transaction.atomic
def do_set_topology(room_id: int, topology: Topology) -> bool:
    """Records the room's topology and tells everyone in it; False when nothing changed."""
    room = Room.objects.select_for_update().filter(pk=room_id).first()
    if room is None or room.topology == topology:
        return False
    room.topology = topology
    room.save(update_fields=["topology"])
    send_to_room_on_commit(room.meeting_id, room_id, events.media_topology(media_config(topology)))
    return True


async def move_to_sfu_if_needed(room_id: int, snapshot: Joined) -> None:
    """After a join: the room goes to an SFU worker once it reaches the threshold. Without a live
    worker it stays peer-to-peer (logged), which still works for the people in it."""
    current: str = snapshot["media"]["topology"]
    present = len(snapshot["roster"])
    if current == Topology.SFU or wanted_topology(current, present, settings.MEETING_SFU_THRESHOLD) != Topology.SFU:
        return
    try:
        await sfu_client().assign(str(room_id), ASSIGN_TIMEOUT)
    except SfuError as exc:
        logger.warning("room %s stays peer-to-peer with %s people: %s", room_id, present, exc)
        return
    await database_sync_to_async(do_set_topology)(room_id, Topology.SFU)


async def fall_back_to_mesh(room_id: int, present: int) -> bool:
    """No SFU worker is left (``sfu_unavailable``): a meeting small enough for peer-to-peer goes
    back to it rather than staying silent until a worker starts. Larger meetings keep waiting
    (their browsers retry with backoff). True when the room moved."""
    if not 0 < present <= settings.MEETING_MESH_FALLBACK_MAX:
        return False
    moved = await database_sync_to_async(do_set_topology)(room_id, Topology.MESH)
    if moved:
        logger.warning("room %s: no SFU worker left, back to peer-to-peer for %s people", room_id, present)
    return bool(moved)


def _error(exc: SfuError) -> ProtocolError:
    return ProtocolError(exc.code, exc.message)


class SfuSession:
    """One participant's peer on the SFU worker of its room (per WebSocket connection and room)."""

    def __init__(self, room_id: int, participant_id: uuid.UUID) -> None:
        self.room_id = str(room_id)
        self.peer_id = str(participant_id)
        self.worker: WorkerAddress | None = None
        self.joined = False

    async def _worker(self) -> WorkerAddress:
        if self.worker is None:
            self.worker = await sfu_client().assign(self.room_id, ASSIGN_TIMEOUT)
        return self.worker

    async def _request(self, method: str, wait: float, **fields: Any) -> dict[str, Any]:
        worker = await self._worker()
        message = {"method": method, "room_id": self.room_id, "peer_id": self.peer_id, **fields}
        return await sfu_client().request(worker.channel, message, wait)

    async def offer(self, sdp: str, roles: dict[str, str] | None, restart: bool) -> str:
        """The worker's SDP answer to the browser's offer (a first offer joins the room)."""
        if restart or not self.joined:
            # A new peer connection (the first, or after a failure, a reconnect or a move of the
            # room): drop what the worker may still hold for this participant (from a connection
            # or a web process that is gone), then join again, wherever the room lives now.
            if restart:
                self.worker = None
            try:
                await self._leave_quietly(unreachable_is_fatal=True)
            except SfuError as exc:
                self.worker = None
                raise _error(exc) from exc
        method = "room.renegotiate" if self.joined else "room.join"
        fields: dict[str, Any] = {"sdp": sdp}
        if roles:
            fields["roles"] = roles
        try:
            result = await self._request(method, OFFER_TIMEOUT, **fields)
        except SfuError as exc:
            if exc.code in ("sfu_unavailable", "sfu_timeout", "unknown_room", "worker_draining"):
                self.worker = None  # ask for the room's worker again next time
            raise _error(exc) from exc
        self.joined = True
        return str(result["sdp"])

    async def ice(self, candidate: dict[str, Any] | None) -> None:
        await self._peer_request("room.ice", candidate=candidate)

    async def view(self, view: dict[str, Any]) -> None:
        await self._peer_request("room.view", view=view)

    async def _peer_request(self, method: str, **fields: Any) -> None:
        """A request about this participant's peer, which must have joined (``media.offer``)."""
        if not self.joined:
            raise ProtocolError("not_in_sfu", "Send media.offer first.")
        try:
            await self._request(method, OFFER_TIMEOUT, **fields)
        except SfuError as exc:
            raise _error(exc) from exc

    async def leave(self) -> None:
        """Best effort: the worker also drops peers whose connection fails."""
        if self.joined:
            await self._leave_quietly()

    async def _leave_quietly(self, unreachable_is_fatal: bool = False) -> None:
        self.joined = False
        try:
            await self._request("room.leave", LEAVE_TIMEOUT)
        except SfuError as exc:
            if unreachable_is_fatal and exc.code in ("sfu_unavailable", "sfu_timeout"):
                raise
            if exc.code not in ("unknown_peer", "unknown_room"):
                logger.info("room %s: leaving the SFU for %s: %s", self.room_id, self.peer_id, exc)

    def client_event(
        self, notification: dict[str, Any]
    ) -> events.MediaSlots | events.Speaker | events.MediaFailed | None:
        """The client message for a worker notification, or None when it is not for this client."""
        event = notification.get("event")
        if event == "slots.changed" and notification.get("peer_id") == self.peer_id:
            slots = notification.get("slots") or {}
            return events.media_slots(slots)
        if event == "speaker.changed":
            peer = notification.get("peer_id")
            return events.speaker(str(peer) if peer else None)
        if event == "peer.failed" and notification.get("peer_id") == self.peer_id:
            self.joined = False
            return events.media_failed(notification.get("code"), notification.get("message"))
        if event in ("room.moved", "room.ended") and self.joined:
            self.joined = False
            self.worker = None
            return events.media_failed(str(event), "The media server changed; reconnecting.")
        return None

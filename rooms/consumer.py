"""The meeting WebSocket at /ws/meetings/<code>/ (protocol: docs/protocol.md).

The consumer is thin: it validates messages at the edge, rate-limits, and calls the domain
functions in ``rooms.presence`` / ``activity`` / ``host_controls`` / ``breakouts`` /
``recording_controls`` (which ask ``rooms.permissions``, change the database and send events on
commit). It keeps only connection state: who is on it, which room they are in, and the ids of
the others in that room (to address signals).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from autobahn.exception import Disconnected
from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import get_channel_layer

from meetings.models import HOST_ROLES, LeaveReason
from rooms import (
    activity,
    breakouts,
    events,
    fanout,
    guessing,
    host_controls,
    inbox,
    presence,
    protocol,
    recording_controls,
    wire_json,
)
from rooms.background import services
from rooms.events import Joined, hosts_group, meeting_group, participant_group, room_group
from rooms.protocol import MAX_FRAME_BYTES, ProtocolError, error_message, parse_client_message
from rooms.ratelimit import TokenBucket
from rooms.sfu_client import SFU_UNAVAILABLE
from rooms.sfu_client import room_group as sfu_room_group
from rooms.sfu_relay import SfuSession, fall_back_to_mesh, move_to_sfu_if_needed

logger = logging.getLogger(__name__)

CLOSE_NORMAL = 1000
# Application close codes (4000-4999, after the HTTP status): autobahn refuses to send 1008 /
# 1009 on the application's behalf (it raised, and the socket closed with 1011).
CLOSE_POLICY = 4429
CLOSE_TOO_BIG = 4413
CLOSE_REPLACED = 4409
CLOSE_TOO_SLOW = 4408
MAX_PASSCODE_FAILURES = 5
MAX_RATE_LIMIT_STRIKES = 20
#: Events of another room kept while a move to it may be under way.
AHEAD_EVENTS = 200
#: Participants in ``joined`` (and in each ``roster.batch`` that completes a bigger roster).
SNAPSHOT_CHUNK = 250

Handler = Callable[[Any], Awaitable[None]]


class MeetingConsumer(AsyncJsonWebsocketConsumer):
    # --- connection ---------------------------------------------------------------------
    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Whatever ends the application (a bug, a lost Redis connection), the participant
        leaves through the same path as a dropped connection: grace period, then
        ``roster.left``. Without this, a crashed consumer left a ghost in the room."""
        self.released = False
        try:
            await self.serve(scope, receive, send)
        finally:
            if not self.released and hasattr(self, "identity"):
                try:
                    await asyncio.shield(self.disconnect(1011))
                except Exception:
                    logger.exception("meeting %s: cleanup after a failed connection failed", self.code)

    async def serve(self, scope: Any, receive: Any, send: Any) -> None:
        """``AsyncConsumer.__call__`` with a third source of messages, the process's fan-out
        hub (meeting, room and hosts events), beside the client and the channel layer (messages
        to this participant, SFU replies and notifications): all three arrive in this socket's
        inbox (``rooms.inbox``), which the hub fills directly."""
        self.scope = scope
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        assert self.channel_layer is not None, "the meeting WebSocket needs the channel layer"
        self.channel_name = await self.channel_layer.new_channel()
        self.channel_receive = functools.partial(self.channel_layer.receive, self.channel_name)
        self.base_send = send
        self.hub = fanout.hub()
        socket_inbox = self.hub.attach(self.channel_name)
        try:
            await inbox.serve(socket_inbox, [receive, self.channel_receive], self.dispatch)
        except StopConsumer:
            pass
        finally:
            await self.hub.detach(self.channel_name)

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Channels' ``AsyncConsumer.dispatch`` without its ``aclose_old_connections()`` before
        every message: that is a hop through the process's one database thread, so each client
        frame (a ping, a chat line, a ``join`` to be told ``busy``) and each forwarded event
        waited behind whatever database work the process had queued, e.g. a join storm's. All
        database work here goes through ``database_sync_to_async``, which closes stale
        connections itself, before and after."""
        kind = message["type"]
        if kind == "room.event":
            await self.room_event(message)
            return
        if kind == "sfu.notify":
            await self.sfu_notify(message)
            return
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {kind}")
        await handler(message)

    @classmethod
    async def encode_json(cls, content: Any) -> str:
        return wire_json.dumps(content)

    async def send_json(self, content: Any, close: bool = False) -> None:
        await self.send_text(await self.encode_json(content), close=close)

    async def send_text(self, text: str, close: bool = False) -> None:
        try:
            await self.send(text_data=text, close=close)
        except (OSError, Disconnected):
            # The client went away while an event was on its way to it; websocket.disconnect
            # (and the usual bookkeeping) follows. Not a failure of this connection's handling.
            logger.debug("meeting %s: dropped a message to a closed socket", getattr(self, "code", "?"))

    async def connect(self) -> None:
        self.code: str = self.scope["url_route"]["kwargs"]["code"]
        self.meeting_id: int | None = None
        self.room_id: int | None = None
        self.main_room_id: int | None = None
        #: Events of a room this connection is about to enter (see ``room_event``).
        self.ahead: deque[dict[str, Any]] = deque(maxlen=AHEAD_EVENTS)
        self.participant_id: uuid.UUID | None = None
        self.role: str | None = None
        self.in_room = False
        self.gone = False  # left, removed or replaced: no grace period on disconnect
        self.groups_joined: set[str] = set()
        self.present_ids: set[str] = set()
        self.passcode_failures = 0
        self.topology = "mesh"
        self.sfu: SfuSession | None = None
        self.strikes = 0
        self.message_bucket = TokenBucket(rate=50, burst=100)
        self.chat_bucket = TokenBucket(rate=1, burst=5)
        user = self.scope.get("user")
        await self.accept()
        # Accepted already (daphne's handshake timeout no longer runs); the hello waits its turn
        # on the database thread, in arrival order with the joins this process has in hand.
        self.identity = await database_sync_to_async(presence.identity_for)(user, self.scope.get("session"))
        try:
            self.meeting_id, self.main_room_id, greeting = await database_sync_to_async(presence.hello)(
                user, self.code, self.identity, guessing.ScopeRequest.of(self.scope)
            )
        except ProtocolError as exc:
            await self.refuse(exc)
            return
        await self.send_json(greeting)

    async def disconnect(self, code: int) -> None:
        if self.released or not hasattr(self, "groups_joined"):
            return
        self.released = True
        if self.sfu is not None:
            await self.sfu.leave()
        for group in list(self.groups_joined):
            await self.drop_group(group)
        if self.participant_id is None or self.gone:
            return
        participant_id = self.participant_id
        grace = await database_sync_to_async(presence.do_mark_disconnected)(participant_id, self.channel_name)
        if grace:
            delay = presence.grace_period().total_seconds()
            expire = database_sync_to_async(presence.do_expire_participant)
            services().grace_timers.schedule(participant_id, delay + 0.05, lambda: expire(participant_id))

    async def refuse(self, exc: ProtocolError) -> None:
        await self.send_json(exc.to_message())
        if exc.close_code is not None:
            self.gone = True
            await self.close(code=exc.close_code)

    async def add_group(self, group: str) -> None:
        """Meeting, room and hosts groups are the fan-out hub's; the others the channel layer's."""
        if group not in self.groups_joined:
            if fanout.meeting_of(group) is not None:
                await self.hub.add(group, self.channel_name)
            else:
                await self.channel_layer.group_add(group, self.channel_name)
            self.groups_joined.add(group)

    async def drop_group(self, group: str) -> None:
        if group in self.groups_joined:
            self.groups_joined.discard(group)
            if fanout.meeting_of(group) is not None:
                await self.hub.discard(group, self.channel_name)
            else:
                await self.channel_layer.group_discard(group, self.channel_name)

    # --- client messages ----------------------------------------------------------------
    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        size = len(text_data.encode()) if text_data is not None else len(bytes_data or b"")
        if size > MAX_FRAME_BYTES:
            self.gone = self.gone or self.participant_id is None
            await self.close(code=CLOSE_TOO_BIG)
            return
        if not self.message_bucket.take():
            await self.rate_limited()
            return
        if text_data is None:
            await self.send_json(error_message("bad_json", "Messages must be JSON text frames."))
            return
        try:
            content = json.loads(text_data)
        except (ValueError, RecursionError):  # RecursionError: nested thousands of levels deep
            await self.send_json(error_message("bad_json", "The message is not valid JSON."))
            return
        try:
            message = parse_client_message(content)
            await self.dispatch_message(message)
        except ProtocolError as exc:
            await self.refuse(exc)
        except Exception:
            # A bug or a database hiccup: the domain functions are atomic, so nothing was half
            # done; this client gets a stable error and the connection (and the room) go on.
            kind = content.get("type") if isinstance(content, dict) else None
            logger.exception("meeting %s: message %r failed", self.code, kind)
            await self.send_json(error_message("internal_error", "Something went wrong; please try again."))

    async def rate_limited(self) -> None:
        self.strikes += 1
        if self.strikes > MAX_RATE_LIMIT_STRIKES:
            await self.close(code=CLOSE_POLICY)
            return
        await self.send_json(error_message("rate_limited", "Too many messages; slow down."))

    async def dispatch_message(self, message: protocol.AnyClientMessage) -> None:
        self.strikes = 0
        if isinstance(message, protocol.Ping):
            await self.send_json(events.pong(message.id))
            return
        if self.meeting_id is None:
            raise ProtocolError("not_found", "No meeting with this code.")
        if isinstance(message, protocol.Join):
            await self.on_join(message)
            return
        if not self.in_room or self.participant_id is None:
            if isinstance(message, protocol.Leave) and self.participant_id is not None:
                await self.on_leave(message)
                return
            raise ProtocolError("not_joined", "Join the meeting first.")
        handler = self.handlers().get(type(message))
        if handler is None:
            raise ProtocolError("unknown_type", f"Unknown message type {message.type!r}.")
        await handler(message)

    def handlers(self) -> dict[type, Handler]:
        return {
            protocol.Leave: self.on_leave,
            protocol.ChatSend: self.on_chat,
            protocol.ReactionSend: self.on_reaction,
            protocol.HandRaise: self.on_hand_raise,
            protocol.HandLower: self.on_hand_lower,
            protocol.MediaState: self.on_media_state,
            protocol.Signal: self.on_signal,
            protocol.HostRecordStart: self.on_host_record_start,
            protocol.HostRecordStop: self.on_host_record_stop,
            protocol.MediaOffer: self.on_media_offer,
            protocol.MediaIce: self.on_media_ice,
            protocol.MediaView: self.on_media_view,
            protocol.HostAdmit: self.on_host_admit,
            protocol.HostDeny: self.on_host_deny,
            protocol.HostAdmitAll: self.on_host_admit_all,
            protocol.HostMute: self.on_host_mute,
            protocol.HostMuteAll: self.on_host_mute_all,
            protocol.HostRemove: self.on_host_remove,
            protocol.HostLock: self.on_host_lock,
            protocol.HostUnlock: self.on_host_unlock,
            protocol.HostEnd: self.on_host_end,
            protocol.HostMakeCohost: self.on_host_make_cohost,
            protocol.BreakoutCreate: self.on_breakout_create,
            protocol.BreakoutSettings: self.on_breakout_settings,
            protocol.BreakoutAssign: self.on_breakout_assign,
            protocol.BreakoutAutoAssign: self.on_breakout_auto_assign,
            protocol.BreakoutOpen: self.on_breakout_open,
            protocol.BreakoutClose: self.on_breakout_close,
            protocol.BreakoutBroadcast: self.on_breakout_broadcast,
            protocol.BreakoutVisit: self.on_breakout_visit,
            protocol.BreakoutChoose: self.on_breakout_choose,
            protocol.BreakoutReturn: self.on_breakout_return,
            protocol.BreakoutHelp: self.on_breakout_help,
        }

    async def on_join(self, message: protocol.Join) -> None:
        if self.participant_id is not None:
            raise ProtocolError("already_joined", "This connection has already joined.")
        assert self.meeting_id is not None
        gate = services().join_gate
        if not gate.enter(self):
            raise ProtocolError(
                "busy", "Many people are joining right now; trying again shortly.", retry_after=gate.retry_after()
            )
        try:
            await self.join_meeting(message)
        finally:
            gate.leave(self)

    async def join_meeting(self, message: protocol.Join) -> None:
        assert self.meeting_id is not None
        # Register for meeting and main-room events before the snapshot is read, so nothing falls
        # in between; events queued meanwhile are delivered after `joined` (clients de-duplicate
        # by id). Someone who enters a breakout room instead is moved to its group.
        await self.add_group(meeting_group(self.meeting_id))
        if self.main_room_id is not None:
            self.room_id = self.main_room_id
            await self.add_group(room_group(self.meeting_id, self.main_room_id))
        subscribed_at = time.monotonic() if self.main_room_id is not None else None
        try:
            outcome = await database_sync_to_async(presence.do_join)(
                self.meeting_id,
                self.scope.get("user"),
                self.identity,
                display_name=message.display_name,
                passcode=message.passcode,
                resume_token=message.resume_token,
                channel_name=self.channel_name,
                subscribed_at=subscribed_at,
                client=guessing.ScopeRequest.of(self.scope),
            )
        except ProtocolError as exc:
            await self.leave_room_groups()
            if exc.code == "wrong_passcode":
                self.passcode_failures += 1
                if self.passcode_failures >= MAX_PASSCODE_FAILURES:
                    exc.close_code = presence.CLOSE_REFUSED
            raise
        self.participant_id = outcome.participant_id
        self.role = outcome.role
        services().grace_timers.cancel(outcome.participant_id)
        if outcome.replaced_channel:
            await self.channel_layer.send(
                outcome.replaced_channel, {"type": "room.control", "action": "replaced", "keep": self.channel_name}
            )
        await self.add_group(participant_group(outcome.participant_id))
        if outcome.waiting:
            await self.leave_room_groups()
            await self.send_json(events.waiting(outcome.participant_id))
            return
        assert outcome.snapshot is not None
        await self.enter_room(outcome.snapshot, outcome.resume_token)

    async def leave_room_groups(self) -> None:
        """Not (yet) in the meeting: no meeting or room events."""
        assert self.meeting_id is not None
        await self.drop_group(meeting_group(self.meeting_id))
        if self.room_id is not None:
            await self.drop_group(room_group(self.meeting_id, self.room_id))
            self.room_id = None

    async def enter_room(self, snapshot: Joined, resume_token: str | None) -> None:
        assert self.meeting_id is not None
        await self.add_group(meeting_group(self.meeting_id))
        self.in_room = True
        await self.switch_room(snapshot, resume_token)
        if self.role in HOST_ROLES:
            await self.become_host()

    async def switch_room(self, snapshot: Joined, resume_token: str | None = None) -> None:
        """Into the snapshot's room (the first, or the next one after a move): the old room's
        events stop, its SFU peer is dropped, and the client gets the new room's ``joined``."""
        assert self.meeting_id is not None
        room_id = snapshot["room"]["id"]
        previous = self.room_id
        if previous is not None and previous != room_id:
            await self.drop_group(room_group(self.meeting_id, previous))
            await self.drop_group(sfu_room_group(str(previous)))
            if self.sfu is not None:
                old, self.sfu = self.sfu, None
                services().tasks.start_once(f"sfu-leave-{old.room_id}-{old.peer_id}", old.leave)
        self.room_id = room_id
        await self.add_group(room_group(self.meeting_id, room_id))
        self.present_ids = {participant["id"] for participant in snapshot["roster"]}
        self.topology = snapshot["media"]["topology"]
        payload: Joined = {**snapshot}
        if resume_token is not None:
            payload["resume_token"] = resume_token
        roster = snapshot["roster"]
        if len(roster) > SNAPSHOT_CHUNK:
            # A big room: `joined` carries the first part of the roster (you first), the rest
            # follows in `roster.batch` chunks, so no single frame holds a 1,000-person list.
            you = str(self.participant_id)
            ordered = sorted(roster, key=lambda person: person["id"] != you)
            payload["roster"], rest = ordered[:SNAPSHOT_CHUNK], ordered[SNAPSHOT_CHUNK:]
            payload["roster_total"] = len(roster)
            await self.send_json(payload)
            for start in range(0, len(rest), SNAPSHOT_CHUNK):
                await self.send_json(events.roster_batch(rest[start : start + SNAPSHOT_CHUNK], [], "snapshot"))
        else:
            await self.send_json(payload)
        # Events of this room that came before the move did (the server put this connection in
        # the room's group before telling it): after the snapshot, as if they had come after.
        ahead, self.ahead = list(self.ahead), deque(maxlen=AHEAD_EVENTS)
        for message in ahead:
            if message.get("room") == room_id:
                await self.room_event(message)
        # In the background: asking for a worker must not hold up this connection's messages.
        services().tasks.start_once(f"sfu-move-{room_id}", lambda: move_to_sfu_if_needed(room_id, snapshot))

    async def become_host(self) -> None:
        assert self.meeting_id is not None
        await self.add_group(hosts_group(self.meeting_id))
        waiting, overview = await database_sync_to_async(_host_view)(self.meeting_id)
        await self.send_json(events.waiting_list(waiting))
        await self.send_json(overview)

    async def stop_being_host(self) -> None:
        assert self.meeting_id is not None
        await self.drop_group(hosts_group(self.meeting_id))

    async def on_leave(self, message: protocol.Leave) -> None:
        assert self.participant_id is not None
        self.gone = True
        await database_sync_to_async(presence.do_leave)(self.participant_id, LeaveReason.LEFT)
        await self.close(code=CLOSE_NORMAL)

    async def on_chat(self, message: protocol.ChatSend) -> None:
        if not self.chat_bucket.take():
            raise ProtocolError("rate_limited", "You are sending chat messages too fast.")
        await database_sync_to_async(activity.do_send_chat)(self.participant_id, message.text, message.to)

    async def on_reaction(self, message: protocol.ReactionSend) -> None:
        assert self.meeting_id is not None
        assert self.room_id is not None
        services().reactions.add(self.meeting_id, self.room_id, message.emoji)

    async def on_hand_raise(self, message: protocol.HandRaise) -> None:
        await database_sync_to_async(activity.do_raise_hand)(self.participant_id)

    async def on_hand_lower(self, message: protocol.HandLower) -> None:
        await database_sync_to_async(activity.do_lower_hand)(self.participant_id, message.participant_id)

    async def on_media_state(self, message: protocol.MediaState) -> None:
        await database_sync_to_async(activity.do_set_media_state)(
            self.participant_id, message.audio, message.video, message.screen
        )

    async def on_signal(self, message: protocol.Signal) -> None:
        target = str(message.to)
        if target not in self.present_ids or target == str(self.participant_id):
            raise ProtocolError("no_such_participant", "No such participant in this room.", field="to")
        assert self.participant_id is not None
        event = events.signal(self.participant_id, message.kind, message.data)
        await self.channel_layer.group_send(
            participant_group(target), {"type": "room.event", "room": self.room_id, "event": event}
        )

    # --- media through an SFU worker (docs/protocol.md, "Media (SFU)") ----------------------
    def sfu_session(self) -> SfuSession:
        if self.topology != "sfu":
            raise ProtocolError("not_sfu", "This room's media is peer-to-peer; use signal messages.")
        assert self.room_id is not None
        assert self.participant_id is not None
        if self.sfu is None:
            self.sfu = SfuSession(self.room_id, self.participant_id)
        return self.sfu

    async def on_media_offer(self, message: protocol.MediaOffer) -> None:
        session = self.sfu_session()
        room_id = self.room_id
        assert room_id is not None
        await self.add_group(sfu_room_group(str(room_id)))
        try:
            answer = await session.offer(message.sdp, dict(message.roles) if message.roles else None, message.restart)
        except ProtocolError as exc:
            if exc.code == SFU_UNAVAILABLE:  # no worker at all: a small room goes peer-to-peer
                await fall_back_to_mesh(room_id, len(self.present_ids))
            raise
        if self.sfu is not session:
            return  # moved to another room meanwhile: that room's offer follows
        await self.send_json(events.media_answer(answer))

    async def on_media_ice(self, message: protocol.MediaIce) -> None:
        await self.sfu_session().ice(message.candidate)

    async def on_media_view(self, message: protocol.MediaView) -> None:
        # Only people in the room reach the worker. Someone who just left may still be on the
        # page's screen (the view races with roster.left): dropped quietly, not an error.
        present = self.present_ids
        view = {
            "tiles": None if message.tiles is None else [pid for pid in message.tiles if pid in present],
            "stage": message.stage if message.stage in present else None,
            "sizes": {pid: size for pid, size in message.sizes.items() if pid in present},
        }
        await self.sfu_session().view(view)

    async def sfu_notify(self, message: dict[str, Any]) -> None:
        if self.sfu is None or not self.in_room or message.get("room_id") != self.sfu.room_id:
            return
        event = self.sfu.client_event(message)
        if event is not None:
            await self.send_json(event)

    async def on_host_record_start(self, message: protocol.HostRecordStart) -> None:
        participant_id = self.participant_id
        assert participant_id is not None

        async def start() -> None:
            try:
                await recording_controls.start_recording(participant_id)
            except ProtocolError as exc:
                await self.send_json(exc.to_message())

        # In the background: a meeting that just moved to the SFU waits for its first browser
        # to join the worker, which may be this very connection's next message (media.offer).
        if not services().tasks.start_once(f"record-{self.meeting_id}", start):
            raise ProtocolError("already_recording", "A recording is being started.")

    async def on_host_record_stop(self, message: protocol.HostRecordStop) -> None:
        assert self.participant_id is not None
        await recording_controls.stop_recording(self.participant_id)

    async def on_host_admit(self, message: protocol.HostAdmit) -> None:
        await database_sync_to_async(host_controls.do_admit)(self.participant_id, message.participant_id)

    async def on_host_deny(self, message: protocol.HostDeny) -> None:
        await database_sync_to_async(host_controls.do_deny)(self.participant_id, message.participant_id)

    async def on_host_admit_all(self, message: protocol.HostAdmitAll) -> None:
        await database_sync_to_async(host_controls.do_admit_all)(self.participant_id)

    async def on_host_mute(self, message: protocol.HostMute) -> None:
        await database_sync_to_async(host_controls.do_mute)(self.participant_id, message.participant_id)

    async def on_host_mute_all(self, message: protocol.HostMuteAll) -> None:
        await database_sync_to_async(host_controls.do_mute_all)(self.participant_id)

    async def on_host_remove(self, message: protocol.HostRemove) -> None:
        await database_sync_to_async(host_controls.do_remove)(self.participant_id, message.participant_id, message.ban)

    async def on_host_lock(self, message: protocol.HostLock) -> None:
        await database_sync_to_async(host_controls.do_set_locked)(self.participant_id, True)

    async def on_host_unlock(self, message: protocol.HostUnlock) -> None:
        await database_sync_to_async(host_controls.do_set_locked)(self.participant_id, False)

    async def on_host_end(self, message: protocol.HostEnd) -> None:
        await database_sync_to_async(host_controls.do_end)(self.participant_id)

    async def on_host_make_cohost(self, message: protocol.HostMakeCohost) -> None:
        await database_sync_to_async(host_controls.do_make_cohost)(self.participant_id, message.participant_id)

    # --- breakout rooms (docs/protocol.md, "Rooms and breakout rooms") ------------------
    async def on_breakout_create(self, message: protocol.BreakoutCreate) -> None:
        names = list(message.names) if message.names is not None else None
        await database_sync_to_async(breakouts.do_create)(self.participant_id, message.count, names)

    async def on_breakout_settings(self, message: protocol.BreakoutSettings) -> None:
        settings = breakouts.Settings(
            mode=message.mode,
            allow_return=message.allow_return,
            countdown_seconds=message.countdown_seconds,
            duration_minutes=message.duration_minutes,
            set_duration="duration_minutes" in message.model_fields_set,
        )
        self.watch_deadlines(await database_sync_to_async(breakouts.do_settings)(self.participant_id, settings))

    async def on_breakout_assign(self, message: protocol.BreakoutAssign) -> None:
        await database_sync_to_async(breakouts.do_assign)(self.participant_id, dict(message.assignments))

    async def on_breakout_auto_assign(self, message: protocol.BreakoutAutoAssign) -> None:
        await database_sync_to_async(breakouts.do_auto_assign)(self.participant_id)

    async def on_breakout_open(self, message: protocol.BreakoutOpen) -> None:
        self.watch_deadlines(await database_sync_to_async(breakouts.do_open)(self.participant_id))

    async def on_breakout_close(self, message: protocol.BreakoutClose) -> None:
        self.watch_deadlines(await database_sync_to_async(breakouts.do_close)(self.participant_id, message.now))

    async def on_breakout_broadcast(self, message: protocol.BreakoutBroadcast) -> None:
        await database_sync_to_async(breakouts.do_broadcast)(self.participant_id, message.text)

    async def on_breakout_visit(self, message: protocol.BreakoutVisit) -> None:
        await database_sync_to_async(breakouts.do_visit)(self.participant_id, message.room_id)

    async def on_breakout_choose(self, message: protocol.BreakoutChoose) -> None:
        await database_sync_to_async(breakouts.do_choose)(self.participant_id, message.room_id)

    async def on_breakout_return(self, message: protocol.BreakoutReturn) -> None:
        await database_sync_to_async(breakouts.do_return)(self.participant_id)

    async def on_breakout_help(self, message: protocol.BreakoutHelp) -> None:
        await database_sync_to_async(breakouts.do_help)(self.participant_id)

    def watch_deadlines(self, seconds: float | None) -> None:
        """A countdown or a duration runs: this process closes the rooms on time (the Celery
        beat sweep ``rooms.breakout_deadlines`` does it if this process is gone by then)."""
        if seconds is None or self.meeting_id is None:
            return
        meeting_id = self.meeting_id

        async def run() -> None:
            wait: float | None = seconds
            while wait is not None:
                await asyncio.sleep(wait + 0.05)
                wait = await database_sync_to_async(breakouts.do_run_deadlines)(meeting_id)

        services().tasks.restart(f"breakout-deadlines-{meeting_id}", run)

    # --- channel layer messages -----------------------------------------------------------
    async def room_event(self, message: dict[str, Any]) -> None:
        event = message["event"]
        kind = event["type"]
        if not self.in_room and kind not in ("waiting.list", "waiting.changed"):
            return
        if kind in HOST_EVENTS and self.role not in HOST_ROLES:
            return
        room = message.get("room")
        if room is not None and room != self.room_id:
            # Either the room this connection just left (still queued for it: dropped), or the
            # one it is being moved to, whose `moved` control is right behind (kept until then).
            self.ahead.append(message)
            return
        if kind == "media.topology":
            self.topology = event["topology"]
            if self.topology != "sfu":
                self.sfu = None  # its worker is gone; a later move to the SFU starts a new session
        elif kind == "roster.joined":
            if event["participant"]["id"] == str(self.participant_id):
                return  # already in this client's `joined` snapshot
            self.present_ids.add(event["participant"]["id"])
        elif kind == "roster.left":
            self.present_ids.discard(event["participant_id"])
        elif kind == "roster.batch":
            self.present_ids.difference_update(event["left"])
            self.present_ids.update(p["id"] for p in event["joined"])
        text = message.get("text")  # encoded once by the fan-out hub for all its sockets
        await self.send_text(text) if text is not None else await self.send_json(event)

    async def room_control(self, message: dict[str, Any]) -> None:
        action = message["action"]
        if action == "admitted" and not self.in_room and self.participant_id is not None:
            admitted = await database_sync_to_async(presence.admitted_snapshot)(self.participant_id)
            if admitted is not None:
                await self.enter_room(*admitted)
        elif action == "moved" and self.in_room:
            await self.switch_room(message["snapshot"])
        elif action == "removed":
            self.gone = True
            self.in_room = False
            await self.send_json(events.removed(message["reason"]))
            await self.close(code=presence.CLOSE_REFUSED)
        elif action == "ended":
            self.gone = True
            self.in_room = False
            await self.send_json(events.meeting_ended(message.get("by")))
            await self.close(code=CLOSE_NORMAL)
        elif action == "muted" and self.in_room:
            await self.send_json(events.muted(message["by"]))
        elif action == "role" and self.in_room:
            was_host = self.role in HOST_ROLES
            self.role = message["role"]
            if self.role in HOST_ROLES and not was_host:
                await self.become_host()
            elif self.role not in HOST_ROLES and was_host:
                await self.stop_being_host()
        elif action == "overflow":
            # This socket fell MEMBER_BUFFER events behind (a stalled browser): drop it rather
            # than buffer without end; the client reconnects and resumes from a fresh snapshot.
            logger.info("meeting %s: %s is too slow to read its events; closing", self.code, self.participant_id)
            await self.close(code=CLOSE_TOO_SLOW)
        elif action == "replaced" and message.get("keep") != self.channel_name:
            self.gone = True
            self.in_room = False
            await self.send_json(error_message("replaced", "You joined from another connection."))
            await self.close(code=CLOSE_REPLACED)


#: Events only hosts receive (sent to the hosts group, which a demoted host may still be in
#: for a moment).
HOST_EVENTS = frozenset({"waiting.list", "waiting.changed", "breakouts.overview", "help.requested"})


def _host_view(meeting_id: int) -> tuple[list[events.ParticipantJson], events.BreakoutsOverview]:
    from rooms.breakout_state import overview

    return events.roster_json(presence.waiting_participants(meeting_id)), overview(meeting_id)

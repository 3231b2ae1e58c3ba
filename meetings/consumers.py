"""The meeting room WebSocket at /ws/meetings/<code>/.

This first version admits whoever the meeting's join policy admits, greets them with the
meeting and their role, and answers pings; the room protocol (roster, chat, signaling,
host controls) grows on this consumer.
"""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.http import Http404

from meetings import access
from meetings.protocol import PROTOCOL_VERSION, Ping, ProtocolError, error_message, parse_client_message

CLOSE_NOT_FOUND = 4404
CLOSE_REFUSED = 4403


@database_sync_to_async
def _welcome_for(user: Any, code: str) -> dict[str, Any]:
    meeting = access.meeting_by_code(code)
    if meeting.code != code:
        raise Http404("No meeting with this code.")
    policy = access.join_policy(user, meeting)
    if policy.refusal is not None:
        raise ProtocolError(policy.refusal.value, "You may not join this meeting.")
    return {
        "type": "welcome",
        "protocol": PROTOCOL_VERSION,
        "meeting": {"code": meeting.code, "title": meeting.title, "status": meeting.status},
        "you": {
            "as_host": policy.as_host,
            "as_guest": policy.as_guest,
            "through_waiting_room": policy.through_waiting_room,
            "needs_passcode": policy.needs_passcode,
        },
    }


class MeetingConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        code = self.scope["url_route"]["kwargs"]["code"]
        await self.accept()
        try:
            welcome = await _welcome_for(self.scope.get("user"), code)
        except Http404:
            await self.send_json(error_message("not_found", "No meeting with this code."))
            await self.close(code=CLOSE_NOT_FOUND)
            return
        except ProtocolError as exc:
            await self.send_json(error_message(exc.code, exc.message))
            await self.close(code=CLOSE_REFUSED)
            return
        await self.send_json(welcome)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        if text_data is None:
            await self.send_json(error_message("bad_json", "Messages must be JSON text frames."))
            return
        try:
            content = await self.decode_json(text_data)
        except ValueError:
            await self.send_json(error_message("bad_json", "The message is not valid JSON."))
            return
        await self.receive_json(content, **kwargs)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        try:
            message = parse_client_message(content)
        except ProtocolError as exc:
            await self.send_json(exc.to_message())
            return
        if isinstance(message, Ping):
            await self.send_json({"type": "pong", "id": message.id})

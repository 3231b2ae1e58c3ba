"""What participants do in their room: chat, hands, media state. Synchronous domain functions
called by the consumer (through ``database_sync_to_async``); events go out on commit, to the
participant's room only."""

from __future__ import annotations

import uuid

from django.db import transaction
from django.utils import timezone

from meetings.models import ChatMessage, Participant
from rooms import events
from rooms.breakout_state import context_of
from rooms.events import participant_group, send_on_commit, send_to_room_on_commit
from rooms.permissions import Action, actor_of, check
from rooms.presence import in_room, notify_hands, room_participants
from rooms.protocol import ProtocolError


def other_in_room(room_id: int, participant_id: uuid.UUID, *, lock: bool = False) -> Participant:
    query = room_participants(room_id)
    if lock:
        query = query.select_for_update()
    target = query.filter(pk=participant_id).first()
    if target is None:
        raise no_such_participant()
    return target


def no_such_participant(field: str = "participant_id") -> ProtocolError:
    return ProtocolError("no_such_participant", "No such participant in this room.", field=field)


@transaction.atomic
def do_send_chat(sender_id: uuid.UUID, text: str, to: uuid.UUID | None) -> None:
    sender = in_room(sender_id)
    assert sender.room_id is not None
    check(actor_of(sender), Action.CHAT, context_of(sender))
    recipient = None
    if to is not None:
        recipient = room_participants(sender.room_id).filter(pk=to).first()
        if recipient is None:
            raise no_such_participant(field="to")
    message = ChatMessage.objects.create(
        meeting_id=sender.meeting_id, room_id=sender.room_id, sender=sender, recipient=recipient, text=text
    )
    event = events.chat_message(message, sender.display_name)
    if recipient is None:
        send_to_room_on_commit(sender.meeting_id, sender.room_id, event)
    else:
        send_on_commit(participant_group(sender.id), event)
        if recipient.id != sender.id:
            send_on_commit(participant_group(recipient.id), event)


@transaction.atomic
def do_raise_hand(participant_id: uuid.UUID) -> None:
    participant = in_room(participant_id, lock=True)
    assert participant.room_id is not None
    check(actor_of(participant), Action.RAISE_HAND, context_of(participant))
    if participant.hand_raised_at is None:
        participant.hand_raised_at = timezone.now()
        participant.save(update_fields=["hand_raised_at"])
        notify_hands(participant.meeting_id, participant.room_id)


@transaction.atomic
def do_lower_hand(participant_id: uuid.UUID, target_id: uuid.UUID | None) -> None:
    participant = in_room(participant_id)
    assert participant.room_id is not None
    target = participant
    if target_id is not None and target_id != participant.id:
        check(actor_of(participant), Action.HOST_COMMAND, context_of(participant))
        target = other_in_room(participant.room_id, target_id, lock=True)
    if target.hand_raised_at is not None:
        target.hand_raised_at = None
        target.save(update_fields=["hand_raised_at"])
        notify_hands(participant.meeting_id, participant.room_id)


@transaction.atomic
def do_set_media_state(participant_id: uuid.UUID, audio: bool, video: bool, screen: bool) -> None:
    participant = in_room(participant_id, lock=True)
    assert participant.room_id is not None
    if audio or video or screen:
        check(actor_of(participant), Action.PUBLISH, context_of(participant))
    if (participant.audio, participant.video, participant.screen) == (audio, video, screen):
        return
    participant.audio, participant.video, participant.screen = audio, video, screen
    participant.save(update_fields=["audio", "video", "screen"])
    send_to_room_on_commit(participant.meeting_id, participant.room_id, events.media_state(participant))

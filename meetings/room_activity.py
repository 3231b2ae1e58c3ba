"""What participants do in the room: chat, hands, media state. Synchronous domain functions
called by the consumer (through ``database_sync_to_async``); events go out on commit."""

from __future__ import annotations

import uuid

from django.db import transaction
from django.utils import timezone

from meetings.events import chat_json, meeting_group, participant_group, send_on_commit
from meetings.models import ChatMessage, Participant, ParticipantState
from meetings.protocol import ProtocolError
from meetings.room import joined_participants, notify_hands


def present(participant_id: uuid.UUID, *, lock: bool = False) -> Participant:
    """The participant, who must be in the room (not waiting, not gone)."""
    query = Participant.objects.select_for_update() if lock else Participant.objects.all()
    participant = query.filter(pk=participant_id, state=ParticipantState.JOINED).first()
    if participant is None:
        raise ProtocolError("not_joined", "Join the meeting first.")
    return participant


def other_present(meeting_id: int, participant_id: uuid.UUID, *, lock: bool = False) -> Participant:
    query = joined_participants(meeting_id)
    if lock:
        query = query.select_for_update()
    target = query.filter(pk=participant_id).first()
    if target is None:
        raise ProtocolError("no_such_participant", "No such participant in this meeting.", field="participant_id")
    return target


@transaction.atomic
def do_send_chat(sender_id: uuid.UUID, text: str, to: uuid.UUID | None) -> None:
    sender = present(sender_id)
    recipient = None
    if to is not None:
        try:
            recipient = other_present(sender.meeting_id, to)
        except ProtocolError as exc:
            raise ProtocolError("no_such_participant", "The recipient is not in this meeting.", field="to") from exc
    message = ChatMessage.objects.create(meeting_id=sender.meeting_id, sender=sender, recipient=recipient, text=text)
    event = {"type": "chat.message", **chat_json(message, sender.display_name)}
    if recipient is None:
        send_on_commit(meeting_group(sender.meeting_id), event)
    else:
        send_on_commit(participant_group(sender.id), event)
        if recipient.id != sender.id:
            send_on_commit(participant_group(recipient.id), event)


@transaction.atomic
def do_raise_hand(participant_id: uuid.UUID) -> None:
    participant = present(participant_id, lock=True)
    if participant.hand_raised_at is None:
        participant.hand_raised_at = timezone.now()
        participant.save(update_fields=["hand_raised_at"])
        notify_hands(participant.meeting_id)


@transaction.atomic
def do_lower_hand(participant_id: uuid.UUID, target_id: uuid.UUID | None) -> None:
    participant = present(participant_id)
    target = participant
    if target_id is not None and target_id != participant.id:
        if not participant.is_host:
            raise ProtocolError("not_host", "Only hosts can lower someone else's hand.")
        target = other_present(participant.meeting_id, target_id, lock=True)
    if target.hand_raised_at is not None:
        target.hand_raised_at = None
        target.save(update_fields=["hand_raised_at"])
        notify_hands(participant.meeting_id)


def media_state_event(participant: Participant, by: uuid.UUID | None = None) -> dict[str, object]:
    event: dict[str, object] = {
        "type": "media.state",
        "participant_id": str(participant.id),
        "audio": participant.audio,
        "video": participant.video,
        "screen": participant.screen,
    }
    if by is not None:
        event["by"] = str(by)
    return event


@transaction.atomic
def do_set_media_state(participant_id: uuid.UUID, audio: bool, video: bool, screen: bool) -> None:
    participant = present(participant_id, lock=True)
    if (participant.audio, participant.video, participant.screen) == (audio, video, screen):
        return
    participant.audio, participant.video, participant.screen = audio, video, screen
    participant.save(update_fields=["audio", "video", "screen"])
    send_on_commit(meeting_group(participant.meeting_id), media_state_event(participant))

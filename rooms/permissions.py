"""Who may do what in a live room: the one place every in-room check is decided.

Consumers, REST views and admin actions ask ``check(actor, action, room)`` (and
``check_target`` for actions on someone else); nothing re-checks roles elsewhere. Decisions are
pure functions of the actor's standing, the room's kind and the breakout settings, one condition
a line, so a table test covers every role x action.

Standing (``Standing``): the meeting's **owner**; a **host** (the participant holding the host
role now: the owner, or someone it passed to while the owner is away); a **co-host** (named on
the meeting, or made co-host in the room); a signed-in **participant**; a **guest**. Webinar
roles will slot in here. The owner can never be removed, banned or demoted by anyone else, and
only the owner removes or bans a co-host.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum

from meetings import access
from meetings.models import BreakoutMode, Meeting, Participant, ParticipantRole, RoomKind
from rooms.protocol import ProtocolError


class Standing(IntEnum):
    """Ordered: a higher standing may act on a lower one."""

    GUEST = 0
    PARTICIPANT = 1
    COHOST = 2
    HOST = 3
    OWNER = 4


class Action(StrEnum):
    PUBLISH = "publish"  # send audio / video / screen
    CHAT = "chat"
    REACT = "react"
    RAISE_HAND = "raise_hand"
    SIGNAL = "signal"  # relay media signalling to someone in the room
    HOST_COMMAND = "host_command"  # admit / deny / mute / lock / lower hands / make co-host
    REMOVE = "remove"  # remove or ban someone (``check_target``)
    MUTE = "mute"  # on someone (``check_target``)
    PROMOTE = "promote"  # make someone co-host (``check_target``)
    END = "end"  # end the meeting for everyone
    RECORD = "record"
    MANAGE_BREAKOUTS = "manage_breakouts"  # create, assign, open, close, broadcast
    MOVE_PEOPLE = "move_people"
    VISIT_ROOMS = "visit_rooms"
    CHOOSE_ROOM = "choose_room"  # a participant's own move into a breakout room
    RETURN_TO_MAIN = "return_to_main"
    ASK_HELP = "ask_help"


#: Actions only hosts and co-hosts may take (any room kind unless RESTRICTED says otherwise).
HOST_ACTIONS = frozenset(
    {
        Action.HOST_COMMAND,
        Action.REMOVE,
        Action.MUTE,
        Action.PROMOTE,
        Action.END,
        Action.RECORD,
        Action.MANAGE_BREAKOUTS,
        Action.MOVE_PEOPLE,
        Action.VISIT_ROOMS,
    }
)
#: Actions everyone in the room may take.
EVERYONE_ACTIONS = frozenset({Action.PUBLISH, Action.CHAT, Action.REACT, Action.RAISE_HAND, Action.SIGNAL})
#: Actions that only make sense in the main room (recording keeps recording the main room).
MAIN_ROOM_ONLY = frozenset({Action.RECORD})
#: Actions that only make sense in a breakout room.
BREAKOUT_ONLY = frozenset({Action.ASK_HELP})


@dataclass(frozen=True)
class Actor:
    """Someone in the meeting, as the permission rules see them."""

    standing: Standing

    @property
    def is_host(self) -> bool:
        return self.standing >= Standing.COHOST


@dataclass(frozen=True)
class RoomContext:
    kind: str
    breakouts_open: bool = False
    mode: str = BreakoutMode.MANUAL
    allow_return: bool = True


def standing_of(participant: Participant, owner_id: int) -> Standing:
    if participant.user_id is not None and participant.user_id == owner_id:
        return Standing.OWNER
    if participant.role == ParticipantRole.HOST:
        return Standing.HOST
    if participant.role == ParticipantRole.COHOST:
        return Standing.COHOST
    return Standing.GUEST if participant.user_id is None else Standing.PARTICIPANT


def actor_of(participant: Participant) -> Actor:
    return Actor(standing_of(participant, participant.meeting.owner_id))


def actor_for_account(user: access.AnyUser, meeting: Meeting) -> Actor:
    """Someone acting on the meeting from outside its rooms (REST, pages) by their account: the
    owner, a co-host named on the meeting, any other signed-in user, or anonymous (a guest)."""
    if access.is_owner(user, meeting):
        return Actor(Standing.OWNER)
    if access.is_host(user, meeting):
        return Actor(Standing.COHOST)
    return Actor(Standing.PARTICIPANT if user.is_authenticated else Standing.GUEST)


#: The room an account acting from outside the rooms (REST, pages) is taken to be in.
OUTSIDE_THE_ROOMS = RoomContext(kind=RoomKind.MAIN)


def may(actor: Actor, action: Action, room: RoomContext) -> bool:
    if action in MAIN_ROOM_ONLY and room.kind != RoomKind.MAIN:
        return False
    if action in BREAKOUT_ONLY and room.kind != RoomKind.BREAKOUT:
        return False
    if action in EVERYONE_ACTIONS:
        return True
    if action in HOST_ACTIONS:
        return actor.is_host
    if action == Action.CHOOSE_ROOM:
        return room.breakouts_open and (actor.is_host or room.mode == BreakoutMode.CHOOSE)
    if action == Action.RETURN_TO_MAIN:
        return room.kind == RoomKind.BREAKOUT and (actor.is_host or room.allow_return)
    if action == Action.ASK_HELP:
        return not actor.is_host
    return False


def may_act_on(actor: Actor, action: Action, target: Actor) -> bool:
    """Actions on someone else: the owner is untouchable; co-hosts only the owner removes."""
    if not actor.is_host:
        return False
    if action == Action.MUTE:
        return target.standing != Standing.OWNER or actor.standing == Standing.OWNER
    if action in (Action.REMOVE, Action.PROMOTE):
        if target.standing == Standing.OWNER:
            return False
        if target.is_host:
            return actor.standing == Standing.OWNER
        return True
    return False


REFUSALS: dict[Action, tuple[str, str]] = {
    Action.RECORD: ("main_room_only", "Recording records the main room; return to it to record."),
    Action.CHOOSE_ROOM: ("not_allowed", "You may not choose a breakout room now."),
    Action.RETURN_TO_MAIN: ("not_allowed", "You may not return to the main room now."),
    Action.ASK_HELP: ("not_allowed", "Ask for help from a breakout room."),
}


def check(actor: Actor, action: Action, room: RoomContext) -> None:
    """Raises the stable refusal for ``action``, or returns."""
    if may(actor, action, room):
        return
    if action in HOST_ACTIONS and not actor.is_host:
        raise ProtocolError("not_host", "Only hosts and co-hosts can do this.")
    code, message = REFUSALS.get(action, ("not_allowed", "You may not do this here."))
    raise ProtocolError(code, message)


def check_target(actor: Actor, action: Action, target: Actor) -> None:
    if may_act_on(actor, action, target):
        return
    if not actor.is_host:
        raise ProtocolError("not_host", "Only hosts and co-hosts can do this.")
    if target.standing == Standing.OWNER:
        raise ProtocolError("not_allowed", "Nobody can do this to the meeting's owner.", field="participant_id")
    raise ProtocolError("not_allowed", "Only the meeting's owner can do this to a host.", field="participant_id")

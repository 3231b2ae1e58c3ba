"""Every standing x action x room kind, allowed and refused (rooms/permissions.py)."""

from __future__ import annotations

import pytest

from rooms.permissions import Action, Actor, RoomContext, Standing, check, check_target, may, may_act_on
from rooms.protocol import ProtocolError

G, P, C, H, O = Standing.GUEST, Standing.PARTICIPANT, Standing.COHOST, Standing.HOST, Standing.OWNER  # noqa: E741
EVERYONE = {G, P, C, H, O}
HOSTS = {C, H, O}
MAIN = RoomContext(kind="main", breakouts_open=True)
BREAKOUT = RoomContext(kind="breakout", breakouts_open=True)

#: action → (who may in the main room, who may in a breakout room), breakouts open, manual mode.
TABLE: dict[Action, tuple[set[Standing], set[Standing]]] = {
    Action.PUBLISH: (EVERYONE, EVERYONE),
    Action.CHAT: (EVERYONE, EVERYONE),
    Action.REACT: (EVERYONE, EVERYONE),
    Action.RAISE_HAND: (EVERYONE, EVERYONE),
    Action.SIGNAL: (EVERYONE, EVERYONE),
    Action.HOST_COMMAND: (HOSTS, HOSTS),
    Action.REMOVE: (HOSTS, HOSTS),
    Action.MUTE: (HOSTS, HOSTS),
    Action.PROMOTE: (HOSTS, HOSTS),
    Action.END: (HOSTS, HOSTS),
    Action.RECORD: (HOSTS, set()),
    Action.MANAGE_BREAKOUTS: (HOSTS, HOSTS),
    Action.MOVE_PEOPLE: (HOSTS, HOSTS),
    Action.VISIT_ROOMS: (HOSTS, HOSTS),
    Action.CHOOSE_ROOM: (HOSTS, HOSTS),
    Action.RETURN_TO_MAIN: (set(), EVERYONE),
    Action.ASK_HELP: (set(), {G, P}),
}


def test_the_table_covers_every_action() -> None:
    assert set(TABLE) == set(Action)


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("standing", list(Standing))
def test_each_role_and_action_in_each_room_kind(action: Action, standing: Standing) -> None:
    in_main, in_breakout = TABLE[action]
    actor = Actor(standing)
    assert may(actor, action, MAIN) is (standing in in_main)
    assert may(actor, action, BREAKOUT) is (standing in in_breakout)
    for room, allowed in ((MAIN, in_main), (BREAKOUT, in_breakout)):
        if standing in allowed:
            check(actor, action, room)
        else:
            with pytest.raises(ProtocolError) as refused:
                check(actor, action, room)
            expected = "not_host" if action in HOST_ONLY and standing not in HOSTS else None
            if expected:
                assert refused.value.code == expected
            else:
                assert refused.value.code in {"not_allowed", "main_room_only"}


HOST_ONLY = {a for a, (main, _) in TABLE.items() if main == HOSTS} - {Action.CHOOSE_ROOM}


@pytest.mark.parametrize(
    ("settings", "action", "standing", "allowed"),
    [
        (RoomContext(kind="main", breakouts_open=True, mode="choose"), Action.CHOOSE_ROOM, P, True),
        (RoomContext(kind="main", breakouts_open=True, mode="choose"), Action.CHOOSE_ROOM, G, True),
        (RoomContext(kind="main", breakouts_open=True, mode="auto"), Action.CHOOSE_ROOM, P, False),
        (RoomContext(kind="main", breakouts_open=False, mode="choose"), Action.CHOOSE_ROOM, P, False),
        (RoomContext(kind="main", breakouts_open=False, mode="choose"), Action.CHOOSE_ROOM, O, False),
        (RoomContext(kind="breakout", breakouts_open=True, allow_return=False), Action.RETURN_TO_MAIN, P, False),
        (RoomContext(kind="breakout", breakouts_open=True, allow_return=False), Action.RETURN_TO_MAIN, C, True),
    ],
)
def test_breakout_settings_decide_participants_own_moves(
    settings: RoomContext, action: Action, standing: Standing, allowed: bool
) -> None:
    assert may(Actor(standing), action, settings) is allowed


#: (actor, target) pairs allowed to remove / ban / make co-host; everything else is refused.
REMOVABLE = {(actor, target) for actor in HOSTS for target in (G, P)} | {(O, C), (O, H)}
MUTABLE = {(actor, target) for actor in HOSTS for target in (G, P, C, H)} | {(O, O)}


@pytest.mark.parametrize("target", list(Standing))
@pytest.mark.parametrize("actor", list(Standing))
def test_actions_on_someone_never_touch_the_owner(actor: Standing, target: Standing) -> None:
    for action, allowed in ((Action.REMOVE, REMOVABLE), (Action.PROMOTE, REMOVABLE), (Action.MUTE, MUTABLE)):
        expected = (actor, target) in allowed
        assert may_act_on(Actor(actor), action, Actor(target)) is expected, (action, actor, target)
        if expected:
            check_target(Actor(actor), action, Actor(target))
        else:
            with pytest.raises(ProtocolError) as refused:
                check_target(Actor(actor), action, Actor(target))
            assert refused.value.code == ("not_host" if actor not in HOSTS else "not_allowed")

"""The meeting room over WebSocket: every message type, each with the refusal of someone who
must not do it. Real Redis channel layer, real PostgreSQL, full ASGI stack."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from channels.db import database_sync_to_async as sync_to_async
from channels.layers import get_channel_layer
from pytest_django.fixtures import Settings as SettingsWrapper

from accounts.models import User
from meetings.models import ChatMessage, Meeting, MeetingBan, MeetingStatus, Participant, ParticipantState
from rooms import activity as room_activity
from rooms import sfu_relay
from rooms.ratelimit import TokenBucket
from tests.factories import main_room_of, make_user, save_meeting
from tests.room_client import RoomClient, close_all_clients

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


@pytest_asyncio.fixture(autouse=True)
async def _close_clients() -> AsyncIterator[None]:
    yield
    await close_all_clients()


async def save(meeting: Meeting, **fields: Any) -> None:
    await sync_to_async(save_meeting)(meeting, **fields)


async def open_room(meeting: Meeting, **fields: Any) -> None:
    await save(meeting, waiting_room=False, **fields)


async def host_and_guest(meeting: Meeting, owner: User, outsider: User) -> tuple[RoomClient, RoomClient]:
    host = await RoomClient.connect(meeting.code, owner, name="host")
    await host.join()
    other = await RoomClient.connect(meeting.code, outsider, name="other")
    await other.join()
    await host.expect("roster.joined")
    return host, other


class TestJoin:
    async def test_a_big_rooms_roster_comes_in_chunks_you_first(
        self, meeting: Meeting, owner: User, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr("rooms.consumer.SNAPSHOT_CHUNK", 2)
        await open_room(meeting, allow_guests=True)
        host = await RoomClient.connect(meeting.code, owner, name="host")
        await host.join()
        early = []
        for name in ("ann", "bob", "cy"):
            client = await RoomClient.connect(meeting.code, guest_key=f"key-{name}", name=name)
            await client.join(display_name=name)
            early.append(client)
        late = await RoomClient.connect(meeting.code, guest_key="key-dee", name="dee")
        joined = await late.join(display_name="Dee")
        assert joined["roster_total"] == 5
        assert len(joined["roster"]) == 2
        assert joined["roster"][0]["id"] == joined["you"]["id"]
        chunks = [await late.expect("roster.batch", reason="snapshot") for _ in range(2)]
        assert [len(chunk["joined"]) for chunk in chunks] == [2, 1]
        everyone = {p["id"] for p in joined["roster"]} | {p["id"] for c in chunks for p in c["joined"]}
        assert everyone == {host.id, late.id, *(client.id for client in early)}
        # The rest of the roster counts for signalling too: the newcomer may signal anyone.
        await late.send({"type": "signal", "to": host.id, "kind": "restart", "data": {}})
        assert (await host.expect("signal"))["from"] == late.id

    async def test_the_host_enters_directly_and_sees_the_room(self, meeting: Meeting, owner: User) -> None:
        host = await RoomClient.connect(meeting.code, owner)
        assert host.hello["you"]["as_host"] is True
        joined = await host.join()
        assert joined["you"]["role"] == "host"
        assert [p["id"] for p in joined["roster"]] == [joined["you"]["id"]]
        assert joined["media"] == {"topology": "mesh", "ice_servers": []}
        assert joined["resume_token"]
        assert (await host.expect("waiting.list"))["waiting"] == []
        await sync_to_async(meeting.refresh_from_db)()
        assert meeting.status == MeetingStatus.LIVE
        await host.close()

    async def test_an_attendee_waits_until_a_host_admits_them(
        self, meeting: Meeting, owner: User, outsider: User
    ) -> None:
        host = await RoomClient.connect(meeting.code, owner, name="host")
        await host.join()
        await host.expect("waiting.list", waiting=[])
        guest = await RoomClient.connect(meeting.code, outsider, name="guest")
        waiting = await guest.knock()
        listed = await host.expect("waiting.changed")
        assert [p["id"] for p in listed["joined"]] == [waiting["participant_id"]]
        assert listed["left"] == []
        # Someone waiting sees nothing of the room and cannot act in it.
        await guest.send({"type": "chat.send", "text": "let me in"})
        await guest.expect_error("not_joined")
        await host.send({"type": "host.admit", "participant_id": waiting["participant_id"]})
        joined = await guest.expect("joined")
        assert {p["id"] for p in joined["roster"]} == {host.joined["you"]["id"], waiting["participant_id"]}
        assert (await host.expect("roster.joined"))["participant"]["name"] == "oscar"
        assert (await host.expect("waiting.changed"))["left"] == [waiting["participant_id"]]

    async def test_an_attendee_cannot_admit(self, meeting: Meeting, owner: User, outsider: User) -> None:
        await save(meeting, waiting_room=False)
        _host, other = await host_and_guest(meeting, owner, outsider)
        await save(meeting, waiting_room=True)
        third = await RoomClient.connect(meeting.code, await sync_to_async(make_user)(), name="third")
        knock = await third.knock()
        await other.send({"type": "host.admit", "participant_id": knock["participant_id"]})
        await other.expect_error("not_host")
        await third.assert_silent({"joined"})

    async def test_a_denied_person_cannot_come_back(self, meeting: Meeting, owner: User, outsider: User) -> None:
        host = await RoomClient.connect(meeting.code, owner, name="host")
        await host.join()
        guest = await RoomClient.connect(meeting.code, outsider, name="guest")
        knock = await guest.knock()
        await host.send({"type": "host.deny", "participant_id": knock["participant_id"]})
        assert (await guest.expect("removed"))["reason"] == "denied"
        assert await guest.expect_closed() == 4403
        again = await RoomClient.connect(meeting.code, outsider, name="again")
        await again.send({"type": "join"})
        await again.expect_error("banned")
        assert await again.expect_closed() == 4403

    async def test_the_passcode_is_checked_and_guessing_is_limited(
        self, meeting: Meeting, owner: User, outsider: User
    ) -> None:
        await sync_to_async(meeting.set_passcode)("2468")
        await open_room(meeting)
        owner_client = await RoomClient.connect(meeting.code, owner, name="owner")
        await owner_client.join()  # hosts need no passcode
        guest = await RoomClient.connect(meeting.code, outsider, name="guest")
        assert guest.hello["you"]["needs_passcode"] is True
        for _ in range(4):
            await guest.send({"type": "join", "passcode": "1111"})
            error = await guest.expect_error("wrong_passcode")
            assert error["field"] == "passcode"
        await guest.join(passcode="2468")
        guesser = await RoomClient.connect(meeting.code, await sync_to_async(make_user)(), name="guesser")
        for _ in range(5):
            await guesser.send({"type": "join", "passcode": "0000"})
        assert await guesser.expect_closed() == 4403

    async def test_a_locked_meeting_refuses_newcomers_but_not_hosts(
        self, meeting: Meeting, owner: User, member: User, outsider: User
    ) -> None:
        await open_room(meeting)
        host, other = await host_and_guest(meeting, owner, outsider)
        await other.send({"type": "host.lock"})
        await other.expect_error("not_host")
        await host.send({"type": "host.lock"})
        assert (await other.expect("meeting.locked"))["locked"] is True
        late = await RoomClient.connect(meeting.code, await sync_to_async(make_user)(), name="late")
        await late.send({"type": "join"})
        await late.expect_error("locked")
        assert await late.expect_closed() == 4403
        cohost = await RoomClient.connect(meeting.code, member, name="cohost")
        assert (await cohost.join())["you"]["role"] == "cohost"
        await host.send({"type": "host.unlock"})
        assert (await other.expect("meeting.locked"))["locked"] is False

    async def test_a_full_meeting_refuses_more_people(self, meeting: Meeting, owner: User, outsider: User) -> None:
        await open_room(meeting, max_participants=2)
        await host_and_guest(meeting, owner, outsider)
        third = await RoomClient.connect(meeting.code, await sync_to_async(make_user)(), name="third")
        await third.send({"type": "join"})
        await third.expect_error("meeting_full")

    async def test_guests_join_with_a_name_when_allowed(self, meeting: Meeting, owner: User) -> None:
        await open_room(meeting, allow_guests=True)
        guest = await RoomClient.connect(meeting.code, guest_key="guest-key-1", name="guest")
        assert guest.hello["you"]["as_guest"] is True
        await guest.send({"type": "join"})
        assert (await guest.expect_error("invalid"))["field"] == "display_name"
        joined = await guest.join(display_name="  Grace  ")
        assert (joined["you"]["name"], joined["you"]["guest"]) == ("Grace", True)

    async def test_guests_are_refused_when_not_allowed(self, meeting: Meeting) -> None:
        guest = await RoomClient.connect(meeting.code, guest_key="guest-key-2", name="guest")
        assert guest.hello == {"type": "error", "code": "sign_in_required", "message": "You may not join this meeting."}
        assert await guest.expect_closed() == 4403

    async def test_a_banned_guest_stays_out(self, meeting: Meeting, owner: User) -> None:
        await open_room(meeting, allow_guests=True)
        host = await RoomClient.connect(meeting.code, owner, name="host")
        await host.join()
        guest = await RoomClient.connect(meeting.code, guest_key="troll", name="troll")
        joined = await guest.join(display_name="Troll")
        await host.send({"type": "host.remove", "participant_id": joined["you"]["id"], "ban": True})
        assert (await guest.expect("removed"))["reason"] == "banned"
        assert (await host.expect("roster.left"))["reason"] == "banned"
        again = await RoomClient.connect(meeting.code, guest_key="troll", name="troll again")
        await again.send({"type": "join", "display_name": "Not a troll"})
        await again.expect_error("banned")
        other_guest = await RoomClient.connect(meeting.code, guest_key="someone-else", name="other")
        await other_guest.join(display_name="Fine")

    async def test_joining_twice_or_acting_before_joining_is_refused(self, meeting: Meeting, owner: User) -> None:
        client = await RoomClient.connect(meeting.code, owner)
        await client.send({"type": "hand.raise"})
        await client.expect_error("not_joined")
        await client.join()
        await client.send({"type": "join"})
        await client.expect_error("already_joined")


class TestChat:
    async def test_a_message_is_stored_before_everyone_receives_it(
        self, meeting: Meeting, owner: User, outsider: User
    ) -> None:
        await open_room(meeting)
        host, other = await host_and_guest(meeting, owner, outsider)
        await other.send({"type": "chat.send", "text": "Hello <b>all</b> https://example.org"})
        received = await host.expect("chat.message")
        stored = await sync_to_async(ChatMessage.objects.get)(pk=received["id"])
        assert stored.text == received["text"] == "Hello <b>all</b> https://example.org"
        assert (received["from"], received["from_name"], received["to"]) == (other.id, "oscar", None)
        assert (await other.expect("chat.message"))["id"] == received["id"]

    async def test_private_messages_reach_only_the_recipient(
        self, meeting: Meeting, owner: User, member: User, outsider: User
    ) -> None:
        await open_room(meeting)
        host, other = await host_and_guest(meeting, owner, outsider)
        third = await RoomClient.connect(meeting.code, member, name="third")
        await third.join()
        await other.send({"type": "chat.send", "text": "psst", "to": host.id})
        assert (await host.expect("chat.message"))["to"] == host.id
        assert (await other.expect("chat.message"))["text"] == "psst"
        await third.assert_silent({"chat.message"})
        await other.send({"type": "chat.send", "text": "to nobody", "to": "00000000-0000-0000-0000-000000000000"})
        assert (await other.expect_error("no_such_participant"))["field"] == "to"

    async def test_history_is_sent_on_join(self, meeting: Meeting, owner: User, outsider: User) -> None:
        await open_room(meeting)
        host = await RoomClient.connect(meeting.code, owner, name="host")
        await host.join()
        for index in range(3):
            await host.send({"type": "chat.send", "text": f"message {index}"})
            await host.expect("chat.message", text=f"message {index}")
        late = await RoomClient.connect(meeting.code, outsider, name="late")
        joined = await late.join()
        assert [message["text"] for message in joined["chat"]] == ["message 0", "message 1", "message 2"]

    async def test_length_and_rate_are_limited(self, meeting: Meeting, owner: User) -> None:
        await open_room(meeting)
        host = await RoomClient.connect(meeting.code, owner)
        await host.join()
        await host.send({"type": "chat.send", "text": "x" * 2001})
        assert (await host.expect_error("invalid"))["field"] == "text"
        for index in range(6):
            await host.send({"type": "chat.send", "text": f"burst {index}"})
        await host.expect_error("rate_limited")
        assert await sync_to_async(ChatMessage.objects.count)() == 5


class TestReactionsAndHands:
    async def test_reactions_are_aggregated_per_window(self, meeting: Meeting, owner: User, outsider: User) -> None:
        await open_room(meeting)
        host, other = await host_and_guest(meeting, owner, outsider)
        for _ in range(6):
            await host.send({"type": "reaction.send", "emoji": "👏"})
            await other.send({"type": "reaction.send", "emoji": "🎉"})
        totals: dict[str, int] = {}
        messages = 0
        while sum(totals.values()) < 12:
            reaction = await other.expect("reaction")
            messages += 1
            for emoji, count in reaction["counts"].items():
                totals[emoji] = totals.get(emoji, 0) + count
        assert totals == {"👏": 6, "🎉": 6}
        assert messages < 12
        await host.send({"type": "reaction.send", "emoji": "💩"})
        assert (await host.expect_error("invalid"))["field"] == "emoji"

    async def test_hands_are_ordered_and_lowered(
        self, meeting: Meeting, owner: User, member: User, outsider: User
    ) -> None:
        await open_room(meeting)
        host, other = await host_and_guest(meeting, owner, outsider)
        third = await RoomClient.connect(meeting.code, await sync_to_async(make_user)(), name="third")
        await third.join()
        await other.send({"type": "hand.raise"})
        await host.expect("hand", hands=[other.id])
        await third.send({"type": "hand.raise"})
        await host.expect("hand", hands=[other.id, third.id])
        await third.send({"type": "hand.lower", "participant_id": other.id})
        await third.expect_error("not_host")
        await host.send({"type": "hand.lower", "participant_id": other.id})
        await third.expect("hand", hands=[third.id])
        await third.send({"type": "hand.lower"})
        await host.expect("hand", hands=[])


class TestMedia:
    async def test_media_state_reaches_everyone(self, meeting: Meeting, owner: User, outsider: User) -> None:
        await open_room(meeting)
        host, other = await host_and_guest(meeting, owner, outsider)
        await other.send({"type": "media.state", "audio": False, "video": True, "screen": True})
        state = await host.expect("media.state")
        assert (state["participant_id"], state["audio"], state["screen"]) == (other.id, False, True)

    async def test_the_host_mutes_someone_and_everyone_sees_it(
        self, meeting: Meeting, owner: User, outsider: User
    ) -> None:
        await open_room(meeting)
        host, other = await host_and_guest(meeting, owner, outsider)
        await other.send({"type": "host.mute", "participant_id": host.id})
        await other.expect_error("not_host")
        await host.send({"type": "host.mute", "participant_id": other.id})
        assert (await other.expect("muted"))["by"] == host.id
        for client in (host, other):
            state = await client.expect("media.state", participant_id=other.id)
            assert (state["audio"], state["by"]) == (False, host.id)

    async def test_mute_all_spares_the_hosts(self, meeting: Meeting, owner: User, member: User, outsider: User) -> None:
        await open_room(meeting)
        host, other = await host_and_guest(meeting, owner, outsider)
        cohost = await RoomClient.connect(meeting.code, member, name="cohost")
        await cohost.join()
        await cohost.send({"type": "host.mute_all"})
        await other.expect("muted")
        await host.expect("media.state", participant_id=other.id, audio=False)
        await host.assert_silent({"muted"})

    async def test_mute_on_entry(self, meeting: Meeting, owner: User, outsider: User) -> None:
        await open_room(meeting, mute_on_entry=True)
        host, other = await host_and_guest(meeting, owner, outsider)
        assert host.joined["you"]["audio"] is True
        assert other.joined["you"]["audio"] is False

    async def test_signals_reach_only_their_addressee(
        self, meeting: Meeting, owner: User, member: User, outsider: User
    ) -> None:
        await open_room(meeting)
        host, other = await host_and_guest(meeting, owner, outsider)
        third = await RoomClient.connect(meeting.code, member, name="third")
        await third.join()
        offer = {"description": {"type": "offer", "sdp": "v=0\r\n"}}
        await host.send({"type": "signal", "to": other.id, "kind": "offer", "data": offer})
        relayed = await other.expect("signal")
        assert relayed == {"type": "signal", "from": host.id, "kind": "offer", "data": offer}
        await third.assert_silent({"signal"})
        for kind in ("restart", "reset"):
            await other.send({"type": "signal", "to": host.id, "kind": kind, "data": {}})
            assert await host.expect("signal") == {"type": "signal", "from": other.id, "kind": kind, "data": {}}
        await host.send({"type": "signal", "to": other.id, "kind": "renegotiate", "data": {}})
        assert (await host.expect_error("invalid"))["field"] == "kind"
        await host.send({"type": "signal", "to": "00000000-0000-0000-0000-000000000000", "kind": "offer", "data": {}})
        await host.expect_error("no_such_participant")
        await host.send({"type": "signal", "to": other.id, "kind": "offer", "data": {"sdp": "x" * 40000}})
        assert (await host.expect_error("invalid"))["field"] == "data"


class TestHostControls:
    async def test_remove_takes_someone_out_and_they_may_come_back(
        self, meeting: Meeting, owner: User, outsider: User
    ) -> None:
        await open_room(meeting)
        host, other = await host_and_guest(meeting, owner, outsider)
        await other.send({"type": "host.remove", "participant_id": host.id})
        await other.expect_error("not_host")
        await host.send({"type": "host.remove", "participant_id": other.id})
        assert (await other.expect("removed"))["reason"] == "removed"
        assert await other.expect_closed() == 4403
        assert (await host.expect("roster.left"))["participant_id"] == other.id
        back = await RoomClient.connect(meeting.code, outsider, name="back")
        await back.join()
        assert not await sync_to_async(MeetingBan.objects.exists)()

    async def test_a_cohost_cannot_remove_the_host(self, meeting: Meeting, owner: User, member: User) -> None:
        await open_room(meeting)
        host = await RoomClient.connect(meeting.code, owner, name="host")
        await host.join()
        cohost = await RoomClient.connect(meeting.code, member, name="cohost")
        await cohost.join()
        await cohost.send({"type": "host.remove", "participant_id": host.id})
        await cohost.expect_error("not_allowed")

    async def test_make_cohost_gives_host_controls(self, meeting: Meeting, owner: User, outsider: User) -> None:
        await open_room(meeting)
        host, other = await host_and_guest(meeting, owner, outsider)
        await other.send({"type": "host.make_cohost", "participant_id": other.id})
        await other.expect_error("not_host")
        await host.send({"type": "host.make_cohost", "participant_id": other.id})
        assert (await other.expect("roster.updated"))["participant"]["role"] == "cohost"
        await other.expect("waiting.list")
        await other.send({"type": "host.lock"})
        await host.expect("meeting.locked", locked=True)

    async def test_end_for_all(self, meeting: Meeting, owner: User, outsider: User) -> None:
        await open_room(meeting)
        host, other = await host_and_guest(meeting, owner, outsider)
        await other.send({"type": "host.end"})
        await other.expect_error("not_host")
        await host.send({"type": "host.end"})
        for client in (host, other):
            await client.expect("meeting.ended", by=host.id)
            assert await client.expect_closed() == 1000
        await sync_to_async(meeting.refresh_from_db)()
        assert meeting.status == MeetingStatus.ENDED
        assert not await sync_to_async(Participant.objects.filter(state=ParticipantState.JOINED).exists)()

    async def test_ending_through_the_api_closes_the_room(self, meeting: Meeting, owner: User, outsider: User) -> None:
        from meetings.actions import do_end_meeting

        await open_room(meeting)
        _host, other = await host_and_guest(meeting, owner, outsider)
        await sync_to_async(do_end_meeting)(meeting)
        await other.expect("meeting.ended", by=None)
        assert await other.expect_closed() == 1000

    async def test_the_host_role_passes_on_when_the_host_leaves(
        self, meeting: Meeting, owner: User, outsider: User
    ) -> None:
        await open_room(meeting)
        host, other = await host_and_guest(meeting, owner, outsider)
        await host.send({"type": "leave"})
        assert await host.expect_closed() == 1000
        assert (await other.expect("roster.left"))["reason"] == "left"
        updated = await other.expect("roster.updated")
        assert (updated["participant"]["id"], updated["participant"]["role"]) == (other.id, "host")
        await other.expect("waiting.list")
        await other.send({"type": "host.lock"})
        await other.expect("meeting.locked", locked=True)

    async def test_the_host_role_passes_to_a_cohost_first(
        self, meeting: Meeting, owner: User, member: User, outsider: User
    ) -> None:
        await open_room(meeting)
        host, other = await host_and_guest(meeting, owner, outsider)
        cohost = await RoomClient.connect(meeting.code, member, name="cohost")
        await cohost.join()
        await host.send({"type": "leave"})
        updated = await other.expect("roster.updated")
        assert (updated["participant"]["id"], updated["participant"]["role"]) == (cohost.id, "host")

    async def test_a_guest_handed_host_cannot_remove_ban_or_demote_the_owner(
        self, meeting: Meeting, owner: User
    ) -> None:
        """The hole found from outside: the owner leaves a meeting with guests and no waiting
        room, host passes to a guest, the owner comes back; the guest must not be able to ban
        the owner (who would then be refused at every rejoin)."""
        await open_room(meeting, allow_guests=True)
        host = await RoomClient.connect(meeting.code, owner, name="owner")
        await host.join()
        guest = await RoomClient.connect(meeting.code, guest_key="mallory", name="guest")
        await guest.join(display_name="Mallory")
        await host.send({"type": "leave"})
        assert await host.expect_closed() == 1000
        promoted = await guest.expect("roster.updated")
        assert (promoted["participant"]["id"], promoted["participant"]["role"]) == (guest.id, "host")
        back = await RoomClient.connect(meeting.code, owner, name="owner again")
        assert (await back.join())["you"]["role"] == "host"
        demoted = await guest.expect("roster.updated")
        assert (demoted["participant"]["id"], demoted["participant"]["role"]) == (guest.id, "attendee")
        for command in (
            {"type": "host.remove", "participant_id": back.id, "ban": True},
            {"type": "host.remove", "participant_id": back.id},
            {"type": "host.end"},
            {"type": "host.mute", "participant_id": back.id},
        ):
            await guest.send(command)
            await guest.expect_error("not_host")
        assert not await sync_to_async(MeetingBan.objects.exists)()
        again = await RoomClient.connect(meeting.code, owner, name="owner third time")
        assert (await again.join())["you"]["id"] == back.id  # the same person, not banned

    async def test_while_the_owner_is_away_the_stand_in_still_cannot_ban_them_later(
        self, meeting: Meeting, owner: User, member: User
    ) -> None:
        await open_room(meeting, allow_guests=True)
        host = await RoomClient.connect(meeting.code, owner, name="owner")
        await host.join()
        cohost = await RoomClient.connect(meeting.code, member, name="cohost")
        await cohost.join()
        guest = await RoomClient.connect(meeting.code, guest_key="g", name="guest")
        await guest.join(display_name="Gus")
        # A co-host (even the owner's stand-in) cannot remove the owner; only the owner removes co-hosts.
        await cohost.send({"type": "host.remove", "participant_id": host.id, "ban": True})
        await cohost.expect_error("not_allowed")
        await host.send({"type": "host.make_cohost", "participant_id": guest.id})
        await guest.expect("waiting.list")
        await guest.send({"type": "host.remove", "participant_id": cohost.id})
        await guest.expect_error("not_allowed")
        await host.send({"type": "host.remove", "participant_id": cohost.id})
        assert (await cohost.expect("removed"))["reason"] == "removed"


class TestReconnect:
    async def test_a_participant_who_comes_back_in_time_keeps_their_place(
        self, meeting: Meeting, owner: User, outsider: User
    ) -> None:
        await open_room(meeting)
        host, other = await host_and_guest(meeting, owner, outsider)
        await other.send({"type": "hand.raise"})
        await host.expect("hand", hands=[other.id])
        token = other.joined["resume_token"]
        await other.close()
        back = await RoomClient.connect(meeting.code, outsider, name="back")
        joined = await back.join(resume_token=token)
        assert joined["you"]["id"] == other.id
        assert joined["hands"] == [other.id]
        await host.assert_silent({"roster.left", "roster.joined"}, wait=0.5)
        await back.send({"type": "chat.send", "text": "I'm back"})
        assert (await host.expect("chat.message"))["from"] == other.id

    async def test_someone_admitted_from_the_waiting_room_can_come_back_in_time(
        self, meeting: Meeting, owner: User, outsider: User
    ) -> None:
        host = await RoomClient.connect(meeting.code, owner, name="host")
        await host.join()
        await host.expect("waiting.list", waiting=[])
        guest = await RoomClient.connect(meeting.code, outsider, name="guest")
        waiting = await guest.knock()
        await host.expect("waiting.changed")
        await host.send({"type": "host.admit", "participant_id": waiting["participant_id"]})
        admitted = await guest.expect("joined")
        await host.expect("roster.joined")
        await host.expect("waiting.changed", left=[waiting["participant_id"]])
        await guest.close()
        back = await RoomClient.connect(meeting.code, outsider, name="back")
        joined = await back.join(resume_token=admitted["resume_token"])
        assert joined["you"]["id"] == waiting["participant_id"]
        await host.assert_silent({"roster.left", "roster.joined", "waiting.list", "waiting.changed"}, wait=0.5)

    async def test_a_token_does_not_work_for_someone_else(self, meeting: Meeting, owner: User, outsider: User) -> None:
        await open_room(meeting)
        _host, other = await host_and_guest(meeting, owner, outsider)
        stolen = await RoomClient.connect(meeting.code, await sync_to_async(make_user)(), name="thief")
        joined = await stolen.join(resume_token=other.joined["resume_token"])
        assert joined["you"]["id"] != other.id

    async def test_resuming_on_a_second_connection_replaces_the_first(
        self, meeting: Meeting, owner: User, outsider: User
    ) -> None:
        await open_room(meeting)
        host, other = await host_and_guest(meeting, owner, outsider)
        second = await RoomClient.connect(meeting.code, outsider, name="second")
        joined = await second.join(resume_token=other.joined["resume_token"])
        assert joined["you"]["id"] == other.id
        await other.expect_error("replaced")
        assert await other.expect_closed() == 4409
        await host.assert_silent({"roster.left"}, wait=0.5)

    async def test_after_the_grace_period_they_leave(
        self, meeting: Meeting, owner: User, outsider: User, settings: SettingsWrapper
    ) -> None:
        settings.MEETING_RECONNECT_GRACE_SECONDS = 1
        await open_room(meeting)
        host, other = await host_and_guest(meeting, owner, outsider)
        await other.close()
        left = await host.expect("roster.left", timeout=10)
        assert (left["participant_id"], left["reason"]) == (other.id, "disconnected")


class TestBadInput:
    async def test_bad_frames_get_stable_errors_and_others_are_unaffected(
        self, meeting: Meeting, owner: User, outsider: User
    ) -> None:
        await open_room(meeting)
        host, other = await host_and_guest(meeting, owner, outsider)
        await other.send_text("{not json")
        await other.expect_error("bad_json")
        await other.communicator.send_to(bytes_data=b"\x00")
        await other.expect_error("bad_json")
        await other.send({"type": "teleport"})
        await other.expect_error("unknown_type")
        await other.send({"type": "chat.send", "text": "ok", "extra": 1})
        assert (await other.expect_error("invalid"))["field"] == "extra"
        await host.assert_silent({"error", "chat.message"})
        await other.send({"type": "chat.send", "text": "still here"})
        await host.expect("chat.message", text="still here")

    async def test_a_failing_action_gets_an_error_and_the_room_goes_on(
        self, meeting: Meeting, owner: User, outsider: User, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        await open_room(meeting)
        host, other = await host_and_guest(meeting, owner, outsider)

        def broken(*args: Any) -> None:
            raise RuntimeError("database went away")

        monkeypatch.setattr(room_activity, "do_send_chat", broken)
        await other.send({"type": "chat.send", "text": "lost?"})
        await other.expect_error("internal_error")
        await host.assert_silent({"error", "chat.message"})
        monkeypatch.undo()
        await other.send({"type": "chat.send", "text": "still here"})
        await host.expect("chat.message", text="still here")

    async def test_a_crashed_connection_leaves_like_a_dropped_one(
        self, meeting: Meeting, owner: User, outsider: User, settings: SettingsWrapper
    ) -> None:
        settings.MEETING_RECONNECT_GRACE_SECONDS = 1
        await open_room(meeting)
        host, other = await host_and_guest(meeting, owner, outsider)
        channel = await sync_to_async(lambda: Participant.objects.get(pk=other.id).channel_name)()
        layer = get_channel_layer()
        assert layer is not None
        # A channel-layer message the consumer has no handler for makes Channels raise inside it.
        await layer.send(channel, {"type": "no.such.handler"})
        with pytest.raises(ValueError, match="No handler"):
            await other.communicator.receive_output(5)
        left = await host.expect("roster.left", timeout=10)
        assert (left["participant_id"], left["reason"]) == (other.id, "disconnected")

    async def test_oversized_frames_close_the_connection(self, meeting: Meeting, owner: User, outsider: User) -> None:
        await open_room(meeting)
        host, other = await host_and_guest(meeting, owner, outsider)
        await other.send_text('{"type": "ping", "id": "' + "x" * 70000 + '"}')
        assert await other.expect_closed() == 4413
        await host.send({"type": "ping", "id": "1"})
        await host.expect("pong", id="1")

    async def test_flooding_is_rate_limited_then_disconnected(
        self, meeting: Meeting, owner: User, outsider: User, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # The buckets' clock stands still: however slowly a loaded machine works through the
        # flood, no token comes back meanwhile (with the real clock the test was timing-bound).
        monkeypatch.setattr(
            "rooms.consumer.TokenBucket", lambda rate, burst: TokenBucket(rate, burst, clock=lambda: 0.0)
        )
        await open_room(meeting)
        host, other = await host_and_guest(meeting, owner, outsider)
        for index in range(200):
            await other.send({"type": "ping", "id": str(index)})
        await other.expect_error("rate_limited")
        assert await other.expect_closed() == 4429
        await host.send({"type": "chat.send", "text": "unaffected"})
        await host.expect("chat.message", text="unaffected")


PARTICIPANT_MESSAGES: list[dict[str, Any]] = [
    {"type": "chat.send", "text": "hi"},
    {"type": "reaction.send", "emoji": "👍"},
    {"type": "hand.raise"},
    {"type": "hand.lower"},
    {"type": "media.state", "audio": True, "video": True, "screen": False},
    {"type": "signal", "to": "00000000-0000-0000-0000-000000000001", "kind": "offer", "data": {}},
    {"type": "media.offer", "sdp": "v=0"},
    {"type": "media.ice", "candidate": None},
    {"type": "media.view", "tiles": None},
]
SOMEONE = "00000000-0000-0000-0000-000000000001"
HOST_MESSAGES: list[dict[str, Any]] = [
    {"type": "host.admit", "participant_id": SOMEONE},
    {"type": "host.deny", "participant_id": SOMEONE},
    {"type": "host.admit_all"},
    {"type": "host.mute", "participant_id": SOMEONE},
    {"type": "host.mute_all"},
    {"type": "host.remove", "participant_id": SOMEONE},
    {"type": "host.lock"},
    {"type": "host.unlock"},
    {"type": "host.end"},
    {"type": "host.make_cohost", "participant_id": SOMEONE},
    {"type": "host.record.start"},
    {"type": "host.record.stop"},
]


class TestRefusals:
    async def test_nothing_but_join_and_ping_works_before_joining(self, meeting: Meeting, outsider: User) -> None:
        client = await RoomClient.connect(meeting.code, outsider)
        for message in PARTICIPANT_MESSAGES + HOST_MESSAGES:
            await client.send(message)
            error = await client.expect("error")
            assert error["code"] == "not_joined", (message, error)

    async def test_attendees_cannot_use_any_host_control(self, meeting: Meeting, owner: User, outsider: User) -> None:
        await open_room(meeting)
        _host, other = await host_and_guest(meeting, owner, outsider)
        for message in HOST_MESSAGES:
            await other.send(message)
            error = await other.expect("error")
            assert error["code"] == "not_host", (message, error)
        await sync_to_async(meeting.refresh_from_db)()
        assert (meeting.status, (await sync_to_async(main_room_of)(meeting)).locked) == (MeetingStatus.LIVE, False)

    async def test_a_host_admits_everyone_waiting(self, meeting: Meeting, owner: User, outsider: User) -> None:
        host = await RoomClient.connect(meeting.code, owner, name="host")
        await host.join()
        first = await RoomClient.connect(meeting.code, outsider, name="first")
        second = await RoomClient.connect(meeting.code, await sync_to_async(make_user)(), name="second")
        knocked = [(await first.knock())["participant_id"], (await second.knock())["participant_id"]]
        for person in knocked:
            assert [p["id"] for p in (await host.expect("waiting.changed"))["joined"]] == [person]
        await host.send({"type": "host.admit_all"})
        await first.expect("joined")
        await second.expect("joined")
        admitted = await host.expect("waiting.changed")
        assert sorted(admitted["left"]) == sorted(knocked)
        assert admitted["joined"] == []
        await host.assert_silent({"error"})

    async def test_admitting_stops_at_max_participants_and_the_rest_keep_waiting(
        self, meeting: Meeting, owner: User
    ) -> None:
        await sync_to_async(save_meeting)(meeting, max_participants=2)
        host = await RoomClient.connect(meeting.code, owner, name="host")
        await host.join()
        knocking = [
            await RoomClient.connect(meeting.code, await sync_to_async(make_user)(), name=f"k{n}") for n in range(3)
        ]
        ids = [(await client.knock())["participant_id"] for client in knocking]
        for _ in ids:
            await host.expect("waiting.changed")
        await host.send({"type": "host.admit_all"})
        await knocking[0].expect("joined")
        assert (await host.expect("waiting.changed"))["left"] == [ids[0]]
        full = await host.expect_error("meeting_full")
        assert "1 admitted; 2 still waiting" in full["message"]
        # Full now: one by one is refused too, and nothing changed.
        await host.send({"type": "host.admit", "participant_id": ids[1]})
        await host.expect_error("meeting_full")
        await host.send({"type": "host.admit_all"})
        await host.expect_error("meeting_full")
        for client in knocking[1:]:
            await client.assert_silent({"joined"})
        states = await sync_to_async(
            lambda: dict(Participant.objects.filter(pk__in=ids).values_list("display_name", "state"))
        )()
        assert sorted(states.values()) == [ParticipantState.JOINED, ParticipantState.WAITING, ParticipantState.WAITING]
        # A place frees up: the next one gets in.
        await knocking[0].send({"type": "leave"})
        await host.expect("roster.left")
        await host.send({"type": "host.admit", "participant_id": ids[1]})
        await knocking[1].expect("joined")
        assert (await host.expect("waiting.changed"))["left"] == [ids[1]]


class TestSfuMedia:
    """The SFU relay's refusals; media through a real worker is in tests/test_sfu_meeting.py."""

    async def test_sfu_messages_are_refused_in_a_peer_to_peer_meeting(
        self, meeting: Meeting, owner: User, outsider: User
    ) -> None:
        await open_room(meeting)
        host, other = await host_and_guest(meeting, owner, outsider)
        assert other.joined["media"]["topology"] == "mesh"
        for message in ({"type": "media.offer", "sdp": "v=0"}, {"type": "media.ice", "candidate": None}):
            await other.send(message)
            await other.expect_error("not_sfu")
        await host.assert_silent({"error", "media.answer"})

    async def test_without_a_worker_an_offer_gets_sfu_unavailable(
        self, meeting: Meeting, owner: User, outsider: User, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(sfu_relay, "ASSIGN_TIMEOUT", 0.5)
        await open_room(meeting, topology="sfu")
        host, other = await host_and_guest(meeting, owner, outsider)
        assert other.joined["media"] == {**other.joined["media"], "topology": "sfu", "video_slots": 9}
        await other.send({"type": "media.offer", "sdp": "v=0\r\n", "restart": True})
        await other.expect_error("sfu_unavailable")
        await host.assert_silent({"error", "media.answer"})
        await other.send({"type": "chat.send", "text": "still here"})
        await host.expect("chat.message", text="still here")

    async def test_a_view_is_checked_before_it_reaches_a_worker(
        self, meeting: Meeting, owner: User, outsider: User
    ) -> None:
        await open_room(meeting, topology="sfu")
        _host, other = await host_and_guest(meeting, owner, outsider)
        await other.send({"type": "media.view", "tiles": ["not an id"]})
        assert (await other.expect_error("invalid"))["field"] == "tiles.0"
        await other.send({"type": "media.view", "sizes": {SOMEONE: 99999}})
        assert (await other.expect_error("invalid"))["field"] == f"sizes.{SOMEONE}"
        # A well-formed view before this connection's offer has nothing to apply to.
        await other.send({"type": "media.view", "tiles": [SOMEONE]})
        await other.expect_error("not_in_sfu")

    async def test_an_empty_room_starts_over_peer_to_peer(self, meeting: Meeting, owner: User) -> None:
        await open_room(meeting, topology="sfu")
        host = await RoomClient.connect(meeting.code, owner)
        assert (await host.join())["media"]["topology"] == "sfu"
        await host.send({"type": "leave"})
        await host.expect_closed()
        await sync_to_async(meeting.refresh_from_db)()
        assert (await sync_to_async(main_room_of)(meeting)).topology == "mesh"

"""Breakout rooms in real browsers: a host and four participants meet; the host creates two
breakout rooms in the page's "Breakout rooms" panel, puts two people in each by hand and opens
them. Each participant then decodes video from its roommate only, chat stays in its room, the
host's broadcast reaches all four, a help request from room 1 brings the host there ("Join
room") and back, the host visits room 2, a participant who reloads the page inside room 2 lands
in it again (with video), and closing shows a countdown on every page, which "Close now" cuts
short: everyone is back in the main room, where everyone decodes everyone's video again.

Real parts only: daphne, the channel layer on Redis, headless Chromium with a fake camera (a
small moving clip) and microphone. Every room meets peer-to-peer here (the SFU threshold is
raised above five): five pages through an SFU worker swamp this two-core machine, and breakout
rooms through a worker are tested with real aiortc peers in tests/test_sfu_breakout.py. Waits
are Playwright's auto-retrying expectations and in-page polling, never fixed sleeps.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from accounts.models import User
from tests.e2e.conftest import CHROMIUM_FLAGS
from tests.e2e.support import AsgiServer
from tests.e2e.test_room import TIMEOUT_MS, Person, make_person, open_room, people
from tests.factories import make_meeting

pytestmark = pytest.mark.django_db(transaction=True)

#: Five pages on two loaded cores: media after a move may take a while to start.
MEDIA_TIMEOUT_MS = 2 * TIMEOUT_MS
GUESTS = ("Grace", "Alan", "Edsger", "Barbara")
ROOM_OF = {"Grace": "Room 1", "Alan": "Room 1", "Edsger": "Room 2", "Barbara": "Room 2"}


@pytest.fixture
def asgi_env() -> dict[str, str]:
    return {"MEETING_SFU_THRESHOLD": "10"}


@pytest.fixture
def chromium_args(tmp_path: Path) -> list[str]:
    """Five pages share two cores: the fake camera plays a small moving picture (320x180, 15
    frames a second) instead of Chromium's 1280x720 test pattern, so that twenty encoders and
    decoders fit."""
    camera = tmp_path / "camera.y4m"
    write_camera_file(camera)
    return [*CHROMIUM_FLAGS, f"--use-file-for-fake-video-capture={camera}"]


def write_camera_file(path: Path, width: int = 320, height: int = 180, frames: int = 30) -> None:
    """A YUV4MPEG2 clip: a bright bar sweeping over a grey gradient (every frame differs)."""
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F15:1 Ip A1:1 C420jpeg\n".encode())
        chroma = bytes([128]) * ((width // 2) * (height // 2) * 2)
        for n in range(frames):
            bar = n * width // frames
            row = bytes(255 if bar <= x < bar + width // 10 else 40 + x * 160 // width for x in range(width))
            out.write(b"FRAME\n" + row * height + chroma)


# In-page: video frames decoded per participant on the page's current transport (peer-to-peer:
# per peer connection; SFU: per receive slot, by the participant `media.slots` puts there),
# polled until each of `ids` has decoded `rise` more frames than when the wait began (a count
# that falls means a new connection: it counts from there). `strangers`: anyone else decoded.
FRAMES_RISE = """async ([ids, rise, timeoutMs]) => {
  const sample = async () => {
    const transport = window.__room && window.__room.transport;
    const frames = {};
    const add = (id, stat) => {
      if (stat.type !== "inbound-rtp" || stat.kind !== "video") return;
      frames[id] = (frames[id] || 0) + (stat.framesDecoded || 0);
    };
    if (transport && transport.kind === "mesh") {
      for (const [id, peer] of transport.peers) (await peer.pc.getStats()).forEach((stat) => add(id, stat));
    } else if (transport && transport.pc) {
      const shows = new Map();
      for (const [mid, shown] of transport.slots) if (shown.slot === "camera") shows.set(mid, shown.participant);
      (await transport.pc.getStats()).forEach((stat) => shows.has(stat.mid) && add(shows.get(stat.mid), stat));
    }
    return { frames, kind: transport ? transport.kind : null };
  };
  const deadline = performance.now() + timeoutMs;
  let base = null;
  for (;;) {
    const { frames, kind } = await sample();
    base = base || { ...frames };
    for (const id of ids) if ((frames[id] || 0) < (base[id] || 0)) base[id] = frames[id] || 0;
    const strangers = Object.keys(frames).filter((id) => !ids.includes(id) && frames[id] > 0);
    if (ids.every((id) => (frames[id] || 0) - (base[id] || 0) >= rise)) return { frames, kind, strangers };
    if (performance.now() > deadline) return { timedOut: true, frames, base, kind, strangers };
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}"""


# In-page: the state of the page's media connections, for failure messages.
MEDIA_STATE = """() => {
  const transport = window.__room && window.__room.transport;
  if (!transport) return "no transport";
  const states = (pc) => `${pc.signalingState}/${pc.iceConnectionState}/${pc.connectionState}`;
  if (transport.kind === "mesh") {
    return Array.from(transport.peers, ([id, peer]) => `${id}: ${states(peer.pc)}`).join("; ");
  }
  const slots = Array.from(transport.slots, ([mid, shown]) => `${mid}=${shown.participant}/${shown.slot}`);
  const pc = transport.pc ? states(transport.pc) : "no pc";
  return `sfu ${pc}, slots ${slots.join(" ")}, present ${Array.from(transport.present)}`;
}"""


def describe(person: Person) -> str:
    return f"{person.name}: {person.page.evaluate(MEDIA_STATE)}; console: {person.console[-20:]}"


def frames_from(person: Person, others: list[Person]) -> dict[str, Any]:
    """Waits until ``person``'s page decodes fresh video from each of ``others``."""
    ids = [other.id for other in others]
    result: dict[str, Any] = person.page.evaluate(FRAMES_RISE, [ids, 20, MEDIA_TIMEOUT_MS])
    names = ", ".join(other.name for other in others)
    assert not result.get("timedOut"), f"{person.name}: no fresh video from {names}: {result}; {describe(person)}"
    return result


def room_indicator(person: Person) -> Locator:
    return person.page.get_by_role("status").filter(has_text="You are in")


def in_room(person: Person, room: str) -> None:
    expect(room_indicator(person)).to_have_text(f"You are in {room}")


def wait_for_roster(person: Person, members: list[Person]) -> None:
    """The page's room holds just these people (``person`` included)."""
    ids = sorted(member.id for member in members)
    try:
        person.page.wait_for_function(
            "(ids) => { const keys = Array.from(window.__room.roster.participants.keys());"
            " return keys.length === ids.length && ids.every((id) => keys.includes(id)); }",
            arg=ids,
            polling=250,
        )
    except PlaywrightTimeoutError:
        shown = person.page.evaluate("() => Array.from(window.__room.roster.participants.keys())")
        pytest.fail(f"{person.name}'s room holds {shown}, not {ids}")


def chat_history(person: Person) -> Locator:
    if person.page.locator("#chat-panel").is_hidden():
        person.button("Chat with everyone").click()
    return person.page.get_by_role("list", name="Chat history")


def only_roommates(person: Person, roommates: list[Person], everyone: list[Person]) -> None:
    """The page's room holds just these people, and it decodes video from them and nobody else."""
    wanted = {person.id, *(mate.id for mate in roommates)}
    wait_for_roster(person, [person, *roommates])
    result = frames_from(person, roommates)
    assert result["strangers"] == [], f"{person.name} decodes video from outside the room: {result}"
    for other in everyone:
        if other.id not in wanted:
            expect(person.page.locator(f'video[data-participant-id="{other.id}"]')).to_have_count(0)


def test_breakout_rooms_in_chromium_assign_open_broadcast_help_visit_reload_and_close(
    asgi_server: AsgiServer, browser: Browser
) -> None:
    expect.set_options(timeout=TIMEOUT_MS)
    ada_user = make_person("ada", "Ada")
    for name in GUESTS:
        make_person(name.lower(), name)
    meeting = make_meeting(owner=ada_user, title="Workshop", waiting_room=False)
    url = asgi_server.url + meeting.get_absolute_url()

    with people(browser) as everyone:
        for name in ("Ada", *GUESTS):
            person = open_room(browser, asgi_server, url, name, User.objects.get(username=name.lower()))
            everyone.append(person)
            person.button("Join now").click()
            expect(person.button("Leave call")).to_be_visible()
        ada, grace, alan, edsger, barbara = everyone
        guests = everyone[1:]
        # Participants have no "Breakout rooms" button; the host does.
        expect(grace.button("Breakout rooms")).to_be_hidden()

        # The host sets up two rooms and assigns two people to each by hand, then opens them.
        ada.button("Breakout rooms").click()
        panel = ada.page.get_by_role("region", name="Breakout rooms")
        panel.get_by_label("Number of rooms").fill("2")
        panel.get_by_role("button", name="Create rooms").click()
        expect(panel.get_by_role("status")).to_have_text("2 rooms are set up. Assign people, then open the rooms.")
        for guest in guests:
            panel.get_by_label(f"Room for {guest.name}").select_option(label=ROOM_OF[guest.name])
        for room in ("Room 1", "Room 2"):
            group = panel.get_by_role("region", name=room)
            for guest in guests:
                if ROOM_OF[guest.name] == room:
                    expect(group.get_by_label(f"Room for {guest.name}")).to_be_visible()
        expect(panel.get_by_role("region", name="Not assigned yet")).not_to_contain_text("Grace")
        panel.get_by_role("button", name="Open rooms").click()

        # Each participant is in its room, with its roommate's video and nobody else's.
        for guest in guests:
            in_room(guest, ROOM_OF[guest.name])
        in_room(ada, "Main room")
        for guest in guests:
            mates = [p for p in guests if p is not guest and ROOM_OF[p.name] == ROOM_OF[guest.name]]
            only_roommates(guest, mates, everyone)
        # People going to a breakout room have not left the meeting.
        expect(ada.page.locator(".toast").filter(has_text="left the meeting")).to_have_count(0)
        expect(panel.get_by_role("region", name="Room 1")).to_contain_text("Room 1 (2)")

        # Chat stays in its room.
        chat_history(grace)
        grace.page.get_by_label("Write a message").fill("Notes from room one")
        grace.button("Send message").click()
        expect(chat_history(alan)).to_contain_text("Notes from room one")
        chat_history(edsger)
        edsger.page.get_by_label("Write a message").fill("Notes from room two")
        edsger.button("Send message").click()
        expect(chat_history(barbara)).to_contain_text("Notes from room two")
        for person in (grace, alan):
            expect(chat_history(person)).not_to_contain_text("Notes from room two")
        for person in (edsger, barbara):
            expect(chat_history(person)).not_to_contain_text("Notes from room one")

        # The host's broadcast reaches every room: a banner, and a line in the chat.
        panel.get_by_label("Message to every room").fill("Five more minutes")
        panel.get_by_role("button", name="Broadcast").click()
        for guest in guests:
            banner = guest.page.get_by_role("alert").filter(has_text="Ada to everyone:")
            expect(banner).to_contain_text("Five more minutes")
            expect(chat_history(guest)).to_contain_text("Ada to everyone: Five more minutes")

        # Grace asks for help; the host joins her room from the notice, then goes back.
        grace.button("Ask for help").click()
        notice = ada.page.locator(".toast").filter(has_text="Grace asks for help in Room 1")
        notice.get_by_role("button", name="Join room").click()
        in_room(ada, "Room 1")
        for person in (grace, alan):
            expect(person.page.locator(f'.tile[data-participant-id="{ada.id}"]')).to_be_visible()
        frames_from(ada, [grace, alan])
        frames_from(grace, [ada])
        ada.button("Return to main room").click()
        in_room(ada, "Main room")
        expect(grace.page.locator(f'.tile[data-participant-id="{ada.id}"]')).to_have_count(0)

        # The host visits room 2 from the overview.
        panel.get_by_role("button", name="Join Room 2").click()
        in_room(ada, "Room 2")
        frames_from(ada, [edsger, barbara])
        ada.button("Return to main room").click()
        in_room(ada, "Main room")
        wait_for_roster(edsger, [edsger, barbara])

        # Barbara reloads her page inside room 2: she comes back into room 2, as the same
        # participant, and she and Edsger see each other again.
        barbara_id = barbara.id
        barbara.page.reload()
        barbara.button("Join now").click()
        in_room(barbara, "Room 2")
        assert barbara.id == barbara_id
        only_roommates(barbara, [edsger], everyone)
        frames_from(edsger, [barbara])
        wait_for_roster(ada, [ada])

        # Closing starts a countdown on every page; "Close now" cuts it short: everyone is back in
        # the main room, and everyone's video reaches everyone.
        panel.get_by_role("button", name="Close rooms (60 s countdown)").click()
        for guest in guests:
            countdown = guest.page.get_by_role("status").filter(has_text="Breakout rooms close in")
            expect(countdown).to_contain_text("You'll go back to the main room.")
        panel.get_by_role("button", name="Close now").click()
        for person in everyone:
            expect(person.page.locator("#room-bar")).to_be_hidden()
            wait_for_roster(person, everyone)
            assert person.page.evaluate("window.__room.session.room.kind") == "main"
        for person in everyone:
            frames_from(person, [other for other in everyone if other is not person])

        for person in everyone:
            assert person.errors == [], f"uncaught errors on {person.name}'s page: {person.errors}"

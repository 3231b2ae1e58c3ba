"""Three people meet in real browsers: a host and a co-host join directly, a guest knocks and is
admitted; everyone sees and decodes the two others' video, chat and reactions reach the others,
the host mutes the guest and every page shows it, a shared screen lands on the others' stage,
and the host ends the meeting for everyone.

Headless Chromium with a fake camera and microphone, peer-to-peer media over loopback, signaling
through a real daphne process. Waits use Playwright's auto-retrying expectations and in-page
polling, never fixed sleeps.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from accounts.access import profile_of
from accounts.models import User
from tests.e2e.support import AsgiServer, sign_in
from tests.factories import make_meeting, make_user

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT_MS = 30_000  # generous: three browsers share a loaded 2-core machine
PASSCODE = "2468"

# In-page: polls getStats() until the frames decoded from each of `ids` (inbound video, all
# tracks) exceed `floor`; returns {frames} or, after `timeoutMs`, {timedOut, frames}.
FRAMES_DECODED_ABOVE = """async ([ids, floor, timeoutMs]) => {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const transport = window.__room && window.__room.transport;
    const frames = {};
    let enough = Boolean(transport);
    for (const id of ids) {
      const peer = transport && transport.peers.get(id);
      let decoded = 0;
      if (peer) {
        (await peer.pc.getStats()).forEach((stat) => {
          if (stat.type === "inbound-rtp" && stat.kind === "video") decoded += stat.framesDecoded || 0;
        });
      }
      frames[id] = decoded;
      enough = enough && decoded > (floor[id] || 0);
    }
    if (enough) return { frames };
    if (performance.now() > deadline) return { timedOut: true, frames };
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}"""

# In-page: the <video> matching `selector` shows moving pictures.
VIDEO_PLAYING = """(selector) => {
  const video = document.querySelector(selector);
  if (!video || video.paused || video.videoWidth === 0) return false;
  return video.getVideoPlaybackQuality().totalVideoFrames > 2;
}"""


# In-page: what each peer connection looks like, for failure messages.
PEER_STATES = """() => {
  const transport = window.__room && window.__room.transport;
  if (!transport) return "no transport";
  return Array.from(transport.peers, ([id, peer]) =>
    `${id}: ${peer.pc.signalingState}/${peer.pc.iceConnectionState}/${peer.pc.connectionState}`).join("; ");
}"""


@dataclass
class Person:
    name: str
    page: Page
    errors: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)

    def describe(self) -> str:
        return f"{self.name}: peers {self.page.evaluate(PEER_STATES)}; console: {self.console[-20:]}"

    @property
    def id(self) -> str:
        return str(self.page.evaluate("window.__room.roster.selfId"))

    def button(self, name: str) -> Any:
        return self.page.get_by_role("button", name=name, exact=True)

    def wait_for_frames(self, ids: list[str], floor: dict[str, int]) -> dict[str, int]:
        """Frames decoded from each of ``ids``, once every count is above ``floor``."""
        result = self.page.evaluate(FRAMES_DECODED_ABOVE, [ids, floor, TIMEOUT_MS])
        frames: dict[str, int] = result["frames"]
        assert not result.get("timedOut"), f"frames decoded stuck at {frames} (needed > {floor}); {self.describe()}"
        return frames

    def wait_for_playing(self, selector: str) -> None:
        try:
            self.page.wait_for_function(VIDEO_PLAYING, arg=selector, polling=250, timeout=TIMEOUT_MS)
        except PlaywrightTimeoutError:
            pytest.fail(f"{selector} is not playing; {self.describe()}")


@contextmanager
def people(browser: Browser) -> Iterator[list[Person]]:
    opened: list[Person] = []
    try:
        yield opened
    finally:
        for person in opened:
            person.page.context.close()


def open_room(
    browser: Browser, server: AsgiServer, url: str, name: str, user: User | None, init_script: str | None = None
) -> Person:
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    if init_script is not None:
        context.add_init_script(init_script)
    if user is not None:
        sign_in(context, server, user)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    person = Person(name=name, page=page)
    page.on("pageerror", lambda error: person.errors.append(str(error)))
    page.on("console", lambda message: person.console.append(f"{message.type}: {message.text}"))
    page.goto(url)
    return person


def make_person(username: str, display_name: str) -> User:
    user = make_user(username=username, email=f"{username}@example.com")
    profile = profile_of(user)
    profile.display_name = display_name
    profile.save()
    return user


def test_three_people_meet_chat_react_mute_and_share_a_screen(asgi_server: AsgiServer, browser: Browser) -> None:
    expect.set_options(timeout=TIMEOUT_MS)
    ada_user = make_person("ada", "Ada")
    grace_user = make_person("grace", "Grace")
    meeting = make_meeting(owner=ada_user, title="Design review", allow_guests=True, waiting_room=True)
    meeting.set_passcode(PASSCODE)
    meeting.save()
    meeting.co_hosts.add(grace_user)
    url = asgi_server.url + meeting.get_absolute_url()

    with people(browser) as everyone:
        # The host and the co-host join directly from the prejoin screen.
        ada = open_room(browser, asgi_server, url, "Ada", ada_user)
        everyone.append(ada)
        expect(ada.page.get_by_text("Joining as Ada")).to_be_visible()
        ada.button("Join now").click()
        expect(ada.button("Leave call")).to_be_visible()

        grace = open_room(browser, asgi_server, url, "Grace", grace_user)
        everyone.append(grace)
        grace.button("Join now").click()
        expect(grace.button("Leave call")).to_be_visible()

        # The guest gives a name and the passcode, waits, and the host admits them.
        alan = open_room(browser, asgi_server, url, "Alan", None)
        everyone.append(alan)
        alan.page.get_by_label("Your name").fill("Alan")
        alan.page.get_by_label("Passcode").fill(PASSCODE)
        alan.button("Join now").click()
        expect(alan.page.get_by_role("heading", name="Waiting for the host to let you in")).to_be_visible()
        ada.button("Show everyone").click()
        participants = ada.page.get_by_role("region", name="Participants")
        participants.get_by_role("button", name="Admit Alan").click()
        expect(alan.button("Leave call")).to_be_visible()

        ids = {person.name: person.id for person in everyone}

        # Every page shows the two others' camera video, and keeps decoding it.
        for person in everyone:
            others = [ids[p.name] for p in everyone if p is not person]
            for other_id in others:
                selector = f'video[data-kind="camera"][data-participant-id="{other_id}"]'
                expect(person.page.locator(selector)).to_be_visible()
                person.wait_for_playing(selector)
            first = person.wait_for_frames(others, {})
            person.wait_for_frames(others, {other: first[other] + 20 for other in others})

        # Chat: text only, links made safely.
        grace.button("Chat with everyone").click()
        grace.page.get_by_label("Write a message").fill("Notes: https://example.org/notes <b>not bold</b>")
        grace.button("Send message").click()
        for person in (ada, alan):
            person.button("Chat with everyone").click()
            history = person.page.get_by_role("list", name="Chat history")
            expect(history).to_contain_text("Notes: https://example.org/notes <b>not bold</b>")
            link = history.get_by_role("link", name="https://example.org/notes")
            expect(link).to_have_attribute("href", "https://example.org/notes")
            expect(link).to_have_attribute("rel", "noopener noreferrer")
            expect(history.locator("b")).to_have_count(0)

        # A reaction floats up on the others' screens.
        alan.button("Send a reaction").click()
        alan.button("Send Celebrate reaction").click()
        for person in (ada, grace):
            expect(person.page.get_by_role("img", name="Celebrate reaction").first).to_be_visible()

        # The host mutes the guest: every page shows the guest's microphone off.
        ada.button("Show everyone").click()
        participants.get_by_role("button", name="Mute Alan").click()
        for person in everyone:
            tile = person.page.locator(f'.tile[data-participant-id="{ids["Alan"]}"]')
            expect(tile.get_by_role("img", name="Alan: microphone off")).to_be_visible()
        expect(participants.get_by_role("img", name="Alan: microphone off")).to_be_visible()
        expect(alan.page.get_by_role("alert").filter(has_text="Ada muted you")).to_be_visible()
        expect(alan.button("Turn on microphone")).to_be_visible()
        assert alan.page.evaluate("window.__room.media.audioTrack.enabled") is False

        # A shared screen lands on the others' stage.
        grace.button("Present now").click()
        expect(grace.button("Stop presenting")).to_be_visible()
        screen = f'video[data-kind="screen"][data-participant-id="{ids["Grace"]}"]'
        for person in (ada, alan):
            expect(person.page.get_by_role("region", name="Stage").locator(screen)).to_be_visible()
            person.wait_for_playing(screen)

        # The host ends the meeting for everyone.
        ada.button("Leave call").click()
        ada.button("End the call for everyone").click()
        for person in everyone:
            expect(person.page.get_by_role("heading", name="The meeting has ended")).to_be_visible()

        for person in everyone:
            assert person.errors == [], f"uncaught errors on {person.name}'s page: {person.errors}"


# Before the page's scripts: while `window.__dropCandidates` is set, the ICE candidates this page
# sends (trickled, or inside an offer or answer) are lost on the way, so no connection of the page
# ever starts checking. A `reset` (sent or received) ends the loss, so the connections made after
# it connect; `window.__resets` counts them.
LOSE_CANDIDATES_UNTIL_RESET = """(() => {
  window.__dropCandidates = true;
  window.__resets = 0;
  const asSignal = (text) => {
    try {
      const message = JSON.parse(text);
      return message.type === "signal" ? message : null;
    } catch {
      return null;
    }
  };
  const sawReset = () => { window.__dropCandidates = false; window.__resets += 1; };
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (event) => { if (asSignal(event.data)?.kind === "reset") sawReset(); });
    }
    send(text) {
      const signal = asSignal(text);
      if (signal?.kind === "reset") sawReset();
      if (window.__dropCandidates && signal) {
        if (signal.kind === "candidate") return;
        const description = signal.data && signal.data.description;
        if (description && description.sdp) {
          const lines = description.sdp.split("\\r\\n");
          description.sdp = lines.filter((line) => !line.startsWith("a=candidate")).join("\\r\\n");
          text = JSON.stringify(signal);
        }
      }
      super.send(text);
    }
  };
})()"""


def test_a_connection_that_never_starts_checking_is_replaced_and_media_flows(
    asgi_server: AsgiServer, browser: Browser
) -> None:
    expect.set_options(timeout=TIMEOUT_MS)
    ada_user = make_person("ada", "Ada")
    meeting = make_meeting(owner=ada_user, title="Stuck", allow_guests=True, waiting_room=False)
    url = asgi_server.url + meeting.get_absolute_url()
    with people(browser) as everyone:
        for name, user in (("Ada", ada_user), ("Alan", None)):
            person = open_room(browser, asgi_server, url, name, user, init_script=LOSE_CANDIDATES_UNTIL_RESET)
            everyone.append(person)
            if user is None:
                person.page.get_by_label("Your name").fill(name)
            person.button("Join now").click()
            expect(person.button("Leave call")).to_be_visible()
        ids = {person.name: person.id for person in everyone}

        # Without candidates the pair's connection stays "new"; an ICE restart does not help, so the
        # impolite side replaces the connection (one `reset`, seen by both pages) and video flows.
        for person in everyone:
            other = ids["Alan" if person.name == "Ada" else "Ada"]
            try:
                person.page.wait_for_function("() => window.__resets > 0", polling=250, timeout=3 * TIMEOUT_MS)
            except PlaywrightTimeoutError:
                pytest.fail(f"no reset: {person.describe()}")
            first = person.wait_for_frames([other], {})
            person.wait_for_frames([other], {other: first[other] + 20})
            assert person.page.evaluate("window.__resets") == 1, person.describe()
        for person in everyone:
            assert person.errors == [], f"uncaught errors on {person.name}'s page: {person.errors}"

"""A meeting moves from peer-to-peer to a real SFU worker process when the third person joins
(the threshold is lowered to 3 for this test): every page then receives the two others' video
through the worker and keeps decoding it, the move leaves no long gap in anyone's video, the
worker's dominant-speaker choice follows who talks, on every page, and a shared screen reaches
the others' stage, and a recording the host starts is shown on every page. When the worker is
killed, the meeting moves to another one by itself; when no worker is left, the three go back
to peer-to-peer.

Real parts only: daphne, the channel layer on Redis, ``python -m media_workers``, headless
Chromium with a fake camera and microphone, loopback ICE.
"""

from __future__ import annotations

import math
import re
import struct
import time
import wave
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from accounts.models import User
from meetings.models import Meeting
from tests.e2e.conftest import CHROMIUM_FLAGS
from tests.e2e.support import AsgiServer
from tests.e2e.test_room import TIMEOUT_MS, Person, make_person, open_room, people
from tests.factories import main_room_of, make_meeting
from tests.sfu_workers import SfuWorker, SfuWorkers

pytestmark = pytest.mark.django_db(transaction=True)

#: Issue 4: after a worker dies, media flows again within 10 s.
FAILOVER_SECONDS = 10.0
SPEAKING = re.compile(r"\bspeaking\b")
#: The longest a page may go without a new decoded frame from someone while the room moves.
MAX_GAP_MS = 2000

# In-page: frames decoded per participant through the SFU transport (slot mids → participant),
# polled until each of `ids` is above `floor`; {frames} or {timedOut, frames, slots}.
SFU_FRAMES_ABOVE = """async ([ids, floor, timeoutMs]) => {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const transport = window.__room && window.__room.transport;
    const frames = {};
    let enough = Boolean(transport && transport.kind === "sfu" && transport.pc);
    if (enough) {
      const byMid = new Map();
      for (const [mid, shown] of transport.slots) if (shown.slot === "camera") byMid.set(mid, shown.participant);
      (await transport.pc.getStats()).forEach((stat) => {
        const who = stat.type === "inbound-rtp" && stat.kind === "video" && byMid.get(stat.mid);
        if (who) frames[who] = (frames[who] || 0) + (stat.framesDecoded || 0);
      });
    }
    for (const id of ids) enough = enough && (frames[id] || 0) > (floor[id] || 0);
    if (enough) return { frames };
    if (performance.now() > deadline) {
      const slots = transport && transport.slots ? Array.from(transport.slots) : null;
      return { timedOut: true, frames, slots, kind: transport && transport.kind };
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}"""

# In-page: watches every remote camera <video> and records the longest time without a new
# frame (requestVideoFrameCallback), per participant; read back with GAP_REPORT.
GAP_WATCH = """() => {
  const state = (window.__gaps = { longest: {}, last: {} });
  const watch = (video) => {
    if (video.__watched) return;
    video.__watched = true;
    const onFrame = (now) => {
      const id = video.dataset.participantId;
      const last = state.last[id];
      if (last !== undefined) state.longest[id] = Math.max(state.longest[id] || 0, now - last);
      state.last[id] = now;
      video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  };
  const scan = () => document.querySelectorAll('video[data-kind="camera"][data-participant-id]').forEach(watch);
  scan();
  new MutationObserver(scan).observe(document.body, { childList: true, subtree: true });
}"""
GAP_REPORT = "() => window.__gaps.longest"


@pytest.fixture
def asgi_env() -> dict[str, str]:
    return {"MEETING_SFU_THRESHOLD": "3"}


@pytest.fixture
def chromium_args(tmp_path: Path) -> list[str]:
    """The fake microphone "speaks" (Chromium's default is a short beep now and then, which
    its noise suppression partly removes): a voice-like sound, a harmonic tone whose pitch glides
    and whose loudness comes and goes in syllables, so whoever is unmuted clearly talks."""
    voice = tmp_path / "voice.wav"
    with wave.open(str(voice), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(VOICE_RATE)
        out.writeframes(b"".join(struct.pack("<h", sample) for sample in voice_samples(seconds=4)))
    return [*CHROMIUM_FLAGS, f"--use-file-for-fake-audio-capture={voice}"]


VOICE_RATE = 48_000


def voice_samples(seconds: int) -> list[int]:
    samples = []
    phase = 0.0
    for n in range(VOICE_RATE * seconds):
        t = n / VOICE_RATE
        pitch = 160 + 60 * math.sin(2 * math.pi * 0.7 * t)
        phase += 2 * math.pi * pitch / VOICE_RATE
        syllables = max(0.0, math.sin(2 * math.pi * 3.0 * t)) ** 0.5
        tone = sum(math.sin(k * phase) / k for k in range(1, 6))
        samples.append(round(12_000 * syllables * tone))
    return samples


def sfu_frames(person: Person, ids: list[str], floor: dict[str, int]) -> dict[str, int]:
    result = person.page.evaluate(SFU_FRAMES_ABOVE, [ids, floor, TIMEOUT_MS])
    frames: dict[str, int] = result["frames"]
    assert not result.get("timedOut"), f"{person.name}: SFU frames stuck at {frames} (> {floor} needed): {result}"
    return frames


def join_three(browser: Browser, server: AsgiServer, url: str, everyone: list[Person]) -> None:
    """Ada, Grace and Alan join; the two first meet peer-to-peer and watch each other's video
    for gaps from then on; the third join moves the room to the worker."""
    for name in ("Ada", "Grace", "Alan"):
        user = User.objects.get(username=name.lower())
        person = open_room(browser, server, url, name, user)
        everyone.append(person)
        person.button("Join now").click()
        expect(person.button("Leave call")).to_be_visible()
        if name == "Grace":
            host, guest = everyone
            host.wait_for_playing(f'video[data-kind="camera"][data-participant-id="{guest.id}"]')
            guest.wait_for_playing(f'video[data-kind="camera"][data-participant-id="{host.id}"]')
            for watcher in everyone:
                watcher.page.evaluate(GAP_WATCH)
    for person in everyone:
        person.page.wait_for_function("() => window.__room.transport && window.__room.transport.kind === 'sfu'")


def wait_for_sfu_video(everyone: list[Person]) -> None:
    """Every page decodes the others' video through the worker, and keeps decoding it."""
    for person in everyone:
        others = [p.id for p in everyone if p is not person]
        for other in others:
            person.wait_for_playing(f'video[data-kind="camera"][data-participant-id="{other}"]')
        first = sfu_frames(person, others, {})
        sfu_frames(person, others, {other: first[other] + 20 for other in others})


def make_meeting_of_three() -> Meeting:
    owner = make_person("ada", "Ada")
    make_person("grace", "Grace")
    make_person("alan", "Alan")
    return make_meeting(owner=owner, title="All hands", waiting_room=False)


def test_a_meeting_moves_to_the_sfu_follows_the_speaker_shows_a_screen_and_is_recorded(
    asgi_server: AsgiServer, sfu_worker: SfuWorker, browser: Browser
) -> None:
    expect.set_options(timeout=TIMEOUT_MS)
    url = asgi_server.url + make_meeting_of_three().get_absolute_url()

    with people(browser) as everyone:
        join_three(browser, asgi_server, url, everyone)
        ada, grace, alan = everyone
        ids = {person.name: person.id for person in everyone}
        wait_for_sfu_video(everyone)

        # Ada and Grace watched each other across the move: no gap longer than MAX_GAP_MS.
        for watcher, watched in ((ada, grace), (grace, ada)):
            gaps = watcher.page.evaluate(GAP_REPORT)
            assert ids[watched.name] in gaps, f"{watcher.name} never saw {watched.name}'s frames: {gaps}"
            assert gaps[ids[watched.name]] < MAX_GAP_MS, f"{watcher.name} lost {watched.name}'s video: {gaps}"

        # Only Grace talks: the worker makes her the dominant speaker on every page; then Alan.
        for speaker in (grace, alan):
            for person in everyone:
                wants_mic = person is speaker
                if person.page.evaluate("() => window.__room.media.micOn") != wants_mic:
                    person.button("Turn on microphone" if wants_mic else "Turn off microphone").click()
            for person in everyone:
                if person is speaker:
                    continue
                try:
                    person.page.wait_for_function(
                        "(id) => window.__room.speakers.dominant === id", arg=ids[speaker.name], polling=250
                    )
                except PlaywrightTimeoutError:
                    dominant = person.page.evaluate("() => String(window.__room.speakers.dominant)")
                    pytest.fail(f"{person.name}: dominant speaker {dominant}, not {speaker.name}; ids {ids}")
                tile = person.page.locator(f'.tile[data-participant-id="{ids[speaker.name]}"]')
                try:
                    expect(tile).to_have_class(SPEAKING)
                except AssertionError:
                    levels = person.page.evaluate(
                        "() => JSON.stringify([...window.__room.transport.getAudioLevels()])"
                        " + JSON.stringify([...window.__room.transport.slots])"
                    )
                    pytest.fail(f"{person.name} does not highlight {speaker.name}: levels {levels}; ids {ids}")

        # A screen share goes through the worker as its own producer, onto the others' stage.
        grace.button("Present now").click()
        expect(grace.button("Stop presenting")).to_be_visible()
        screen = f'video[data-kind="screen"][data-participant-id="{ids["Grace"]}"]'
        for person in (ada, alan):
            expect(person.page.get_by_role("region", name="Stage").locator(screen)).to_be_visible()
            person.wait_for_playing(screen)

        # The host records: every page says so, until the host stops.
        ada.button("More options").click()
        ada.page.get_by_role("menuitem", name="Start recording").click()
        for person in everyone:
            expect(person.page.get_by_role("status").filter(has_text="Recording")).to_be_visible()
        ada.button("More options").click()
        ada.page.get_by_role("menuitem", name="Stop recording").click()
        for person in everyone:
            expect(person.page.locator("#recording-indicator")).to_be_hidden()

        for person in everyone:
            assert person.errors == [], f"uncaught errors on {person.name}'s page: {person.errors}"


def test_when_the_worker_dies_the_meeting_moves_to_another_within_seconds(
    asgi_server: AsgiServer, sfu_workers: SfuWorkers, browser: Browser
) -> None:
    expect.set_options(timeout=TIMEOUT_MS)
    sfu_workers.start()
    sfu_workers.start()
    meeting = make_meeting_of_three()
    with people(browser) as everyone:
        join_three(browser, asgi_server, asgi_server.url + meeting.get_absolute_url(), everyone)
        wait_for_sfu_video(everyone)
        doomed = sfu_workers.serving(str(main_room_of(meeting).pk))
        for person in everyone:
            person.page.evaluate("() => { window.__before = window.__room.transport.pc; }")

        doomed.kill()
        started = time.monotonic()
        # Every page connects again by itself (a new peer connection, to the surviving worker)
        # and decodes the others' video from it.
        for person in everyone:
            person.page.wait_for_function("() => window.__room.transport.pc !== window.__before", polling=250)
            sfu_frames(person, [p.id for p in everyone if p is not person], {})
        recovered = time.monotonic() - started
        assert sfu_workers.serving(str(main_room_of(meeting).pk)) is not doomed
        assert recovered < FAILOVER_SECONDS, f"media came back {recovered:.1f} s after the worker died"


# In-page: frames decoded from each of `ids` over the peer-to-peer transport, polled until each
# is above `floor`; {frames} or {timedOut, frames, states}.
MESH_FRAMES_ABOVE = """async ([ids, floor, timeoutMs]) => {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const transport = window.__room && window.__room.transport;
    const frames = {};
    const states = {};
    const mesh = Boolean(transport && transport.kind === "mesh");
    let enough = mesh;
    for (const id of ids) {
      const peer = mesh && transport.peers.get(id);
      if (peer) {
        const pc = peer.pc;
        states[id] = `${pc.signalingState}/${pc.iceConnectionState}/${pc.connectionState}`;
        (await pc.getStats()).forEach((stat) => {
          if (stat.type !== "inbound-rtp" || stat.kind !== "video") return;
          frames[id] = (frames[id] || 0) + (stat.framesDecoded || 0);
        });
      }
      enough = enough && (frames[id] || 0) > (floor[id] || 0);
    }
    if (enough) return { frames };
    if (performance.now() > deadline) return { timedOut: true, frames, states, kind: transport && transport.kind };
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}"""


def test_when_no_worker_is_left_a_small_meeting_goes_back_to_peer_to_peer(
    asgi_server: AsgiServer, sfu_worker: SfuWorker, browser: Browser
) -> None:
    expect.set_options(timeout=TIMEOUT_MS)
    meeting = make_meeting_of_three()
    with people(browser) as everyone:
        join_three(browser, asgi_server, asgi_server.url + meeting.get_absolute_url(), everyone)
        wait_for_sfu_video(everyone)

        sfu_worker.kill()
        # Nobody is left to forward media: three people fit peer-to-peer (MEETING_MESH_FALLBACK_MAX
        # is 4), so the room goes back to it and every page decodes the two others directly.
        for person in everyone:
            others = [p.id for p in everyone if p is not person]
            first = person.page.evaluate(MESH_FRAMES_ABOVE, [others, {}, 2 * TIMEOUT_MS])
            assert not first.get("timedOut"), f"no peer-to-peer video: {first}; {person.describe()}"
            later = {other: first["frames"][other] + 20 for other in others}
            moving = person.page.evaluate(MESH_FRAMES_ABOVE, [others, later, TIMEOUT_MS])
            assert not moving.get("timedOut"), f"peer-to-peer video stalled: {moving}; {person.describe()}"
        # (No time bound beyond the generous waits: the issue sets none for this case, and on a
        # loaded machine the path — peer connection failure, an offer that times out while the
        # dead worker's registration lives 3 s more, the retry's backoff — took up to 20 s.)
        meeting.refresh_from_db()
        assert main_room_of(meeting).topology == "mesh"
        for person in everyone:
            assert person.errors == [], f"uncaught errors on {person.name}'s page: {person.errors}"

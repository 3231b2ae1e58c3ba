"""A room of about 1,000 in Chromium stays responsive: the host's page gets the real ``joined``
snapshot (in chunks) of a main room holding 996 other people, opens the people panel and
scrolls it from top to bottom, mutes someone from a row far down the list, and then takes a
burst of roster changes published through the server's own fan-out. Meanwhile the page
measures its frame times (requestAnimationFrame deltas and long tasks) and they stay bounded;
the DOM never holds more than a few dozen roster rows or more than one page of tiles, the
count shown is the room's exact one, and the first person in view stays in place while people
above leave. A guest in the same meeting sees the list without any host controls.

The other people are database rows only (joined, in the main room, no connection); the room
is on the SFU topology, as a room that size is, with a real worker (``python -m media_workers``)
that the host's page connects to: its ``media.view`` names the tiles of the page it shows.
"""

from __future__ import annotations

import re
import time
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, Locator, Page, expect

from meetings.models import Meeting, Participant, ParticipantState, Room, Topology
from rooms import events, fanout
from tests.e2e.support import AsgiServer
from tests.e2e.test_room import TIMEOUT_MS, make_person, open_room, people
from tests.factories import main_room_of, make_meeting, save_meeting
from tests.sfu_workers import SfuWorkers

pytestmark = pytest.mark.django_db(transaction=True)

#: The others in the room (with the host and the guest: 998, under the limit of 1,000).
OTHERS = 996
#: The burst: this many rounds, each bringing JOINS new people and taking LEAVES of the first.
ROUNDS, JOINS, LEAVES = 8, 50, 60
#: What "responsive" means, with room for a loaded two-core machine. This page measured (idle
#: machine / while five other pages ran a breakout test): burst p95 17 / 167 ms, longest task
#: 0 / 313 ms; scrolling p95 17 / 67 ms. The views before the virtual list and the paged gallery
#: (people.js, tiles.js, roster.js in a bare page, fed the same messages, idle machine): burst
#: p95 450-500 ms, longest task 390-580 ms; the join 600-760 ms in one task (1,000 tiles, each
#: with a <video>); opening the panel 440 ms.
P95_FRAME_MS = 250.0
LONGEST_TASK_MS = 500.0
MAX_ROWS = 40  # a screenful of 56 px rows and the overscan either side
MAX_TILES = 25  # one page of the gallery

# Before the page's scripts: every frame's delta (requestAnimationFrame) and every long task.
FRAME_MONITOR = """(() => {
  const perf = (window.__perf = { frames: [], tasks: [] });
  let last = 0;
  const onFrame = (now) => {
    if (last) perf.frames.push([now, now - last]);
    last = now;
    requestAnimationFrame(onFrame);
  };
  requestAnimationFrame(onFrame);
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) perf.tasks.push([entry.startTime, entry.duration]);
  }).observe({ type: "longtask", buffered: true });
})()"""

# Before the page's scripts: the media.view messages the page sends and the errors it gets.
SOCKET_SPY = """(() => {
  window.__views = [];
  window.__errors = [];
  const parse = (text) => { try { return JSON.parse(text); } catch { return null; } };
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (event) => {
        const message = parse(event.data);
        if (message && message.type === "error") window.__errors.push(message);
      });
    }
    send(text) {
      const message = parse(text);
      if (message && message.type === "media.view") window.__views.push(message);
      super.send(text);
    }
  };
})()"""

# In-page: the latest media.view has a size for exactly the others whose tiles the page shows.
VIEW_MATCHES_PAGE = """() => {
  const selfId = window.__room.roster.selfId;
  const shown = Array.from(document.querySelectorAll("#gallery .tile"), (tile) => tile.dataset.participantId);
  const view = window.__views.at(-1);
  const key = (ids) => JSON.stringify([...ids].sort());
  return Boolean(view) && key(Object.keys(view.sizes)) === key(shown.filter((id) => id !== selfId));
}"""

# In-page: the frame deltas and long tasks between two performance.now() marks.
FRAME_STATS = """([from, to]) => {
  const deltas = window.__perf.frames.filter(([at]) => at > from && at <= to).map(([, d]) => d).sort((a, b) => a - b);
  const tasks = window.__perf.tasks.filter(([at]) => at >= from && at <= to).map(([, d]) => d);
  const at = (q) => deltas.length ? deltas[Math.min(deltas.length - 1, Math.floor(q * deltas.length))] : 0;
  return { seconds: (to - from) / 1000, frames: deltas.length, p50: at(0.5), p95: at(0.95), max: at(1),
           longTasks: tasks.length, longestTask: Math.max(0, ...tasks) };
}"""

# In-page: the name in the first row in view of the people panel.
FIRST_ROW_IN_VIEW = """() => {
  const scroller = document.querySelector("#people-panel .panel-body");
  const top = scroller.getBoundingClientRect().top;
  for (const row of document.querySelectorAll("[data-part=people-list] > li")) {
    const rect = row.getBoundingClientRect();
    if (rect.top <= top && rect.bottom > top) return row.querySelector(".person-name > span").textContent;
  }
  return null;
}"""

# In-page: scrolls the people panel from top to bottom, `step` px every other frame; returns the
# marks, the most rows the list ever held, and the steps at which the rows did not cover the view.
SCROLL_THROUGH = """async (step) => {
  const scroller = document.querySelector("#people-panel .panel-body");
  const list = document.querySelector("[data-part=people-list]");
  const frame = () => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
  const covered = () => {
    const view = scroller.getBoundingClientRect();
    const box = list.getBoundingClientRect();
    const from = Math.max(view.top, box.top), to = Math.min(view.bottom, box.bottom);
    const rows = Array.from(list.children, (row) => row.getBoundingClientRect());
    return to <= from || (rows.some((r) => r.top <= from + 1) && rows.some((r) => r.bottom >= to - 1));
  };
  scroller.scrollTop = 0;
  await frame();
  const from = performance.now();
  let maxRows = list.children.length, gaps = 0, steps = 0;
  while (scroller.scrollTop + scroller.clientHeight < scroller.scrollHeight - 1) {
    scroller.scrollTop += step;
    await frame();
    steps += 1;
    maxRows = Math.max(maxRows, list.children.length);
    if (!covered()) gaps += 1;
  }
  return { from, to: performance.now(), maxRows, gaps, steps };
}"""

SCROLL_TO = """(share) => {
  const scroller = document.querySelector("#people-panel .panel-body");
  scroller.scrollTop = scroller.scrollHeight * share;
}"""

TILE_IDS = "(tiles) => tiles.map((tile) => tile.dataset.participantId)"

# In-page: what the page holds and shows now.
SHOWN = """() => ({
  rows: document.querySelectorAll("[data-part=people-list] > li").length,
  tiles: document.querySelectorAll("#video-area .tile").length,
  videos: document.querySelectorAll("#video-area video").length,
  count: document.querySelector("[data-part=people-count]").textContent,
  badge: document.querySelector("#people-badge").textContent,
  pages: document.querySelector(".gallery-pages-label")?.textContent || "",
  roster: window.__room.roster.participants.size,
})"""


def now_ms(page: Page) -> float:
    return float(page.evaluate("performance.now()"))


def frame_stats(page: Page, start: float, end: float) -> dict[str, float]:
    stats: dict[str, float] = page.evaluate(FRAME_STATS, [start, end])
    return stats


def fill_room(meeting: Meeting, room: Room, count: int, first: int = 0) -> list[Participant]:
    """``count`` people joined in ``room`` (rows only, no connection), named Person 0000 on."""
    start = timezone.now() - timedelta(hours=1)
    made = Participant.objects.bulk_create(
        Participant(
            meeting=meeting,
            room=room,
            state=ParticipantState.JOINED,
            display_name=f"Person {first + n:04d}",
            guest_key=uuid.uuid4().hex,
            joined_at=start + timedelta(milliseconds=first + n),
        )
        for n in range(count)
    )
    return list(made)


def publish_burst(meeting: Meeting, room: Room, leavers: list[Participant]) -> int:
    """ROUNDS roster.batch events through the fan-out, each matching a real change of the room
    (JOINS new rows, LEAVES rows marked left, reasons taking turns); returns the final count."""
    group = events.room_group(meeting.pk, room.pk)
    reasons = ("left", "disconnected", "removed")
    count = Participant.objects.filter(room=room, state=ParticipantState.JOINED).count()
    for n in range(ROUNDS):
        joined = fill_room(meeting, room, JOINS, first=OTHERS + n * JOINS)
        gone = leavers[n * LEAVES : (n + 1) * LEAVES]
        Participant.objects.filter(pk__in=[p.pk for p in gone]).update(
            state=ParticipantState.LEFT, room=None, left_at=timezone.now()
        )
        count += JOINS - LEAVES
        batch = events.roster_batch(
            [events.participant_json(p) for p in joined], [str(p.pk) for p in gone], reasons[n % 3], count
        )
        fanout.publish_sync(group, {"type": "room.event", "room": room.pk, "event": batch})
        time.sleep(0.15)
    return count


def wait_for_count(page: Page, count: int) -> None:
    """Until the page shows ``count`` and holds that many people (every message applied)."""
    page.wait_for_function(
        """(n) => document.querySelector("[data-part=people-count]").textContent === String(n)
                  && window.__room.roster.participants.size === n""",
        arg=count,
        polling=100,
        timeout=TIMEOUT_MS,
    )


def report(label: str, stats: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    with capsys.disabled():
        print(
            f"\n[big room] {label}: {stats['frames']} frames in {stats['seconds']:.1f} s, frame p50 "
            f"{stats['p50']:.0f} ms, p95 {stats['p95']:.0f} ms, max {stats['max']:.0f} ms; "
            f"{stats['longTasks']} long tasks, longest {stats['longestTask']:.0f} ms"
        )


def assert_responsive(label: str, stats: dict[str, Any]) -> None:
    assert stats["frames"] > 0, f"{label}: no frames at all"
    assert stats["p95"] < P95_FRAME_MS, f"{label}: frame p95 {stats['p95']:.0f} ms ({stats})"
    assert stats["longestTask"] < LONGEST_TASK_MS, f"{label}: a {stats['longestTask']:.0f} ms task ({stats})"


def measure_join(page: Page, join: Locator, in_room: int, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """(1) The join: `joined` with 250 people, then three roster.batch chunks with the rest."""
    start = now_ms(page)
    join.click()
    wait_for_count(page, in_room)
    page.wait_for_timeout(500)
    stats = frame_stats(page, start, now_ms(page))
    report(f"join (a snapshot of {in_room} in chunks)", stats, capsys)
    shown = page.evaluate(SHOWN)
    assert 2 <= shown["tiles"] <= MAX_TILES, shown
    assert shown["videos"] <= MAX_TILES, shown
    assert shown["count"] == str(in_room), shown
    assert shown["badge"] == str(in_room), shown
    assert re.fullmatch(r"Page 1 of \d+", shown["pages"]), shown
    expect(page.get_by_role("group", name="Videos").get_by_role("group", name="Ada (You)")).to_be_visible()
    return stats


def wait_for_view_of_page(page: Page) -> None:
    """Until the SFU has been told about the tiles of the page shown (and only those)."""
    page.wait_for_function(VIEW_MATCHES_PAGE, polling=250, timeout=2 * TIMEOUT_MS)


def turn_a_page(page: Page) -> None:
    """The next page of videos holds other people (you are on every page), one page of tiles,
    and the SFU is told that the page shows those now."""
    wait_for_view_of_page(page)
    first = page.locator("#gallery .tile").evaluate_all(TILE_IDS)
    page.get_by_role("button", name="Next page of videos").click()
    expect(page.locator(".gallery-pages-label")).to_have_text(re.compile(r"Page 2 of \d+"))
    second = page.locator("#gallery .tile").evaluate_all(TILE_IDS)
    assert len(second) <= MAX_TILES, second
    assert set(first) & set(second) == {first[0]}, "only your own tile is on both pages"
    wait_for_view_of_page(page)
    page.get_by_role("button", name="Previous page of videos").click()
    expect(page.locator(".gallery-pages-label")).to_have_text(re.compile(r"Page 1 of \d+"))
    wait_for_view_of_page(page)


def measure_scrolling(page: Page, in_room: int, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """(2) The people panel, opened and scrolled from the top to the bottom."""
    start = now_ms(page)
    page.get_by_role("button", name="Show everyone").click()
    panel = page.get_by_role("region", name="Participants")
    expect(panel.locator("[data-part=people-count]")).to_have_text(str(in_room))
    scrolled = page.evaluate(SCROLL_THROUGH, 600)
    stats = frame_stats(page, start, scrolled["to"])
    report(f"opening and scrolling the people panel ({scrolled['steps']} steps)", stats, capsys)
    assert scrolled["maxRows"] <= MAX_ROWS, scrolled
    assert scrolled["gaps"] == 0, f"rows missing from the view while scrolling: {scrolled}"
    return stats


def use_host_actions(page: Page, panel: Locator, name: str) -> None:
    """Host actions on a row far down the list, and the search."""
    panel.get_by_role("button", name=f"Mute {name}", exact=True).click()
    expect(panel.get_by_role("img", name=f"{name}: microphone off")).to_be_visible()
    panel.get_by_role("button", name=f"More actions for {name}", exact=True).click()
    expect(page.get_by_role("menuitem", name=f"Remove {name} from the meeting")).to_be_visible()
    page.keyboard.press("Escape")
    search = panel.get_by_role("searchbox", name="Search for people")
    search.fill("Person 0500")
    expect(panel.locator("[data-part=people-list] > li")).to_have_count(1)
    search.fill("")


def measure_burst(
    page: Page, meeting: Meeting, room: Room, others: list[Participant], capsys: pytest.CaptureFixture[str]
) -> tuple[dict[str, Any], int]:
    """(3) A burst of roster changes while the panel shows the last quarter of the list: those
    who leave are all above the view, so the first row in view stays the same person."""
    # Scrolled to three quarters once the list is whole again (the search was just cleared) and
    # its rows are drawn there: scrolled again until a row is in view, on a slow machine too.
    page.wait_for_function(
        f"() => {{ ({SCROLL_TO})(0.75); return ({FIRST_ROW_IN_VIEW})() !== null; }}", polling=200, timeout=15_000
    )
    anchor = page.evaluate(FIRST_ROW_IN_VIEW)
    assert anchor is not None, "no row in view"
    assert int(anchor.split()[-1]) >= ROUNDS * LEAVES, f"{anchor} leaves in the burst"
    start = now_ms(page)
    final = publish_burst(meeting, room, others)
    wait_for_count(page, final)
    page.wait_for_timeout(500)
    stats = frame_stats(page, start, now_ms(page))
    report(f"burst ({ROUNDS} roster.batch events of +{JOINS} / -{LEAVES})", stats, capsys)
    shown = page.evaluate(SHOWN)
    assert shown["rows"] <= MAX_ROWS, shown
    assert shown["tiles"] <= MAX_TILES, shown
    assert shown["count"] == str(final), shown
    assert page.evaluate(FIRST_ROW_IN_VIEW) == anchor, "the list jumped when people above it left"
    return stats, final


def test_a_room_of_a_thousand_stays_responsive_and_shows_one_page(
    asgi_server: AsgiServer, sfu_workers: SfuWorkers, browser: Browser, capsys: pytest.CaptureFixture[str]
) -> None:
    expect.set_options(timeout=TIMEOUT_MS)
    sfu_workers.start()
    ada_user = make_person("ada", "Ada")
    meeting = make_meeting(
        owner=ada_user, title="All hands", allow_guests=True, waiting_room=False, max_participants=1000
    )
    save_meeting(meeting, topology=Topology.SFU)
    room = main_room_of(meeting)
    others = fill_room(meeting, room, OTHERS)
    url = asgi_server.url + meeting.get_absolute_url()

    with people(browser) as everyone:
        ada = open_room(browser, asgi_server, url, "Ada", ada_user, init_script=f"{FRAME_MONITOR};\n{SOCKET_SPY}")
        everyone.append(ada)
        page = ada.page
        expect(page.get_by_text("Joining as Ada")).to_be_visible()
        joining = measure_join(page, ada.button("Join now"), OTHERS + 1, capsys)
        turn_a_page(page)
        scrolling = measure_scrolling(page, OTHERS + 1, capsys)
        use_host_actions(page, page.get_by_role("region", name="Participants"), others[-1].display_name)
        bursting, final = measure_burst(page, meeting, room, others, capsys)
        # The join is one moment (the call view appears, the SFU connection starts): no freeze.
        # Scrolling and the burst: smooth throughout.
        assert joining["longestTask"] < LONGEST_TASK_MS, f"join: a {joining['longestTask']:.0f} ms task ({joining})"
        assert_responsive("scrolling", scrolling)
        assert_responsive("burst", bursting)
        assert ada.errors == [], f"uncaught errors on the host's page: {ada.errors}"
        assert page.evaluate("window.__errors") == [], "the server refused messages of the host's page"

        # A guest sees the people, and no host controls on their rows.
        alan = open_room(browser, asgi_server, url, "Alan", None)
        everyone.append(alan)
        alan.page.get_by_label("Your name").fill("Alan")
        alan.button("Join now").click()
        alan.button("Show everyone").click()
        guest_panel = alan.page.get_by_role("region", name="Participants")
        expect(guest_panel.locator("[data-part=people-count]")).to_have_text(str(final + 1))
        rows = guest_panel.get_by_role("img", name=re.compile(r"^Person \d{4}: microphone (on|off)$"))
        expect(rows.first).to_be_visible()
        expect(guest_panel.get_by_role("button", name=re.compile(r"^(Mute|More actions for) "))).to_have_count(0)
        expect(guest_panel.get_by_role("button", name="Mute all")).to_have_count(0)
        assert alan.errors == [], f"uncaught errors on the guest's page: {alan.errors}"

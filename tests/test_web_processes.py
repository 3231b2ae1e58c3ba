"""Several real web processes serve one meeting: participants connected to different daphne
processes see each other and chat across them; a process killed with ``kill -9`` takes only its
own sockets, whose clients resume on another process with nothing lost. The launcher
(``python -m conference.webserver``, what ``make run`` starts) serves one port with N processes
and replaces one that dies.

Real parts only: daphne processes on the test database, the channel layer on the test Redis."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from accounts.models import User
from meetings.models import Meeting
from tests.factories import save_meeting
from tests.web_servers import (
    Peer,
    WebProcess,
    guest_cookie,
    healthy,
    session_cookie,
    start_daphne,
    start_launcher,
    started_pids,
)

pytestmark = pytest.mark.django_db(transaction=True)


def texts(messages: list[dict[str, object]]) -> list[object]:
    return [message["text"] for message in messages]


def test_two_processes_serve_one_meeting_and_a_dead_one_loses_nothing(
    meeting: Meeting, owner: User, tmp_path: Path, servers: list[WebProcess]
) -> None:
    save_meeting(meeting, waiting_room=False, allow_guests=True)
    first, second = start_daphne(tmp_path, "web-1"), start_daphne(tmp_path, "web-2")
    servers.extend([first, second])

    host = Peer.connect(first, meeting.code, session_cookie(owner))
    host.join()
    cookie = guest_cookie()
    guest = Peer.connect(second, meeting.code, cookie)
    joined = guest.join(display_name="Gus")
    assert {person["id"] for person in joined["roster"]} == {host.id, guest.id}
    assert host.expect("roster.joined")["participant"]["id"] == guest.id

    # Chat crosses the processes both ways.
    guest.send({"type": "chat.send", "text": "hello from process 2"})
    assert host.expect("chat.message", text="hello from process 2")["from"] == guest.id
    host.send({"type": "chat.send", "text": "hello from process 1"})
    assert guest.expect("chat.message", text="hello from process 1")["from"] == host.id

    # Process 2 dies: only its socket goes; the host's stays up and keeps chatting.
    second.kill()
    guest.wait_closed()
    host.send({"type": "chat.send", "text": "while you were away"})
    host.expect("chat.message", text="while you were away")  # stored and sent: the host's own echo

    # The guest reconnects (to process 1, the one left) and resumes: same participant, and the
    # chat it missed is in the snapshot.
    back = Peer.connect(first, meeting.code, cookie)
    resumed = back.join(resume_token=joined["resume_token"])
    assert resumed["you"]["id"] == guest.id
    assert texts(resumed["chat"]) == ["hello from process 2", "hello from process 1", "while you were away"]
    assert {person["id"] for person in resumed["roster"]} == {host.id, guest.id}
    back.send({"type": "chat.send", "text": "back on process 1"})
    assert host.expect("chat.message", text="back on process 1")["from"] == guest.id
    # For the host the guest never left: no roster change at all.
    host.take_in(1.0)
    assert [m for m in host.seen if m["type"] in ("roster.left", "roster.joined")] == []

    # Someone with a made-up resume token does not take the guest's place.
    stranger = Peer.connect(first, meeting.code, guest_cookie())
    other = stranger.join(display_name="Mallory", resume_token="not-a-token")
    assert other["you"]["id"] not in (guest.id, host.id)
    for peer in (host, back, stranger):
        peer.close()


def answer_to_join(peer: Peer) -> dict[str, object]:
    """``joined``, or the ``error`` that refused the join."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for message in peer.take_in(0.2):
            if message["type"] in ("joined", "error"):
                return message
    raise AssertionError(f"no answer to join; got {peer.seen}")


def test_the_meeting_limit_holds_exactly_when_people_join_through_two_processes_at_once(
    meeting: Meeting, tmp_path: Path, servers: list[WebProcess]
) -> None:
    save_meeting(meeting, waiting_room=False, allow_guests=True, max_participants=3)
    first, second = start_daphne(tmp_path, "web-1"), start_daphne(tmp_path, "web-2")
    servers.extend([first, second])
    peers = [Peer.connect((first, second)[n % 2], meeting.code, guest_cookie()) for n in range(8)]
    for n, peer in enumerate(peers):  # all eight ask before any answer is read
        peer.send({"type": "join", "display_name": f"Guest {n}"})
    answers = [answer_to_join(peer) for peer in peers]

    joined = [answer for answer in answers if answer["type"] == "joined"]
    refused = [answer for answer in answers if answer["type"] == "error"]
    assert len(joined) == 3
    assert [answer["code"] for answer in refused] == ["meeting_full"] * 5
    latest = max(joined, key=lambda answer: len(answer["roster"]))  # type: ignore[arg-type]
    assert len(latest["roster"]) == 3  # type: ignore[arg-type]
    for peer in peers:
        peer.close()


def test_the_launcher_serves_one_port_with_several_processes_and_replaces_a_dead_one(
    tmp_path: Path, servers: list[WebProcess]
) -> None:
    launcher = start_launcher(tmp_path, processes=2)
    servers.append(launcher)
    deadline = time.monotonic() + 60
    while len(started_pids(launcher.log_text())) < 2:
        assert time.monotonic() < deadline, launcher.log_text()
        time.sleep(0.2)
    (one,), (two,) = started_pids(launcher.log_text()).values()
    assert one != two

    # Either process answers on the shared port: with process 1 gone, process 2 does.
    os.kill(one, signal.SIGKILL)
    assert healthy(launcher.url)
    deadline = time.monotonic() + 60
    while len(started_pids(launcher.log_text())[1]) < 2:
        assert time.monotonic() < deadline, f"process 1 was not replaced:\n{launcher.log_text()}"
        time.sleep(0.2)
    replacement = started_pids(launcher.log_text())[1][-1]
    assert replacement != one
    os.kill(two, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while not healthy(launcher.url):  # the replacement of process 1, alone now, answers
        assert time.monotonic() < deadline, launcher.log_text()
        time.sleep(0.2)

    # SIGTERM stops everything, cleanly.
    launcher.process.send_signal(signal.SIGTERM)
    assert launcher.process.wait(timeout=30) == 0
    for pid in started_pids(launcher.log_text())[1] + started_pids(launcher.log_text())[2]:
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()
    assert "exited with -9" in launcher.log_text()

"""Host candidates announced under the public IP of a 1:1 NAT; nothing else in the SDP changes."""

from __future__ import annotations

import pytest

from media_workers.announce import announce
from media_workers.config import ConfigError, load_config

ANSWER = "\r\n".join(
    [
        "v=0",
        "m=audio 9 UDP/TLS/RTP/SAVPF 111",
        "c=IN IP4 10.0.0.5",
        "a=candidate:1 1 udp 2130706431 10.0.0.5 40000 typ host",
        "a=candidate:2 1 udp 1694498815 198.51.100.9 40001 typ srflx raddr 10.0.0.5 rport 40001",
        "a=candidate:3 1 udp 16777215 203.0.113.1 3478 typ relay raddr 10.0.0.5 rport 40002",
        "a=candidate:4 1 udp 2130706431 fd00::5 40003 typ host",
        "a=end-of-candidates",
        "",
    ]
)


def test_host_candidates_get_the_public_address_and_nothing_else_changes() -> None:
    lines = announce(ANSWER, "198.51.100.7").split("\r\n")
    assert lines[3] == "a=candidate:1 1 udp 2130706431 198.51.100.7 40000 typ host"
    assert lines[6] == "a=candidate:4 1 udp 2130706431 198.51.100.7 40003 typ host"
    # Reflexive and relayed candidates already carry public addresses; the rest is untouched.
    unchanged = [0, 1, 2, 4, 5, 7, 8]
    assert [lines[i] for i in unchanged] == [ANSWER.split("\r\n")[i] for i in unchanged]


def test_only_an_ip_address_can_be_announced() -> None:
    with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6 address"):
        announce(ANSWER, "sfu.example.org")


@pytest.mark.parametrize(
    ("value", "expected"), [("", None), ("198.51.100.7", "198.51.100.7"), ("2001:db8::1", "2001:db8::1")]
)
def test_the_public_ip_setting(value: str, expected: str | None) -> None:
    assert load_config({"SFU_WORKER_ID": "w", "SFU_PUBLIC_IP": value}).public_ip == expected


def test_a_public_ip_that_is_not_an_ip_stops_the_worker_at_start() -> None:
    with pytest.raises(ConfigError, match="SFU_PUBLIC_IP"):
        load_config({"SFU_WORKER_ID": "w", "SFU_PUBLIC_IP": "sfu.example.org"})

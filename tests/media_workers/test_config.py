"""Worker settings: defaults, typed values, and a clear refusal of bad ones."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from media_workers.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_are_a_local_worker() -> None:
    config = load_config({})
    assert config.redis_url == "redis://127.0.0.1:6379/0"
    assert config.channel_prefix == "conference:channels"
    assert config.announced_address == "127.0.0.1"
    assert config.heartbeat_interval == 1.0
    assert config.heartbeat_ttl == 3.0
    assert config.metrics_port == 9100
    assert config.ice_addresses == ()
    assert re.match(r"^[A-Za-z0-9_-]+-\d+$", config.worker_id)
    assert config.channel == f"sfu.worker.{config.worker_id}"


def test_values_are_read_and_typed() -> None:
    config = load_config(
        {
            "SFU_WORKER_ID": "host-3",
            "REDIS_URL": "redis://10.0.0.5:6379/2",
            "SFU_CAPACITY": "120",
            "SFU_HEARTBEAT_SECONDS": "0.5",
            "SFU_HEARTBEAT_TTL_SECONDS": "2",
            "SFU_ANNOUNCED_ADDRESS": "media.example.org",
            "SFU_METRICS_PORT": "0",
            "SFU_ICE_ADDRESSES": "127.0.0.1, ::1",
            "LOG_LEVEL": "debug",
        }
    )
    assert (config.worker_id, config.capacity, config.metrics_port) == ("host-3", 120, 0)
    assert (config.heartbeat_interval, config.heartbeat_ttl) == (0.5, 2.0)
    assert config.announced_address == "media.example.org"
    assert config.log_level == "DEBUG"
    assert config.ice_addresses == ("127.0.0.1", "::1")


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"SFU_CAPACITY": "many"}, "SFU_CAPACITY"),
        ({"SFU_CAPACITY": "0"}, "SFU_CAPACITY"),
        ({"SFU_WORKER_ID": "has space"}, "SFU_WORKER_ID"),
        ({"SFU_WORKER_ID": "x" * 41}, "SFU_WORKER_ID"),
        ({"REDIS_URL": "http://127.0.0.1"}, "REDIS_URL"),
        ({"SFU_HEARTBEAT_SECONDS": "fast"}, "SFU_HEARTBEAT_SECONDS"),
        ({"SFU_HEARTBEAT_SECONDS": "2", "SFU_HEARTBEAT_TTL_SECONDS": "3"}, "SFU_HEARTBEAT_TTL_SECONDS"),
        ({"SFU_METRICS_PORT": "70000"}, "SFU_METRICS_PORT"),
        ({"SFU_DRAIN_TIMEOUT_SECONDS": "-1"}, "SFU_DRAIN_TIMEOUT_SECONDS"),
        ({"SFU_KEY_PREFIX": "a b"}, "SFU_KEY_PREFIX"),
        ({"SFU_ANNOUNCED_ADDRESS": "a b"}, "SFU_ANNOUNCED_ADDRESS"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
        ({"SFU_ICE_ADDRESSES": "127.0.0.1,eth0"}, "SFU_ICE_ADDRESSES"),
    ],
)
def test_a_bad_value_stops_start_up_naming_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        load_config(env)


def test_every_worker_setting_is_documented_in_the_readme() -> None:
    source = (ROOT / "media_workers" / "config.py").read_text()
    names = set(re.findall(r'env\.[a-z]+\(\s*"([A-Z_]+)"', source))
    assert len(names) >= 13
    readme = (ROOT / "README.md").read_text()
    assert sorted(name for name in names if f"| `{name}` |" not in readme) == []

"""Where webhooks may point: http(s) only, and no loopback / private / link-local addresses
unless WEBHOOKS_ALLOW_PRIVATE_TARGETS is on (checked at registration and at delivery).

Nothing here connects anywhere: addresses are IP literals or ``localhost`` (resolved from
/etc/hosts)."""

from __future__ import annotations

import pytest

from webhooks.targets import TargetRefused, check_registration, destination

PRIVATE = [
    "http://127.0.0.1/hook",
    "http://127.8.9.10:8080/hook",
    "http://localhost:8000/hook",
    "https://10.1.2.3/hook",
    "https://172.16.0.1/hook",
    "https://192.168.1.20/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://100.64.0.1/hook",
    "http://0.0.0.0/hook",
    "http://[::1]/hook",
    "http://[fe80::1]/hook",
    "http://[fd00::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://224.0.0.1/hook",
]


def refusal(url: str, allow_private: bool = False) -> str:
    with pytest.raises(TargetRefused) as caught:
        check_registration(url, allow_private=allow_private)
    return caught.value.code


@pytest.mark.parametrize("url", PRIVATE)
def test_private_and_loopback_targets_are_refused_at_registration(url: str) -> None:
    assert refusal(url) == "private_target"


@pytest.mark.parametrize("url", PRIVATE)
def test_private_targets_are_refused_again_at_delivery(url: str) -> None:
    with pytest.raises(TargetRefused) as caught:
        destination(url, allow_private=False)
    assert caught.value.code == "private_target"


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/hook", "http://localhost/hook", "http://[::1]:8080/x"])
def test_the_setting_allows_private_targets(url: str) -> None:
    assert check_registration(url, allow_private=True) == url


def test_a_public_address_is_accepted() -> None:
    assert check_registration("https://93.184.215.14/hooks?x=1", allow_private=False) == (
        "https://93.184.215.14/hooks?x=1"
    )


def test_delivery_connects_to_the_checked_address() -> None:
    found = destination("http://localhost:8123/hook", allow_private=True)
    assert str(found.address) in {"127.0.0.1", "::1"}
    assert found.url.host == "localhost"


@pytest.mark.parametrize(
    "url", ["ftp://93.184.215.14/x", "file:///etc/passwd", "gopher://93.184.215.14/", "javascript:alert(1)"]
)
def test_only_http_and_https_are_accepted(url: str) -> None:
    assert refusal(url, allow_private=True) == "unsupported_scheme"


@pytest.mark.parametrize(
    "url", ["", "example.com/hook", "http://", "http://exa mple.com/", "http://a.example:99999/", "https://[::1/"]
)
def test_malformed_urls_are_invalid(url: str) -> None:
    assert refusal(url, allow_private=True) == "invalid_url"

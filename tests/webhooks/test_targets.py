"""Where webhooks may point: http(s) only, and no loopback / private / link-local addresses
unless WEBHOOKS_ALLOW_PRIVATE_TARGETS is on (checked at registration and at delivery).

Nothing here connects anywhere: addresses are IP literals or ``localhost`` (resolved from
/etc/hosts)."""

from __future__ import annotations

import ipaddress

import pytest

from tests.webhooks.conftest import fake_dns
from webhooks.targets import TargetRefused, check_registration, destination, embedded_ipv4

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

# IPv6 addresses that carry a non-public IPv4 address, which a translator, tunnel or the kernel
# would reach.
EMBEDDED_PRIVATE = [
    pytest.param("http://[::ffff:a9fe:a9fe]/latest/meta-data/", id="mapped-169.254.169.254"),
    pytest.param("http://[::ffff:10.1.2.3]/hook", id="mapped-10.1.2.3"),
    pytest.param("http://[64:ff9b::7f00:1]/hook", id="nat64-127.0.0.1"),
    pytest.param("http://[64:ff9b::127.0.0.1]:8000/hook", id="nat64-dotted-127.0.0.1"),
    pytest.param("http://[64:ff9b::a9fe:a9fe]/latest/meta-data/", id="nat64-169.254.169.254"),
    pytest.param("https://[64:ff9b::c0a8:114]/hook", id="nat64-192.168.1.20"),
    pytest.param("http://[64:ff9b::6440:1]/hook", id="nat64-100.64.0.1"),
    pytest.param("http://[64:ff9b:1::7f00:1]/hook", id="nat64-local-use-127.0.0.1"),
    pytest.param("http://[2002:7f00:1::]/hook", id="6to4-127.0.0.1"),
    pytest.param("http://[2002:a9fe:a9fe::1]/latest/meta-data/", id="6to4-169.254.169.254"),
    pytest.param("https://[2002:a01:203:1::5]/hook", id="6to4-10.1.2.3"),
    pytest.param("http://[::127.0.0.1]/hook", id="compatible-127.0.0.1"),
    pytest.param("http://[::a9fe:a9fe]/latest/meta-data/", id="compatible-169.254.169.254"),
    pytest.param("http://[::ac10:1]/hook", id="compatible-172.16.0.1"),
    pytest.param("http://[::ffff:0:7f00:1]/hook", id="translated-127.0.0.1"),
    pytest.param("http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/hook", id="teredo-client-127.0.0.1"),
    pytest.param("http://[2001:0:4136:e378:8000:63bf:5601:5601]/hook", id="teredo-client-169.254.169.254"),
    pytest.param("http://[2001:0:a00:1:8000:63bf:f7f7:f7f7]/hook", id="teredo-server-10.0.0.1"),
]

# The same forms carrying a public IPv4 address (8.8.8.8), where plain IPv6 rules allow them.
EMBEDDED_PUBLIC = [
    pytest.param("http://[::ffff:8.8.8.8]/hook", id="mapped"),
    pytest.param("https://[64:ff9b::808:808]/hook", id="nat64"),
    pytest.param("http://[2002:808:808::1]:8443/hook", id="6to4"),
    pytest.param("http://[::8.8.8.8]/hook", id="compatible"),
    pytest.param("http://[::ffff:0:808:808]/hook", id="translated"),
]


def refusal(url: str, allow_private: bool = False) -> str:
    with pytest.raises(TargetRefused) as caught:
        check_registration(url, allow_private=allow_private)
    return caught.value.code


@pytest.mark.parametrize("url", [*PRIVATE, *EMBEDDED_PRIVATE])  # the latter: IPv6 carrying a private IPv4
def test_private_and_loopback_targets_are_refused_at_registration(url: str) -> None:
    assert refusal(url) == "private_target"


@pytest.mark.parametrize("url", [*PRIVATE, *EMBEDDED_PRIVATE])
def test_private_targets_are_refused_again_at_delivery(url: str) -> None:
    with pytest.raises(TargetRefused) as caught:
        destination(url, allow_private=False)
    assert caught.value.code == "private_target"


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/hook", "http://localhost/hook", "http://[::1]:8080/x"])
def test_the_setting_allows_private_targets(url: str) -> None:
    assert check_registration(url, allow_private=True) == url


@pytest.mark.parametrize("url", EMBEDDED_PUBLIC)
def test_ipv6_carrying_a_public_ipv4_is_accepted(url: str) -> None:
    assert check_registration(url, allow_private=False) == url
    assert destination(url, allow_private=False).address == ipaddress.ip_address(url.split("[")[1].split("]")[0])


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("http://[64:ff9b:1::808:808]/hook", id="nat64-local-use"),
        pytest.param("http://[2001:0:4136:e378:8000:63bf:f7f7:f7f7]/hook", id="teredo"),
    ],
)
def test_local_use_nat64_and_teredo_are_refused_even_with_a_public_ipv4(url: str) -> None:
    """Neither is globally reachable: where the IPv4 address sits in a local-use NAT64 prefix
    depends on its length, and Teredo (2001::/32) is not a global range."""
    assert refusal(url) == "private_target"


@pytest.mark.parametrize(
    ("address", "carried"),
    [
        ("::ffff:127.0.0.1", ["127.0.0.1"]),
        ("64:ff9b::7f00:1", ["127.0.0.1"]),
        ("2002:7f00:1::", ["127.0.0.1"]),
        ("::127.0.0.1", ["127.0.0.1"]),
        ("::ffff:0:7f00:1", ["127.0.0.1"]),
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", ["65.54.227.120", "127.0.0.1"]),  # client bits inverted
        ("2606:4700:4700::1111", []),
        ("64:ff9b:0:1::7f00:1", []),  # outside the /96 well-known prefix
    ],
)
def test_the_ipv4_address_carried_by_an_ipv6_address(address: str, carried: list[str]) -> None:
    assert embedded_ipv4(ipaddress.IPv6Address(address)) == [ipaddress.IPv4Address(a) for a in carried]


@pytest.mark.parametrize(
    "answer", ["64:ff9b::7f00:1", "64:ff9b:1::a9fe:a9fe", "2002:a9fe:a9fe::", "::10.0.0.1", "::ffff:127.0.0.1"]
)
def test_a_host_name_resolving_to_ipv6_carrying_a_private_ipv4_is_refused(
    monkeypatch: pytest.MonkeyPatch, answer: str
) -> None:
    fake_dns(monkeypatch, "hooks.example.com", ["93.184.215.14", answer])

    assert refusal("https://hooks.example.com/hook") == "private_target"
    with pytest.raises(TargetRefused) as caught:
        destination("https://hooks.example.com/hook", allow_private=False)
    assert caught.value.code == "private_target"
    assert f"({ipaddress.ip_address(answer)})" in caught.value.message


def test_a_host_name_resolving_to_nat64_of_a_public_ipv4_is_delivered_to(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_dns(monkeypatch, "hooks.example.com", ["64:ff9b::808:808", "8.8.8.8"])

    assert check_registration("https://hooks.example.com/hook", allow_private=False) == "https://hooks.example.com/hook"
    found = destination("https://hooks.example.com/hook", allow_private=False)
    assert found.address == ipaddress.IPv6Address("64:ff9b::808:808")
    assert found.url.host == "hooks.example.com"


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

"""Where a webhook may point: http(s) URLs whose host resolves to public addresses only.

A self-hosted server sits next to services that must not be reachable from outside (Redis,
the database, cloud metadata at 169.254.169.254, an admin panel on localhost). Unless
``WEBHOOKS_ALLOW_PRIVATE_TARGETS`` is on, a URL whose host resolves to a loopback, private,
link-local or otherwise non-global address is refused when the webhook is registered and again
at every delivery (DNS answers change). At delivery, the connection goes to the address that was
checked (``Destination.address``), so a second, different DNS answer cannot slip in between.

An IPv6 address that carries an IPv4 address (IPv4-mapped, IPv4-compatible, IPv4-translated,
NAT64, 6to4, Teredo) reaches that IPv4 host through the kernel, a translator or a tunnel, so the
IPv4 address it carries must be public too: ``64:ff9b::7f00:1`` is 127.0.0.1 behind a NAT64
gateway. The local-use NAT64 prefix ``64:ff9b:1::/48`` is refused whole: it is not globally
reachable, and where the IPv4 address sits in it depends on the operator's prefix length.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass

import httpx

SCHEMES = ("http", "https")
HOST_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.?")
DEFAULT_PORTS = {"http": 80, "https": 443}

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# IPv6 ranges whose last 32 bits are an IPv4 address.
IPV4_IN_LAST_32_BITS = (
    ipaddress.IPv6Network("64:ff9b::/96"),  # NAT64 well-known prefix (RFC 6052)
    ipaddress.IPv6Network("::/96"),  # IPv4-compatible, deprecated (RFC 4291)
    ipaddress.IPv6Network("::ffff:0:0:0/96"),  # IPv4-translated, SIIT (RFC 2765)
)
NAT64_LOCAL_USE = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215


class TargetRefused(Exception):
    """A URL a webhook may not use (``code``: ``invalid_url``, ``unsupported_scheme``,
    ``private_target``, ``unresolvable_host``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Destination:
    url: httpx.URL
    address: IPAddress


def parse_url(url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url.strip())
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise TargetRefused("invalid_url", f"This is not a valid URL: {exc}.") from exc
    if not parsed.scheme:
        raise TargetRefused("invalid_url", "Give an absolute URL, starting with https:// or http://.")
    if parsed.scheme not in SCHEMES:
        raise TargetRefused("unsupported_scheme", "Webhook URLs must start with http:// or https://.")
    host = parsed.raw_host.decode("ascii", errors="replace")
    if not host or not (ip_literal(host) or HOST_NAME.fullmatch(host)):
        raise TargetRefused("invalid_url", "The URL has no valid host name.")
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise TargetRefused("invalid_url", "The URL's port must be between 1 and 65535.")
    return parsed


def ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries (none for a plain IPv6 address)."""
    found: list[ipaddress.IPv4Address] = []
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if address.sixtofour is not None:
        found.append(address.sixtofour)  # 2002:AABB:CCDD::/48
    if address.teredo is not None:
        found.extend(address.teredo)  # (server, client); the client's bits are inverted in the address
    if any(address in network for network in IPV4_IN_LAST_32_BITS):
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return is_public(address.ipv4_mapped)  # ::ffff:127.0.0.1 is loopback too
        if address in NAT64_LOCAL_USE:
            return False
        if not all(is_public(carried) for carried in embedded_ipv4(address)):
            return False  # 64:ff9b::7f00:1, 2002:7f00:1::, ::127.0.0.1 reach 127.0.0.1
    return address.is_global and not address.is_multicast


def resolve(url: httpx.URL) -> list[IPAddress]:
    """The addresses the URL's host resolves to (an IP literal: itself), in the resolver's order."""
    literal = ip_literal(url.host)
    if literal is not None:
        return [literal]
    port = url.port or DEFAULT_PORTS[url.scheme]
    try:
        infos = socket.getaddrinfo(url.raw_host.decode("ascii"), port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise TargetRefused("unresolvable_host", f"The host name {url.host} does not resolve.") from exc
    found: list[IPAddress] = []
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    return found


def check_public(url: httpx.URL, addresses: list[IPAddress]) -> None:
    for address in addresses:
        if not is_public(address):
            raise TargetRefused(
                "private_target",
                f"{url.host} is a loopback, private or link-local address ({address}); "
                "webhooks may only call public addresses.",
            )


def check_registration(url: str, allow_private: bool) -> str:
    """The URL as it will be stored, or ``TargetRefused``. A host name that does not resolve (yet)
    is accepted: deliveries fail and are retried until it does, and are checked then."""
    parsed = parse_url(url)
    if not allow_private:
        try:
            check_public(parsed, resolve(parsed))
        except TargetRefused as exc:
            if exc.code != "unresolvable_host":
                raise
    return str(parsed)


def destination(url: str, allow_private: bool) -> Destination:
    """Where to connect for a delivery: the first resolved address, once every one is checked."""
    parsed = parse_url(url)
    addresses = resolve(parsed)
    if not allow_private:
        check_public(parsed, addresses)
    if not addresses:
        raise TargetRefused("unresolvable_host", f"The host name {parsed.host} does not resolve.")
    return Destination(url=parsed, address=addresses[0])

"""Where a webhook may point: http(s) URLs whose host resolves to public addresses only.

A self-hosted server sits next to services that must not be reachable from outside (Redis,
the database, cloud metadata at 169.254.169.254, an admin panel on localhost). Unless
``WEBHOOKS_ALLOW_PRIVATE_TARGETS`` is on, a URL whose host resolves to a loopback, private,
link-local or otherwise non-global address is refused when the webhook is registered and again
at every delivery (DNS answers change). At delivery, the connection goes to the address that was
checked (``Destination.address``), so a second, different DNS answer cannot slip in between.
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


def is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is loopback too
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

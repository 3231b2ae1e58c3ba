"""One HTTP POST of a webhook delivery.

httpx rather than the standard library because it gives, out of the box, what a delivery needs:
a timeout on each phase (connect, write, read), redirects never followed (``follow_redirects``
is off and stays off: a 3xx is an answer, and a failure), a streamed body so only the first bytes
of an answer are read, no proxy from the environment (``trust_env=False``), and the ``sni_hostname``
request extension, which lets us connect to the address ``targets`` checked while TLS still
verifies the certificate against the URL's host name. With ``http.client`` the last one would need
a hand-written HTTPS connection class.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from webhooks.targets import Destination

EXCERPT_BYTES = 1024


@dataclass(frozen=True)
class Answer:
    status_code: int
    excerpt: str


class TransportError(Exception):
    """No HTTP answer: the connection failed, timed out, or TLS did not verify."""


def post(destination: Destination, body: bytes, headers: dict[str, str], timeout: float) -> Answer:
    url = destination.url
    pinned = url.copy_with(host=str(destination.address))
    headers = {**headers, "Host": url.netloc.decode("ascii")}
    extensions = {"sni_hostname": url.raw_host.decode("ascii")} if url.scheme == "https" else {}
    try:
        with (
            httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client,
            client.stream("POST", pinned, content=body, headers=headers, extensions=extensions) as response,
        ):
            return Answer(status_code=response.status_code, excerpt=read_excerpt(response))
    except httpx.TimeoutException as exc:
        raise TransportError(f"timed out after {timeout:g} s ({type(exc).__name__})") from exc
    except httpx.HTTPError as exc:
        raise TransportError(f"{type(exc).__name__}: {exc}") from exc


def read_excerpt(response: httpx.Response) -> str:
    """The first ``EXCERPT_BYTES`` of the body, as text; the rest is not read."""
    received = b""
    for chunk in response.iter_bytes():
        received += chunk
        if len(received) >= EXCERPT_BYTES:
            break
    return received[:EXCERPT_BYTES].decode("utf-8", errors="replace")

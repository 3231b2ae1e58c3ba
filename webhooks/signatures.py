"""Signing webhook requests, Stripe style: ``Conference-Signature: t=<unix time>,v1=<hex>``, where
``<hex>`` is HMAC-SHA256 of ``"<t>.<raw body>"`` keyed with the webhook's secret (its UTF-8 bytes).

The timestamp is inside the signed text, so a receiver that checks it (``verify_signature``,
5 minutes by default) refuses replays of an old request. ``verify_signature`` uses only the
standard library: integrators may copy it as it is (docs/webhooks.md shows it).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

SIGNATURE_HEADER = "Conference-Signature"
SECRET_PREFIX = "whsec_"  # noqa: S105  (a prefix, not a secret)
DEFAULT_TOLERANCE_SECONDS = 300


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``"<timestamp>.<body>"``."""
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def verify_signature(
    secret: str, body: bytes, header: str, tolerance: int = DEFAULT_TOLERANCE_SECONDS, now: float | None = None
) -> bool:
    """True when ``header`` (the Conference-Signature value) signs ``body`` (the raw request body,
    as received, before any JSON parsing) with ``secret``, and is at most ``tolerance`` seconds old."""
    timestamp = None
    candidates = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    signed = str(timestamp).encode() + b"." + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)

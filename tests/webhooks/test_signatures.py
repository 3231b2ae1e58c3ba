"""Signatures: ``t=<unix>,v1=<HMAC-SHA256 of "<t>.<body>">``, and the verification helper that
integrators copy from docs/webhooks.md (the block there is run here)."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from webhooks.signatures import new_secret, signature_header, verify_signature

DOCS = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"
SECRET = "whsec_test-secret"
BODY = b'{"id":"0d6b8f0e","type":"ping"}'
NOW = 1_800_000_000

Verifier = Callable[..., bool]


def documented_verifier() -> Verifier:
    blocks = re.findall(r"```python\n(.*?)```", DOCS.read_text(), flags=re.DOTALL)
    source = next(block for block in blocks if "def verify_signature" in block)
    namespace: dict[str, object] = {}
    exec(compile(source, str(DOCS), "exec"), namespace)  # noqa: S102  (our own documentation)
    verifier = namespace["verify_signature"]
    assert callable(verifier)
    return verifier


VERIFIERS = pytest.mark.parametrize("verify", [verify_signature, documented_verifier()], ids=["module", "docs"])


def test_the_header_carries_the_time_and_the_hmac_of_time_dot_body() -> None:
    expected = hmac.new(SECRET.encode(), b"1800000000." + BODY, hashlib.sha256).hexdigest()
    assert signature_header(SECRET, NOW, BODY) == f"t=1800000000,v1={expected}"


@VERIFIERS
def test_a_signature_verifies_with_its_secret(verify: Verifier) -> None:
    assert verify(SECRET, BODY, signature_header(SECRET, NOW, BODY), now=NOW + 10)


@VERIFIERS
def test_another_secret_does_not_verify(verify: Verifier) -> None:
    assert not verify("whsec_other", BODY, signature_header(SECRET, NOW, BODY), now=NOW)


@VERIFIERS
def test_a_changed_body_does_not_verify(verify: Verifier) -> None:
    assert not verify(SECRET, BODY + b" ", signature_header(SECRET, NOW, BODY), now=NOW)


@VERIFIERS
def test_an_old_or_future_signature_is_refused_as_a_replay(verify: Verifier) -> None:
    header = signature_header(SECRET, NOW, BODY)
    assert verify(SECRET, BODY, header, now=NOW + 300)
    assert not verify(SECRET, BODY, header, now=NOW + 301)
    assert not verify(SECRET, BODY, header, now=NOW - 301)


@VERIFIERS
def test_a_changed_timestamp_does_not_verify(verify: Verifier) -> None:
    forged = signature_header(SECRET, NOW, BODY).replace(f"t={NOW}", f"t={NOW + 60}")
    assert not verify(SECRET, BODY, forged, now=NOW + 60)


@VERIFIERS
@pytest.mark.parametrize("header", ["", "t=1800000000", "v1=abc", "t=soon,v1=abc", "garbage"])
def test_malformed_headers_do_not_verify(verify: Verifier, header: str) -> None:
    assert not verify(SECRET, BODY, header, now=NOW)


@VERIFIERS
def test_any_of_several_v1_signatures_may_match(verify: Verifier) -> None:
    good = signature_header(SECRET, NOW, BODY)
    assert verify(SECRET, BODY, f"t={NOW},v1={'0' * 64},{good.split(',')[1]}", now=NOW)


def test_new_secrets_are_prefixed_long_and_random() -> None:
    secrets = {new_secret() for _ in range(50)}
    assert len(secrets) == 50
    assert all(secret.startswith("whsec_") and len(secret) >= 40 for secret in secrets)

"""RSVP links that work without signing in.

A link carries a signed token (``django.core.signing``: the invitation, the answer and a random
nonce, timestamped). Each link works once: its nonce is stored when used, so a reused link is
refused (``token_used``), as is a forged or altered one (``invalid_token``) or one too old
(``expired_token``). A new email brings new links.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.core import signing

from conference.api import ApiError
from scheduling.models import Invitation, PartStat

SALT = "scheduling.rsvp"
MAX_AGE = timedelta(days=400)
ANSWERS = (PartStat.ACCEPTED, PartStat.TENTATIVE, PartStat.DECLINED)


@dataclass(frozen=True)
class RsvpToken:
    invitation_id: int
    partstat: str
    nonce: str


def make_token(invitation: Invitation, partstat: str) -> str:
    if partstat not in ANSWERS:
        raise ValueError(partstat)
    payload = {"i": invitation.pk, "p": partstat, "n": secrets.token_urlsafe(16)}
    return signing.dumps(payload, salt=SALT)


def links(invitation: Invitation) -> dict[str, str]:
    """One fresh token per answer: ``{"ACCEPTED": token, "TENTATIVE": token, "DECLINED": token}``."""
    return {answer: make_token(invitation, answer) for answer in ANSWERS}


def read_token(token: str) -> RsvpToken:
    try:
        payload = signing.loads(token, salt=SALT, max_age=MAX_AGE)
    except signing.SignatureExpired as exc:
        raise ApiError("expired_token", "This answer link has expired.", field="token") from exc
    except signing.BadSignature as exc:
        raise ApiError("invalid_token", "This answer link is not valid.", field="token") from exc
    if (
        not isinstance(payload, dict)
        or not isinstance(payload.get("i"), int)
        or payload.get("p") not in ANSWERS
        or not isinstance(payload.get("n"), str)
    ):
        raise ApiError("invalid_token", "This answer link is not valid.", field="token")
    return RsvpToken(payload["i"], payload["p"], payload["n"])

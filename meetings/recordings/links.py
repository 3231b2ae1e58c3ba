"""Signed, expiring links to a recording's files (for <video>, downloads and thumbnails).

A link carries the recording id, what it opens (video / download / thumbnail) and the id of the
person it was issued to, signed with ``SECRET_KEY`` (``TimestampSigner``) and valid for
``RECORDINGS_URL_MAX_AGE_SECONDS``. It works without a session (a download manager, a <video>
element), but only while its holder still may see the recording.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from django.conf import settings
from django.core import signing
from django.urls import reverse

SALT = "meetings.recordings.link"


class LinkKind(StrEnum):
    PLAY = "play"
    DOWNLOAD = "download"
    THUMBNAIL = "thumbnail"


@dataclass(frozen=True)
class Link:
    recording_id: int
    kind: LinkKind
    user_id: int


class LinkRefusal(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def make_token(link: Link) -> str:
    return signing.TimestampSigner(salt=SALT).sign_object(
        {"r": link.recording_id, "k": link.kind.value, "u": link.user_id}, compress=False
    )


def signed_url(recording_id: int, kind: LinkKind, user_id: int) -> str:
    token = make_token(Link(recording_id=recording_id, kind=kind, user_id=user_id))
    return reverse("recording_file", kwargs={"token": token})


def read_token(token: str, max_age: int | None = None) -> Link:
    """The link inside ``token``; ``LinkRefusal`` with ``link_expired`` or ``link_invalid``."""
    age = settings.RECORDINGS_URL_MAX_AGE_SECONDS if max_age is None else max_age
    try:
        data = signing.TimestampSigner(salt=SALT).unsign_object(token, max_age=age)
    except signing.SignatureExpired as exc:
        raise LinkRefusal("link_expired", "This link has expired; open the recording again for a new one.") from exc
    except signing.BadSignature as exc:
        raise LinkRefusal("link_invalid", "This link is not valid.") from exc
    try:
        return Link(recording_id=int(data["r"]), kind=LinkKind(data["k"]), user_id=int(data["u"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise LinkRefusal("link_invalid", "This link is not valid.") from exc

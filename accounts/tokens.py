"""API token format, hashing and the DRF authentication class.

A token looks like ``cft_<8 chars>_<43 chars>``; the part before the second underscore is
the prefix shown in lists. The server stores SHA-256 of the whole token, so a database
leak does not leak usable tokens.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from accounts.models import ApiToken

TOKEN_TAG = "cft"  # noqa: S105  (a public prefix, not a secret)
LAST_USED_RESOLUTION = timedelta(minutes=1)


def new_token_secret() -> tuple[str, str]:
    """Returns (token, prefix)."""
    prefix = secrets.token_hex(4)
    return f"{TOKEN_TAG}_{prefix}_{secrets.token_urlsafe(32)}", f"{TOKEN_TAG}_{prefix}"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer <token>`` (``Token <token>`` is accepted too)."""

    keywords = ("bearer", "token")

    def authenticate(self, request: Request) -> tuple[Any, ApiToken] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].decode(errors="replace").lower() not in self.keywords:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("The Authorization header must be 'Bearer <token>'.")
        try:
            token = header[1].decode()
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed("The token contains invalid characters.") from exc
        api_token = (
            ApiToken.objects.select_related("user").filter(key_hash=hash_token(token), revoked_at__isnull=True).first()
        )
        if api_token is None or not api_token.user.is_active:
            raise exceptions.AuthenticationFailed("The token is invalid or has been revoked.")
        now = timezone.now()
        if api_token.last_used_at is None or now - api_token.last_used_at > LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=api_token.pk).update(last_used_at=now)
        return api_token.user, api_token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'

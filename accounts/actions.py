"""Write paths for accounts: check → do (in a transaction)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts.models import ApiToken, User
from accounts.tokens import hash_token, new_token_secret


@transaction.atomic
def do_create_api_token(user: User, name: str) -> tuple[ApiToken, str]:
    """Creates a token and returns it with its secret, which is shown exactly once."""
    secret, prefix = new_token_secret()
    api_token = ApiToken.objects.create(
        user=user, name=name.strip()[:100] or "API token", prefix=prefix, key_hash=hash_token(secret)
    )
    return api_token, secret


def do_revoke_api_token(api_token: ApiToken) -> None:
    if api_token.revoked_at is None:
        api_token.revoked_at = timezone.now()
        api_token.save(update_fields=["revoked_at"])

"""Who may touch which account object: one place, one condition a line."""

from __future__ import annotations

from django.http import Http404

from accounts.models import ApiToken, Profile, User


def access_api_token_by_id(user: User, token_id: int) -> ApiToken:
    """The user's own token; someone else's token is indistinguishable from a missing one."""
    api_token = ApiToken.objects.filter(pk=token_id, user_id=user.pk).first()
    if api_token is None:
        raise Http404("No such token.")
    return api_token


def profile_of(user: User) -> Profile:
    profile, _ = Profile.objects.get_or_create(user_id=user.pk)
    return profile

"""Throttling of lookups by join code, per client, so codes cannot be enumerated."""

from __future__ import annotations

from typing import Any, cast

from django.http import HttpRequest
from rest_framework.throttling import SimpleRateThrottle


class CodeLookupThrottle(SimpleRateThrottle):
    scope = "code_lookup"

    def get_cache_key(self, request: Any, view: Any) -> str:
        user = getattr(request, "user", None)
        ident = f"user:{user.pk}" if user is not None and user.is_authenticated else f"ip:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


def code_lookup_retry_after(request: HttpRequest) -> int | None:
    """Counts one lookup for a page view; returns seconds to wait when over the limit."""
    throttle = CodeLookupThrottle()
    # DRF throttles only read request.user and request.META, which a Django request has too.
    if throttle.allow_request(cast(Any, request), cast(Any, None)):
        return None
    return max(1, int((throttle.wait() or 1) + 0.999))

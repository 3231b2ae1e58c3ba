"""Limits on guessing over the meeting WebSocket, per client (the address, as the REST API's
throttles see it: ``TRUSTED_PROXY_COUNT`` decides whether ``X-Forwarded-For`` counts).

- **Codes**: a connection to a code that does not exist counts as one lookup against the same
  budget as the pages and the API (``MEETING_CODE_LOOKUP_RATE``, ``meetings.throttling``); once
  it is spent, new connections are refused (``rate_limited``, close 4429) until it refills.
  Connections to codes that exist do not count, so a whole lecture hall behind one address joins.
- **Passcodes**: wrong passcodes per client and meeting, across connections
  (``MEETING_PASSCODE_RATE``, default 10 per hour); past that, ``too_many_attempts`` and
  4429, before any passcode is hashed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from meetings.throttling import CodeLookupThrottle


@dataclass(frozen=True)
class ScopeRequest:
    """What DRF's throttles read of a request (``user``, ``headers``, ``META``), from a scope."""

    user: Any
    headers: dict[str, str] = field(default_factory=dict)
    META: dict[str, str] = field(default_factory=dict)  # DRF reads REMOTE_ADDR here

    @classmethod
    def of(cls, scope: dict[str, Any]) -> ScopeRequest:
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope.get("headers", [])}
        client = scope.get("client") or ("", 0)
        return cls(user=scope.get("user"), headers=headers, META={"REMOTE_ADDR": str(client[0])})


class _Budget(SimpleRateThrottle):
    """A throttle's history read without spending from it."""

    def spent(self, request: Any, view: Any = None) -> bool:
        self.key = self.get_cache_key(request, view)
        if self.key is None or self.rate is None:
            return False
        self.history = self.cache.get(self.key, [])
        self.now = self.timer()
        limit, window = self.parse_rate(self.rate)
        if limit is None or window is None:
            return False
        while self.history and self.history[-1] <= self.now - window:
            self.history.pop()
        return bool(len(self.history) >= limit)

    def seconds_left(self) -> int:
        return max(1, int((self.wait() or 1) + 0.999))


class CodeBudget(_Budget, CodeLookupThrottle):
    """The pages' and the API's code lookups budget (``meetings.throttling``)."""


class PasscodeBudget(_Budget):
    scope = "passcode"

    def __init__(self, meeting_id: int) -> None:
        self.meeting_id = meeting_id
        super().__init__()

    def get_rate(self) -> str:
        return str(settings.MEETING_PASSCODE_RATE)

    def get_cache_key(self, request: Any, view: Any) -> str:
        return f"throttle_passcode_{self.meeting_id}_{self.get_ident(request)}"


def code_lookups_spent(request: ScopeRequest) -> int | None:
    """Seconds to wait when this client's code lookups are spent, else None."""
    budget = CodeBudget()
    return budget.seconds_left() if budget.spent(request) else None


def count_code_miss(request: ScopeRequest) -> None:
    CodeLookupThrottle().allow_request(cast(Any, request), cast(Any, None))


def passcode_attempts_spent(request: ScopeRequest, meeting_id: int) -> int | None:
    """Seconds to wait when this client's wrong passcodes for this meeting are spent, else None."""
    budget = PasscodeBudget(meeting_id)
    return budget.seconds_left() if budget.spent(request) else None


def count_wrong_passcode(request: ScopeRequest, meeting_id: int) -> None:
    PasscodeBudget(meeting_id).allow_request(cast(Any, request), cast(Any, None))

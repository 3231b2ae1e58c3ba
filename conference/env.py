"""Typed readers for environment settings.

Every setting the platform takes from the environment is read here or in
``conference.settings`` through these helpers, never with ``os.environ`` elsewhere.
A bad value stops start-up with ``ImproperlyConfigured`` naming the variable.
Secrets may also come from a file: ``NAME_FILE=/run/secrets/name`` wins over ``NAME``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class Env:
    """Reads typed values from a mapping (the process environment by default)."""

    def __init__(self, source: Mapping[str, str] | None = None) -> None:
        self._source = os.environ if source is None else source

    def _raw(self, name: str) -> str | None:
        file_path = self._source.get(f"{name}_FILE")
        if file_path:
            try:
                with open(file_path, encoding="utf-8") as handle:
                    return handle.read().strip()
            except OSError as exc:
                raise ImproperlyConfigured(f"{name}_FILE={file_path!r} cannot be read: {exc}") from exc
        return self._source.get(name)

    def is_set(self, name: str) -> bool:
        value = self._raw(name)
        return value is not None and value != ""

    def string(self, name: str, default: str = "") -> str:
        value = self._raw(name)
        return default if value is None or value == "" else value

    def boolean(self, name: str, default: bool) -> bool:
        value = self._raw(name)
        if value is None:
            return default
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ImproperlyConfigured(f"{name}={value!r} is not a boolean (use true/false, 1/0, yes/no, on/off)")

    def integer(self, name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
        value = self._raw(name)
        if value is None or value.strip() == "":
            result = default
        else:
            try:
                result = int(value.strip())
            except ValueError as exc:
                raise ImproperlyConfigured(f"{name}={value!r} is not an integer") from exc
        if minimum is not None and result < minimum:
            raise ImproperlyConfigured(f"{name}={result} is below the minimum {minimum}")
        if maximum is not None and result > maximum:
            raise ImproperlyConfigured(f"{name}={result} is above the maximum {maximum}")
        return result

    def strings(self, name: str, default: list[str] | None = None) -> list[str]:
        value = self._raw(name)
        if value is None or value.strip() == "":
            return list(default or [])
        return [item.strip() for item in value.split(",") if item.strip()]

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.string(name, default)
        if value not in choices:
            raise ImproperlyConfigured(f"{name}={value!r} must be one of: {', '.join(choices)}")
        return value

    def url(self, name: str, default: str, *, schemes: tuple[str, ...]) -> str:
        value = self.string(name, default)
        scheme = value.split("://", 1)[0] if "://" in value else ""
        if scheme not in schemes:
            raise ImproperlyConfigured(
                f"{name}={value!r} must be a URL starting with one of: {', '.join(s + '://' for s in schemes)}"
            )
        return value

    def rate(self, name: str, default: str) -> str:
        """A DRF style rate such as ``30/min``."""
        value = self.string(name, default)
        count, _, period = value.partition("/")
        if not count.isdigit() or period[:1] not in {"s", "m", "h", "d"}:
            raise ImproperlyConfigured(f"{name}={value!r} is not a rate like '30/min' or '1000/hour'")
        return value

    def json(self, name: str, default: Any) -> Any:
        value = self._raw(name)
        if value is None or value.strip() == "":
            return default
        try:
            return json.loads(value)
        except ValueError as exc:
            raise ImproperlyConfigured(f"{name} is not valid JSON: {exc}") from exc


def validate_ice_servers(value: Any) -> list[dict[str, Any]]:
    """ICE servers in the shape browsers take: a list of {urls, username?, credential?}."""
    problem = "ICE_SERVERS must be a JSON list of objects with 'urls' (a string or a list of strings)"
    if not isinstance(value, list):
        raise ImproperlyConfigured(problem)
    servers: list[dict[str, Any]] = []
    for entry in value:
        if not isinstance(entry, dict) or set(entry) - {"urls", "username", "credential"}:
            raise ImproperlyConfigured(problem)
        urls = entry.get("urls")
        url_list = [urls] if isinstance(urls, str) else urls
        if not isinstance(url_list, list) or not url_list or not all(isinstance(url, str) for url in url_list):
            raise ImproperlyConfigured(problem)
        if not all(url.split(":", 1)[0] in {"stun", "stuns", "turn", "turns"} for url in url_list):
            raise ImproperlyConfigured("ICE_SERVERS urls must start with stun:, stuns:, turn: or turns:")
        servers.append({**entry, "urls": url_list})
    return servers

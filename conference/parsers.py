"""Request parsers of the REST API (``REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]``). A module of
its own: DRF resolves the setting while ``rest_framework.views`` is imported."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions, parsers


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing JSON nested deeper than the interpreter's recursion limit
    (e.g. 20,000 ``[``) as malformed (400 ``parse_error``) instead of failing with a 500."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError("JSON parse error - nested too deeply.") from None

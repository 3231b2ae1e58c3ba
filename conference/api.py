"""Shared REST API plumbing: the error format, error values and pagination.

Every API error is JSON ``{"code": <stable code>, "detail": <human text>}``; validation
errors add ``"fields": {"<field>": [{"code": ..., "message": ...}]}``. Clients branch on
``code``; ``detail`` is for people and may change.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions, pagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class ApiError(exceptions.APIException):
    """A domain refusal with a stable code, raised by actions and access checks."""

    def __init__(self, code: str, detail: str, status_code: int = 400, field: str | None = None) -> None:
        super().__init__(detail=detail, code=code)
        self.status_code = status_code
        self.error_code = code
        self.field = field


def _flatten_field_errors(detail: Any, prefix: str = "") -> dict[str, list[dict[str, str]]]:
    fields: dict[str, list[dict[str, str]]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            fields.update(_flatten_field_errors(value, name))
    elif isinstance(detail, list):
        if all(isinstance(item, exceptions.ErrorDetail) for item in detail):
            fields[prefix or "non_field_errors"] = [{"code": str(item.code), "message": str(item)} for item in detail]
        else:
            for index, item in enumerate(detail):
                fields.update(_flatten_field_errors(item, f"{prefix}.{index}" if prefix else str(index)))
    elif isinstance(detail, exceptions.ErrorDetail):
        fields[prefix or "non_field_errors"] = [{"code": str(detail.code), "message": str(detail)}]
    return fields


def error_body(exc: exceptions.APIException) -> dict[str, Any]:
    if isinstance(exc, exceptions.ValidationError):
        return {"code": "invalid", "detail": "Some fields are invalid.", "fields": _flatten_field_errors(exc.detail)}
    if isinstance(exc, ApiError) and exc.field:
        fields = {exc.field: [{"code": exc.error_code, "message": str(exc.detail)}]}
        return {"code": "invalid", "detail": "Some fields are invalid.", "fields": fields}
    code = exc.error_code if isinstance(exc, ApiError) else exc.get_codes()
    if not isinstance(code, str):
        code = exc.default_code
    body: dict[str, Any] = {"code": code, "detail": str(exc.detail)}
    wait = getattr(exc, "wait", None) if isinstance(exc, exceptions.Throttled) else None
    if wait is not None:
        body["retry_after"] = int(wait + 0.999)
    return body


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or None)
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    response.data = error_body(exc)
    return response


class Pagination(pagination.PageNumberPagination):
    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 100

"""The OpenAPI schema validates, the docs render, and every documented operation refuses
someone who must not get in."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

PUBLIC_OPERATIONS = {("get", "/api/v1/join-info/{code}/")}


def schema(client: Client) -> dict[str, object]:
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi")
    assert response.status_code == 200
    loaded = yaml.safe_load(response.content)
    assert isinstance(loaded, dict)
    return loaded


def test_the_schema_validates_without_warnings(tmp_path: Path) -> None:
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    assert out.read_text().startswith("openapi: 3")


def test_the_schema_documents_the_api(client: Client) -> None:
    paths = schema(client)["paths"]
    assert isinstance(paths, dict)
    assert {"/api/v1/meetings/", "/api/v1/meetings/{code}/", "/api/v1/meetings/{code}/end/", "/api/v1/me/"} <= set(
        paths
    )


def test_the_interactive_docs_render_from_local_assets(client: Client) -> None:
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "swagger-ui" in html
    assert "cdn" not in html.lower()
    scripts = re.findall(r'<script[^>]*src="([^"]+)"', html)
    assert scripts, "the docs page loads its scripts from files (CSP forbids inline scripts)"
    assert all(src.startswith("/") for src in scripts)
    for src in scripts:
        assert client.get(src).status_code == 200, src


def test_every_documented_operation_refuses_anonymous_callers(client: Client, meeting: object) -> None:
    anonymous = APIClient()
    code = "abc-defg-hij"
    checked = 0
    for path, operations in schema(client)["paths"].items():  # type: ignore[attr-defined]
        for method in operations:
            if (method, path) in PUBLIC_OPERATIONS:
                continue
            response = getattr(anonymous, method)(path.replace("{code}", code), {}, format="json")
            assert response.status_code == 401, (method, path, response.status_code)
            assert response.json()["code"] == "not_authenticated"
            checked += 1
    assert checked >= 8


def test_redoc_renders_too(client: Client) -> None:
    response = client.get("/api/redoc/")
    assert response.status_code == 200
    assert "'unsafe-inline'" in response["Content-Security-Policy"]
    assert "'unsafe-inline'" not in client.get("/").get("Content-Security-Policy", "")

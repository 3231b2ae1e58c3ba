from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client

pytestmark = pytest.mark.django_db


def test_it_reports_database_and_redis(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}
    assert connection.vendor == "postgresql", "the test suite runs on the real PostgreSQL that make test starts"


def test_unknown_api_paths_answer_json(client: Client) -> None:
    response = client.get("/api/v1/nothing-here/")
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "detail": "Not found."}


def test_unknown_pages_answer_html(client: Client) -> None:
    response = client.get("/nothing-here/")
    assert response.status_code == 404
    assert b"There is nothing here" in response.content

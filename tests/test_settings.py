"""Start-up refuses unsafe production configurations; production responses carry the security headers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from accounts.models import User
from tests.factories import PASSWORD

ROOT = Path(__file__).resolve().parent.parent
GOOD_KEY = "k" * 50


PRINT_DEBUG = "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)"


def start(code: str = PRINT_DEBUG, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {key: value for key, value in os.environ.items() if key not in {"SECRET_KEY", "ALLOWED_HOSTS", "DEBUG"}}
    clean.update(env, DJANGO_SETTINGS_MODULE="conference.settings")
    return subprocess.run(  # noqa: S603 (this interpreter, code from the tests)
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "SECRET_KEY must be set"),
        ({"SECRET_KEY": "short"}, "at least 40 characters"),
        ({"SECRET_KEY": "django-insecure-" + "x" * 40}, "SECRET_KEY must be set"),
        ({"SECRET_KEY": GOOD_KEY}, "ALLOWED_HOSTS must list"),
        ({"SECRET_KEY": GOOD_KEY, "ALLOWED_HOSTS": "a.example", "DATABASE_URL": "mysql://x"}, "DATABASE_URL="),
        (
            {"SECRET_KEY": GOOD_KEY, "ALLOWED_HOSTS": "a.example", "DEBUG": "sometimes"},
            "DEBUG='sometimes' is not a boolean",
        ),
    ],
)
def test_production_refuses_to_start_without_safe_settings(env: dict[str, str], message: str) -> None:
    result = start(**env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


def test_production_starts_with_a_key_and_hosts() -> None:
    result = start(SECRET_KEY=GOOD_KEY, ALLOWED_HOSTS="meet.example.org")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_development_mode_needs_nothing() -> None:
    result = start(DEBUG="true")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


@pytest.mark.django_db
def test_responses_carry_the_security_headers(client: Client) -> None:
    response = client.get("/", secure=True)
    assert response["Strict-Transport-Security"].startswith("max-age=31536000")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp


@pytest.mark.django_db
def test_cookies_are_secure_and_http_only(client: Client, owner: User) -> None:
    client.get("/accounts/login/", secure=True)
    csrf = client.cookies["csrftoken"]
    assert csrf["secure"] is True
    client.post("/accounts/login/", {"login": owner.email, "password": PASSWORD}, secure=True)
    session = client.cookies["sessionid"]
    assert session["secure"] is True
    assert session["httponly"] is True


def test_static_files_are_served_by_whitenoise() -> None:
    from django.conf import settings

    assert "whitenoise.middleware.WhiteNoiseMiddleware" in settings.MIDDLEWARE


def test_s3_storage_needs_a_bucket() -> None:
    result = start(DEBUG="true", FILE_STORAGE="s3")
    assert result.returncode != 0
    assert "FILE_STORAGE=s3 needs S3_BUCKET" in result.stderr


def test_s3_storage_becomes_the_default_storage() -> None:
    code = (
        "import django; django.setup(); from django.core.files.storage import storages; "
        "s = storages['default']; print(type(s).__name__, s.bucket_name, s.endpoint_url)"
    )
    result = start(code, DEBUG="true", FILE_STORAGE="s3", S3_BUCKET="rec", S3_ENDPOINT_URL="http://127.0.0.1:9000")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["S3Storage", "rec", "http://127.0.0.1:9000"]

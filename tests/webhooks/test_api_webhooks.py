"""REST API for webhooks: list, create (the secret shown once), retrieve, update, delete — the
owner only; everyone else gets 404, anonymous callers 401; bad input 400 with stable codes."""

from __future__ import annotations

from typing import Any

import pytest
from pytest_django.fixtures import Settings as SettingsWrapper
from rest_framework.test import APIClient

from accounts.models import User
from tests.webhooks.conftest import MakeWebhook
from webhooks.models import Webhook

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_targets")]

URL = "http://127.0.0.1:8999/hooks"


def field_code(response: Any, field: str) -> str:
    body = response.json()
    assert (response.status_code, body["code"]) == (400, "invalid"), body
    return str(body["fields"][field][0]["code"])


def test_the_owner_registers_a_webhook_and_sees_its_secret_once(owner_api: APIClient, owner: User) -> None:
    response = owner_api.post(
        "/api/v1/webhooks/", {"url": URL, "events": ["meeting.ended", "recording.ready"], "description": "CRM"}
    )

    assert response.status_code == 201, response.content
    created = response.json()
    webhook = Webhook.objects.get(owner=owner)
    assert created["secret"] == webhook.secret
    assert created["secret"].startswith("whsec_")
    assert (created["url"], created["events"], created["active"]) == (URL, ["meeting.ended", "recording.ready"], True)
    shown = owner_api.get(f"/api/v1/webhooks/{webhook.pk}/").json()
    assert "secret" not in shown
    assert shown["description"] == "CRM"


def test_the_list_shows_the_owners_webhooks_only_without_secrets(
    owner_api: APIClient, make_webhook: MakeWebhook, outsider: User
) -> None:
    mine = make_webhook()
    make_webhook(user=outsider)

    page = owner_api.get("/api/v1/webhooks/").json()

    assert page["count"] == 1
    assert [row["id"] for row in page["results"]] == [mine.pk]
    assert "secret" not in page["results"][0]


def test_the_owner_changes_url_events_and_active(owner_api: APIClient, make_webhook: MakeWebhook) -> None:
    webhook = make_webhook()

    response = owner_api.patch(
        f"/api/v1/webhooks/{webhook.pk}/", {"url": URL + "/v2", "events": ["meeting.started"], "active": False}
    )

    assert response.status_code == 200, response.content
    webhook.refresh_from_db()
    assert (webhook.url, webhook.events, webhook.active) == (URL + "/v2", ["meeting.started"], False)


def test_the_owner_deletes_a_webhook(owner_api: APIClient, make_webhook: MakeWebhook) -> None:
    webhook = make_webhook()
    assert owner_api.delete(f"/api/v1/webhooks/{webhook.pk}/").status_code == 204
    assert not Webhook.objects.filter(pk=webhook.pk).exists()


@pytest.mark.parametrize("who", ["member_api", "outsider_api"])
def test_other_people_are_told_the_webhook_does_not_exist(
    request: pytest.FixtureRequest, who: str, make_webhook: MakeWebhook
) -> None:
    webhook = make_webhook()
    client: APIClient = request.getfixturevalue(who)
    base = f"/api/v1/webhooks/{webhook.pk}/"

    answers = [
        client.get(base),
        client.patch(base, {"active": False}),
        client.delete(base),
    ]

    assert [answer.status_code for answer in answers] == [404, 404, 404]
    assert answers[0].json()["code"] == "not_found"
    webhook.refresh_from_db()
    assert webhook.active


def test_a_non_numeric_id_is_not_found(owner_api: APIClient) -> None:
    assert owner_api.get("/api/v1/webhooks/abc/").status_code == 404


@pytest.mark.parametrize(
    ("method", "path"), [("get", "/api/v1/webhooks/"), ("post", "/api/v1/webhooks/"), ("get", "/api/v1/webhooks/1/")]
)
def test_anonymous_callers_are_refused(anon_api: APIClient, method: str, path: str) -> None:
    response = getattr(anon_api, method)(path, {})
    assert (response.status_code, response.json()["code"]) == (401, "not_authenticated")


@pytest.mark.parametrize(
    ("data", "field", "code"),
    [
        ({"url": URL, "events": ["meeting.exploded"]}, "events", "unknown_event"),
        ({"url": URL, "events": ["ping"]}, "events", "unknown_event"),
        ({"url": URL, "events": []}, "events", "no_events"),
        ({"url": URL}, "events", "required"),
        ({"url": "ftp://127.0.0.1/x", "events": ["meeting.ended"]}, "url", "unsupported_scheme"),
        ({"url": "not a url", "events": ["meeting.ended"]}, "url", "invalid_url"),
        ({"events": ["meeting.ended"]}, "url", "required"),
    ],
)
def test_bad_input_is_refused_with_stable_codes(
    owner_api: APIClient, data: dict[str, Any], field: str, code: str
) -> None:
    assert field_code(owner_api.post("/api/v1/webhooks/", data), field) == code
    assert not Webhook.objects.exists()


def test_a_patch_with_bad_events_changes_nothing(owner_api: APIClient, make_webhook: MakeWebhook) -> None:
    webhook = make_webhook(events=["meeting.ended"])
    response = owner_api.patch(f"/api/v1/webhooks/{webhook.pk}/", {"events": [], "description": "new"})
    assert field_code(response, "events") == "no_events"
    webhook.refresh_from_db()
    assert (webhook.events, webhook.description) == (["meeting.ended"], "")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/admin/",
        "http://localhost/",
        "http://169.254.169.254/",
        "http://[64:ff9b::a9fe:a9fe]/",
        "http://[2002:7f00:1::]:8000/admin/",
    ],
)
def test_private_targets_are_refused_by_default(owner_api: APIClient, settings: SettingsWrapper, url: str) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False
    response = owner_api.post("/api/v1/webhooks/", {"url": url, "events": ["meeting.ended"]})
    assert field_code(response, "url") == "private_target"
    assert "private" in response.json()["fields"]["url"][0]["message"]


def test_an_account_has_at_most_twenty_webhooks(owner_api: APIClient, make_webhook: MakeWebhook) -> None:
    for _ in range(20):
        make_webhook()
    response = owner_api.post("/api/v1/webhooks/", {"url": URL, "events": ["meeting.ended"]})
    assert (response.status_code, response.json()["code"]) == (400, "too_many_webhooks")

"""Bearer tokens on the JSON API: who gets in, and what a token may read."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from metrics.models import Deployment
from metrics.tests.factories import ApiTokenFactory, DeploymentFactory, SourceFactory

pytestmark = pytest.mark.django_db

LIST = "/api/v1/deployments"


def assert_unauthorized(response) -> None:
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert "Authorization: Bearer" in response.json()["detail"]


def test_it_rejects_a_request_without_a_token(client, token):
    assert_unauthorized(client.get(LIST))


def test_it_rejects_an_unknown_key(token):
    assert_unauthorized(Client(headers={"Authorization": f"Bearer {token.key}x"}).get(LIST))


def test_it_rejects_another_scheme(token):
    assert_unauthorized(Client(headers={"Authorization": f"Basic {token.key}"}).get(LIST))


def test_it_rejects_an_empty_bearer(token):
    assert_unauthorized(Client(headers={"Authorization": "Bearer "}).get(LIST))


def test_it_rejects_a_revoked_key(api_client, token):
    token.revoked_at = timezone.now()
    token.save()

    assert_unauthorized(api_client.get(LIST))


def test_it_rejects_a_key_of_an_inactive_source(api_client, source):
    source.is_active = False
    source.save()

    assert_unauthorized(api_client.get(LIST))


def test_it_rejects_writes_without_a_token_and_writes_nothing(client, service):
    body = {"external_id": "d1", "service": "checkout", "environment": "production", "finished_at": "2025-05-01T12:00Z"}

    assert_unauthorized(client.post(LIST, body, content_type="application/json"))
    assert_unauthorized(client.post(f"{LIST}/bulk", [body], content_type="application/json"))
    assert not Deployment.objects.exists()


def test_it_records_when_a_token_was_last_used(api_client, token):
    assert token.last_used_at is None

    assert api_client.get(LIST).status_code == 200

    token.refresh_from_db()
    assert token.last_used_at is not None


def test_a_token_reads_only_its_own_sources_records(api_client, source, service):
    DeploymentFactory(source=source, service=service, external_id="ours")
    DeploymentFactory(source=SourceFactory(name="elsewhere"), service=service, external_id="theirs")

    response = api_client.get(LIST)

    assert [item["external_id"] for item in response.json()["items"]] == ["ours"]


def test_two_sources_may_use_the_same_external_id(api_client, service):
    other = ApiTokenFactory(source=SourceFactory(name="other-ci", team=service.owner))
    other_client = Client(headers={"Authorization": f"Bearer {other.key}"})
    body = {"external_id": "d1", "service": "checkout", "environment": "production", "finished_at": "2025-05-01T12:00Z"}

    assert api_client.post(LIST, body, content_type="application/json").status_code == 201
    assert other_client.post(LIST, body, content_type="application/json").status_code == 201

    assert Deployment.objects.filter(external_id="d1").count() == 2


def test_the_schema_and_the_docs_need_no_token(client):
    assert client.get("/api/v1/openapi.json").status_code == 200
    assert client.get("/api/v1/docs").status_code == 200


def test_writes_need_no_csrf_token_with_a_bearer_key(token, service):
    # A CI script has no session and no CSRF cookie; the key is the credential.
    client = Client(enforce_csrf_checks=True, headers={"Authorization": f"Bearer {token.key}"})
    body = {"external_id": "d1", "service": "checkout", "environment": "production", "finished_at": "2025-05-01T12:00Z"}

    assert client.post(LIST, body, content_type="application/json").status_code == 201

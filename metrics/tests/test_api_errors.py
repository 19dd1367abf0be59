"""Bodies the JSON API cannot take: each is a JSON error, never a 500 or a partial write."""

from __future__ import annotations

import json

import pytest

from metrics.models import Deployment

pytestmark = pytest.mark.django_db

URL = "/api/v1/deployments"
ONE = {"external_id": "d1", "service": "checkout", "environment": "production", "finished_at": "2025-05-01T12:00:00Z"}


def post_raw(client, body: str | bytes, url: str = URL):
    return client.post(url, body, content_type="application/json")


def test_invalid_json_is_a_400_saying_where(api_client):
    response = post_raw(api_client, '{"external_id": "d1",')

    assert response.status_code == 400
    assert response.json()["detail"].startswith("The body is not valid JSON: ")
    assert "char 21" in response.json()["detail"]


def test_a_body_that_is_not_utf8_is_a_400(api_client):
    assert post_raw(api_client, b"\xff\xfe{}").status_code == 400


@pytest.mark.parametrize("url", [URL, f"{URL}/bulk"])
def test_an_empty_body_is_a_422(api_client, url):
    response = post_raw(api_client, "", url=url)

    assert response.status_code == 422
    assert response.json()["detail"] == [{"loc": ["body"], "msg": "The body is empty: send JSON.", "type": "missing"}]


def test_an_empty_object_lists_the_required_fields(api_client):
    response = post_raw(api_client, "{}")

    assert response.status_code == 422
    assert {tuple(e["loc"]) for e in response.json()["detail"]} == {
        ("body", "external_id"),
        ("body", "environment"),
        ("body", "finished_at"),
    }


@pytest.mark.parametrize("body", ["[]", '"deployment"', "42", "null"])
def test_a_body_that_is_not_an_object_is_a_422(api_client, body):
    response = post_raw(api_client, body)

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][0] == "body"


def test_a_lone_surrogate_is_a_422(api_client):
    # Valid JSON, but not text any database can store.
    body = json.dumps({**ONE, "title": "x"}).replace('"x"', '"\\ud800"')

    response = post_raw(api_client, body)

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "title"]


def test_a_body_over_the_upload_limit_is_a_413(api_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2000
    items = [{**ONE, "external_id": f"d{i}"} for i in range(30)]

    response = post_raw(api_client, json.dumps(items), url=f"{URL}/bulk")

    assert response.status_code == 413
    assert response.json() == {"detail": "The body is larger than 2000 bytes: send fewer items per request."}
    assert not Deployment.objects.exists()


def test_a_body_of_6_mb_is_a_413(api_client):
    response = post_raw(api_client, json.dumps([{**ONE, "title": "x" * 500}] * 12_000), url=f"{URL}/bulk")

    assert response.status_code == 413


def test_an_unknown_method_is_a_405(api_client):
    assert api_client.delete(URL).status_code == 405


def test_a_path_parameter_with_nul_is_a_422(api_client):
    response = api_client.post(
        f"{URL.replace('deployments', 'incidents')}/a%00b/resolve", {}, content_type="application/json"
    )

    assert response.status_code == 422
    assert ["path", "external_id"] in [e["loc"] for e in response.json()["detail"]]


def test_a_query_parameter_with_nul_is_a_422(api_client):
    response = api_client.get(URL, {"environment": "prod\x00"})

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "environment"]

"""Deployments through the JSON API: upserts, bulk, validation, lists."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from e360.tests.factories import ServiceFactory
from metrics.models import Deployment, Repository
from metrics.tests.factories import DeploymentFactory, SourceFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/deployments"


def deployment(**fields) -> dict:
    return {
        "external_id": "deploy-1",
        "service": "checkout",
        "environment": "production",
        "status": "success",
        "started_at": "2025-05-01T12:00:00Z",
        "finished_at": "2025-05-01T12:04:30Z",
        **fields,
    }


def post(client, body, url=URL):
    return client.post(url, body, content_type="application/json")


def errors(response) -> list[tuple[list, str]]:
    assert response.status_code == 422, response.content
    return [(error["loc"], error["msg"]) for error in response.json()["detail"]]


# --- Single upserts -------------------------------------------------------------------------


def test_it_creates_a_deployment_under_the_tokens_source(api_client, source, service):
    response = post(api_client, deployment(sha="abc123", ref="main", changes=["pr-1", "pr-2"], is_hotfix=True))

    assert response.status_code == 201
    body = response.json()
    assert body["external_id"] == "deploy-1"
    assert body["service"] == "checkout"
    assert body["is_production"] is True
    assert body["finished_at"] == "2025-05-01T12:04:30Z"
    assert body["changes"] == ["pr-1", "pr-2"]
    stored = Deployment.objects.get()
    assert stored.source == source
    assert stored.service == service
    assert stored.sha == "abc123"
    assert stored.is_hotfix is True
    assert stored.changes == ["pr-1", "pr-2"]
    assert stored.finished_at == datetime(2025, 5, 1, 12, 4, 30, tzinfo=UTC)


def test_it_updates_a_deployment_with_the_same_external_id(api_client):
    assert post(api_client, deployment(status="in_progress")).status_code == 201

    response = post(api_client, deployment(status="failure"))

    assert response.status_code == 200
    assert response.json()["status"] == "failure"
    assert Deployment.objects.get().status == "failure"


def test_replaying_the_same_payload_keeps_one_row(api_client):
    first = post(api_client, deployment())
    second = post(api_client, deployment())

    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json() == second.json()
    assert Deployment.objects.count() == 1


def test_put_is_the_same_upsert(api_client):
    first = api_client.put(URL, deployment(), content_type="application/json")
    second = api_client.put(URL, deployment(title="Release 42"), content_type="application/json")

    assert (first.status_code, second.status_code) == (201, 200)
    assert Deployment.objects.get().title == "Release 42"


def test_it_converts_offsets_to_utc(api_client):
    response = post(
        api_client, deployment(started_at="2025-05-01T14:00:00+02:00", finished_at="2025-05-01T14:05:00+02:00")
    )

    assert response.json()["finished_at"] == "2025-05-01T12:05:00Z"


def test_a_repository_names_the_service(api_client, service):
    response = post(api_client, deployment(service=None, repository="acme/checkout"))

    assert response.status_code == 201
    assert response.json()["service"] == "checkout"
    assert response.json()["repository"] == "acme/checkout"
    assert Repository.objects.get().service == service


def test_a_non_production_environment_is_stored_as_such(api_client):
    assert post(api_client, deployment(environment="staging")).json()["is_production"] is False


def test_it_rejects_an_unknown_service_with_the_services_message(api_client):
    assert errors(post(api_client, deployment(service="nope"))) == [(["body"], 'unknown service "nope"')]
    assert not Deployment.objects.exists()


def test_it_rejects_a_deployment_naming_no_service(api_client):
    [(loc, msg)] = errors(post(api_client, deployment(service=None)))

    assert loc == ["body"]
    assert "no service given" in msg


def test_it_schedules_a_refresh_of_the_service_after_commit(
    api_client, service, monkeypatch, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr(
        "metrics.tasks.queue_service_refresh", lambda service_id, since: queued.append((service_id, since))
    )

    with django_capture_on_commit_callbacks(execute=True):
        post(api_client, deployment())

    assert queued == [(service.id, datetime(2025, 5, 1, 12, 0, tzinfo=UTC))]


def test_a_rejected_write_schedules_nothing(api_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        post(api_client, [deployment(), deployment(external_id="d2", service="nope")], url=f"{URL}/bulk")

    assert callbacks == []


# --- Validation -------------------------------------------------------------------------------


def test_it_requires_a_time_zone(api_client):
    [(loc, msg)] = errors(post(api_client, deployment(finished_at="2025-05-01T12:04:30")))

    assert loc == ["body", "finished_at"]
    assert msg.startswith("must include a time zone")


def test_it_rejects_a_number_for_a_timestamp(api_client):
    [(loc, msg)] = errors(post(api_client, deployment(finished_at=1746100000)))

    assert loc == ["body", "finished_at"]
    assert "ISO 8601" in msg


def test_it_rejects_a_finish_before_the_start(api_client):
    assert errors(post(api_client, deployment(finished_at="2025-05-01T11:00:00Z"))) == [
        (["body", "finished_at"], "must not be before started_at")
    ]


def test_it_rejects_timestamps_out_of_range(api_client):
    # Year 1 with a positive offset would overflow when converted to UTC.
    [(loc, msg)] = errors(post(api_client, deployment(started_at="0001-01-01T00:00:00+01:00")))

    assert loc == ["body", "started_at"]
    assert msg == "must be between 1970-01-01 and 2100-01-01"


def test_it_names_every_bad_field(api_client):
    body = deployment(status="done", url="ftp://example.com", environment="", sha="x" * 65, typo=1)
    del body["external_id"]

    found = {tuple(loc): msg for loc, msg in errors(post(api_client, body))}

    assert set(found) == {
        ("body", "external_id"),
        ("body", "environment"),
        ("body", "status"),
        ("body", "sha"),
        ("body", "url"),
        ("body", "typo"),
    }
    assert found[("body", "external_id")] == "Field required"
    assert found[("body", "url")] == "must be an http:// or https:// URL"
    assert found[("body", "typo")] == "Extra inputs are not permitted"


def test_it_rejects_nul_characters(api_client):
    assert errors(post(api_client, deployment(title="a\x00b"))) == [
        (["body", "title"], "must not contain NUL characters")
    ]


def test_validation_errors_have_a_documented_shape(api_client):
    response = post(api_client, deployment(finished_at="yesterday"))

    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert set(error) == {"loc", "msg", "type"}


# --- Bulk ---------------------------------------------------------------------------------------


def test_bulk_creates_and_updates_and_counts_them(api_client):
    post(api_client, deployment(external_id="d0"))

    response = post(api_client, [deployment(external_id=f"d{i}") for i in range(3)], url=f"{URL}/bulk")

    assert response.status_code == 200
    assert response.json() == {
        "created": 2,
        "updated": 1,
        "items": [
            {"external_id": "d0", "created": False},
            {"external_id": "d1", "created": True},
            {"external_id": "d2", "created": True},
        ],
    }
    assert Deployment.objects.count() == 3


def test_bulk_writes_an_id_sent_twice_once_with_its_last_fields(api_client):
    items = [deployment(external_id="d0", title="first"), deployment(external_id="d0", title="second")]

    response = post(api_client, items, url=f"{URL}/bulk")

    assert [item["created"] for item in response.json()["items"]] == [True, False]
    assert list(Deployment.objects.values_list("title", flat=True)) == ["second"]


def test_bulk_update_keeps_what_the_refresh_derived(api_client):
    post(api_client, deployment(external_id="d0"))
    Deployment.objects.update(link_rule=Deployment.LinkRule.COMMIT_RANGE)

    post(api_client, [deployment(external_id="d0", status="failure")], url=f"{URL}/bulk")

    stored = Deployment.objects.get()
    assert (stored.status, stored.link_rule) == ("failure", Deployment.LinkRule.COMMIT_RANGE)


@pytest.mark.parametrize("size", [3, 300])
def test_bulk_queries_do_not_grow_with_items(api_client, size, django_assert_max_num_queries):
    items = [deployment(external_id=f"d{i}", repository="acme/checkout") for i in range(size)]
    post(api_client, items[:1], url=f"{URL}/bulk")

    # Token, savepoint, service, repository, existing ids, the upsert, the source's last event, release.
    with django_assert_max_num_queries(9):
        response = post(api_client, items, url=f"{URL}/bulk")

    assert response.json()["created"] == size - 1


def test_bulk_is_all_or_nothing_and_names_the_bad_item(api_client):
    items = [deployment(external_id=f"d{i}") for i in range(20)]
    items[17]["service"] = "nope"

    response = post(api_client, items, url=f"{URL}/bulk")

    assert errors(response) == [(["body", 17], 'unknown service "nope"')]
    assert not Deployment.objects.exists()


def test_bulk_names_the_item_with_a_schema_error(api_client):
    items = [deployment(external_id=f"d{i}") for i in range(20)]
    items[17]["finished_at"] = "2025-05-01T12:04:30"

    assert errors(post(api_client, items, url=f"{URL}/bulk"))[0][0] == ["body", 17, "finished_at"]
    assert not Deployment.objects.exists()


def test_bulk_takes_at_most_1000_items(api_client):
    items = [deployment(external_id=f"d{i}") for i in range(1001)]

    [(loc, msg)] = errors(post(api_client, items, url=f"{URL}/bulk"))

    assert loc == ["body"]
    assert "at most 1000" in msg
    assert not Deployment.objects.exists()


def test_bulk_takes_1000_items(api_client):
    items = [deployment(external_id=f"d{i}") for i in range(1000)]

    response = post(api_client, items, url=f"{URL}/bulk")

    assert response.status_code == 200
    assert response.json()["created"] == 1000


def test_bulk_wants_an_array(api_client):
    assert errors(post(api_client, deployment(), url=f"{URL}/bulk"))[0][0] == ["body"]


# --- Lists --------------------------------------------------------------------------------------


def test_the_list_is_newest_first_and_paginated(api_client, source, service):
    start = datetime(2025, 5, 1, tzinfo=UTC)
    for day in range(5):
        DeploymentFactory(
            source=source, service=service, external_id=f"d{day}", finished_at=start + timedelta(days=day)
        )

    first = api_client.get(URL, {"limit": 2}).json()
    second = api_client.get(URL, {"limit": 2, "offset": 2}).json()

    assert first["count"] == second["count"] == 5
    assert [d["external_id"] for d in first["items"]] == ["d4", "d3"]
    assert [d["external_id"] for d in second["items"]] == ["d2", "d1"]


def test_the_list_filters(api_client, source, service):
    other_service = ServiceFactory(slug="search", owner=service.owner)
    start = datetime(2025, 5, 1, tzinfo=UTC)
    DeploymentFactory(source=source, service=service, external_id="prod-ok", finished_at=start)
    DeploymentFactory(source=source, service=service, external_id="prod-failed", status="failure", finished_at=start)
    DeploymentFactory(source=source, service=service, external_id="staging", environment="staging", finished_at=start)
    DeploymentFactory(source=source, service=other_service, external_id="search", finished_at=start)
    DeploymentFactory(source=source, service=service, external_id="later", finished_at=start + timedelta(days=2))

    def ids(**params):
        response = api_client.get(URL, params)
        assert response.status_code == 200, response.content
        return sorted(d["external_id"] for d in response.json()["items"])

    assert ids(service="search") == ["search"]
    assert ids(environment="staging") == ["staging"]
    assert ids(status="failure") == ["prod-failed"]
    assert ids(is_production="false") == ["staging"]
    assert ids(since="2025-05-02T00:00:00Z") == ["later"]
    assert ids(until="2025-05-02T00:00:00Z", service="checkout", is_production="true") == [
        "prod-failed",
        "prod-ok",
    ]
    assert ids(since="2025-05-01T00:00:00Z", until="2025-05-01T00:00:00Z") == []


def test_the_list_rejects_bad_filters(api_client):
    found = {tuple(loc) for loc, _ in errors(api_client.get(URL, {"since": "2025-05-01", "limit": 501, "status": "x"}))}

    assert found == {("query", "since"), ("query", "limit"), ("query", "status")}


@pytest.mark.parametrize("rows", [2, 40])
def test_the_list_queries_do_not_grow_with_rows(api_client, source, service, rows, django_assert_max_num_queries):
    DeploymentFactory.create_batch(rows, source=source, service=service)
    api_client.get(URL)  # the first request records the token's use

    # The token, the count and the page.
    with django_assert_max_num_queries(3):
        response = api_client.get(URL, {"limit": 500})

    assert len(response.json()["items"]) == rows


def test_the_list_hides_other_sources(api_client, service):
    DeploymentFactory(source=SourceFactory(name="elsewhere"), service=service)

    assert api_client.get(URL).json() == {"items": [], "count": 0}


def test_the_list_refuses_unknown_parameters(api_client):
    # A misspelt filter would otherwise silently list everything.
    assert errors(api_client.get(URL, {"enviroment": "production", "limit": 5})) == [
        (["query", "enviroment"], "unknown query parameter")
    ]

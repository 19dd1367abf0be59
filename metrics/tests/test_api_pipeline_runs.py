"""Pipeline runs through the JSON API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from metrics.models import PipelineRun
from metrics.tests.factories import PipelineRunFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/pipeline-runs"


def run(**fields) -> dict:
    return {
        "external_id": "gha-9912-1",
        "service": "checkout",
        "repository": "acme/checkout",
        "workflow": "ci",
        "branch": "main",
        "status": "failure",
        "started_at": "2025-05-01T11:50:00Z",
        "finished_at": "2025-05-01T11:58:20Z",
        **fields,
    }


def post(client, body, url=URL):
    return client.post(url, body, content_type="application/json")


def errors(response) -> list[tuple[list, str]]:
    assert response.status_code == 422, response.content
    return [(error["loc"], error["msg"]) for error in response.json()["detail"]]


def test_it_creates_then_updates_a_run(api_client, source):
    created = post(api_client, run(status="in_progress", finished_at=None))
    updated = post(api_client, run())

    assert (created.status_code, updated.status_code) == (201, 200)
    assert created.json()["duration_seconds"] is None
    assert updated.json()["duration_seconds"] == 500
    assert updated.json()["status"] == "failure"
    assert PipelineRun.objects.get().source == source


def test_replaying_the_same_payload_keeps_one_row(api_client):
    assert [post(api_client, run()).status_code for _ in range(2)] == [201, 200]
    assert PipelineRun.objects.count() == 1


def test_it_validates_runs(api_client):
    found = {tuple(loc) for loc, _ in errors(post(api_client, run(workflow="", status="passed", attempt=0)))}
    assert found == {("body", "workflow"), ("body", "status"), ("body", "attempt")}

    assert errors(post(api_client, run(finished_at="2025-05-01T11:00:00Z"))) == [
        (["body", "finished_at"], "must not be before started_at")
    ]


def test_bulk_is_all_or_nothing(api_client):
    items = [run(external_id=f"r{i}") for i in range(3)] + [run(external_id="r3", service="nope")]

    assert errors(post(api_client, items, url=f"{URL}/bulk")) == [(["body", 3], 'unknown service "nope"')]
    assert not PipelineRun.objects.exists()

    response = post(api_client, items[:3], url=f"{URL}/bulk")
    assert response.json()["created"] == 3


def test_the_list_puts_unfinished_runs_first_then_newest(api_client, source, service):
    start = datetime(2025, 5, 1, tzinfo=UTC)
    PipelineRunFactory(source=source, service=service, external_id="older", finished_at=start)
    PipelineRunFactory(source=source, service=service, external_id="newer", finished_at=start + timedelta(hours=1))
    PipelineRunFactory(source=source, service=service, external_id="running", finished_at=None, status="in_progress")
    PipelineRunFactory(source=source, service=service, external_id="deploy", workflow="deploy", finished_at=start)

    def ids(**params):
        return [r["external_id"] for r in api_client.get(URL, params).json()["items"]]

    assert ids(workflow="ci") == ["running", "newer", "older"]
    assert ids(status="in_progress") == ["running"]
    assert ids(workflow="deploy", branch="main") == ["deploy"]
    assert ids(since="2025-05-01T00:30:00Z") == ["newer"]


@pytest.mark.parametrize("rows", [2, 40])
def test_the_list_queries_do_not_grow_with_rows(api_client, source, service, rows, django_assert_max_num_queries):
    PipelineRunFactory.create_batch(rows, source=source, service=service)
    api_client.get(URL)

    with django_assert_max_num_queries(3):
        response = api_client.get(URL, {"limit": 500})

    assert response.json()["count"] == rows

"""Pushes through the JSON API: upserts, bulk, validation, lists."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from metrics.models import Push, Repository
from metrics.tests.factories import SourceFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/pushes"
OLD = "6113728f27ae82c7b1a177c8d03f9e96e0adf246"
NEW = "9fceb02d0ae598e95dc970b74767f19372d61af8"
COMMIT = "1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e"


def push(**fields) -> dict:
    return {
        "external_id": "delivery-1",
        "repository": "acme/checkout",
        "branch": "main",
        "before": OLD,
        "after": NEW,
        "commits": [COMMIT, NEW],
        "pushed_at": "2025-05-01T10:30:05Z",
        **fields,
    }


def post(client, body, url=URL):
    return client.post(url, body, content_type="application/json")


def errors(response) -> list[tuple[list, str]]:
    assert response.status_code == 422, response.content
    return [(error["loc"], error["msg"]) for error in response.json()["detail"]]


def test_it_creates_a_push_under_the_tokens_source(api_client, source, service):
    response = post(api_client, push())

    assert response.status_code == 201
    assert response.json() == {
        "external_id": "delivery-1",
        "service": "checkout",
        "repository": "acme/checkout",
        "branch": "main",
        "before": OLD,
        "after": NEW,
        "commits": [COMMIT, NEW],
        "pushed_at": "2025-05-01T10:30:05Z",
    }
    stored = Push.objects.get()
    assert (stored.source, stored.service) == (source, service)
    assert stored.repository == Repository.objects.get(name="acme/checkout")
    assert (stored.before, stored.after, stored.commits) == (OLD, NEW, [COMMIT, NEW])
    assert stored.pushed_at == datetime(2025, 5, 1, 10, 30, 5, tzinfo=UTC)


def test_it_updates_a_push_with_the_same_external_id(api_client):
    assert post(api_client, push(commits=[])).status_code == 201

    response = api_client.put(URL, push(), content_type="application/json")

    assert response.status_code == 200
    assert response.json()["commits"] == [COMMIT, NEW]
    assert Push.objects.get().commits == [COMMIT, NEW]


def test_replaying_the_same_payload_keeps_one_row(api_client):
    assert [post(api_client, push()).status_code for _ in range(2)] == [201, 200]
    assert Push.objects.count() == 1


def test_it_takes_a_github_ref_as_the_branch_and_needs_no_time(api_client):
    response = post(api_client, push(branch="refs/heads/release/2.3", pushed_at=None))

    assert response.status_code == 201
    assert response.json()["branch"] == "release/2.3"
    assert response.json()["pushed_at"] is None


def test_the_service_is_found_from_the_repository(api_client, service):
    assert post(api_client, push()).json()["service"] == "checkout"
    assert Push.objects.get().service == service


def test_it_schedules_a_refresh_of_the_service_after_commit(
    api_client, service, monkeypatch, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr(
        "metrics.tasks.queue_service_refresh", lambda service_id, since: queued.append((service_id, since))
    )

    with django_capture_on_commit_callbacks(execute=True):
        post(api_client, push())

    assert queued == [(service.id, datetime(2025, 5, 1, 10, 30, 5, tzinfo=UTC))]


# --- Validation -------------------------------------------------------------------------------


def test_it_validates_pushes(api_client):
    body = push(before="", after="x" * 65, commits=["", NEW], pushed_at="2025-05-01T10:30:05", ref="refs/heads/main")

    assert {tuple(loc) for loc, _ in errors(post(api_client, body))} == {
        ("body", "before"),
        ("body", "after"),
        ("body", "commits", 0),
        ("body", "pushed_at"),
        ("body", "ref"),
    }


def test_it_requires_the_repository_and_both_shas(api_client):
    body = {"external_id": "delivery-1", "service": "checkout"}

    assert {tuple(loc) for loc, _ in errors(post(api_client, body))} == {
        ("body", "repository"),
        ("body", "before"),
        ("body", "after"),
    }


def test_it_takes_as_many_commits_as_a_github_push_event_lists_and_no_more(api_client):
    assert post(api_client, push(commits=[NEW] * 2048)).status_code == 201
    [(loc, msg)] = errors(post(api_client, push(commits=[NEW] * 2049)))

    assert loc == ["body", "commits"]
    assert "at most 2048" in msg


def test_an_unknown_service_is_a_422(api_client):
    [(loc, msg)] = errors(post(api_client, push(service="nope")))

    assert loc == ["body"]
    assert msg == 'unknown service "nope"'
    assert not Push.objects.exists()


def test_a_repository_of_no_known_service_is_a_422(api_client):
    [(loc, msg)] = errors(post(api_client, push(repository="acme/unknown")))

    assert loc == ["body"]
    assert "belongs to no known service" in msg


def test_a_body_over_the_upload_limit_is_a_413(api_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2000
    items = [push(external_id=f"p{i}") for i in range(10)]

    response = api_client.post(f"{URL}/bulk", json.dumps(items), content_type="application/json")

    assert response.status_code == 413
    assert not Push.objects.exists()


# --- Bulk -------------------------------------------------------------------------------------


def test_bulk_is_all_or_nothing(api_client, django_capture_on_commit_callbacks):
    items = [push(external_id=f"p{i}") for i in range(3)] + [push(external_id="p3", service="nope")]

    with django_capture_on_commit_callbacks() as callbacks:
        response = post(api_client, items, url=f"{URL}/bulk")

    assert errors(response) == [(["body", 3], 'unknown service "nope"')]
    assert not Push.objects.exists()
    assert callbacks == []

    response = post(api_client, items[:3], url=f"{URL}/bulk")
    assert response.status_code == 200
    assert response.json()["created"] == 3
    assert Push.objects.count() == 3


def test_bulk_names_the_bad_item(api_client):
    items = [push(external_id="p0"), push(external_id="p1", after="")]

    assert errors(post(api_client, items, url=f"{URL}/bulk")) == [
        (["body", 1, "after"], "String should have at least 1 character")
    ]


def test_bulk_counts_created_and_updated(api_client):
    post(api_client, push(external_id="p0"))

    response = post(api_client, [push(external_id="p0"), push(external_id="p1")], url=f"{URL}/bulk")

    assert response.json() == {
        "created": 1,
        "updated": 1,
        "items": [{"external_id": "p0", "created": False}, {"external_id": "p1", "created": True}],
    }


# --- Lists ------------------------------------------------------------------------------------


def test_the_list_shows_this_sources_pushes_newest_first(api_client, service):
    post(api_client, push(external_id="older", pushed_at="2025-05-01T09:00:00Z"))
    post(api_client, push(external_id="newer", pushed_at="2025-05-01T11:00:00Z"))
    post(api_client, push(external_id="untimed", pushed_at=None))
    post(api_client, push(external_id="feature", branch="feature/x", pushed_at="2025-05-01T10:00:00Z"))
    other = SourceFactory(name="other", team=service.owner)
    Push.objects.create(
        source=other,
        external_id="theirs",
        service=service,
        repository=Repository.objects.get(name="acme/checkout"),
        before=OLD,
        after=NEW,
    )

    def ids(**params):
        response = api_client.get(URL, params)
        assert response.status_code == 200, response.content
        return [p["external_id"] for p in response.json()["items"]]

    assert ids() == ["newer", "feature", "older", "untimed"]
    assert ids(branch="main") == ["newer", "older", "untimed"]
    assert ids(service="checkout", repository="acme/checkout", since="2025-05-01T09:30:00Z") == ["newer", "feature"]
    assert ids(until="2025-05-01T10:00:00Z") == ["older"]
    assert ids(repository="acme/other") == []
    assert ids(limit=1, offset=1) == ["feature"]


def test_the_list_refuses_unknown_parameters(api_client):
    assert errors(api_client.get(URL, {"after": NEW})) == [(["query", "after"], "unknown query parameter")]


@pytest.mark.parametrize("rows", [2, 40])
def test_the_list_queries_do_not_grow_with_rows(api_client, rows, django_assert_max_num_queries):
    post(api_client, [push(external_id=f"p{i}") for i in range(rows)], url=f"{URL}/bulk")
    api_client.get(URL)

    with django_assert_max_num_queries(3):
        response = api_client.get(URL, {"limit": 500})

    assert response.json()["count"] == rows

"""Incidents through the JSON API: upserts, resolving, bulk, lists."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from metrics.models import Incident
from metrics.tests.factories import DeploymentFactory, IncidentFactory, SourceFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/incidents"


def incident(**fields) -> dict:
    return {
        "external_id": "INC-1",
        "service": "checkout",
        "title": "Checkout returns 502",
        "severity": "sev2",
        "started_at": "2025-05-01T13:00:00Z",
        **fields,
    }


def post(client, body, url=URL):
    return client.post(url, body, content_type="application/json")


def errors(response) -> list[tuple[list, str]]:
    assert response.status_code == 422, response.content
    return [(error["loc"], error["msg"]) for error in response.json()["detail"]]


def test_it_creates_then_updates_an_incident(api_client, source):
    created = post(api_client, incident())
    updated = post(api_client, incident(resolved_at="2025-05-01T14:00:00Z"))

    assert (created.status_code, updated.status_code) == (201, 200)
    assert updated.json()["resolved_at"] == "2025-05-01T14:00:00Z"
    stored = Incident.objects.get()
    assert stored.source == source
    assert stored.resolved_at == datetime(2025, 5, 1, 14, tzinfo=UTC)


def test_replaying_the_same_payload_keeps_one_row(api_client):
    assert [post(api_client, incident()).status_code for _ in range(2)] == [201, 200]
    assert Incident.objects.count() == 1


def test_it_links_the_deployment_named_as_the_cause(api_client, source, service):
    DeploymentFactory(source=source, service=service, external_id="deploy-9")

    response = post(api_client, incident(caused_by="deploy-9"))

    assert response.json()["caused_by"] == "deploy-9"
    assert Incident.objects.get().caused_by.external_id == "deploy-9"


def test_it_rejects_a_cause_from_another_source(api_client, service):
    DeploymentFactory(source=SourceFactory(name="elsewhere"), service=service, external_id="deploy-9")

    [(loc, msg)] = errors(post(api_client, incident(caused_by="deploy-9")))

    assert loc == ["body"]
    assert "deploy-9" in msg
    assert not Incident.objects.exists()


def test_it_rejects_a_resolution_before_the_start(api_client):
    assert errors(post(api_client, incident(resolved_at="2025-05-01T12:00:00Z"))) == [
        (["body", "resolved_at"], "must not be before started_at")
    ]


def test_it_rejects_an_unknown_service(api_client):
    assert errors(post(api_client, incident(service="nope"))) == [(["body"], 'unknown service "nope"')]


# --- Resolve ----------------------------------------------------------------------------------


def test_it_resolves_an_incident(api_client, source, service, monkeypatch, django_capture_on_commit_callbacks):
    IncidentFactory(source=source, service=service, external_id="INC-7", started_at=datetime(2025, 5, 1, tzinfo=UTC))
    queued = []
    monkeypatch.setattr("metrics.tasks.queue_service_refresh", lambda service_id, since: queued.append(service_id))

    with django_capture_on_commit_callbacks(execute=True):
        response = post(api_client, {"resolved_at": "2025-05-01T02:00:00+01:00"}, url=f"{URL}/INC-7/resolve")

    assert response.status_code == 200
    assert response.json()["resolved_at"] == "2025-05-01T01:00:00Z"
    assert Incident.objects.get().resolved_at == datetime(2025, 5, 1, 1, tzinfo=UTC)
    assert queued == [service.id]


def test_resolving_an_unknown_incident_is_a_404(api_client):
    response = post(api_client, {"resolved_at": "2025-05-01T02:00:00Z"}, url=f"{URL}/INC-404/resolve")

    assert response.status_code == 404
    assert response.json() == {"detail": 'This source has no incident "INC-404".'}


def test_resolving_another_sources_incident_is_a_404(api_client, service):
    IncidentFactory(source=SourceFactory(name="elsewhere"), service=service, external_id="INC-7")

    response = post(api_client, {"resolved_at": "2030-05-01T02:00:00Z"}, url=f"{URL}/INC-7/resolve")

    assert response.status_code == 404
    assert Incident.objects.get().resolved_at is None


def test_resolving_before_the_start_is_rejected_and_not_saved(api_client, source, service):
    IncidentFactory(source=source, service=service, external_id="INC-7", started_at=datetime(2025, 5, 1, tzinfo=UTC))

    response = post(api_client, {"resolved_at": "2025-04-30T23:00:00Z"}, url=f"{URL}/INC-7/resolve")

    assert errors(response) == [(["body", "resolved_at"], "must not be before the incident's started_at")]
    assert Incident.objects.get().resolved_at is None


def test_resolving_needs_a_timestamp(api_client, source, service):
    IncidentFactory(source=source, service=service, external_id="INC-7")

    assert errors(post(api_client, {}, url=f"{URL}/INC-7/resolve")) == [(["body", "resolved_at"], "Field required")]


# --- Bulk and lists ----------------------------------------------------------------------------


def test_bulk_is_all_or_nothing(api_client):
    items = [incident(external_id=f"INC-{i}") for i in range(5)]
    items[3]["caused_by"] = "no-such-deployment"

    assert errors(post(api_client, items, url=f"{URL}/bulk"))[0][0] == ["body", 3]
    assert not Incident.objects.exists()

    del items[3]["caused_by"]
    response = post(api_client, items, url=f"{URL}/bulk")
    assert response.json()["created"] == 5


def test_the_list_filters_and_is_newest_first(api_client, source, service):
    start = datetime(2025, 5, 1, tzinfo=UTC)
    IncidentFactory(source=source, service=service, external_id="old", started_at=start)
    IncidentFactory(
        source=source,
        service=service,
        external_id="fixed",
        started_at=start + timedelta(days=1),
        resolved_at=start + timedelta(days=2),
    )
    IncidentFactory(source=source, service=service, external_id="new", started_at=start + timedelta(days=3))
    IncidentFactory(source=SourceFactory(name="elsewhere"), service=service, external_id="theirs")

    def ids(**params):
        return [i["external_id"] for i in api_client.get(URL, params).json()["items"]]

    assert ids() == ["new", "fixed", "old"]
    assert ids(resolved="true") == ["fixed"]
    assert ids(resolved="false") == ["new", "old"]
    assert ids(since="2025-05-02T00:00:00Z") == ["new", "fixed"]
    # "since" is inclusive, "until" exclusive.
    assert ids(since="2025-05-02T00:00:00Z", until="2025-05-04T00:00:00Z") == ["fixed"]
    assert ids(service="search") == []


@pytest.mark.parametrize("rows", [2, 40])
def test_the_list_queries_do_not_grow_with_rows(api_client, source, service, rows, django_assert_max_num_queries):
    cause = DeploymentFactory(source=source, service=service)
    IncidentFactory.create_batch(rows, source=source, service=service, caused_by=cause)
    api_client.get(URL)

    with django_assert_max_num_queries(3):
        response = api_client.get(URL, {"limit": 500})

    assert {i["caused_by"] for i in response.json()["items"]} == {cause.external_id}

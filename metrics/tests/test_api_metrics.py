"""GET /api/v1/metrics/dora and /dora/weekly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from metrics.inputs import DeploymentInput, IncidentInput
from metrics.refresh import service_refresh
from metrics.services import Dirty, deployment_upsert, incident_upsert
from metrics.tests.factories import SourceFactory

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WINDOW = {"start": "2026-03-01", "end": "2026-03-15"}


@pytest.fixture
def history(source, service):
    for n in range(4):
        data = DeploymentInput(
            external_id=f"d{n}", service=service.slug, environment="production", finished_at=T0 + timedelta(days=n)
        )
        deployment_upsert(source=source, data=data, dirty=Dirty())
    for n in range(3):  # three incidents on the first deployment: one failure
        data = IncidentInput(
            external_id=f"i{n}",
            service=service.slug,
            started_at=T0 + timedelta(hours=1 + n),
            resolved_at=T0 + timedelta(hours=6),
        )
        incident_upsert(source=source, data=data, dirty=Dirty())
    service_refresh(service_id=service.id)


def test_it_answers_all_five_metrics_with_levels_and_sample_sizes(api_client, history, service):
    body = api_client.get("/api/v1/metrics/dora", {"service": service.slug, **WINDOW}).json()
    assert body["scope"] == {"kind": "service", "slug": service.slug, "services": 1}
    assert body["deployment_frequency"]["deployments"] == 4
    assert body["change_failure_rate"] | {"change": None} == {
        "failed": 1,
        "deployments": 4,
        "value": 0.25,
        "level": "low",
        "change": None,
    }
    assert body["failed_deployment_recovery_time"]["median_seconds"] == 6 * 3600
    assert body["time_to_restore"]["count"] == 3
    assert body["lead_time"]["median_seconds"] is None  # no changes: no data, not 0
    assert body["data_quality"]["incident_link_share"] == 1.0
    assert body["bands"] == 2023


def test_the_median_size_of_pull_requests_sent_without_a_size_is_no_data_not_zero(api_client, service):
    def send(external_id: str, **size) -> None:
        merged = T0 + timedelta(days=1)
        body = {
            "external_id": external_id,
            "repository": "acme/checkout",
            "service": service.slug,
            "opened_at": (merged - timedelta(hours=3)).isoformat(),
            "merged_at": merged.isoformat(),
            **size,
        }
        assert api_client.post("/api/v1/pull-requests", body, content_type="application/json").status_code == 201

    def median_size():
        service_refresh(service_id=service.id)
        return api_client.get("/api/v1/metrics/dora", {"service": service.slug, **WINDOW}).json()["review"][
            "median_size"
        ]

    send("unsized")
    assert median_size() is None
    send("sized", additions=30, deletions=10)
    assert median_size() == 40  # the unknown size is left out, not counted as 0


def test_a_team_covers_its_services(api_client, history, team):
    body = api_client.get("/api/v1/metrics/dora", {"team": team.slug, **WINDOW}).json()
    assert body["scope"]["kind"] == "team"
    assert body["deployment_frequency"]["deployments"] == 4


def test_the_2021_bands_can_be_chosen(api_client, history, service):
    body = api_client.get("/api/v1/metrics/dora", {"service": service.slug, "bands": 2021, **WINDOW}).json()
    assert body["bands"] == 2021


def test_the_weekly_series_counts_ok_and_failed(api_client, history, service):
    body = api_client.get("/api/v1/metrics/dora/weekly", {"service": service.slug, **WINDOW}).json()
    weeks = {week["week"]: week for week in body["weeks"]}
    assert weeks["2026-03-02"]["deployments"] == 3
    assert weeks["2026-03-02"]["failed"] == 1
    # The failure was recovered 6 hours later, that week; its recovery is the week's median.
    assert (weeks["2026-03-02"]["recovered"], weeks["2026-03-02"]["recovery"]) == (1, 6.0)
    summary = api_client.get("/api/v1/metrics/dora", {"service": service.slug, **WINDOW}).json()
    assert sum(week["rework"] for week in body["weeks"]) == summary["rework_rate"]["rework"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "team"),
        ({"team": "payments", "service": "checkout"}, "team"),
        ({"service": "checkout", "start": "2026-03-10", "end": "2026-03-01"}, "start"),
        ({"service": "checkout", "start": "2020-01-01", "end": "2026-03-01"}, "start"),
        ({"service": "checkout", "start": "yesterday"}, "start"),
        ({"team": "a\x00"}, "team"),
        ({"service": "checkout", "end": "0001-01-02"}, "end"),
        ({"service": "checkout", "start": "0001-01-01", "end": "0001-01-03"}, "start"),
        ({"service": "checkout", "bands": "2019"}, "bands"),
    ],
)
def test_bad_queries_get_422_naming_the_field(api_client, service, params, field):
    response = api_client.get("/api/v1/metrics/dora", params)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == field


def test_a_token_sees_only_its_teams_metrics(db, service, other_team):
    from django.test import Client

    from metrics.services import api_token_create

    _, key = api_token_create(source=SourceFactory(team=other_team), name="search ci")
    client = Client(headers={"Authorization": f"Bearer {key}"})
    assert client.get("/api/v1/metrics/dora", {"service": service.slug}).status_code == 404
    assert client.get("/api/v1/metrics/dora", {"team": "payments"}).status_code == 404


def test_an_org_wide_source_sees_every_team(db, service, team):
    from django.test import Client

    from metrics.services import api_token_create

    _, key = api_token_create(source=SourceFactory(team=None), name="platform")
    client = Client(headers={"Authorization": f"Bearer {key}"})
    assert client.get("/api/v1/metrics/dora", {"team": team.slug}).status_code == 200


def test_it_needs_a_token(client, service):
    assert client.get("/api/v1/metrics/dora", {"service": service.slug}).status_code == 401


def test_reads_cost_a_bounded_number_of_queries(api_client, history, team, django_assert_max_num_queries):
    # Auth 2, scope 5, figures 10: the window's rollups and the previous window's headline ones
    # (each: days outside whole weeks, the counts of the others, week rows), the window's
    # unrecovered failures, the review queue (2), the sources' last events.
    with django_assert_max_num_queries(17):
        assert api_client.get("/api/v1/metrics/dora", {"team": team.slug}).status_code == 200

"""Which deployment ships a pull request, end to end: records sent through the JSON API, the service
refreshed, and the pull request's ``deployed_at`` read back through the API (docs/metrics.md, "Which
changes a deployment contains")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from metrics.ingest import PayloadError, devlake_deployments
from metrics.models import Deployment
from metrics.refresh import service_refresh

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def send_deployment(client, external_id: str, finished: datetime, **fields) -> None:
    body = {
        "external_id": external_id,
        "service": "checkout",
        "repository": "acme/checkout",
        "environment": "production",
        "started_at": iso(finished - timedelta(minutes=5)),
        "finished_at": iso(finished),
        "sha": f"sha-{external_id}",
        **fields,
    }
    response = client.post("/api/v1/deployments", body, content_type="application/json")
    assert response.status_code == 201, response.content


def send_merged_pull_request(client, external_id: str, merged: datetime) -> None:
    body = {
        "external_id": external_id,
        "repository": "acme/checkout",
        "service": "checkout",
        "base_branch": "main",
        "opened_at": iso(merged - timedelta(hours=2)),
        "merged_at": iso(merged),
        "merge_sha": f"merge-{external_id}",
    }
    response = client.post("/api/v1/pull-requests", body, content_type="application/json")
    assert response.status_code == 201, response.content


def deployed_at(client) -> dict[str, str | None]:
    """Each pull request's ``deployed_at`` as the API answers it."""
    response = client.get("/api/v1/pull-requests", {"service": "checkout"})
    assert response.status_code == 200
    return {pr["external_id"]: pr["deployed_at"] for pr in response.json()["items"]}


def sent_changes(client) -> dict[str, list[str] | None]:
    """Each deployment's sent change list as the API answers it."""
    response = client.get("/api/v1/deployments", {"service": "checkout"})
    assert response.status_code == 200
    return {deployment["external_id"]: deployment["changes"] for deployment in response.json()["items"]}


def test_a_rollback_does_not_ship_the_pull_requests_merged_since_the_last_deployment(api_client, service):
    send_deployment(api_client, "d1", T0)
    send_merged_pull_request(api_client, "pr-1", T0 + timedelta(hours=6))
    send_deployment(api_client, "rollback", T0 + timedelta(days=1), sha="sha-d0", is_rollback=True)
    send_deployment(api_client, "d3", T0 + timedelta(days=2))
    service_refresh(service_id=service.id)

    assert deployed_at(api_client) == {"pr-1": iso(T0 + timedelta(days=2))}
    rollback = Deployment.objects.get(external_id="rollback")
    assert (rollback.link_rule, list(rollback.linked_changes.all())) == (Deployment.LinkRule.NONE, [])


def test_an_empty_change_list_says_the_deployment_ships_no_change(api_client, service):
    send_deployment(api_client, "d1", T0)
    send_merged_pull_request(api_client, "pr-1", T0 + timedelta(hours=6))
    send_deployment(api_client, "config-only", T0 + timedelta(days=1), changes=[])
    send_deployment(api_client, "d3", T0 + timedelta(days=2))
    service_refresh(service_id=service.id)

    # The pull request merged before the empty list waits for the next deployment that ships code.
    assert deployed_at(api_client) == {"pr-1": iso(T0 + timedelta(days=2))}
    config_only = Deployment.objects.get(external_id="config-only")
    assert (config_only.link_rule, list(config_only.linked_changes.all())) == (Deployment.LinkRule.SENT, [])
    assert sent_changes(api_client) == {"d1": None, "config-only": [], "d3": None}


def test_no_change_list_leaves_the_deployment_to_the_pull_requests_merged_since_the_last(api_client, service):
    send_deployment(api_client, "d1", T0)
    send_merged_pull_request(api_client, "pr-1", T0 + timedelta(hours=6))
    send_deployment(api_client, "d2", T0 + timedelta(days=1))
    service_refresh(service_id=service.id)

    assert deployed_at(api_client) == {"pr-1": iso(T0 + timedelta(days=1))}
    assert Deployment.objects.get(external_id="d2").link_rule == Deployment.LinkRule.MERGED_BETWEEN
    assert sent_changes(api_client) == {"d1": None, "d2": None}


# DevLake's webhook has no change list: its ``deploymentCommits`` name the commit deployed per repository, and
# DevLake itself refuses an empty one ("deployment_commits is empty"). So a DevLake deployment is always "no list
# sent", and rules 2 and 3 find its changes.

DEVLAKE_DEPLOYMENT = {
    "id": "build-1",
    "startedDate": "2026-03-03T09:00:00Z",
    "finishedDate": "2026-03-03T09:05:00Z",
    "deploymentCommits": [{"repoUrl": "https://github.com/acme/checkout", "commitSha": "a" * 40}],
}


def test_a_devlake_deployment_carries_no_change_list():
    [data] = devlake_deployments(DEVLAKE_DEPLOYMENT, received_at=T0)
    assert data.changes is None


def test_an_empty_devlake_deployment_commit_list_is_refused_as_devlake_refuses_it():
    with pytest.raises(PayloadError, match="deploymentCommits"):
        devlake_deployments({**DEVLAKE_DEPLOYMENT, "deploymentCommits": []}, received_at=T0)

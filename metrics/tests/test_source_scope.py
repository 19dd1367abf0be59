"""A source writes only to the services it maps to, and never changes another source's records:
the JSON API (every kind), the DevLake webhook, commits of another source's pull requests, and
repositories a source names first."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from metrics.models import (
    Commit,
    Deployment,
    InboundEvent,
    Incident,
    PipelineRun,
    PullRequest,
    Push,
    Repository,
    Source,
)
from metrics.services import api_token_create
from metrics.tests.factories import ApiTokenFactory, SourceFactory

pytestmark = pytest.mark.django_db

WHEN = "2025-05-01T12:00:00Z"
BODIES = {
    "deployments": {"external_id": "d1", "environment": "production", "finished_at": WHEN},
    "incidents": {"external_id": "i1", "started_at": WHEN},
    "pull-requests": {"external_id": "p1", "repository": "acme/search", "opened_at": WHEN},
    "pipeline-runs": {"external_id": "r1", "workflow": "ci", "status": "success", "finished_at": WHEN},
    "pushes": {"external_id": "u1", "repository": "acme/search", "before": "a" * 40, "after": "b" * 40},
}
RECORDS = {
    "deployments": Deployment,
    "incidents": Incident,
    "pull-requests": PullRequest,
    "pipeline-runs": PipelineRun,
    "pushes": Push,
}


def post(client, kind: str, body, bulk: bool = False):
    return client.post(f"/api/v1/{kind}" + ("/bulk" if bulk else ""), body, content_type="application/json")


def refusal(response) -> tuple[list, str]:
    assert response.status_code == 403, response.content
    [error] = response.json()["detail"]
    assert error["type"] == "out_of_scope"
    return error["loc"], error["msg"]


def client_of(source: Source) -> Client:
    return Client(headers={"Authorization": f"Bearer {ApiTokenFactory(source=source).key}"})


# --- The JSON API ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", BODIES)
def test_it_refuses_a_record_in_another_teams_service(api_client, search, kind):
    loc, msg = refusal(post(api_client, kind, {**BODIES[kind], "service": "search-api"}))

    assert loc == ["body"]
    assert '"search-api"' in msg
    assert not RECORDS[kind].objects.exists()


@pytest.mark.parametrize("kind", BODIES)
def test_a_bulk_request_with_one_record_outside_the_scope_writes_nothing(api_client, service, search, kind):
    items = [{**BODIES[kind], "external_id": f"x{i}", "service": "checkout"} for i in range(3)]
    items[1]["service"] = "search-api"

    loc, _ = refusal(post(api_client, kind, items, bulk=True))

    assert loc == ["body", 1]
    assert not RECORDS[kind].objects.exists()
    assert not Commit.objects.exists()


@pytest.mark.parametrize("kind", BODIES)
def test_it_writes_to_its_teams_and_its_sub_teams_services(api_client, service, ledger, kind):
    for slug in ("checkout", "ledger"):
        body = {**BODIES[kind], "external_id": slug, "service": slug}
        assert post(api_client, kind, body).status_code == 201

    assert set(RECORDS[kind].objects.values_list("service__slug", flat=True)) == {"checkout", "ledger"}


def test_its_repository_map_and_default_service_are_in_its_scope(api_client, source, search, other_team):
    other = search.__class__.objects.create(name="Index", slug="index", owner=other_team)
    source.repo_service_map = {"acme/search": "search-api"}
    source.default_service = other
    source.save()

    assert post(api_client, "pull-requests", BODIES["pull-requests"]).status_code == 201
    assert post(api_client, "incidents", BODIES["incidents"]).status_code == 201

    assert PullRequest.objects.get().service == search
    assert Incident.objects.get().service == other


def test_an_admin_may_let_a_source_write_to_every_service(api_client, source, search):
    source.may_write_every_service = True
    source.save()

    assert post(api_client, "deployments", {**BODIES["deployments"], "service": "search-api"}).status_code == 201


def test_a_repository_the_catalog_gives_to_another_team_is_refused_whatever_the_service(api_client, service, search):
    search.repositories = ["acme/search"]
    search.save()
    body = {**BODIES["deployments"], "service": "checkout", "repository": "acme/search"}

    _, msg = refusal(post(api_client, "deployments", body))

    assert 'repository "acme/search"' in msg
    assert '"search-api"' in msg
    assert not Deployment.objects.exists()
    assert not Repository.objects.exists()


def test_the_403_is_in_the_openapi_schema(api_client):
    schema = api_client.get("/api/v1/openapi.json").json()
    assert "403" in schema["paths"]["/api/v1/deployments"]["post"]["responses"]


# --- Other sources' records --------------------------------------------------------------------


def test_it_never_moves_a_commit_of_another_sources_pull_request(api_client, service, search, other_team):
    theirs = client_of(SourceFactory(name="search-ci", team=other_team))
    commit = {"sha": "c" * 40, "authored_at": WHEN}
    shared = {**BODIES["pull-requests"], "repository": "acme/shared", "commits": [commit]}
    assert post(theirs, "pull-requests", {**shared, "service": "search-api"}).status_code == 201

    batch = [{**shared, "external_id": "ok", "service": "checkout", "commits": []}, {**shared, "service": "checkout"}]
    loc, msg = refusal(post(api_client, "pull-requests", batch, bulk=True))

    assert loc == ["body", 1]
    assert "c" * 40 in msg
    assert "another source" in msg
    assert Commit.objects.get().pull_request.source.name == "search-ci"
    assert PullRequest.objects.count() == 1


def test_a_repository_named_first_by_another_source_does_not_decide_this_sources_service(
    api_client, source, service, search, other_team
):
    theirs = client_of(SourceFactory(name="search-ci", team=other_team))
    body = {**BODIES["deployments"], "repository": "acme/new"}
    assert post(theirs, "deployments", {**body, "service": "search-api"}).status_code == 201

    # No default service: the repository's first service is not this source's, so none is found.
    response = post(api_client, "deployments", body)
    assert response.status_code == 422
    assert "acme/new" in response.json()["detail"][0]["msg"]

    source.default_service = service
    source.save()
    assert post(api_client, "deployments", body).status_code == 201

    ours = Deployment.objects.get(source=source)
    assert ours.service == service
    assert Repository.objects.get(name="acme/new").service == search  # left as it was


# --- The DevLake webhook -----------------------------------------------------------------------


def test_a_devlake_delivery_outside_the_scope_fails_with_the_reason(
    client, team, service, search, django_capture_on_commit_callbacks
):
    search.repositories = ["acme/search"]
    search.save()
    source = Source.objects.create(name="lake", kind=Source.Kind.DEVLAKE, team=team, default_service=service)
    _, key = api_token_create(source=source, name="lake key")
    body = {
        "id": "build-1",
        "result": "SUCCESS",
        "environment": "PRODUCTION",
        "finishedDate": WHEN,
        "deploymentCommits": [
            {"repoUrl": "https://github.com/acme/checkout", "commitSha": "a" * 40},
            {"repoUrl": "https://github.com/acme/search", "commitSha": "b" * 40},
        ],
    }
    url = reverse("metrics:devlake-deployments", kwargs={"connection": source.pk})

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url, json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}"
        )

    assert response.status_code == 200  # stored; processing decides
    delivery = InboundEvent.objects.get()
    assert delivery.status == InboundEvent.Status.FAILED
    assert 'repository "acme/search"' in delivery.error
    assert "may not write" in delivery.error
    assert not Deployment.objects.exists()  # not even the repository in scope


# --- Existing sources --------------------------------------------------------------------------


def test_create_source_may_let_a_source_write_to_every_service(db):
    out = io.StringIO()
    call_command("create_source", "--name", "org-ci", "--kind", "api", "--every-service", stdout=out)
    call_command("create_source", "--name", "team-ci", "--kind", "api", stdout=out)

    assert dict(Source.objects.values_list("name", "may_write_every_service")) == {"org-ci": True, "team-ci": False}
    assert "--every-service" in out.getvalue()  # the scoped one says how to widen it

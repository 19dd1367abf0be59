"""``stored_kept`` (metrics/services.py): the fields a report does not carry at all keep their stored
values, before the upsert, amend or advance writers write it (those are tested in
test_partial_reports.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from metrics.inputs import DeploymentInput, IncidentInput, PipelineRunInput, PullRequestInput
from metrics.services import (
    Dirty,
    deployment_advance,
    deployment_upsert,
    incident_upsert,
    pipeline_run_advance,
    pipeline_run_upsert,
    pull_request_amend,
    pull_request_upsert,
    stored_kept,
)
from metrics.tests.factories import SourceFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def source(service):
    return SourceFactory(team=service.owner, default_service=service)


def test_a_pull_request_keeps_the_author_and_url_a_report_does_not_carry(source):
    full = PullRequestInput(
        external_id="mr-1",
        repository="gitlab.com/acme/shop",
        opened_at=T0,
        title="Checkout",
        author="ana",
        url="https://gitlab.com/acme/shop/-/merge_requests/1",
        closed_at=T0 + timedelta(hours=2),
    )
    pull_request_upsert(source=source, data=full, dirty=Dirty())
    report = replace(full, author="", url="", closed_at=None, title="Checkout (renamed)")
    kept = stored_kept(source=source, data=report, unknown=frozenset({"author", "url", "closed_at"}))
    assert (kept.author, kept.url, kept.closed_at, kept.title) == (
        "ana",
        full.url,
        T0 + timedelta(hours=2),
        "Checkout (renamed)",
    )
    pr, _ = pull_request_amend(source=source, data=kept, dirty=Dirty())
    assert (pr.author, pr.title, pr.closed_at) == ("ana", "Checkout (renamed)", T0 + timedelta(hours=2))


def test_what_a_report_does_carry_replaces_the_stored_value(source):
    full = PullRequestInput(external_id="mr-1", repository="r", opened_at=T0, closed_at=T0 + timedelta(hours=2))
    pull_request_upsert(source=source, data=full, dirty=Dirty())
    reopened = stored_kept(source=source, data=replace(full, closed_at=None), unknown=frozenset({"url"}))
    assert pull_request_amend(source=source, data=reopened, dirty=Dirty())[0].closed_at is None


def test_with_nothing_stored_the_report_is_written_as_sent(source):
    report = PullRequestInput(external_id="mr-9", repository="r", opened_at=T0)
    assert stored_kept(source=source, data=report, unknown=frozenset({"author"})) is report


def test_a_finished_deployment_keeps_its_stored_start_and_ref(source):
    running = DeploymentInput(
        external_id="d-1", environment="production", finished_at=T0, started_at=T0, ref="main", status="in_progress"
    )
    deployment_upsert(source=source, data=running, dirty=Dirty())
    done = replace(running, finished_at=T0 + timedelta(minutes=9), started_at=None, ref="", status="success")
    kept = stored_kept(source=source, data=done, unknown=frozenset({"started_at", "ref"}))
    deployment, written = deployment_advance(source=source, data=kept, dirty=Dirty())
    assert written
    assert (deployment.started_at, deployment.finished_at, deployment.ref) == (T0, T0 + timedelta(minutes=9), "main")


def test_an_incident_keeps_its_resolution(source):
    closed = IncidentInput(external_id="i-1", started_at=T0, resolved_at=T0 + timedelta(hours=2))
    incident_upsert(source=source, data=closed, dirty=Dirty())
    edited = IncidentInput(external_id="i-1", started_at=T0, title="Down")
    kept = stored_kept(source=source, data=edited, unknown=frozenset({"resolved_at"}))
    incident, _ = incident_upsert(source=source, data=kept, dirty=Dirty())
    assert (incident.title, incident.resolved_at) == ("Down", T0 + timedelta(hours=2))


def test_a_pipeline_run_keeps_its_stored_start(source):
    started = PipelineRunInput(external_id="p-1", workflow="ci", status="in_progress", started_at=T0)
    pipeline_run_upsert(source=source, data=started, dirty=Dirty())
    done = replace(started, status="success", started_at=None, finished_at=T0 + timedelta(minutes=4))
    kept = stored_kept(source=source, data=done, unknown=frozenset({"started_at"}))
    run, _ = pipeline_run_advance(source=source, data=kept, dirty=Dirty())
    assert (run.started_at, run.duration_seconds) == (T0, 240)


@pytest.mark.parametrize("name", ["repository", "reviews", "external_id", "caused_by", "no_such_field"])
def test_only_plain_fields_of_the_record_can_keep_their_stored_values(source, name):
    report = IncidentInput(external_id="i-1", started_at=T0)
    with pytest.raises(ValueError, match=name):
        stored_kept(source=source, data=report, unknown=frozenset({name}))

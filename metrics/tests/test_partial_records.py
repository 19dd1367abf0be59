"""The writers of partial records (metrics/services.py, ``*_merge``): what an event does not carry
keeps what a fuller one stored."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from metrics.inputs import (
    CommitInput,
    DeploymentInput,
    IncidentInput,
    PipelineRunInput,
    PullRequestInput,
    ReviewInput,
)
from metrics.models import Incident, Review
from metrics.services import (
    Dirty,
    deployment_merge,
    deployment_upsert,
    incident_delete,
    incident_merge,
    pipeline_run_merge,
    pull_request_merge,
    pull_request_upsert,
)
from metrics.tests.factories import SourceFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def source(service):
    return SourceFactory(team=service.owner, default_service=service)


def full_pull_request(**changes) -> PullRequestInput:
    values = {
        "external_id": "mr-1",
        "repository": "gitlab.com/acme/shop",
        "opened_at": T0,
        "number": 1,
        "title": "Checkout",
        "author": "ana",
        "first_commit_at": T0 - timedelta(days=2),
        "additions": 10,
        "deletions": 3,
        "reviews": (ReviewInput("r-1", "bo", T0 + timedelta(hours=1), Review.State.APPROVED),),
        "commits": (CommitInput("c1", T0 - timedelta(days=1)),),
    }
    return PullRequestInput(**{**values, **changes})


def test_a_partial_pull_request_keeps_what_it_does_not_carry(source):
    pull_request_upsert(source=source, data=full_pull_request(), dirty=Dirty())
    partial = PullRequestInput(
        external_id="mr-1",
        repository="gitlab.com/acme/shop",
        opened_at=T0,
        number=1,
        title="Checkout (renamed)",
        merged_at=T0 + timedelta(hours=3),
    )
    pr, created = pull_request_merge(
        source=source,
        data=partial,
        dirty=Dirty(),
        unknown=frozenset({"author", "first_commit_at", "additions", "deletions"}),
    )
    assert not created
    assert (pr.title, pr.author, pr.additions, pr.deletions) == ("Checkout (renamed)", "ana", 10, 3)
    assert pr.first_commit_at == T0 - timedelta(days=2)
    assert pr.merged_at == T0 + timedelta(hours=3)
    # The stored approval still counts, though the event sent no review.
    assert pr.first_review_at == pr.approved_at == T0 + timedelta(hours=1)


def test_what_an_event_does_say_replaces_the_stored_value(source):
    pull_request_upsert(source=source, data=full_pull_request(closed_at=T0 + timedelta(hours=5)), dirty=Dirty())
    reopened = full_pull_request(closed_at=None, reviews=(), commits=())
    pr, _ = pull_request_merge(source=source, data=reopened, dirty=Dirty(), unknown=frozenset({"first_commit_at"}))
    assert pr.closed_at is None


def test_a_review_sent_again_replaces_its_stored_self(source):
    pull_request_upsert(source=source, data=full_pull_request(), dirty=Dirty())
    withdrawn = full_pull_request(reviews=(ReviewInput("r-1", "bo", T0 + timedelta(hours=1)),), commits=())
    pr, _ = pull_request_merge(source=source, data=withdrawn, dirty=Dirty())
    assert pr.approved_at is None and pr.first_review_at == T0 + timedelta(hours=1)
    assert list(pr.reviews.values_list("state", flat=True)) == [Review.State.COMMENTED]


def test_the_first_commit_is_the_earliest_of_the_stored_one_and_those_sent(source):
    pull_request_upsert(source=source, data=full_pull_request(commits=()), dirty=Dirty())
    earlier = full_pull_request(first_commit_at=None, commits=(CommitInput("c0", T0 - timedelta(days=5)),))
    pr, _ = pull_request_merge(source=source, data=earlier, dirty=Dirty(), unknown=frozenset({"first_commit_at"}))
    assert pr.first_commit_at == T0 - timedelta(days=5)
    later = full_pull_request(first_commit_at=None, commits=(CommitInput("c9", T0),))
    pr, _ = pull_request_merge(source=source, data=later, dirty=Dirty(), unknown=frozenset({"first_commit_at"}))
    assert pr.first_commit_at == T0 - timedelta(days=5)


def test_a_new_record_is_written_as_sent(source):
    pr, created = pull_request_merge(
        source=source, data=full_pull_request(author=""), dirty=Dirty(), unknown=frozenset({"author"})
    )
    assert created and pr.author == ""


@pytest.mark.parametrize("name", ["repository", "reviews", "external_id", "no_such_field"])
def test_only_fields_of_the_record_can_keep_their_stored_values(source, name):
    with pytest.raises(ValueError, match=name):
        pull_request_merge(source=source, data=full_pull_request(), dirty=Dirty(), unknown=frozenset({name}))


def test_a_finished_deployment_keeps_its_stored_start_and_ref(source):
    running = DeploymentInput(
        external_id="d-1", environment="production", finished_at=T0, started_at=T0, ref="main", status="in_progress"
    )
    deployment_upsert(source=source, data=running, dirty=Dirty())
    done = replace(running, finished_at=T0 + timedelta(minutes=9), started_at=None, ref="", status="success")
    deployment, _ = deployment_merge(source=source, data=done, dirty=Dirty(), unknown=frozenset({"started_at", "ref"}))
    assert (deployment.started_at, deployment.finished_at, deployment.ref) == (T0, T0 + timedelta(minutes=9), "main")
    assert deployment.status == "success"


def test_an_incident_keeps_its_resolution_and_its_cause(source):
    deployment_upsert(
        source=source, data=DeploymentInput(external_id="d-1", environment="production", finished_at=T0), dirty=Dirty()
    )
    closed = IncidentInput(
        external_id="i-1", started_at=T0 + timedelta(hours=1), resolved_at=T0 + timedelta(hours=2), caused_by="d-1"
    )
    incident_merge(source=source, data=closed, dirty=Dirty())
    edited = IncidentInput(external_id="i-1", started_at=T0 + timedelta(hours=1), title="Down")
    incident, _ = incident_merge(
        source=source, data=edited, dirty=Dirty(), unknown=frozenset({"resolved_at", "caused_by"})
    )
    assert (incident.title, incident.resolved_at) == ("Down", T0 + timedelta(hours=2))
    assert incident.caused_by.external_id == "d-1"


def test_a_pipeline_run_keeps_its_stored_start(source):
    started = PipelineRunInput(external_id="p-1", workflow="ci", status="in_progress", started_at=T0)
    pipeline_run_merge(source=source, data=started, dirty=Dirty())
    done = replace(started, status="success", started_at=None, finished_at=T0 + timedelta(minutes=4))
    run, _ = pipeline_run_merge(source=source, data=done, dirty=Dirty(), unknown=frozenset({"started_at"}))
    assert (run.started_at, run.duration_seconds) == (T0, 240)


def test_an_incident_that_stopped_being_one_is_deleted_and_its_service_refreshed(source, service):
    incident_merge(source=source, data=IncidentInput(external_id="i-1", started_at=T0), dirty=Dirty())
    dirty = Dirty()
    assert incident_delete(source=source, external_id="i-1", dirty=dirty)
    assert not Incident.objects.exists() and dirty.since == {service.id: T0}
    assert not incident_delete(source=source, external_id="i-1", dirty=Dirty())

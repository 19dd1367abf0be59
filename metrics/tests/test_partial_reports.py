"""The writers of partial and out-of-order reports (metrics/services.py): pull_request_amend,
deployment_advance, pipeline_run_advance, incident_delete."""

from __future__ import annotations

from datetime import timedelta

import pytest

from metrics.inputs import CommitInput, DeploymentInput, IncidentInput, PipelineRunInput, PullRequestInput, ReviewInput
from metrics.models import Deployment, Incident, PipelineRun, Repository, Review
from metrics.services import (
    Dirty,
    deployment_advance,
    incident_delete,
    incident_upsert,
    pipeline_run_advance,
    pull_request_amend,
    pull_request_upsert,
    repository_default_branch_set,
)
from metrics.tests.factories import BASE_TIME, SourceFactory

pytestmark = pytest.mark.django_db

T = BASE_TIME
REPO = "acme/checkout"


def pr(**fields) -> PullRequestInput:
    return PullRequestInput(
        **{"external_id": "pr-1", "repository": REPO, "service": "checkout", "opened_at": T, "author": "ann", **fields}
    )


def review(external_id: str, author: str, hours: int, state=Review.State.COMMENTED) -> ReviewInput:
    return ReviewInput(external_id, author, T + timedelta(hours=hours), state)


def stored_reviews() -> list[tuple]:
    return list(Review.objects.order_by("external_id").values_list("external_id", "author", "state", "submitted_at"))


def test_amending_creates_a_pull_request_it_does_not_know(source):
    row, created = pull_request_amend(source=source, data=pr(reviews=(review("r1", "bob", 2),)), dirty=Dirty())
    assert created and row.first_review_at == T + timedelta(hours=2)


def test_a_partial_report_keeps_the_stored_reviews_commits_and_sizes(source):
    full = pr(
        additions=10,
        deletions=2,
        reviews=(review("r1", "bob", 2, Review.State.APPROVED),),
        commits=(CommitInput("a" * 40, T - timedelta(days=1)),),
    )
    pull_request_upsert(source=source, data=full, dirty=Dirty())
    row, created = pull_request_amend(source=source, data=pr(title="Renamed"), dirty=Dirty())
    assert not created
    assert (row.title, row.additions, row.deletions) == ("Renamed", 10, 2)
    assert (row.first_review_at, row.approved_at) == (T + timedelta(hours=2), T + timedelta(hours=2))
    assert row.first_commit_at == T - timedelta(days=1)
    assert list(row.commits.values_list("sha", flat=True)) == ["a" * 40]
    assert stored_reviews() == [("r1", "bob", "approved", T + timedelta(hours=2))]


def test_a_review_report_adds_to_the_reviews_and_replaces_its_own(source):
    pull_request_upsert(source=source, data=pr(reviews=(review("r1", "bob", 2, Review.State.APPROVED),)), dirty=Dirty())
    pull_request_amend(source=source, data=pr(reviews=(review("r2", "cy", 1),)), dirty=Dirty())
    row, _ = pull_request_amend(source=source, data=pr(reviews=(review("r1", "bob", 2),)), dirty=Dirty())  # dismissed
    assert stored_reviews() == [
        ("r1", "bob", "commented", T + timedelta(hours=2)),
        ("r2", "cy", "commented", T + timedelta(hours=1)),
    ]
    assert (row.first_review_at, row.approved_at) == (T + timedelta(hours=1), None)


def test_keeping_stored_reviews_only_adds_new_ones(source):
    pull_request_amend(source=source, data=pr(reviews=(review("r1", "bob", 2, Review.State.APPROVED),)), dirty=Dirty())
    pull_request_amend(
        source=source,
        data=pr(reviews=(review("r1", "bob", 1), review("r2", "cy", 3))),
        dirty=Dirty(),
        keep_stored_reviews=True,
    )
    assert stored_reviews() == [
        ("r1", "bob", "approved", T + timedelta(hours=2)),
        ("r2", "cy", "commented", T + timedelta(hours=3)),
    ]


def test_a_merge_is_final_against_a_late_report(source):
    merged_at = T + timedelta(days=1)
    pull_request_amend(
        source=source, data=pr(merged_at=merged_at, closed_at=merged_at, merge_sha="b" * 40), dirty=Dirty()
    )
    row, _ = pull_request_amend(source=source, data=pr(), dirty=Dirty())  # "opened", delivered late
    assert (row.merged_at, row.closed_at, row.merge_sha) == (merged_at, merged_at, "b" * 40)


def test_a_reopened_pull_request_is_no_longer_closed(source):
    pull_request_amend(source=source, data=pr(closed_at=T + timedelta(days=1)), dirty=Dirty())
    row, _ = pull_request_amend(source=source, data=pr(), dirty=Dirty())
    assert row.closed_at is None


def deployment(status: str, minutes: int) -> DeploymentInput:
    return DeploymentInput(
        external_id="d-1",
        environment="production",
        service="checkout",
        status=status,
        started_at=T,
        finished_at=T + timedelta(minutes=minutes),
    )


def test_an_older_deployment_status_never_overwrites_a_newer_one(source):
    _, written = deployment_advance(source=source, data=deployment(Deployment.Status.SUCCESS, 10), dirty=Dirty())
    assert written
    row, written = deployment_advance(source=source, data=deployment(Deployment.Status.IN_PROGRESS, 2), dirty=Dirty())
    assert not written
    assert (row.status, row.finished_at) == (Deployment.Status.SUCCESS, T + timedelta(minutes=10))
    # A later status wins, whatever it says.
    row, written = deployment_advance(source=source, data=deployment(Deployment.Status.FAILURE, 20), dirty=Dirty())
    assert written and Deployment.objects.get().status == Deployment.Status.FAILURE


def test_at_the_same_time_a_finished_status_wins_over_a_running_one(source):
    deployment_advance(source=source, data=deployment(Deployment.Status.SUCCESS, 10), dirty=Dirty())
    _, written = deployment_advance(source=source, data=deployment(Deployment.Status.IN_PROGRESS, 10), dirty=Dirty())
    assert not written and Deployment.objects.get().status == Deployment.Status.SUCCESS


def run(status: str) -> PipelineRunInput:
    finished = None if status == PipelineRun.Status.IN_PROGRESS else T + timedelta(minutes=5)
    return PipelineRunInput(
        external_id="run-1/1", workflow="ci", status=status, service="checkout", started_at=T, finished_at=finished
    )


def test_a_late_running_report_never_reopens_a_finished_run(source):
    pipeline_run_advance(source=source, data=run(PipelineRun.Status.IN_PROGRESS), dirty=Dirty())
    _, written = pipeline_run_advance(source=source, data=run(PipelineRun.Status.FAILURE), dirty=Dirty())
    assert written
    row, written = pipeline_run_advance(source=source, data=run(PipelineRun.Status.IN_PROGRESS), dirty=Dirty())
    assert not written and (row.status, row.duration_seconds) == (PipelineRun.Status.FAILURE, 300)


def test_deleting_an_incident_refreshes_its_service(source, service):
    incident_upsert(source=source, data=IncidentInput("i-1", T, service="checkout"), dirty=Dirty())
    dirty = Dirty()
    assert incident_delete(source=source, external_id="i-1", dirty=dirty)
    assert not Incident.objects.exists() and dirty.since == {service.pk: T}
    assert not incident_delete(source=source, external_id="i-1", dirty=Dirty())


def test_a_source_deletes_only_its_own_incidents(source, service):
    other = SourceFactory(name="other", team=service.owner)
    incident_upsert(source=other, data=IncidentInput("i-1", T, service="checkout"), dirty=Dirty())
    assert not incident_delete(source=source, external_id="i-1", dirty=Dirty())
    assert Incident.objects.filter(source=other).exists()


def test_a_stored_repositorys_default_branch_is_recorded(source):
    pull_request_upsert(source=source, data=pr(), dirty=Dirty())
    assert Repository.objects.get(name=REPO).default_branch == "main"
    assert repository_default_branch_set(name=REPO, default_branch="master")
    assert not repository_default_branch_set(name=REPO, default_branch="master")
    assert Repository.objects.get(name=REPO).default_branch == "master"
    # A repository no record names is not created.
    assert not repository_default_branch_set(name="acme/unknown", default_branch="trunk")
    assert not Repository.objects.filter(name="acme/unknown").exists()

"""Delivery histories for tests that go through ingestion and refresh: single records and random ones, and
``History``, records written relative to a clock (with the delivery pages' fixtures ``now`` and ``history``)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from metrics import definitions as d
from metrics.inputs import DeploymentInput, IncidentInput, PipelineRunInput, PullRequestInput, ReviewInput
from metrics.refresh import service_refresh
from metrics.services import Dirty, deployment_upsert, incident_upsert, pipeline_run_upsert, pull_request_upsert
from metrics.tests.factories import SourceFactory

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday


def deploy(source, service, external_id, at, **extra):
    data = DeploymentInput(
        external_id=external_id, service=service.slug, environment="production", finished_at=at, **extra
    )
    return deployment_upsert(source=source, data=data, dirty=Dirty())[0]


def incident(source, service, external_id, at, resolved=None):
    data = IncidentInput(external_id=external_id, service=service.slug, started_at=at, resolved_at=resolved)
    return incident_upsert(source=source, data=data, dirty=Dirty())[0]


def pull_request(source, service, external_id, merged_at, **extra):
    data = PullRequestInput(
        external_id=external_id,
        repository=f"acme/{service.slug}",
        service=service.slug,
        opened_at=merged_at - timedelta(hours=5),
        first_commit_at=merged_at - timedelta(hours=8),
        merged_at=merged_at,
        author="ada",
        reviews=(
            ReviewInput(external_id=f"{external_id}-r", author="bob", submitted_at=merged_at - timedelta(hours=2)),
        ),
        **extra,
    )
    return pull_request_upsert(source=source, data=data, dirty=Dirty())[0]


def random_history(rng: random.Random, source, service) -> None:
    at = T0
    for n in range(rng.randint(1, 25)):
        at += timedelta(hours=rng.randint(1, 60))
        if rng.random() < 0.6:
            pull_request(source, service, f"pr-{n}", at - timedelta(hours=rng.randint(1, 30)))
        deploy(
            source,
            service,
            f"d-{n}",
            at,
            status=rng.choice(["success"] * 5 + ["failure"]),
            is_rollback=rng.random() < 0.1,
            is_hotfix=rng.random() < 0.1,
        )
        if rng.random() < 0.3:
            start = at + timedelta(hours=rng.randint(0, 48))
            incident(source, service, f"i-{n}", start, resolved=start + timedelta(minutes=rng.randint(5, 3000)))
        for attempt in range(1, rng.randint(1, 3) + 1):  # CI of the sha, re-run after a failure
            finished = at + timedelta(minutes=rng.randint(5, 50) + 60 * attempt)
            data = PipelineRunInput(
                external_id=f"run-{n}-{attempt}",
                workflow=rng.choice(["ci", "lint"]),
                status=rng.choice(["success", "success", "failure", "cancelled"]),
                service=service.slug,
                sha=f"sha{n}",
                attempt=attempt,
                started_at=finished - timedelta(minutes=rng.randint(1, 30)),
                finished_at=finished,
            )
            pipeline_run_upsert(source=source, data=data, dirty=Dirty())


def run_records(runs) -> list[d.PipelineRunRec]:
    """Stored pipeline runs as the definitions' records: what a reading from rollups must agree with."""
    return [
        d.PipelineRunRec(
            id=str(run.pk),
            service=str(run.service_id),
            workflow=run.workflow,
            sha=run.sha,
            status=run.status,
            attempt=run.attempt,
            started_at=run.started_at,
            finished_at=run.finished_at,
            is_default_branch=run.is_default_branch,
            duration_seconds=run.duration_seconds,
        )
        for run in runs
    ]


class History:
    """Delivery records written the way ingestion writes them, then linked and rolled up."""

    def __init__(self, source, now):
        self.source = source
        self.now = now
        self.services: set[int] = set()

    def deploy(self, service, external_id, days_ago, **extra):
        data = DeploymentInput(
            external_id=external_id,
            service=service.slug,
            environment=extra.pop("environment", "production"),
            finished_at=self.now - timedelta(days=days_ago),
            title=extra.pop("title", f"Release {external_id}"),
            **extra,
        )
        self.services.add(service.id)
        return deployment_upsert(source=self.source, data=data, dirty=Dirty())[0]

    def change(self, service, external_id, merged_days_ago, *, number, title, repository="acme/checkout"):
        merged = self.now - timedelta(days=merged_days_ago)
        data = PullRequestInput(
            external_id=external_id,
            repository=repository,
            service=service.slug,
            number=number,
            title=title,
            url=f"https://github.com/{repository}/pull/{number}",
            author="ada",
            first_commit_at=merged - timedelta(hours=30),
            opened_at=merged - timedelta(hours=26),
            merged_at=merged,
            reviews=(
                ReviewInput(external_id=f"{external_id}-r", author="bob", submitted_at=merged - timedelta(hours=20)),
            ),
        )
        self.services.add(service.id)
        return pull_request_upsert(source=self.source, data=data, dirty=Dirty())[0]

    def incident(self, service, external_id, days_ago, hours_to_restore=None, **extra):
        started = self.now - timedelta(days=days_ago)
        resolved = started + timedelta(hours=hours_to_restore) if hours_to_restore is not None else None
        data = IncidentInput(
            external_id=external_id, service=service.slug, started_at=started, resolved_at=resolved, **extra
        )
        self.services.add(service.id)
        return incident_upsert(source=self.source, data=data, dirty=Dirty())[0]

    def refresh(self):
        for service_id in self.services:
            service_refresh(service_id=service_id)


@pytest.fixture
def now():
    return timezone.now().replace(minute=0, second=0, microsecond=0)


@pytest.fixture
def history(service, now):
    source = SourceFactory(name="ci", team=service.owner, last_event_at=now - timedelta(hours=3))
    return History(source, now)

"""Apache DevLake's domain tables as plain records, and DevLake's own rules that shape them
into e360's records (``metrics.definitions``), for the conformance suite (test_devlake_conformance). No Django.

DevLake keeps one ``cicd_deployment_commits`` row per repository a deployment pipeline
deployed; e360 keeps one ``DeploymentRec`` per such row (service = the CI scope, unless the
caller maps scopes to services). DevLake groups CI scopes, repositories and boards into
*projects*; ``ProjectMapping.service_groups`` turns a project into a linking group for
``Profile.service_groups``.

Rules reproduced from DevLake's ``dora`` plugin (backend/plugins/dora/tasks/):
``deployments_from_pipelines`` (deployment_commits_generator.go), ``first_commit`` and
``first_review`` (change_lead_time_calculator.go).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from metrics.definitions import ChangeRec, DeploymentRec

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable

SUCCESS = "SUCCESS"
FAILURE = "FAILURE"
DEPLOYMENT = "DEPLOYMENT"
PRODUCTION = "PRODUCTION"
STAGING = "STAGING"
TESTING = "TESTING"
_JUDGED = (SUCCESS, FAILURE)  # DevLake's "none-skipped" results


def parse_time(value: str | None) -> datetime | None:
    """A DevLake timestamp (ISO 8601, or MySQL's ``2023-4-10 6:51:47``); naive means UTC; empty is None."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        parsed = datetime.strptime(text, "%Y-%m-%d %H:%M:%S")
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class ProjectMapping:
    """DevLake's ``project_mapping`` rows: (project, table, row id)."""

    rows: tuple[tuple[str, str, str], ...]

    def members(self, project: str, table: str | None = None) -> set[str]:
        """Row ids mapped to the project (of one table, e.g. ``cicd_scopes``, ``repos``, ``boards``)."""
        return {row_id for name, tbl, row_id in self.rows if name == project and (table is None or tbl == table)}

    def service_groups(self, project: str) -> dict[str, str]:
        """Every member of the project (CI scopes, repositories, boards) → the project: a linking group."""
        return dict.fromkeys(self.members(project), project)


@dataclass(frozen=True)
class Pipeline:
    """A ``cicd_pipelines`` row."""

    id: str
    result: str
    status: str
    type: str
    environment: str
    duration_sec: float | None
    created_date: datetime | None
    finished_date: datetime | None
    cicd_scope_id: str
    name: str = ""


@dataclass(frozen=True)
class Task:
    """A ``cicd_tasks`` row (a job of a pipeline)."""

    id: str
    pipeline_id: str
    result: str
    type: str
    environment: str
    name: str = ""


@dataclass(frozen=True)
class PipelineCommit:
    """A ``cicd_pipeline_commits`` row: a repository and commit a pipeline ran on."""

    pipeline_id: str
    commit_sha: str
    branch: str
    repo_id: str
    repo_url: str


@dataclass(frozen=True)
class DeploymentCommit:
    """A ``cicd_deployment_commits`` row: one repository deployed by a deployment."""

    id: str
    commit_sha: str
    cicd_scope_id: str
    cicd_deployment_id: str
    result: str
    repo_url: str
    environment: str
    started_date: datetime | None
    finished_date: datetime | None
    created_date: datetime | None = None
    ref_name: str = ""
    prev_success_deployment_commit_id: str | None = None


def deployments_from_pipelines(
    pipelines: Iterable[Pipeline],
    tasks: Iterable[Task],
    pipeline_commits: Iterable[PipelineCommit],
    *,
    cicd_scopes: Collection[str] | None = None,
) -> list[DeploymentCommit]:
    """DevLake's deployment generator: which pipelines are deployments, one row per repository.

    A pipeline of the scopes (None = all) is a deployment when it finished SUCCESS or FAILURE
    (whatever its status) and is of type DEPLOYMENT or has a DEPLOYMENT task that finished
    SUCCESS or FAILURE. Its environment is the pipeline's, else inferred from its judged tasks:
    PRODUCTION before STAGING before TESTING, else empty. Started = finished - duration.
    """
    by_id = {p.id: p for p in pipelines}
    tasks_of: dict[str, list[Task]] = {}
    for t in tasks:
        if t.result in _JUDGED:
            tasks_of.setdefault(t.pipeline_id, []).append(t)

    rows = []
    for pc in pipeline_commits:
        p = by_id.get(pc.pipeline_id)
        if p is None or p.result not in _JUDGED:
            continue
        if cicd_scopes is not None and p.cicd_scope_id not in cicd_scopes:
            continue
        judged = tasks_of.get(p.id, [])
        if p.type != DEPLOYMENT and not any(t.type == DEPLOYMENT for t in judged):
            continue
        environment = p.environment
        if not environment:
            task_envs = {t.environment for t in judged}
            environment = next((env for env in (PRODUCTION, STAGING, TESTING) if env in task_envs), "")
        started = None
        if p.finished_date is not None and p.duration_sec is not None:
            started = p.finished_date - timedelta(seconds=p.duration_sec)
        rows.append(
            DeploymentCommit(
                id=f"{p.id}:{pc.repo_url}",
                commit_sha=pc.commit_sha,
                cicd_scope_id=p.cicd_scope_id,
                cicd_deployment_id=p.id,
                result=p.result,
                repo_url=pc.repo_url,
                environment=environment,
                started_date=started,
                finished_date=p.finished_date,
                created_date=p.created_date,
                ref_name=pc.branch,
            )
        )
    return rows


def deployment_record(row: DeploymentCommit, *, service: str | None = None) -> DeploymentRec:
    """A DevLake deployment-commit row as an e360 deployment (service defaults to the CI scope)."""
    return DeploymentRec(
        id=row.id,
        service=service or row.cicd_scope_id,
        environment=row.environment,
        status=row.result.lower(),
        started_at=row.started_date,
        finished_at=row.finished_date,
        sha=row.commit_sha,
        repository=row.repo_url or None,
        ref=row.ref_name,
    )


@dataclass(frozen=True)
class PullRequest:
    """A ``pull_requests`` row."""

    id: str
    base_repo_id: str
    author_id: str
    merge_commit_sha: str
    created_date: datetime
    merged_date: datetime | None


@dataclass(frozen=True)
class PullRequestCommit:
    """A ``pull_request_commits`` row."""

    commit_sha: str
    pull_request_id: str
    commit_authored_date: datetime


@dataclass(frozen=True)
class PullRequestComment:
    """A ``pull_request_comments`` row (DevLake counts any comment as a review)."""

    id: str
    pull_request_id: str
    created_date: datetime
    account_id: str


def first_commit(commits: Iterable[PullRequestCommit]) -> PullRequestCommit | None:
    """The earliest authored commit (ties by sha, DevLake's primary key order)."""
    return min(commits, key=lambda c: (c.commit_authored_date, c.commit_sha), default=None)


def first_review(comments: Iterable[PullRequestComment], author_id: str) -> PullRequestComment | None:
    """The first comment by someone other than the author (ties by comment id)."""
    others = [c for c in comments if c.account_id != (author_id or "")]
    return min(others, key=lambda c: (c.created_date, c.id), default=None)


def change_record(
    pr: PullRequest,
    commits: Iterable[PullRequestCommit],
    comments: Iterable[PullRequestComment],
    *,
    service: str | None = None,
) -> ChangeRec:
    """A DevLake pull request as an e360 change (service defaults to the base repository)."""
    commit_list = list(commits)
    first = first_commit(commit_list)
    review = first_review(comments, pr.author_id)
    return ChangeRec(
        id=pr.id,
        service=service or pr.base_repo_id,
        repository=pr.base_repo_id,
        merge_sha=pr.merge_commit_sha,
        first_commit_at=first.commit_authored_date if first else None,
        opened_at=pr.created_date,
        first_review_at=review.created_date if review else None,
        merged_at=pr.merged_date,
        author=pr.author_id,
        commit_shas=tuple(c.commit_sha for c in commit_list),
    )

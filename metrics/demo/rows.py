"""The rows the simulation hands to the writers, one service at a time.

``_Rows`` holds them as plain tuples, per table, in the column order of
``COLUMNS`` (so a writer can insert them without the ORM); ``ROWS_OF`` names
the ``_Rows`` list of each model.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from django.db import models

from metrics.models import Commit, Deployment, Incident, PipelineRun, PullRequest, Review


@dataclass
class _Rows:
    """Rows as tuples in the column order of ``COLUMNS``.

    Reviews and commits start with the index of their pull request in
    ``pull_requests``; the writer swaps in the id.
    """

    pull_requests: list[tuple] = field(default_factory=list)
    reviews: list[tuple] = field(default_factory=list)
    commits: list[tuple] = field(default_factory=list)
    deployments: list[tuple] = field(default_factory=list)
    incidents: list[tuple] = field(default_factory=list)
    pipeline_runs: list[tuple] = field(default_factory=list)

    def __len__(self) -> int:
        return sum(len(getattr(self, f.name)) for f in fields(self))


COLUMNS: dict[type[models.Model], tuple[str, ...]] = {
    PullRequest: (
        "source_id",
        "external_id",
        "repository_id",
        "service_id",
        "number",
        "title",
        "url",
        "author_login",
        "author_id",
        "base_branch",
        "is_direct_push",
        "first_commit_at",
        "opened_at",
        "first_review_at",
        "approved_at",
        "merged_at",
        "closed_at",
        "merge_sha",
        "additions",
        "deletions",
    ),
    Review: ("pull_request_id", "external_id", "author_login", "state", "submitted_at"),
    Commit: ("pull_request_id", "repository_id", "sha", "authored_at"),
    Deployment: (
        "source_id",
        "external_id",
        "service_id",
        "environment",
        "is_production",
        "status",
        "started_at",
        "finished_at",
        "sha",
        "repository_id",
        "ref",
        "title",
        "url",
        "is_rollback",
        "is_hotfix",
        "sent_changes",
    ),
    Incident: (
        "source_id",
        "external_id",
        "service_id",
        "title",
        "severity",
        "url",
        "started_at",
        "resolved_at",
        "root_cause_sha",
    ),
    PipelineRun: (
        "source_id",
        "external_id",
        "service_id",
        "repository_id",
        "workflow",
        "branch",
        "is_default_branch",
        "sha",
        "status",
        "attempt",
        "started_at",
        "finished_at",
        "duration_seconds",
        "url",
    ),
}
ROWS_OF = {
    PullRequest: "pull_requests",
    Review: "reviews",
    Commit: "commits",
    Deployment: "deployments",
    Incident: "incidents",
    PipelineRun: "pipeline_runs",
}

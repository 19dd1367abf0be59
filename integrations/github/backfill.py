"""GitHub's history through the REST API, page by page, for the backfill and the incremental sync
(``integrations.backfill`` runs them; ``integrations.github.records`` maps each object, the same
functions the webhook uses).

Per repository, three walks, each newest first and stopping at ``since``:

- ``pulls``: pull requests by last update (``state=all&sort=updated&direction=desc``), each read
  in full (the list has no size) with its reviews and commits: three more requests per pull
  request (open drafts are left out, as the webhook leaves them);
- ``deployments``: deployments by creation, each with its statuses (one more request);
- ``workflow_runs``: runs filtered on ``created``; GitHub lists at most 1,000 results for such a
  query, so a range with more is halved (its newer half first) until it fits, and when a range
  ends the walk goes on with the older rest.

Releases and tags are not read: e360 has no record of a deployment by tag (docs/metrics.md
records deployments as GitHub's deployments, or what a sender posts).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx

from integrations.backfill import LOOKBACK, Step, Walk, deployments_write, pipeline_runs_write
from integrations.github import records
from integrations.github.client import RUNS_RESULT_CAP, GitHub, created_range
from integrations.models import Connection
from metrics.services import pull_requests_upsert

# A range of workflow runs is not cut below this (more than 1,000 runs a minute is past GitHub's reach).
RUNS_SMALLEST_RANGE = timedelta(minutes=1)


def _newest(current: datetime | None, value: Any) -> datetime | None:
    found = records.parse_time(value) if value else None
    if found is None:
        return current
    return found if current is None or found > current else current


class _Walk:
    resource = ""
    lookback = LOOKBACK  # deployments and runs are walked by creation; a status comes later

    def __init__(self, github: GitHub, repository: str) -> None:
        self.github = github
        self.repository = repository


class Pulls(_Walk):
    resource = "pulls"
    lookback = timedelta(0)  # walked by update time

    def first_url(self, since: datetime) -> str:
        return self.github.pulls_url(self.repository)

    def step(self, url: str, *, since: datetime, etag: str = "") -> Step:
        github, repository = self.github, self.repository
        page = github.page(url, etag=etag)
        if page.not_modified:
            return Step(not_modified=True, etag=etag)
        step = Step(upsert=pull_requests_upsert, next_url=page.next_url, etag=page.etag)
        inputs = []
        for pr in page.items():
            updated = records.parse_time(pr.get("updated_at"))
            if updated is None or updated < since:
                step.next_url = ""  # sorted by update: the rest is older
                break
            step.newest = _newest(step.newest, pr.get("updated_at"))
            if records.is_open_draft(pr):
                continue
            try:
                number = pr["number"]
                full = github.pull(repository, number)  # the list leaves the size out
                reviews, commits = github.pull_reviews(repository, number), github.pull_commits(repository, number)
                inputs.append(records.pull_request(full, reviews=reviews, commits=commits))
            except (KeyError, records.Unreadable) as exc:
                step.problems.append(f"pull request {pr.get('number', '?')}: {exc}")
        step.inputs = inputs
        return step


class Deployments(_Walk):
    resource = "deployments"

    def first_url(self, since: datetime) -> str:
        return self.github.deployments_url(self.repository)

    def step(self, url: str, *, since: datetime, etag: str = "") -> Step:
        github, repository = self.github, self.repository
        page = github.page(url, etag=etag)
        if page.not_modified:
            return Step(not_modified=True, etag=etag)
        step = Step(upsert=deployments_write, next_url=page.next_url, etag=page.etag)
        inputs = []
        for deployment in page.items():
            created = records.parse_time(deployment.get("created_at"))
            if created is None or created < since:
                step.next_url = ""  # newest first: the rest is older
                break
            step.newest = _newest(step.newest, deployment.get("created_at"))
            try:
                statuses = github.deployment_statuses(repository, deployment["id"])
                if (found := records.deployment(deployment, statuses, repository)) is not None:
                    inputs.append(found)
            except (KeyError, records.Unreadable) as exc:
                step.problems.append(f"deployment {deployment.get('id', '?')}: {exc}")
        step.inputs = inputs
        return step


class WorkflowRuns(_Walk):
    resource = "workflow_runs"

    def __init__(self, github: GitHub, repository: str) -> None:
        super().__init__(github, repository)
        self._default_branch: str | None = None

    def default_branch(self) -> str:
        if self._default_branch is None:
            self._default_branch = str(self.github.repository(self.repository).get("default_branch") or "")
        return self._default_branch

    def first_url(self, since: datetime) -> str:
        return self.github.runs_url(self.repository, since)

    def step(self, url: str, *, since: datetime, etag: str = "") -> Step:
        github, repository = self.github, self.repository
        page = github.page(url, etag=etag)
        if page.not_modified:
            return Step(not_modified=True, etag=etag)
        runs = page.items("workflow_runs")
        start, end = created_range(url) or (since, None)
        total = page.data.get("total_count", 0) if isinstance(page.data, dict) else 0
        is_first_page = "page" not in httpx.URL(url).params
        if is_first_page and total > RUNS_RESULT_CAP and runs:
            # Too many to list: keep the newer half of the range (up to the newest run listed).
            newest = records.parse_time(runs[0].get("created_at")) or end or start
            top = end or newest
            if top - start > RUNS_SMALLEST_RANGE:
                return Step(next_url=github.runs_url(repository, start + (top - start) / 2, top), etag=page.etag)
        step = Step(upsert=pipeline_runs_write, next_url=page.next_url, etag=page.etag)
        if not step.next_url and start > since:
            # This range is done: on with the older rest.
            step.next_url = github.runs_url(repository, since, start - timedelta(seconds=1))
        inputs = []
        for run in runs:
            step.newest = _newest(step.newest, run.get("created_at"))
            try:
                if (found := records.workflow_run(run, default_branch=self.default_branch())) is not None:
                    inputs.append(found)
            except records.Unreadable as exc:
                step.problems.append(f"workflow run {run.get('id', '?')}: {exc}")
        step.inputs = inputs
        return step


class GitHubSync:
    """The ``integrations.backfill.Sync`` of a GitHub connection."""

    def __init__(self, connection: Connection) -> None:
        self.github = GitHub(connection)

    @property
    def requests(self) -> int:
        return self.github.api.requests

    @property
    def not_modified(self) -> int:
        return self.github.api.not_modified

    def repositories(self) -> list[str]:
        return self.github.repositories()

    def walks(self, repository: str) -> list[Walk]:
        return [
            Pulls(self.github, repository),
            Deployments(self.github, repository),
            WorkflowRuns(self.github, repository),
        ]

    def close(self) -> None:
        self.github.close()


def sync_for(connection: Connection) -> GitHubSync:
    return GitHubSync(connection)

"""GitHub's history through its APIs, page by page, for the backfill and the incremental sync
(``integrations.backfill`` runs them; ``integrations.github.records`` maps each object, the same
functions the webhook uses).

Per repository, three walks, each newest first and stopping at ``since``:

- ``pulls``: pull requests by last update. A REST probe first: the list's first pull request
  (``sort=updated&direction=desc&per_page=1``) with the last walk's ETag, so that nothing new
  costs a 304, which is free (GraphQL has no conditional requests). When it changed, GraphQL
  pages of 50 pull requests, each with its size, reviews and commits (one request a page, where
  REST took three more a pull request; a pull request with more than 100 reviews or commits takes
  a query more for the rest). The cursor keeps the GraphQL endpoint with the page's cursor as
  ``?after=``. Open drafts are left out, as the webhook leaves them;
- the deployments, as the connection says its repositories deploy (``Connection.deploys_by``;
  ``GitHubSync.deployments_walk``), one walk of the three:

  - ``deployments``: GitHub's deployments by creation, each with its statuses (one more request);
  - ``releases``: published releases (``Releases``), each with its tag's commit (one more small
    request, once per release);
  - ``tags``: the tags matching the connection's pattern (``Tags``); GitHub lists them by name,
    without a date, so the whole list is read and each matching tag not stored yet costs one
    request for its commit's date; every matching tag is stored, ``since`` or not;

- ``workflow_runs``: runs filtered on ``created``; GitHub lists at most 1,000 results for such a
  query, so a range with more is halved (its newer half first) until it fits, and when a range
  ends the walk goes on with the older rest.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import httpx

from integrations.backfill import LOOKBACK, Step, Walk, deployments_write, pipeline_runs_write
from integrations.github import records
from integrations.github.client import RUNS_RESULT_CAP, GitHub, created_range
from integrations.http import ApiError
from integrations.models import Connection
from metrics.ingest import PayloadError
from metrics.models import Deployment
from metrics.services import deployments_upsert, pull_requests_upsert

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
    """Pull requests by last update, newest first: a REST probe, then GraphQL pages.

    The walk's first URL is the REST list's first pull request (``pulls_probe_url``), asked for with
    the last walk's ETag: a 304 (free) ends the walk, and so does a pull request updated before
    ``since``. Otherwise the walk goes on by GraphQL (``pulls_graphql_url``: the endpoint with the
    page's cursor as ``after``, which is what ``SyncCursor.next_url`` keeps), each page 50 pull
    requests with their reviews and commits."""

    resource = "pulls"
    lookback = timedelta(0)  # walked by update time

    def first_url(self, since: datetime) -> str:
        return self.github.pulls_probe_url(self.repository)

    def step(self, url: str, *, since: datetime, etag: str = "") -> Step:
        if self.github.is_graphql(url):
            return self._graphql_step(url, since=since)
        page = self.github.page(url, etag=etag)
        if page.not_modified:
            return Step(not_modified=True, etag=etag)
        step = Step(etag=page.etag)
        for pr in page.items()[:1]:
            try:
                # The newest change, even before ``since``: the sync starts from it.
                step.newest = _newest(None, pr.get("updated_at"))
            except records.Unreadable:
                step.newest = None  # no telling: GraphQL says
            if step.newest is None or step.newest >= since:
                step.next_url = self.github.pulls_graphql_url()
        return step

    def _graphql_step(self, url: str, *, since: datetime) -> Step:
        github, repository = self.github, self.repository
        nodes, after = github.pulls_graphql(repository, github.graphql_after(url))
        step = Step(upsert=pull_requests_upsert, next_url=github.pulls_graphql_url(after) if after else "")
        for node in nodes:
            try:
                updated = records.parse_time(node.get("updatedAt"))
            except records.Unreadable as exc:
                step.problems.append(f"pull request {node.get('number', '?')}: {exc}")
                continue
            if updated is None or updated < since:
                step.next_url = ""  # sorted by update: the rest is older
                break
            step.newest = _newest(step.newest, node.get("updatedAt"))
            if records.is_open_draft(node):
                continue
            with step.reading(f"pull request {node.get('number', '?')}"):
                step.inputs.append(records.pull_request_from_graphql(github.pull_in_full(repository, node)))
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
        for deployment in page.items():
            created = records.parse_time(deployment.get("created_at"))
            if created is None or created < since:
                step.next_url = ""  # newest first: the rest is older
                break
            step.newest = _newest(step.newest, deployment.get("created_at"))
            with step.reading(f"deployment {deployment.get('id', '?')}"):
                statuses = github.deployment_statuses(repository, deployment["id"])
                if (found := records.deployment(deployment, statuses, repository)) is not None:
                    step.inputs.append(found)
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
        for run in runs:
            step.newest = _newest(step.newest, run.get("created_at"))
            with step.reading(f"workflow run {run.get('id', '?')}"):
                if (found := records.workflow_run(run, default_branch=self.default_branch())) is not None:
                    step.inputs.append(found)
        return step


# --- Releases and tags: the deployments of a connection that deploys by them -----------------------


def _stored_shas(github: GitHub, external_ids: Sequence[str]) -> dict[str, str]:
    """The deployments of ``external_ids`` this connection's source has stored, with their sha."""
    found = Deployment.objects.filter(source_id=github.connection.source_id, external_id__in=external_ids)
    return dict(found.values_list("external_id", "sha"))


def _commit_sha(github: GitHub, repository: str, tag: str, problems: list[str]) -> str:
    """The commit ``tag`` names; "" (and why, in ``problems``) when GitHub finds none: a release
    whose tag is gone is recorded all the same, and the backfill goes on."""
    try:
        return github.commit_sha(repository, tag)
    except ApiError as exc:
        if exc.status not in (404, 422):
            raise
        problems.append(f"release {tag}: recorded without its commit ({exc})")
        return ""


class Releases(_Walk):
    """Published releases (not drafts nor prereleases), for a connection that deploys by releases.

    GitHub lists releases newest first by ``created_at`` (which is its tag's commit's date, not the
    publication) and promises no order: the walk reads pages until one whose releases were all
    published before ``since`` (drafts aside). Each release's commit costs one small request
    (``commit_sha``), once: a release stored with its sha is not asked again. A year of a repository
    releasing daily: about 4 pages and 365 requests, then a 304 a sync while nothing is released.
    A release whose tag GitHub cannot find is recorded without a sha, with the reason in the
    backfill's notes."""

    resource = "releases"

    def first_url(self, since: datetime) -> str:
        return self.github.releases_url(self.repository)

    def step(self, url: str, *, since: datetime, etag: str = "") -> Step:
        github, repository = self.github, self.repository
        page = github.page(url, etag=etag)
        if page.not_modified:
            return Step(not_modified=True, etag=etag)
        step = Step(upsert=deployments_upsert, next_url=page.next_url, etag=page.etag)
        listed = [r for r in page.items() if isinstance(r, dict)]
        stored = _stored_shas(github, [f"release:{r.get('id')}" for r in listed])
        recent = older = False
        for item in listed:
            published = records.parse_time(item.get("published_at"))
            if published is None:
                continue  # a draft: never published
            if published < since:
                older = True
                continue
            recent = True
            step.newest = _newest(step.newest, item.get("published_at"))
            with step.reading(f"release {item.get('id', '?')}"):
                if (data := records.release(item, repository=repository, sha="")) is None:
                    continue  # a prerelease
                sha = stored.get(data.external_id) or _commit_sha(github, repository, data.ref, step.problems)
                step.inputs.append(dataclasses.replace(data, sha=sha))
        if older and not recent:
            step.next_url = ""  # a page with nothing published since: the rest is older
        return step


class Tags(_Walk):
    """The tags matching the connection's pattern, for a connection that deploys by tags.

    GitHub lists tags by name, with their commit's sha and no date, so the walk reads every page of
    the list (one request per 100 tags) and dates each matching tag it has not stored by its commit's
    committer date (``GET .../git/commits/{sha}``: one request per tag, once), plus one for the
    repository's id (a tag's deployment id is the push event's). Every matching tag is stored,
    ``since`` or not: the list cannot be cut by date, and a tag stored is never dated again (older
    tags also give the first deployment of the window a previous one). A list of one page is asked
    for with its ETag, so a sync with no new tag costs a 304; a longer one is read again each sync
    (a new tag may sort onto any page)."""

    resource = "tags"

    def __init__(self, github: GitHub, repository: str) -> None:
        super().__init__(github, repository)
        self._repository: dict[str, Any] | None = None

    def first_url(self, since: datetime) -> str:
        return self.github.tags_url(self.repository)

    def step(self, url: str, *, since: datetime, etag: str = "") -> Step:
        github, repository = self.github, self.repository
        is_first_page = url == self.first_url(since)
        page = github.page(url, etag=etag)
        if page.not_modified:
            return Step(not_modified=True, etag=etag)
        # An ETag only says something of the list when the list is that one page.
        single = is_first_page and not page.next_url
        step = Step(upsert=deployments_upsert, next_url=page.next_url, etag=page.etag if single else "")
        connection = github.connection
        matching = [t for t in page.items() if isinstance(t, dict) and connection.deploys_by_tag(str(t.get("name")))]
        if not matching:
            return step
        if self._repository is None:
            self._repository = github.repository(repository)
        found = []
        for item in matching:
            commit = item.get("commit")
            sha = str(commit.get("sha") or "") if isinstance(commit, dict) else ""
            found.append((item, records.tag_id(self._repository.get("id"), str(item.get("name")), sha)))
        stored = _stored_shas(github, [external_id for _, external_id in found])
        inputs = []
        for item, external_id in found:
            if external_id in stored:
                continue  # dated once: a tag names the same commit for good (a moved tag is another id)
            try:
                commit = github.git_commit(repository, str(item["commit"]["sha"]))
                data = records.tag(item, repository=self._repository, commit=commit)
            except ApiError as exc:
                if exc.status not in (404, 422):
                    raise
                step.problems.append(f"tag {item.get('name', '?')}: left out ({exc})")
                continue
            except (KeyError, TypeError, PayloadError) as exc:
                step.problems.append(f"tag {item.get('name', '?')}: {exc}")
                continue
            step.newest = data.finished_at if step.newest is None else max(step.newest, data.finished_at)
            inputs.append(data)
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
        """Pull requests, workflow runs, and the deployments as the connection records them."""
        return [
            Pulls(self.github, repository),
            self.deployments_walk(repository),
            WorkflowRuns(self.github, repository),
        ]

    def deployments_walk(self, repository: str) -> Walk:
        """GitHub's deployments, the published releases or the tags (``Connection.deploys_by``)."""
        deploys_by = self.github.connection.deploys_by
        if deploys_by == Connection.DeploysBy.RELEASES:
            return Releases(self.github, repository)
        if deploys_by == Connection.DeploysBy.TAGS:
            return Tags(self.github, repository)
        return Deployments(self.github, repository)

    def close(self) -> None:
        self.github.close()


def sync_for(connection: Connection) -> GitHubSync:
    return GitHubSync(connection)

"""GitLab's history through the REST API, page by page, for the backfill and the incremental sync
(``integrations.backfill`` runs them; ``integrations.gitlab.records`` maps each object, the
``*_from_rest`` functions beside the webhook's ``*_from_hook``).

A connection's repositories are its projects (``Connection.repositories``: ``group/sub/project``),
named as the catalog and the webhook name them, ``<host>/<path>`` from the project's ``web_url``
(one ``GET /projects/:id`` per project and run). Per project, three walks, each by update time,
newest first, from ``updated_after=since`` (so the incremental sync reads what changed since its
watermark, and nothing before it):

- ``merge_requests``: every state; each with its notes (comments, and the system notes of
  approvals given and withdrawn: GitLab's only approval times) and its commits (the first commit's
  time): two more requests per merge request, more only past 100 notes or commits;
- ``deployments``: the list carries the job (``deployable``) with its start and finish: no more
  requests;
- ``pipelines``: each read in full (the list has no start, finish or duration): one more request
  per pipeline. The API shows a pipeline's last state only: it is written as the latest attempt
  e360 has stored (webhook job events number the retries), attempt 1 otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from integrations.backfill import Step, Walk, deployments_write
from integrations.gitlab import records
from integrations.gitlab.client import GitLab, project_path
from integrations.http import ApiError, Page
from integrations.models import Connection
from metrics.ingest import PayloadError
from metrics.inputs import PipelineRunInput
from metrics.models import PipelineRun, Source
from metrics.services import Dirty, pipeline_run_advance, pull_requests_upsert


def pipeline_runs_write(*, source: Source, items: Sequence[PipelineRunInput], dirty: Dirty) -> list[bool]:
    """Each pipeline as its latest stored attempt (the webhook's numbering), through the webhook's
    own "advance" write: a late "running" never reopens a finished run."""
    written = []
    for run in items:
        prefix = run.external_id.rsplit(":", 1)[0] + ":"
        stored = PipelineRun.objects.filter(source=source, external_id__startswith=prefix)
        attempt = max(stored.values_list("attempt", flat=True), default=1)
        if attempt != run.attempt:
            run = replace(run, external_id=f"{prefix}{attempt}", attempt=attempt)
        written.append(pipeline_run_advance(source=source, data=run, dirty=dirty)[1])
    return written


def _newest(current: datetime | None, value: Any) -> datetime | None:
    try:
        found = records.parse_time(value, "updated_at")
    except PayloadError:
        return current
    if found is None:
        return current
    return found if current is None or found > current else current


class _Walk:
    resource = ""
    lookback = timedelta(0)  # every walk is by update time: a new status updates the record

    def __init__(self, gitlab: GitLab, repository: str, path: str) -> None:
        self.gitlab = gitlab
        self.repository = repository  # the catalog's name: <host>/<path>
        self.path = path  # the project's path with namespace

    def _page(self, url: str, since: datetime, etag: str) -> tuple[Page, Step | None, list[dict[str, Any]]]:
        """The page, a finished step when it says nothing new (304), and its items updated since ``since``."""
        page = self.gitlab.page(url, etag=etag)
        if page.not_modified:
            return page, Step(not_modified=True, etag=etag), []
        items = []
        for item in page.items():
            try:
                updated = records.parse_time(item.get("updated_at"), "updated_at")
            except PayloadError:
                updated = None
            if updated is not None and updated < since:
                break  # sorted by update: the rest is older (GitLab filters on it already)
            items.append(item)
        return page, None, items

    def _step(self, page: Page, items: list[dict[str, Any]], upsert: Any) -> Step:
        step = Step(upsert=upsert, next_url=page.next_url, etag=page.etag)
        if len(items) < len(page.items()):
            step.next_url = ""
        for item in items:
            step.newest = _newest(step.newest, item.get("updated_at"))
        return step


class MergeRequests(_Walk):
    resource = "merge_requests"

    def first_url(self, since: datetime) -> str:
        return self.gitlab.merge_requests_url(self.path, since)

    def step(self, url: str, *, since: datetime, etag: str = "") -> Step:
        page, done, items = self._page(url, since, etag)
        if done is not None:
            return done
        step = self._step(page, items, pull_requests_upsert)
        for merge_request in items:
            with step.reading(f"merge request !{merge_request.get('iid', '?')}"):
                iid = merge_request["iid"]
                notes = self.gitlab.merge_request_notes(self.path, iid)
                commits = self.gitlab.merge_request_commits(self.path, iid)
                step.inputs.append(
                    records.merge_request_from_rest(
                        merge_request,
                        repository=self.repository,
                        reviews=records.reviews_from_rest_notes(notes),
                        commits=[records.commit_from_rest(commit) for commit in commits],
                    )
                )
        return step


class Deployments(_Walk):
    resource = "deployments"

    def first_url(self, since: datetime) -> str:
        return self.gitlab.deployments_url(self.path, since)

    def step(self, url: str, *, since: datetime, etag: str = "") -> Step:
        page, done, items = self._page(url, since, etag)
        if done is not None:
            return done
        step = self._step(page, items, deployments_write)
        for deployment in items:
            with step.reading(f"deployment {deployment.get('id', '?')}"):
                step.inputs.append(records.deployment_from_rest(deployment, repository=self.repository))
        return step


class Pipelines(_Walk):
    resource = "pipelines"

    def first_url(self, since: datetime) -> str:
        return self.gitlab.pipelines_url(self.path, since)

    def step(self, url: str, *, since: datetime, etag: str = "") -> Step:
        page, done, items = self._page(url, since, etag)
        if done is not None:
            return done
        step = self._step(page, items, pipeline_runs_write)
        for listed in items:
            with step.reading(f"pipeline {listed.get('id', '?')}"):
                pipeline = self.gitlab.pipeline(self.path, listed["id"])  # the list has no start or finish
                default_branch = str(self.gitlab.project(self.path).get("default_branch") or "")
                step.inputs.append(
                    records.pipeline_from_rest(pipeline, repository=self.repository, default_branch=default_branch)
                )
        return step


class GitLabSync:
    """The ``integrations.backfill.Sync`` of a GitLab connection."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.gitlab = GitLab(connection)
        self._paths: dict[str, str] = {}  # repository name → project path

    @property
    def requests(self) -> int:
        return self.gitlab.api.requests

    @property
    def not_modified(self) -> int:
        return self.gitlab.api.not_modified

    def repositories(self) -> list[str]:
        """The connection's projects, as ``<host>/<path>`` (from each one's ``web_url``)."""
        for path in sorted({project_path(name) for name in self.connection.repositories} - {""}):
            project = self.gitlab.project(path)
            try:
                name = records.project_repository(project)
            except PayloadError as exc:
                raise ApiError(f"GitLab project {path}: {exc}", 0) from None
            self._paths[name] = str(project.get("path_with_namespace") or path)
        return sorted(self._paths)

    def path(self, repository: str) -> str:
        """The project of a repository name: known from ``repositories``, else (the incremental sync,
        which starts from its cursors) the configured path the name ends with, else the name less its host."""
        if repository in self._paths:
            return self._paths[repository]
        configured = sorted({project_path(name) for name in self.connection.repositories} - {""}, key=len)
        for path in reversed(configured):
            if repository.lower().endswith("/" + path.lower()):
                return path
        return repository.partition("/")[2] or repository

    def walks(self, repository: str) -> list[Walk]:
        path = self.path(repository)
        return [
            MergeRequests(self.gitlab, repository, path),
            Deployments(self.gitlab, repository, path),
            Pipelines(self.gitlab, repository, path),
        ]

    def close(self) -> None:
        self.gitlab.close()


def sync_for(connection: Connection) -> GitLabSync:
    return GitLabSync(connection)

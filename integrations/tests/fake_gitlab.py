"""A GitLab on loopback for the client and backfill tests: a real HTTP server (``ThreadingHTTPServer``
in a thread) answering the REST API v4's documented shapes from an in-memory history.

What it speaks, as docs.gitlab.com documents it (trimmed to the fields e360 reads, and a few more):

- ``PRIVATE-TOKEN`` (or ``Authorization: Bearer``) with an access token; anything else is 401
  ``{"message": "401 Unauthorized"}``;
- projects by id or URL-encoded path (``projects/acme%2Fplatform%2Fshop``); an unknown one is 404
  ``{"message": "404 Project Not Found"}``;
- offset pagination by ``per_page`` (default 20, at most 100) and ``page``, with ``Link``
  (``rel="prev"``, ``"next"``, ``"first"``, ``"last"``) and ``x-page``, ``x-per-page``,
  ``x-next-page``, ``x-prev-page``, ``x-total``, ``x-total-pages`` (``link_header = False``: no
  ``Link``, as behind a proxy that drops it);
- merge requests, deployments and pipelines filtered by ``updated_after`` (on or after) and ordered
  by ``order_by=updated_at`` with ``sort``; merge requests by ``state``;
- a weak ``ETag`` on every JSON answer, 304 for a matching ``If-None-Match`` (it still counts
  against the budget: GitLab's limits count requests);
- ``RateLimit-Limit``/``-Observed``/``-Remaining``/``-Reset``/``-ResetTime`` on every answer; a spent
  budget is 429 with ``Retry-After`` and the body ``Retry later``.

Faults are injected with ``fail(path_regex, status, headers, body, times)`` (a 429 with
``Retry-After``, a 502 before a success).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

import pytest

from e360.tests.loopback import Fake, serving

TOKEN = "glpat-read-api-for-tests"
WEB = "https://gitlab.example.com"  # the instance's web address: projects' web_url
HOST = "gitlab.example.com"


def iso(moment: datetime) -> str:
    """GitLab's REST times: UTC with milliseconds."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def sha(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()  # noqa: S324 - a fake sha


@dataclass
class Project:
    """One project's history, in GitLab's REST shapes."""

    path: str
    id: int
    default_branch: str = "main"
    merge_requests: list[dict[str, Any]] = field(default_factory=list)
    notes: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # by iid, oldest first
    commits: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # by iid, newest first
    deployments: list[dict[str, Any]] = field(default_factory=list)
    pipelines: list[dict[str, Any]] = field(default_factory=list)  # in full; the list shows less

    @property
    def web_url(self) -> str:
        return f"{WEB}/{self.path}"

    @property
    def repository(self) -> str:
        """The catalog's (and the webhook's) name of the project."""
        return f"{HOST}/{self.path}"

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.path.rsplit("/", 1)[-1],
            "path": self.path.rsplit("/", 1)[-1],
            "path_with_namespace": self.path,
            "default_branch": self.default_branch,
            "web_url": self.web_url,
            "visibility": "private",
            "namespace": {"full_path": self.path.rsplit("/", 1)[0]},
        }


PIPELINE_LIST_FIELDS = (
    "id",
    "iid",
    "project_id",
    "sha",
    "ref",
    "status",
    "source",
    "created_at",
    "updated_at",
    "web_url",
)


class FakeGitLab(Fake):
    """The state behind the server: projects, tokens, the rate budget, faults and a log."""

    error_body = {"message": "500 Internal Server Error"}

    def __init__(self) -> None:
        super().__init__()
        self.projects: dict[str, Project] = {}
        self.tokens: set[str] = {TOKEN}
        self.rate_limit = 2000
        self.rate_remaining = 2000
        self.rate_reset = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1)
        self.link_header = True
        self._ids = iter(range(5000, 10**9))

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/v4"

    # --- Building a history -------------------------------------------------------------------

    def next_id(self) -> int:
        return next(self._ids)

    def project(self, path: str, default_branch: str = "main") -> Project:
        if path not in self.projects:
            self.projects[path] = Project(path, self.next_id(), default_branch)
        return self.projects[path]

    def user(self, username: str) -> dict[str, Any]:
        user_id = int(hashlib.sha256(username.encode()).hexdigest()[:6], 16)
        return {"id": user_id, "username": username, "name": username.title(), "state": "active"}

    def add_merge_request(
        self,
        project: Project,
        *,
        iid: int,
        opened: datetime,
        author: str = "dev",
        merged: datetime | None = None,
        closed: datetime | None = None,
        comments: tuple[tuple[str, datetime], ...] = (),
        approvals: tuple[tuple[str, datetime], ...] = (),
        unapprovals: tuple[tuple[str, datetime], ...] = (),
        commits: tuple[datetime, ...] = (),
        title: str = "",
        draft: bool = False,
    ) -> dict[str, Any]:
        """A merge request with its notes (comments; approvals and withdrawals as system notes) and commits."""
        mr_id = self.next_id()
        state = "merged" if merged else ("closed" if closed else "opened")
        activity = [opened, *(at for _, at in comments + approvals + unapprovals), *(x for x in (merged, closed) if x)]
        merge_request = {
            "id": mr_id,
            "iid": iid,
            "project_id": project.id,
            "title": title or f"Change {iid}",
            "description": "",
            "state": state,
            "created_at": iso(opened),
            "updated_at": iso(max(activity)),
            "merged_at": iso(merged) if merged else None,
            "closed_at": iso(closed) if closed else None,
            "merge_user": self.user("lead") if merged else None,
            "target_branch": project.default_branch,
            "source_branch": f"topic-{iid}",
            "author": self.user(author),
            "draft": draft,
            "work_in_progress": draft,
            "merge_commit_sha": sha(f"{project.path}!{iid}") if merged else None,
            "squash_commit_sha": None,
            "sha": sha(f"{project.path}!{iid}/head"),
            "user_notes_count": len(comments),
            "web_url": f"{project.web_url}/-/merge_requests/{iid}",
        }
        project.merge_requests.append(merge_request)
        notes = [(at, login, f"Looks fine ({login})", False) for login, at in comments]
        notes += [(at, login, "approved this merge request", True) for login, at in approvals]
        notes += [(at, login, "unapproved this merge request", True) for login, at in unapprovals]
        project.notes[iid] = [
            {
                "id": self.next_id(),
                "type": None,
                "body": body,
                "author": self.user(login),
                "created_at": iso(at),
                "updated_at": iso(at),
                "system": system,
                "noteable_id": mr_id,
                "noteable_type": "MergeRequest",
                "noteable_iid": iid,
                "resolvable": False,
            }
            for at, login, body, system in sorted(notes)
        ]
        project.commits[iid] = [
            {
                "id": sha(f"{project.path}!{iid}/{index}"),
                "short_id": sha(f"{project.path}!{iid}/{index}")[:8],
                "title": f"Work {index}",
                "message": f"Work {index}",
                "author_name": author,
                "author_email": f"{author}@example.com",
                "authored_date": iso(at),
                "committer_name": author,
                "committer_email": f"{author}@example.com",
                "committed_date": iso(at),
                "created_at": iso(at),
                "web_url": f"{project.web_url}/-/commit/{sha(f'{project.path}!{iid}/{index}')}",
            }
            for index, at in sorted(enumerate(commits), key=lambda c: c[1], reverse=True)
        ]
        return merge_request

    def add_deployment(
        self,
        project: Project,
        *,
        started: datetime,
        finished: datetime | None = None,
        status: str = "success",
        environment: str = "production",
    ) -> dict[str, Any]:
        """A deployment run by a job from ``started`` to ``finished`` (five minutes later by default)."""
        deployment_id, job_id = self.next_id(), self.next_id()
        finished = finished or started + timedelta(minutes=5)
        commit = sha(f"{project.path}@{deployment_id}")
        running = status in ("created", "running", "blocked")
        deployment = {
            "id": deployment_id,
            "iid": len(project.deployments) + 1,
            "ref": project.default_branch,
            "sha": commit,
            "status": status,
            "created_at": iso(started - timedelta(minutes=1)),
            "updated_at": iso(started if running else finished),
            "finished_at": None if running else iso(finished),
            "user": self.user("deployer"),
            "environment": {"id": 9, "name": environment, "tier": environment, "external_url": ""},
            "deployable": {
                "id": job_id,
                "status": status,
                "stage": "deploy",
                "name": f"deploy-{environment}",
                "ref": project.default_branch,
                "tag": False,
                "created_at": iso(started - timedelta(minutes=1)),
                "started_at": iso(started),
                "finished_at": None if running else iso(finished),
                "duration": None if running else (finished - started).total_seconds(),
                "web_url": f"{project.web_url}/-/jobs/{job_id}",
                "commit": {"id": commit, "short_id": commit[:8], "title": f"Deploy {deployment_id}"},
            },
        }
        project.deployments.append(deployment)
        return deployment

    def add_pipeline(
        self,
        project: Project,
        *,
        created: datetime,
        status: str = "success",
        minutes: int = 7,
        ref: str | None = None,
        source: str = "push",
    ) -> dict[str, Any]:
        """A pipeline queued a minute after ``created``, running ``minutes`` (unfinished when running)."""
        pipeline_id = self.next_id()
        started = created + timedelta(minutes=1)
        finished = None if status in ("running", "pending", "created") else started + timedelta(minutes=minutes)
        pipeline = {
            "id": pipeline_id,
            "iid": len(project.pipelines) + 1,
            "project_id": project.id,
            "sha": sha(f"pipeline{pipeline_id}"),
            "before_sha": "0" * 40,
            "ref": ref or project.default_branch,
            "tag": False,
            "status": status,
            "source": source,
            "created_at": iso(created),
            "updated_at": iso(finished or started),
            "started_at": iso(started),
            "finished_at": iso(finished) if finished else None,
            "committed_at": None,
            "duration": minutes * 60 if finished else None,
            "queued_duration": 60.0,
            "coverage": None,
            "user": self.user("dev"),
            "web_url": f"{project.web_url}/-/pipelines/{pipeline_id}",
        }
        project.pipelines.append(pipeline)
        return pipeline

    # --- Faults --------------------------------------------------------------------------------

    # --- Answering -----------------------------------------------------------------------------

    def answer(self, method: str, target: str, headers: dict[str, str]) -> tuple[int, dict, Any]:
        with self.lock:
            status, extra, payload = self._answer(method, target, headers)
            self.log.append((method, target, status))
            return status, extra, payload

    def _budget_headers(self) -> dict[str, str]:
        return {
            "RateLimit-Limit": str(self.rate_limit),
            "RateLimit-Observed": str(self.rate_limit - self.rate_remaining),
            "RateLimit-Remaining": str(self.rate_remaining),
            "RateLimit-Reset": str(int(self.rate_reset.timestamp())),
            "RateLimit-ResetTime": format_datetime(self.rate_reset, usegmt=True),
        }

    def _answer(self, method: str, target: str, headers: dict[str, str]) -> tuple[int, dict, Any]:
        split = urlsplit(target)
        path, query = split.path, {k: v[-1] for k, v in parse_qs(split.query).items()}
        if (fault := self.fault(target)) is not None:
            return fault.status, {**self._budget_headers(), **fault.headers}, fault.body
        token = headers.get("private-token") or headers.get("authorization", "").removeprefix("Bearer ").strip()
        if token not in self.tokens:
            return 401, {}, {"message": "401 Unauthorized"}
        if self.rate_remaining <= 0:
            wait = max(1, int((self.rate_reset - datetime.now(UTC)).total_seconds()))
            return 429, {**self._budget_headers(), "Retry-After": str(wait)}, "Retry later\n"
        self.rate_remaining -= 1  # a 304 counts too: GitLab's limits count requests
        status, extra, payload = self._route(method, path, query)
        if status == 200:
            etag = _etag(payload)
            if headers.get("if-none-match") == etag:
                return 304, {**self._budget_headers(), "ETag": etag}, None
            extra = {**extra, "ETag": etag}
        return status, {**self._budget_headers(), **extra}, payload

    def _route(self, method: str, path: str, query: dict[str, str]) -> tuple[int, dict, Any]:
        if method != "GET":
            return 405, {}, {"message": "405 Method Not Allowed"}
        if path == "/api/v4/user":
            return 200, {}, {**self.user("project_42_bot_3f1a"), "bot": True}
        found = re.fullmatch(r"/api/v4/projects/([^/]+)(/.*)?", path)
        if not found:
            return 404, {}, {"error": "404 Not Found"}
        key = unquote(found[1])
        project = self.projects.get(key) or next((p for p in self.projects.values() if str(p.id) == key), None)
        if project is None:
            return 404, {}, {"message": "404 Project Not Found"}
        rest = found[2] or ""
        if rest == "":
            return 200, {}, project.summary()
        if rest == "/merge_requests":
            listed = project.merge_requests
            if query.get("state", "all") != "all":
                listed = [mr for mr in listed if mr["state"] == query["state"]]
            return self._paged(path, query, self._filtered(listed, query))
        if found_mr := re.fullmatch(r"/merge_requests/(\d+)/(notes|commits)", rest):
            items = getattr(project, found_mr[2]).get(int(found_mr[1]))
            if items is None:
                return 404, {}, {"message": "404 Not found"}
            if found_mr[2] == "notes" and query.get("sort", "desc") == "desc":
                items = list(reversed(items))
            return self._paged(path, query, items)
        if rest == "/deployments":
            return self._paged(path, query, self._filtered(project.deployments, query))
        if rest == "/pipelines":
            listed = [{name: p[name] for name in PIPELINE_LIST_FIELDS} for p in project.pipelines]
            return self._paged(path, query, self._filtered(listed, query))
        if single := re.fullmatch(r"/pipelines/(\d+)", rest):
            pipelines = [p for p in project.pipelines if p["id"] == int(single[1])]
            return (200, {}, pipelines[0]) if pipelines else (404, {}, {"message": "404 Not found"})
        return 404, {}, {"error": "404 Not Found"}

    @staticmethod
    def _filtered(items: list[dict[str, Any]], query: dict[str, str]) -> list[dict[str, Any]]:
        if after := query.get("updated_after"):
            items = [item for item in items if _parse(item["updated_at"]) >= _parse(after)]
        order = query.get("order_by", "id")
        key = (lambda item: _parse(item["updated_at"])) if order == "updated_at" else (lambda item: item["id"])
        return sorted(items, key=key, reverse=query.get("sort", "desc") == "desc")

    def _paged(self, path: str, query: dict[str, str], items: list[Any]) -> tuple[int, dict, Any]:
        per_page = max(1, min(int(query.get("per_page", 20)), 100))
        page = max(1, int(query.get("page", 1)))
        chunk = items[(page - 1) * per_page : page * per_page]
        last = max(1, -(-len(items) // per_page))
        extra = {
            "x-page": str(page),
            "x-per-page": str(per_page),
            "x-next-page": str(page + 1) if page < last else "",
            "x-prev-page": str(page - 1) if page > 1 else "",
            "x-total": str(len(items)),
            "x-total-pages": str(last),
        }
        if self.link_header:
            links = []
            if page > 1:
                links.append(f'<{self._link(path, query, page - 1)}>; rel="prev"')
            if page < last:
                links.append(f'<{self._link(path, query, page + 1)}>; rel="next"')
            links.append(f'<{self._link(path, query, 1)}>; rel="first"')
            links.append(f'<{self._link(path, query, last)}>; rel="last"')
            extra["Link"] = ", ".join(links)
        return 200, extra, chunk

    def _link(self, path: str, query: dict[str, str], page: int) -> str:
        return f"{self.url}{path}?{urlencode({**query, 'page': page})}"


def _etag(payload: Any) -> str:
    return 'W/"' + hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:32] + '"'


@contextmanager
def served() -> Iterator[FakeGitLab]:
    """A loopback GitLab serving in a thread until the block ends; ``.api_url`` is its API root."""
    fake = FakeGitLab()
    with serving(lambda request: fake.answer(request.method, request.target, request.headers)) as url:
        fake.url = url
        yield fake


@pytest.fixture(name="fake_gitlab")
def serve_fake_gitlab() -> Iterator[FakeGitLab]:
    """A loopback GitLab, serving until the test ends; ``fake_gitlab.api_url`` is its API root."""
    with served() as fake:
        yield fake

"""A GitHub on loopback for the client and backfill tests: a real HTTP server (``e360.tests.loopback``)
answering the REST API's documented shapes from an in-memory history.

What it speaks, as docs.github.com documents it (trimmed to the fields e360 reads):

- ``Authorization: Bearer`` with a fine-grained token, or with an installation token it issued
  (``POST /app/installations/{id}/access_tokens``, whose JWT it verifies with the App's public key,
  RS256, ``iss`` the App id); anything else is 401 ``{"message": "Bad credentials"}``;
- pagination by ``per_page`` (default 30, at most 100) and ``page``, with ``Link`` headers
  (``rel="next"``, ``rel="last"``);
- an ``ETag`` on every JSON answer (a weak hash of the body), 304 for a matching ``If-None-Match``,
  which costs no rate budget;
- ``X-RateLimit-Limit``/``-Remaining``/``-Used``/``-Reset``/``-Resource`` on every answer; a spent
  budget is 403 with ``X-RateLimit-Remaining: 0``;
- workflow runs filtered by a ``created`` range (``A..B``, ``>=A``), ``total_count`` the true count
  but no result past the 1,000th (GitHub's cap on such queries);
- a run's logs as a 302 to a short-lived address; re-running failed jobs as 201;
- releases (newest first by ``created_at``, which GitHub sets to the tag's commit date) and tags
  (by name, descending, with their commit's sha and no date); ``GET .../commits/{ref}`` under
  ``Accept: application/vnd.github.sha`` as the bare sha in text (422 for an unknown ref), and
  ``GET .../git/commits/{sha}`` (a commit's author and committer dates);
- GraphQL (``POST /graphql``), for the queries e360 sends, told apart by ``operationName`` and
  answered from the variables (the query text is not parsed): ``PullRequests`` (a repository's
  pull requests by ``UPDATED_AT`` desc, ``first``/``after`` with opaque cursors, each with its
  first ``inner`` reviews and commits), ``PullRequestReviews`` and ``PullRequestCommits`` (the
  rest of one pull request's). Its budget is separate (``graphql_remaining``, one point a query,
  ``X-RateLimit-Resource: graphql``); an unknown repository is ``NOT_FOUND`` in a 200 body, as
  GitHub answers, and a spent budget a 200 with a ``RATE_LIMITED`` error.

Faults are injected with ``fail(path_regex, status, headers, body, times)`` (a 403 secondary limit
with ``Retry-After``, a 429, a 502 before a success, a 200 whose body holds GraphQL ``errors``)
and ``expire_tokens_after(n)`` (the installation token stops working after ``n`` more requests:
401 "Bad credentials").
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from e360.tests.loopback import Fake, serving

TOKEN = "github_pat_fine_grained_for_tests"
APP_ID = "4242"
INSTALLATION_ID = 77
RUNS_CAP = 1000


@cache
def app_private_key() -> rsa.RSAPrivateKey:
    """The App's key pair: one per test process (making one takes a while)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


@dataclass
class Repo:
    """One repository's history, in GitHub's shapes."""

    full_name: str
    id: int
    default_branch: str = "main"
    pulls: list[dict[str, Any]] = field(default_factory=list)
    reviews: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    commits: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    sizes: dict[int, dict[str, int]] = field(default_factory=dict)  # what only a single pull request shows
    deployments: list[dict[str, Any]] = field(default_factory=list)
    statuses: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    runs: list[dict[str, Any]] = field(default_factory=list)
    releases: list[dict[str, Any]] = field(default_factory=list)
    tags: list[dict[str, Any]] = field(default_factory=list)
    git_commits: dict[str, dict[str, Any]] = field(default_factory=dict)  # by sha: what tags and releases name

    def summary(self) -> dict[str, Any]:
        owner, name = self.full_name.split("/")
        return {
            "id": self.id,
            "node_id": f"R_{self.id}",
            "name": name,
            "full_name": self.full_name,
            "private": True,
            "owner": {"login": owner, "id": 1, "type": "Organization"},
            "html_url": f"https://github.com/{self.full_name}",
            "default_branch": self.default_branch,
        }


# --- self-service actions: re-run and logs faults, and the logs archive server (actions/tests) ------------


class ActionsFaults:
    """What the self-service actions meet on GitHub, as docs.github.com documents it:

    - ``expire_run(id)``: a run past the repository's retention window: its re-run and its logs are 404;
    - ``actions_permission = "read"``: the App (or token) may read Actions, not write: a re-run is 403
      "Resource not accessible by integration";
    - an attempt's logs (``GET .../runs/{id}/attempts/{n}/logs``), like the run's, a 302 to a short-lived
      address: the ``LogsArchive`` server's when one is attached (``fake_logs_archive``), else an example host;
    - a 429 (or a 403 secondary limit) is ``fail(...)``'s, with its ``Retry-After``.
    """

    expired: set[int]
    actions_permission: str
    archive: LogsArchive | None

    def expire_run(self, run_id: int) -> None:
        self.expired.add(int(run_id))

    def _actions(self, method: str, repo: Repo, rest: str) -> tuple[int, dict, Any] | None:
        found = re.fullmatch(r"/actions/runs/(\d+)(?:/attempts/(\d+))?/(rerun-failed-jobs|logs)", rest)
        if not found:
            return None
        run_id, attempt, what = int(found[1]), found[2], found[3]
        if run_id in self.expired or (attempt and not any(run["id"] == run_id for run in repo.runs)):
            return 404, {}, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}
        if what == "rerun-failed-jobs":
            if method != "POST" or attempt:
                return 404, {}, {"message": "Not Found"}
            if self.actions_permission != "write":
                body = {
                    "message": "Resource not accessible by integration",
                    "documentation_url": "https://docs.github.com/rest",
                }
                return 403, {}, body
            return None  # the re-run itself: 201, below
        if method != "GET":
            return 404, {}, {"message": "Not Found"}
        if self.archive is None:
            return None
        latest = max((run.get("run_attempt", 1) for run in repo.runs if run["id"] == run_id), default=1)
        return 302, {"Location": self.archive.address(run_id, int(attempt or latest))}, None


class LogsArchive:
    """The short-lived address GitHub's 302 points to: another host, no credentials asked (the address is signed
    for a minute), a zip streamed in chunks. ``large(run, attempt, size)`` serves ``size`` bytes, written as the
    client reads them; ``sent`` counts what was written so far; ``requests`` logs each request's path and whether
    it carried an ``Authorization`` header (it never should)."""

    def __init__(self) -> None:
        self.url = ""
        self.lifetime = timedelta(minutes=1)
        self.bodies: dict[tuple[int, int], bytes] = {}
        self.sizes: dict[tuple[int, int], int] = {}
        self.sent = 0
        self.requests: list[tuple[str, bool]] = []

    def address(self, run_id: int, attempt: int) -> str:
        expires = int((datetime.now(UTC) + self.lifetime).timestamp())
        signature = hashlib.sha256(f"{run_id}/{attempt}/{expires}".encode()).hexdigest()[:32]
        return f"{self.url}/{run_id}/{attempt}/logs.zip?se={expires}&sig={signature}"

    def large(self, run_id: int, attempt: int, size: int) -> None:
        self.sizes[(run_id, attempt)] = size

    def body(self, run_id: int, attempt: int) -> bytes:
        if (run_id, attempt) not in self.bodies:
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                archive.writestr("build/1_Set up job.txt", "2025-05-01T12:00:00Z Current runner version: '2.321.0'\n")
                archive.writestr(
                    "build/2_Run tests.txt", f"2025-05-01T12:01:00Z run {run_id} attempt {attempt}\nFAILED\n"
                )
            self.bodies[(run_id, attempt)] = buffer.getvalue()
        return self.bodies[(run_id, attempt)]


class _ArchiveHandler(BaseHTTPRequestHandler):
    server: _ArchiveServer

    def do_GET(self) -> None:
        archive = self.server.archive
        split = urlsplit(self.path)
        archive.requests.append((split.path, "authorization" in {k.lower() for k in self.headers}))
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        found = re.fullmatch(r"/(\d+)/(\d+)/logs\.zip", split.path)
        expires = int(query.get("se", "0")) if query.get("se", "").isdigit() else 0
        signed = (
            found and query.get("sig") == hashlib.sha256(f"{found[1]}/{found[2]}/{expires}".encode()).hexdigest()[:32]
        )
        if not found or not signed or expires < datetime.now(UTC).timestamp():
            data = b"<Error><Code>AuthenticationFailed</Code></Error>"
            self.send_response(403)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        key = (int(found[1]), int(found[2]))
        size = archive.sizes.get(key)
        self.send_response(200)
        self.send_header("Content-Type", "application/zip")
        self.send_header("Content-Length", str(size if size is not None else len(archive.body(*key))))
        self.end_headers()
        try:
            if size is None:
                self.wfile.write(archive.body(*key))
                return
            chunk = b"PK" + bytes(64 * 1024 - 2)
            left = size
            while left > 0:
                part = chunk[: min(left, len(chunk))]
                self.wfile.write(part)
                archive.sent += len(part)
                left -= len(part)
        except (BrokenPipeError, ConnectionResetError):  # the client stopped reading
            return

    def log_message(self, format: str, *args: Any) -> None:
        return


class _ArchiveServer(ThreadingHTTPServer):
    daemon_threads = True
    archive: LogsArchive


@pytest.fixture(name="fake_logs_archive")
def serve_logs_archive(fake_github: FakeGitHub) -> Iterator[LogsArchive]:
    """The logs archive host, on loopback, that ``fake_github``'s logs redirects point to while the test runs."""
    archive = LogsArchive()
    server = _ArchiveServer(("127.0.0.1", 0), _ArchiveHandler)
    server.archive = archive
    archive.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    fake_github.archive = archive
    try:
        yield archive
    finally:
        fake_github.archive = None
        server.shutdown()
        server.server_close()
        thread.join()


# --- end of self-service actions -------------------------------------------------------------------------


class FakeGitHub(ActionsFaults, Fake):
    """The state behind the server: repositories, credentials, the rate budget, faults and a log."""

    error_body = {"message": "Server Error"}

    def __init__(self) -> None:
        super().__init__()
        self.repos: dict[str, Repo] = {}
        self.tokens: set[str] = {TOKEN}
        self.private_key = app_private_key()
        self.installation_tokens: dict[str, datetime] = {}
        self.expire_after: int | None = None
        self.rate_limit = 5000
        self.rate_remaining = 5000
        self.rate_reset = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
        self.graphql_limit = 5000
        self.graphql_remaining = 5000
        self.operations: list[str] = []  # the GraphQL operations answered, in order
        self.reruns: list[str] = []
        self.runs_cap = RUNS_CAP
        self._ids = iter(range(1000, 10**9))
        self.accept = ""  # the request being answered's Accept
        self.expired: set[int] = set()  # self-service actions (ActionsFaults)
        self.actions_permission = "write"
        self.archive: LogsArchive | None = None

    # --- Building a history -------------------------------------------------------------------

    @property
    def private_key_pem(self) -> str:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()

    def next_id(self) -> int:
        return next(self._ids)

    def repo(self, full_name: str, default_branch: str = "main") -> Repo:
        if full_name not in self.repos:
            self.repos[full_name] = Repo(full_name, self.next_id(), default_branch)
        return self.repos[full_name]

    def add_pull(
        self,
        repo: Repo,
        *,
        number: int,
        opened: datetime,
        author: str = "octocat",
        merged: datetime | None = None,
        closed: datetime | None = None,
        updated: datetime | None = None,
        reviews: tuple[tuple[str, str, datetime], ...] = (),
        commits: tuple[datetime, ...] = (),
        title: str = "",
        additions: int = 40,
        deletions: int = 8,
    ) -> dict[str, Any]:
        closed = closed or merged
        pr_id = self.next_id()
        sha = hashlib.sha1(f"{repo.full_name}#{number}".encode()).hexdigest()  # noqa: S324 - a fake sha
        pull = {
            "url": f"{self.url}/repos/{repo.full_name}/pulls/{number}",
            "id": pr_id,
            "node_id": f"PR_{pr_id}",
            "html_url": f"https://github.com/{repo.full_name}/pull/{number}",
            "number": number,
            "state": "closed" if closed else "open",
            "locked": False,
            "title": title or f"Change {number}",
            "user": {"login": author, "id": 1, "type": "User"},
            "body": "",
            "created_at": iso(opened),
            "updated_at": iso(updated or merged or closed or opened),
            "closed_at": iso(closed) if closed else None,
            "merged_at": iso(merged) if merged else None,
            "merge_commit_sha": sha if merged else None,
            "draft": False,
            "head": {"label": f"{author}:topic-{number}", "ref": f"topic-{number}", "sha": sha},
            "base": {"label": "acme:main", "ref": repo.default_branch, "sha": "0" * 40, "repo": repo.summary()},
            "author_association": "MEMBER",
        }
        repo.pulls.append(pull)
        repo.sizes[number] = {
            "additions": additions,
            "deletions": deletions,
            "changed_files": 3,
            "commits": len(commits),
            "comments": 0,
            "review_comments": 0,
            "merged": merged is not None,
        }
        repo.reviews[number] = [
            {
                "id": self.next_id(),
                "node_id": "PRR_x",
                "user": {"login": login, "id": 2, "type": "User"},
                "body": "",
                "state": state,
                "html_url": f"https://github.com/{repo.full_name}/pull/{number}#pullrequestreview",
                "submitted_at": iso(at),
                "commit_id": sha,
                "author_association": "MEMBER",
            }
            for login, state, at in reviews
        ]
        repo.commits[number] = [
            {
                "sha": hashlib.sha1(f"{repo.full_name}#{number}/{i}".encode()).hexdigest(),  # noqa: S324
                "node_id": "C_x",
                "commit": {
                    "author": {"name": author, "email": f"{author}@example.com", "date": iso(at)},
                    "committer": {"name": author, "email": f"{author}@example.com", "date": iso(at)},
                    "message": f"Work {i}",
                },
                "author": {"login": author, "id": 1},
                "parents": [],
            }
            for i, at in enumerate(commits)
        ]
        return pull

    def add_deployment(
        self, repo: Repo, *, created: datetime, state: str = "success", environment: str = "production", ref: str = ""
    ) -> dict[str, Any]:
        deployment_id = self.next_id()
        sha = hashlib.sha1(f"{repo.full_name}@{deployment_id}".encode()).hexdigest()  # noqa: S324
        deployment = {
            "url": f"{self.url}/repos/{repo.full_name}/deployments/{deployment_id}",
            "id": deployment_id,
            "node_id": f"DE_{deployment_id}",
            "sha": sha,
            "ref": ref or repo.default_branch,
            "task": "deploy",
            "payload": {},
            "original_environment": environment,
            "environment": environment,
            "description": "Deploy request from e360's tests",
            "creator": {"login": "octocat", "id": 1, "type": "User"},
            "created_at": iso(created),
            "updated_at": iso(created + timedelta(minutes=5)),
            "transient_environment": False,
            "production_environment": environment == "production",
        }
        repo.deployments.append(deployment)
        repo.statuses[deployment_id] = [
            {
                "id": self.next_id(),
                "node_id": "DES_x",
                "state": final,
                "creator": {"login": "octocat", "id": 1},
                "description": "",
                "environment": environment,
                "target_url": "",
                "log_url": "",
                "environment_url": "",
                "created_at": iso(at),
                "updated_at": iso(at),
                "deployment_url": deployment["url"],
            }
            # Newest first, as GitHub lists them.
            for final, at in ((state, created + timedelta(minutes=5)), ("in_progress", created + timedelta(minutes=1)))
        ]
        return deployment

    def add_run(
        self,
        repo: Repo,
        *,
        created: datetime,
        conclusion: str = "success",
        branch: str | None = None,
        name: str = "CI",
        attempt: int = 1,
    ) -> dict[str, Any]:
        run_id = self.next_id()
        run = {
            "id": run_id,
            "name": name,
            "node_id": f"WFR_{run_id}",
            "head_branch": branch or repo.default_branch,
            "head_sha": hashlib.sha1(f"run{run_id}".encode()).hexdigest(),  # noqa: S324
            "path": ".github/workflows/ci.yml",
            "display_title": name,
            "run_number": run_id,
            "event": "push",
            "status": "completed",
            "conclusion": conclusion,
            "workflow_id": 161335,
            "url": f"{self.url}/repos/{repo.full_name}/actions/runs/{run_id}",
            "html_url": f"https://github.com/{repo.full_name}/actions/runs/{run_id}",
            "created_at": iso(created),
            "updated_at": iso(created + timedelta(minutes=7)),
            "run_attempt": attempt,
            "run_started_at": iso(created),
            "repository": repo.summary(),
        }
        repo.runs.append(run)
        return run

    def add_tag(self, repo: Repo, *, name: str, committed: datetime, sha: str = "") -> dict[str, Any]:
        """A lightweight tag on a commit made at ``committed`` (the commit is made unless ``sha`` names one)."""
        sha = sha or hashlib.sha1(f"{repo.full_name}:{name}".encode()).hexdigest()  # noqa: S324 - a fake sha
        if sha not in repo.git_commits:
            person = {"name": "Mona Octocat", "email": "mona@github.com", "date": iso(committed)}
            repo.git_commits[sha] = {
                "sha": sha,
                "node_id": f"C_{sha[:10]}",
                "url": f"{self.url}/repos/{repo.full_name}/git/commits/{sha}",
                "html_url": f"https://github.com/{repo.full_name}/commit/{sha}",
                "author": person,
                "committer": person,
                "message": f"Prepare {name}",
                "tree": {"sha": "9fb037999f264ba9a7fc6274d15fa3ae2ab98312", "url": ""},
                "parents": [],
                "verification": {"verified": False, "reason": "unsigned", "signature": None, "payload": None},
            }
        tag = {
            "name": name,
            "commit": {"sha": sha, "url": f"{self.url}/repos/{repo.full_name}/commits/{sha}"},
            "zipball_url": f"https://github.com/{repo.full_name}/zipball/{name}",
            "tarball_url": f"https://github.com/{repo.full_name}/tarball/{name}",
            "node_id": f"REF_{name}",
        }
        repo.tags = [t for t in repo.tags if t["name"] != name] + [tag]
        return tag

    def add_release(
        self,
        repo: Repo,
        *,
        tag: str,
        published: datetime | None,
        committed: datetime | None = None,
        draft: bool = False,
        prerelease: bool = False,
    ) -> dict[str, Any]:
        """A release of a new tag on a commit made at ``committed`` (an hour before publication by
        default); ``published`` None for a draft."""
        committed = committed or (published or datetime.now(UTC)) - timedelta(hours=1)
        sha = self.add_tag(repo, name=tag, committed=committed)["commit"]["sha"]
        release_id = self.next_id()
        release = {
            "url": f"{self.url}/repos/{repo.full_name}/releases/{release_id}",
            "html_url": f"https://github.com/{repo.full_name}/releases/tag/{tag}",
            "assets_url": f"{self.url}/repos/{repo.full_name}/releases/{release_id}/assets",
            "id": release_id,
            "node_id": f"RE_{release_id}",
            "tag_name": tag,
            "target_commitish": repo.default_branch,
            "name": f"Release {tag}",
            "body": "",
            "draft": draft or published is None,
            "prerelease": prerelease,
            "created_at": iso(committed),  # GitHub: the date of the tag's commit
            "published_at": iso(published) if published and not draft else None,
            "author": {"login": "octocat", "id": 1, "type": "User"},
            "assets": [],
            "sha": sha,  # not GitHub's: the test's handle on the commit (e360 reads it from /commits/{tag})
        }
        repo.releases.append(release)
        return release

    # --- Faults --------------------------------------------------------------------------------

    def expire_tokens_after(self, requests: int) -> None:
        """The installation tokens issued so far stop working after ``requests`` more requests."""
        self.expire_after = requests

    # --- Answering -----------------------------------------------------------------------------

    def answer(self, method: str, target: str, headers: dict[str, str], body: bytes) -> tuple[int, dict, Any]:
        with self.lock:
            self.accept = headers.get("accept", "")
            status, extra, payload = self._answer(method, target, headers, body)
            self.log.append((method, target, status))
            return status, extra, payload

    def _budget_headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.rate_limit),
            "X-RateLimit-Remaining": str(self.rate_remaining),
            "X-RateLimit-Used": str(self.rate_limit - self.rate_remaining),
            "X-RateLimit-Reset": str(int(self.rate_reset.timestamp())),
            "X-RateLimit-Resource": "core",
        }

    def _answer(self, method: str, target: str, headers: dict[str, str], body: bytes) -> tuple[int, dict, Any]:
        split = urlsplit(target)
        path, query = split.path, {k: v[-1] for k, v in parse_qs(split.query).items()}
        if (fault := self.fault(target)) is not None:
            return fault.status, {**self._budget_headers(), **fault.headers}, fault.body
        if method == "POST" and (found := re.fullmatch(r"/app/installations/(\d+)/access_tokens", path)):
            return self._exchange(int(found[1]), headers)
        if not self._authenticated(headers):
            return 401, {}, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}
        if method == "POST" and path == "/graphql":
            return self._graphql(body)
        if self.rate_remaining <= 0:
            return 403, self._budget_headers(), {"message": "API rate limit exceeded for installation."}
        self.rate_remaining -= 1
        status, extra, payload = self._route(method, path, query)
        if status == 200 and headers.get("if-none-match") and headers["if-none-match"] == _etag(payload):
            self.rate_remaining += 1  # a 304 costs nothing
            return 304, {**self._budget_headers(), "ETag": _etag(payload)}, None
        if status == 200:
            extra = {**extra, "ETag": _etag(payload)}
        return status, {**self._budget_headers(), **extra}, payload

    def _authenticated(self, headers: dict[str, str]) -> bool:
        token = headers.get("authorization", "").removeprefix("Bearer ").strip()
        if token in self.tokens:
            return True
        expires = self.installation_tokens.get(token)
        if expires is None or expires <= datetime.now(UTC):
            return False
        if self.expire_after is not None:
            if self.expire_after <= 0:
                for issued in self.installation_tokens:
                    self.installation_tokens[issued] = datetime.now(UTC) - timedelta(seconds=1)
                self.expire_after = None
                return False
            self.expire_after -= 1
        return True

    def _exchange(self, installation_id: int, headers: dict[str, str]) -> tuple[int, dict, Any]:
        token = headers.get("authorization", "").removeprefix("Bearer ").strip()
        try:
            claims = jwt.decode(token, self.private_key.public_key(), algorithms=["RS256"])
        except jwt.PyJWTError:
            return 401, {}, {"message": "A JSON web token could not be decoded"}
        if str(claims.get("iss")) != APP_ID or installation_id != INSTALLATION_ID:
            return 404, {}, {"message": "Not Found"}
        issued = f"ghs_{self.next_id()}"
        expires = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
        self.installation_tokens[issued] = expires
        return 201, {}, {"token": issued, "expires_at": iso(expires), "permissions": {"actions": "read"}}

    def _route(self, method: str, path: str, query: dict[str, str]) -> tuple[int, dict, Any]:
        not_found: tuple[int, dict, Any] = (404, {}, {"message": "Not Found"})
        if path == "/user":
            return 200, {}, {"login": "octocat", "id": 1, "type": "User"}
        if path == "/installation/repositories":
            listed = [repo.summary() for repo in self.repos.values()]
            return self._paged(path, query, listed, total_key="repositories")
        found = re.fullmatch(r"/repos/([^/]+/[^/]+)(/.*)?", path)
        if not found or found[1] not in self.repos:
            return not_found
        repo, rest = self.repos[found[1]], found[2] or ""
        if rest == "":
            return 200, {}, repo.summary()
        if (answer := self._actions(method, repo, rest)) is not None:
            return answer
        if method == "POST" and (run := re.fullmatch(r"/actions/runs/(\d+)/rerun-failed-jobs", rest)):
            self.reruns.append(run[1])
            return 201, {}, {}
        if method != "GET":
            return not_found
        if rest == "/pulls":
            pulls = sorted(repo.pulls, key=lambda p: p["updated_at"], reverse=True)
            return self._paged(path, query, pulls)
        if single := re.fullmatch(r"/pulls/(\d+)", rest):
            pulls = [pull for pull in repo.pulls if pull["number"] == int(single[1])]
            return (200, {}, {**pulls[0], **repo.sizes.get(pulls[0]["number"], {})}) if pulls else not_found
        if pull := re.fullmatch(r"/pulls/(\d+)/(reviews|commits)", rest):
            return self._paged(path, query, getattr(repo, pull[2]).get(int(pull[1]), []))
        if rest == "/deployments":
            return self._paged(path, query, sorted(repo.deployments, key=lambda d: d["created_at"], reverse=True))
        if statuses := re.fullmatch(r"/deployments/(\d+)/statuses", rest):
            return self._paged(path, query, repo.statuses.get(int(statuses[1]), []))
        if rest == "/actions/runs":
            runs = sorted(repo.runs, key=lambda r: r["created_at"], reverse=True)
            if created := query.get("created"):
                runs = [run for run in runs if _in_range(run["created_at"], created)]
            return self._paged(path, query, runs, total_key="workflow_runs", cap=self.runs_cap if created else None)
        if logs := re.fullmatch(r"/actions/runs/(\d+)/logs", rest):
            where = f"https://pipelines.actions.example/{logs[1]}/logs.zip?sig=short-lived"
            return 302, {"Location": where}, None
        if (answer := self._releases_and_tags(repo, path, rest, query)) is not None:
            return answer
        return not_found

    def _releases_and_tags(self, repo: Repo, path: str, rest: str, query: dict[str, str]) -> tuple | None:
        if rest == "/releases":
            listed = sorted(repo.releases, key=lambda r: r["created_at"], reverse=True)
            return self._paged(path, query, [{k: v for k, v in r.items() if k != "sha"} for r in listed])
        if rest == "/tags":
            return self._paged(path, query, sorted(repo.tags, key=lambda t: t["name"], reverse=True))
        if commit := re.fullmatch(r"/git/commits/([0-9a-f]+)", rest):
            found = repo.git_commits.get(commit[1])
            return (200, {}, found) if found else (404, {}, {"message": "Not Found"})
        if commit := re.fullmatch(r"/commits/([^/]+)", rest):
            ref = unquote(commit[1])
            shas = [t["commit"]["sha"] for t in repo.tags if t["name"] == ref] or [
                s for s in repo.git_commits if s == ref
            ]
            if not shas:
                return 422, {}, {"message": f"No commit found for SHA: {ref}"}
            if self.accept == "application/vnd.github.sha":
                return 200, {"Content-Type": "application/vnd.github.sha; charset=utf-8"}, shas[0]
            return 200, {}, {"sha": shas[0], "commit": repo.git_commits.get(shas[0], {})}
        return None

    # --- GraphQL -------------------------------------------------------------------------------

    def _graphql_headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.graphql_limit),
            "X-RateLimit-Remaining": str(self.graphql_remaining),
            "X-RateLimit-Used": str(self.graphql_limit - self.graphql_remaining),
            "X-RateLimit-Reset": str(int(self.rate_reset.timestamp())),
            "X-RateLimit-Resource": "graphql",
        }

    def _graphql(self, body: bytes) -> tuple[int, dict, Any]:
        try:
            request = json.loads(body)
            operation, variables = request["operationName"], request.get("variables") or {}
            assert isinstance(request["query"], str) and isinstance(variables, dict)
        except (ValueError, KeyError, TypeError, AssertionError):
            return 400, {}, {"message": "Problems parsing JSON"}
        error: dict[str, Any]
        if self.graphql_remaining <= 0:
            error = {"type": "RATE_LIMITED", "message": "API rate limit exceeded for user ID 1."}
            return 200, self._graphql_headers(), {"errors": [error]}
        self.graphql_remaining -= 1
        self.operations.append(operation)
        rate = {"cost": 1, "remaining": self.graphql_remaining, "resetAt": iso(self.rate_reset)}
        name = f"{variables.get('owner')}/{variables.get('name')}"
        repo = self.repos.get(name)
        if repo is None:
            error = {
                "type": "NOT_FOUND",
                "path": ["repository"],
                "locations": [{"line": 3, "column": 3}],
                "message": f"Could not resolve to a Repository with the name '{name}'.",
            }
            return 200, self._graphql_headers(), {"data": {"rateLimit": rate, "repository": None}, "errors": [error]}
        inner, first = int(variables["inner"]), int(variables.get("first") or 1)
        if not (1 <= inner <= 100 and 1 <= first <= 100):  # GitHub's limit on ``first``
            error = {"type": "EXCESSIVE_PAGINATION", "message": "Requesting more than 100 records exceeds the limit."}
            return 200, self._graphql_headers(), {"errors": [error]}
        found: dict[str, Any]
        if operation == "PullRequests":
            pulls = sorted(repo.pulls, key=lambda p: p["updated_at"], reverse=True)
            listed = _connection(pulls, first, variables.get("after"))
            listed["nodes"] = [self._graphql_pull(repo, pull, inner) for pull in listed["nodes"]]
            found = {"pullRequests": listed}
        elif operation in ("PullRequestReviews", "PullRequestCommits"):
            pulls = [pull for pull in repo.pulls if pull["number"] == variables["number"]]
            field_name = "reviews" if operation == "PullRequestReviews" else "commits"
            every = self._graphql_pull(repo, pulls[0], 10**6)[field_name]["nodes"] if pulls else []
            found = {"pullRequest": {field_name: _connection(every, inner, variables.get("after"))} if pulls else None}
        else:
            error = {"message": f"Unknown operation {operation}", "type": "UNKNOWN_OPERATION"}
            return 200, self._graphql_headers(), {"errors": [error]}
        return 200, self._graphql_headers(), {"data": {"rateLimit": rate, "repository": found}}

    def _graphql_pull(self, repo: Repo, pull: dict[str, Any], inner: int) -> dict[str, Any]:
        """A pull request as GraphQL's ``PullRequest`` node: the REST object's own data, renamed."""
        number = pull["number"]
        sizes = repo.sizes.get(number, {})
        reviews = [
            {
                "fullDatabaseId": str(review["id"]),
                "author": _actor(review["user"]),
                "state": review["state"],
                "submittedAt": review.get("submitted_at"),
            }
            for review in repo.reviews.get(number, [])
        ]
        commits = [
            {"commit": {"oid": c["sha"], "authoredDate": c["commit"]["author"]["date"]}}
            for c in repo.commits.get(number, [])
        ]
        state = "MERGED" if pull["merged_at"] else pull["state"].upper()
        return {
            "fullDatabaseId": str(pull["id"]),
            "number": number,
            "title": pull["title"],
            "url": pull["html_url"],
            "state": state,
            "isDraft": pull["draft"],
            "createdAt": pull["created_at"],
            "updatedAt": pull["updated_at"],
            "mergedAt": pull["merged_at"],
            "closedAt": pull["closed_at"],
            "additions": sizes.get("additions", 0),
            "deletions": sizes.get("deletions", 0),
            "baseRefName": pull["base"]["ref"],
            "author": _actor(pull["user"]),
            "mergeCommit": {"oid": pull["merge_commit_sha"]} if pull["merged_at"] else None,
            "baseRepository": {"nameWithOwner": pull["base"]["repo"]["full_name"]},
            "reviews": _connection(reviews, inner, None),
            "commits": _connection(commits, inner, None),
        }

    def _paged(
        self,
        path: str,
        query: dict[str, str],
        items: list[Any],
        *,
        total_key: str | None = None,
        cap: int | None = None,
    ) -> tuple[int, dict, Any]:
        per_page = min(int(query.get("per_page", 30)), 100)
        page = int(query.get("page", 1))
        reachable = items[:cap] if cap is not None else items
        chunk = reachable[(page - 1) * per_page : page * per_page]
        last = max(1, -(-len(reachable) // per_page))
        links = []
        if page < last:
            links.append(f'<{self._link(path, query, page + 1)}>; rel="next"')
            links.append(f'<{self._link(path, query, last)}>; rel="last"')
        extra = {"Link": ", ".join(links)} if links else {}
        payload = {"total_count": len(items), total_key: chunk} if total_key else chunk
        return 200, extra, payload

    def _link(self, path: str, query: dict[str, str], page: int) -> str:
        return f"{self.url}{path}?{urlencode({**query, 'page': page})}"


def _cursor(offset: int) -> str:
    return base64.b64encode(f"cursor:v2:{offset}".encode()).decode()


def _connection(items: list[Any], first: int, after: str | None) -> dict[str, Any]:
    """A GraphQL connection's page: ``first`` items after the cursor ``after``."""
    start = int(base64.b64decode(after).decode().rpartition(":")[2]) if after else 0
    chunk = items[start : start + first]
    end = start + len(chunk)
    return {
        "pageInfo": {"hasNextPage": end < len(items), "endCursor": _cursor(end) if chunk else None},
        "nodes": list(chunk),
    }


def _actor(user: dict[str, Any]) -> dict[str, Any]:
    """A REST user as GraphQL's actor: a bot's login without REST's ``[bot]``."""
    login = user["login"]
    if user.get("type") == "Bot":
        return {"__typename": "Bot", "login": login.removesuffix("[bot]")}
    return {"__typename": "User", "login": login}


def _etag(payload: Any) -> str:
    return 'W/"' + hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:32] + '"'


def _in_range(created_at: str, wanted: str) -> bool:
    moment = _parse(created_at)
    if wanted.startswith(">="):
        return moment >= _parse(wanted[2:])
    start, _, end = wanted.partition("..")
    return _parse(start) <= moment <= _parse(end)


@contextmanager
def served() -> Iterator[FakeGitHub]:
    """A loopback GitHub serving in a thread until the block ends; ``.url`` is its API root.
    (The ``fake_github`` fixture; ``manage.py bench_integrations`` backfills from one too.)"""
    fake = FakeGitHub()
    with serving(lambda request: fake.answer(request.method, request.target, request.headers, request.body)) as url:
        fake.url = url
        yield fake


@pytest.fixture(name="fake_github")
def serve_fake_github() -> Iterator[FakeGitHub]:
    """A loopback GitHub, serving until the test ends; ``fake_github.url`` is its API root."""
    with served() as fake:
        yield fake

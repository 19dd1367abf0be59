"""GitHub's REST API for a connection: what the backfill, the sync, the admin's test and the
self-service actions (re-run failed jobs, fetch a run's logs) call.

Authentication, in the order tried:

- **a GitHub App** (``app_id``, ``app_private_key``, ``installation_id``): a JWT signed with the
  App's key (RS256, valid 9 minutes, ``iat`` a minute back for clock drift) is exchanged for an
  installation token (``POST /app/installations/{id}/access_tokens``), kept encrypted in
  ``Connection.access_token`` until five minutes before it expires; a 401 fetches a new one once,
  so a token that expires in the middle of a backfill does not stop it;
- **a fine-grained token** (``api_token``).

Requests, pages, budget and errors are ``integrations.http``'s.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import jwt
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from integrations.http import ApiClient, ApiError, IntegrationError, Page
from integrations.models import Connection

HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
PER_PAGE = 100
# An installation token lives an hour; one this close to its end is replaced before use.
TOKEN_MARGIN = timedelta(minutes=5)
# GitHub stops at 1,000 results for a workflow-run query filtered on ``created`` (and the like).
RUNS_RESULT_CAP = 1000


class NotConfigured(IntegrationError):
    """The connection has neither a GitHub App nor a token."""


def app_jwt(app_id: str, private_key: str, *, now: datetime | None = None) -> str:
    """The JWT a GitHub App authenticates as itself with: RS256, ``iss`` the App's id."""
    moment = int((now or timezone.now()).timestamp())
    claims = {"iat": moment - 60, "exp": moment + 9 * 60, "iss": str(app_id)}
    try:
        return jwt.encode(claims, private_key, algorithm="RS256")
    except (ValueError, TypeError, jwt.PyJWTError):
        raise NotConfigured("the GitHub App's private key cannot sign (is it the PEM file GitHub gave?)") from None


class TokenCredentials:
    """A fine-grained personal access token: nothing to refresh."""

    def __init__(self, token: str) -> None:
        self._token = token

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"}

    def refresh(self) -> bool:
        return False


class AppCredentials:
    """A GitHub App installation's token, exchanged for a JWT and kept on the connection."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.api: ApiClient | None = None  # set by GitHub: the exchange goes through the same layer

    def headers(self) -> dict[str, str]:
        connection = self.connection
        expires = connection.access_token_expires_at
        if not connection.access_token or expires is None or expires - TOKEN_MARGIN <= timezone.now():
            self._exchange()
        return {"Authorization": f"Bearer {connection.access_token}"}

    def refresh(self) -> bool:
        self._exchange()
        return True

    def _exchange(self) -> None:
        connection = self.connection
        assert self.api is not None
        token = app_jwt(connection.app_id, connection.app_private_key)
        response = self.api.request(
            "POST",
            f"app/installations/{connection.installation_id}/access_tokens",
            headers={"Authorization": f"Bearer {token}"},
            authenticate=False,
            budget=False,
        )
        body = response.json() if response.status_code == 201 else {}
        expires_at = parse_datetime(str(body.get("expires_at") or ""))
        if not body.get("token") or expires_at is None:
            raise ApiError("GitHub gave no installation token (is the App installed?)", response.status_code)
        connection.access_token, connection.access_token_expires_at = body["token"], expires_at
        Connection.objects.filter(pk=connection.pk).update(
            access_token=connection.access_token, access_token_expires_at=expires_at
        )


def _moment(value: datetime) -> str:
    return f"{value:%Y-%m-%dT%H:%M:%SZ}"


_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_CREATED = re.compile(r"^(?:>=(?P<since>[0-9T:-]+Z)|(?P<start>[0-9T:-]+Z)\.\.(?P<end>[0-9T:-]+Z))$")


def created_range(url: str) -> tuple[datetime, datetime | None] | None:
    """The ``created`` filter of a workflow-run URL made by ``runs_url``: (start, end or None)."""
    found = _CREATED.match(httpx.URL(url).params.get("created", ""))
    if not found:
        return None
    if found["since"]:
        since = parse_datetime(found["since"])
        return (since, None) if since else None
    start, end = parse_datetime(found["start"]), parse_datetime(found["end"])
    return (start, end) if start and end else None


class GitHub:
    """GitHub's REST API for one connection (``with GitHub(connection) as github: ...``)."""

    def __init__(self, connection: Connection, **options: Any) -> None:
        self.connection = connection
        if connection.app_id and connection.app_private_key and connection.installation_id:
            credentials: AppCredentials | TokenCredentials = AppCredentials(connection)
        elif connection.api_token:
            credentials = TokenCredentials(connection.api_token)
        else:
            raise NotConfigured("this GitHub source has neither a GitHub App installation nor a token")
        self.api = ApiClient(connection, credentials=credentials, name="GitHub", headers=HEADERS, **options)
        if isinstance(credentials, AppCredentials):
            credentials.api = self.api
        self.is_app = isinstance(credentials, AppCredentials)

    def close(self) -> None:
        self.api.close()

    def __enter__(self) -> GitHub:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- Repositories ----------------------------------------------------------------------------

    def installation_repositories(self) -> list[dict[str, Any]]:
        return self.api.all_items("installation/repositories", {"per_page": PER_PAGE}, key="repositories")

    def repositories(self) -> list[str]:
        """The repositories to sync (``owner/name``): the connection's list, else the installation's."""
        if self.connection.repositories:
            return sorted(self.connection.repositories)
        if self.is_app:
            return sorted(repo["full_name"] for repo in self.installation_repositories())
        return []

    def repository(self, full_name: str) -> dict[str, Any]:
        return self.api.get_json(f"repos/{full_name}")

    # --- Listings: the first page's URL (a cursor stores it), then ``page`` -------------------------

    def page(self, url: str, *, etag: str = "") -> Page:
        return self.api.get_page(url, etag=etag)

    def pulls_url(self, full_name: str) -> str:
        """Pull requests, most recently updated first: a walk stops at the first one older than it needs."""
        params = {"state": "all", "sort": "updated", "direction": "desc", "per_page": PER_PAGE}
        return self.api.url(f"repos/{full_name}/pulls", params)

    def deployments_url(self, full_name: str) -> str:
        return self.api.url(f"repos/{full_name}/deployments", {"per_page": PER_PAGE})

    def releases_url(self, full_name: str) -> str:
        """Releases, newest first (by creation); drafts are listed only to those who may push."""
        return self.api.url(f"repos/{full_name}/releases", {"per_page": PER_PAGE})

    def tags_url(self, full_name: str) -> str:
        """Tags with their commit's sha, listed by name (not by date), without a date."""
        return self.api.url(f"repos/{full_name}/tags", {"per_page": PER_PAGE})

    def runs_url(self, full_name: str, start: datetime, end: datetime | None = None) -> str:
        """Workflow runs created from ``start`` (to ``end``), newest first. GitHub answers at most
        1,000 results for a query filtered on ``created``: a range whose ``total_count`` is larger
        has to be cut (``created_range`` reads it back from a URL)."""
        created = f"{_moment(start)}..{_moment(end)}" if end else f">={_moment(start)}"
        return self.api.url(f"repos/{full_name}/actions/runs", {"created": created, "per_page": PER_PAGE})

    # --- Sub-resources, read whole -------------------------------------------------------------------

    def pull(self, full_name: str, number: int) -> dict[str, Any]:
        """One pull request in full: unlike the list, with its size (``additions``, ``deletions``)."""
        return self.api.get_json(f"repos/{full_name}/pulls/{number}")

    def pull_reviews(self, full_name: str, number: int) -> list[dict[str, Any]]:
        return self.api.all_items(f"repos/{full_name}/pulls/{number}/reviews", {"per_page": PER_PAGE})

    def pull_commits(self, full_name: str, number: int) -> list[dict[str, Any]]:
        """The pull request's commits (GitHub lists at most 250)."""
        return self.api.all_items(f"repos/{full_name}/pulls/{number}/commits", {"per_page": PER_PAGE})

    def deployment_statuses(self, full_name: str, deployment_id: int) -> list[dict[str, Any]]:
        """The deployment's statuses, newest first."""
        return self.api.all_items(f"repos/{full_name}/deployments/{deployment_id}/statuses", {"per_page": PER_PAGE})

    def commit_sha(self, full_name: str, ref: str) -> str:
        """The commit a ref (a tag, annotated or not; a branch) names, in one small request: GitHub
        answers ``GET .../commits/{ref}`` with the sha alone, as text, under its sha media type."""
        response = self.api.request(
            "GET", f"repos/{full_name}/commits/{quote(ref, safe='')}", headers={"Accept": "application/vnd.github.sha"}
        )
        sha = response.text.strip()
        if response.status_code != 200 or not _SHA.fullmatch(sha):
            raise ApiError(f"GitHub gave no commit for {ref[:100]!r} in {full_name} ({response.status_code})", 0)
        return sha

    def git_commit(self, full_name: str, sha: str) -> dict[str, Any]:
        """A commit as git stores it (its author's and committer's dates; no diff, unlike ``.../commits/{sha}``)."""
        return self.api.get_json(f"repos/{full_name}/git/commits/{sha}")

    # --- Actions ---------------------------------------------------------------------------------

    def rerun_failed_jobs(self, full_name: str, run_id: int) -> None:
        """Re-run the failed jobs of a workflow run (and what depends on them): 201, no body."""
        self.api.request("POST", f"repos/{full_name}/actions/runs/{run_id}/rerun-failed-jobs")

    def run_logs_url(self, full_name: str, run_id: int) -> str:
        """Where the run's logs archive can be downloaded for a minute: GitHub's 302 ``Location``,
        not followed (the archive is the browser's to fetch, not the worker's memory's)."""
        response = self.api.request("GET", f"repos/{full_name}/actions/runs/{run_id}/logs")
        location = response.headers.get("location", "")
        if response.status_code != 302 or not location:
            raise ApiError(f"GitHub gave no logs address for run {run_id} ({response.status_code})", 0)
        return location

    # --- The admin's test ------------------------------------------------------------------------

    def test_connection(self) -> str:
        """One real call that says what the credentials see; raises ``IntegrationError`` with the reason."""
        if self.is_app:
            listed = self.api.get_page("installation/repositories", {"per_page": 1})
            total = listed.data.get("total_count", 0) if isinstance(listed.data, dict) else 0
            return f"Connected as GitHub App {self.connection.app_id}: the installation sees {total} repositories."
        if not self.connection.repositories:
            user = self.api.get_json("user")
            return f"Connected as {user.get('login', '?')}; name the repositories to sync."
        names = sorted(self.connection.repositories)
        for name in names:
            self.repository(name)
        return f"Connected: {len(names)} repositories readable ({', '.join(names[:5])}{'…' if len(names) > 5 else ''})."


def test_connection(connection: Connection) -> tuple[bool, str]:
    """The admin's "Test the connection" (``integrations.health.check_connection``): one real call."""
    try:
        with GitHub(connection) as github:
            return True, github.test_connection()
    except IntegrationError as exc:
        return False, str(exc)


test_connection.__test__ = False  # type: ignore[attr-defined]  # a product function, not a test, where imported

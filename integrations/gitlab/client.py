"""GitLab's REST API (v4) for a connection: what the backfill, the incremental sync and the admin's
test call, on gitlab.com or a self-managed instance (``Connection.api_url``, ``…/api/v4``).

Authentication: a project, group or personal access token (``api_token``) with the ``read_api``
scope, sent in ``PRIVATE-TOKEN``. A project is named by its path (``group/sub/project``), sent
URL-encoded as its id (``projects/group%2Fsub%2Fproject``).

Listings use GitLab's offset pagination: ``Link`` with ``rel="next"`` (and ``x-next-page``, which
``integrations.http`` follows where ``Link`` is missing). GitLab offers keyset pagination for
projects, groups, jobs and a few others, not for merge requests, deployments or pipelines: those
are walked by update time instead (``updated_after``, ``order_by=updated_at``, ``sort=desc``), so
a walk stops at ``since`` and never needs a deep offset. Requests, pages, ETags, the rate budget
(GitLab's ``RateLimit-*`` headers, 429 with ``Retry-After``) and errors are ``integrations.http``'s.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from integrations.http import ApiClient, ApiError, IntegrationError, Page, RateHeaders
from integrations.models import Connection

PER_PAGE = 100
# GitLab's ``RateLimit-Limit``, ``-Remaining`` and ``-Reset`` (a Unix time), on every answer of a rate-limited path.
RATE_HEADERS = RateHeaders(prefix="ratelimit-")


class NotConfigured(IntegrationError):
    """The connection has no access token."""


class PrivateToken:
    """A GitLab access token: nothing to refresh (GitLab's tokens are rotated by hand)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def headers(self) -> dict[str, str]:
        return {"PRIVATE-TOKEN": self._token}

    def refresh(self) -> bool:
        return False


def project_path(value: object) -> str:
    """A project as an admin may name it — ``group/sub/project``, with slashes around, ``.git``
    after, or its web URL — as its path with namespace ("" for nothing usable)."""
    text = value.strip() if isinstance(value, str) else ""
    if "://" in text:
        text = urlsplit(text).path
    return text.strip("/").removesuffix(".git").strip("/")


def _moment(value: datetime) -> str:
    return f"{value.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"


class GitLab:
    """GitLab's REST API for one connection (``with GitLab(connection) as gitlab: ...``)."""

    def __init__(self, connection: Connection, **options: Any) -> None:
        self.connection = connection
        if not connection.api_token:
            raise NotConfigured("this GitLab source has no access token (a read_api token is needed)")
        self.api = ApiClient(
            connection,
            credentials=PrivateToken(connection.api_token),
            name="GitLab",
            rate_headers=RATE_HEADERS,
            **options,
        )
        self._projects: dict[str, dict[str, Any]] = {}

    def close(self) -> None:
        self.api.close()

    def __enter__(self) -> GitLab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- Projects --------------------------------------------------------------------------------

    @staticmethod
    def _id(path: str) -> str:
        return quote(project_path(path), safe="")

    def project(self, path: str) -> dict[str, Any]:
        """``GET /projects/:id``, once per client: its ``web_url`` names the repository, and its
        ``default_branch`` tells default-branch pipelines."""
        key = project_path(path)
        if key not in self._projects:
            try:
                found = self.api.get_json(f"projects/{self._id(key)}")
            except ApiError as exc:
                if exc.status == 404:
                    raise ApiError(
                        f"GitLab has no project {key} that this token can read (check the path, and that the "
                        "token's user or bot is a member of it)",
                        404,
                    ) from None
                raise
            if not isinstance(found, dict):
                raise ApiError(f"GitLab sent no project for {key}", 0)
            self._projects[key] = found
        return self._projects[key]

    # --- Listings: the first page's URL (a cursor stores it), then ``page`` ----------------------------

    def page(self, url: str, *, etag: str = "") -> Page:
        return self.api.get_page(url, etag=etag)

    def _updated_since(self, path: str, resource: str, since: datetime, **params: Any) -> str:
        query = {"updated_after": _moment(since), "order_by": "updated_at", "sort": "desc", "per_page": PER_PAGE}
        return self.api.url(f"projects/{self._id(path)}/{resource}", {**params, **query})

    def merge_requests_url(self, path: str, since: datetime) -> str:
        """Merge requests of every state updated since ``since``, the most recently updated first."""
        return self._updated_since(path, "merge_requests", since, state="all")

    def deployments_url(self, path: str, since: datetime) -> str:
        return self._updated_since(path, "deployments", since)

    def pipelines_url(self, path: str, since: datetime) -> str:
        return self._updated_since(path, "pipelines", since)

    # --- Sub-resources, read whole ---------------------------------------------------------------------

    def merge_request_notes(self, path: str, iid: int) -> list[dict[str, Any]]:
        """Comments and system notes (an approval's among them), oldest first."""
        params = {"sort": "asc", "order_by": "created_at", "per_page": PER_PAGE}
        return self.api.all_items(f"projects/{self._id(path)}/merge_requests/{iid}/notes", params)

    def merge_request_commits(self, path: str, iid: int) -> list[dict[str, Any]]:
        return self.api.all_items(f"projects/{self._id(path)}/merge_requests/{iid}/commits", {"per_page": PER_PAGE})

    def pipeline(self, path: str, pipeline_id: int) -> dict[str, Any]:
        """One pipeline in full: unlike the list, with ``started_at``, ``finished_at`` and ``duration``."""
        return self.api.get_json(f"projects/{self._id(path)}/pipelines/{pipeline_id}")

    # --- The admin's test ------------------------------------------------------------------------

    def test_connection(self) -> str:
        """Real calls that say who the token is and which projects it reads; raises
        ``IntegrationError`` with the reason (naming the first project it cannot read)."""
        user = self.api.get_json("user")
        who = user.get("username", "?") if isinstance(user, dict) else "?"
        paths = sorted({project_path(name) for name in self.connection.repositories if project_path(name)})
        if not paths:
            return f"Connected as {who}; name the projects to backfill (group/project)."
        for path in paths:
            self.project(path)
        listed = ", ".join(paths[:5]) + ("…" if len(paths) > 5 else "")
        return f"Connected as {who}: {len(paths)} projects readable ({listed})."


def test_connection(connection: Connection) -> tuple[bool, str]:
    """The admin's "Test the connection" (``integrations.health.check_connection``): real calls."""
    try:
        with GitLab(connection) as gitlab:
            return True, gitlab.test_connection()
    except IntegrationError as exc:
        return False, str(exc)


test_connection.__test__ = False  # type: ignore[attr-defined]  # a product function, not a test, where imported

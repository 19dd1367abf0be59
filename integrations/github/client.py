"""GitHub's REST and GraphQL APIs for a connection: what the backfill, the sync, the admin's test
and the self-service actions (re-run failed jobs, fetch a run's logs) call.

GraphQL (``POST {API root}/graphql``; on GitHub Enterprise Server ``{host}/api/graphql``, the REST
API being at ``{host}/api/v3``) reads pull requests with their reviews and commits, one request a
page where REST needs three more a pull request. Its answers go through the same layer (budget,
secondary limits, retries); what only GraphQL does is ``graphql``'s: errors in a 200 body.

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
# Pull requests a GraphQL page, and the reviews and commits read with each (the rest, rarely
# any, by a query of their own). 50 x (100 + 100) nodes costs 1 point and stays well within
# GitHub's 10-second limit on a query; 100 pull requests a page risk it on big repositories.
GRAPHQL_PER_PAGE = 50
GRAPHQL_INNER = 100

# --- GraphQL queries: variables only, no text is ever built from data --------------------------

_REVIEW_FIELDS = (
    "fragment ReviewFields on PullRequestReview { fullDatabaseId author { __typename login } state submittedAt }"
)
_COMMIT_FIELDS = "fragment CommitFields on PullRequestCommit { commit { oid authoredDate } }"
# What ``records.pull_request_from_graphql`` reads.
PULL_REQUEST_FIELDS = """fragment PullRequestFields on PullRequest {
  fullDatabaseId number title url state isDraft createdAt updatedAt mergedAt closedAt
  additions deletions baseRefName
  author { __typename login }
  mergeCommit { oid }
  baseRepository { nameWithOwner }
  reviews(first: $inner) { pageInfo { hasNextPage endCursor } nodes { ...ReviewFields } }
  commits(first: $inner) { pageInfo { hasNextPage endCursor } nodes { ...CommitFields } }
}"""
PULLS_QUERY = f"""query PullRequests($owner: String!, $name: String!, $first: Int!, $inner: Int!, $after: String) {{
  rateLimit {{ cost remaining resetAt }}
  repository(owner: $owner, name: $name) {{
    pullRequests(first: $first, after: $after, orderBy: {{field: UPDATED_AT, direction: DESC}}) {{
      pageInfo {{ hasNextPage endCursor }}
      nodes {{ ...PullRequestFields }}
    }}
  }}
}}
{PULL_REQUEST_FIELDS}
{_REVIEW_FIELDS}
{_COMMIT_FIELDS}"""
# The rest of one pull request's reviews or commits (past the first ``GRAPHQL_INNER``).
PULL_CONNECTION_QUERIES = {
    name: f"""query {operation}($owner: String!, $name: String!, $number: Int!, $inner: Int!, $after: String) {{
  rateLimit {{ cost remaining resetAt }}
  repository(owner: $owner, name: $name) {{
    pullRequest(number: $number) {{
      {name}(first: $inner, after: $after) {{ pageInfo {{ hasNextPage endCursor }} nodes {{ ...{fragment} }} }}
    }}
  }}
}}
{fields}"""
    for name, operation, fragment, fields in (
        ("reviews", "PullRequestReviews", "ReviewFields", _REVIEW_FIELDS),
        ("commits", "PullRequestCommits", "CommitFields", _COMMIT_FIELDS),
    )
}
# GraphQL's own error types for a spent budget (GitHub has sent both spellings).
GRAPHQL_RATE_LIMITED = frozenset({"RATE_LIMITED", "RATE_LIMIT"})


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


def graphql_endpoint(base_url: str) -> str:
    """GitHub's GraphQL endpoint for a REST API root: ``https://api.github.com/graphql`` (and
    ``https://api.<name>.ghe.com/graphql``); on GitHub Enterprise Server, whose REST API is at
    ``https://<host>/api/v3``, ``https://<host>/api/graphql``."""
    root = httpx.URL(base_url.rstrip("/") + "/")
    path = root.path.rstrip("/")
    path = path.removesuffix("/v3") + "/graphql" if path.endswith("/api/v3") else path + "/graphql"
    return str(root.copy_with(path=path, query=None, fragment=None))


class GitHub:
    """GitHub's REST and GraphQL APIs for one connection (``with GitHub(connection) as github: ...``)."""

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
        self.graphql_url = graphql_endpoint(connection.base_url)
        self.points = 0  # GraphQL points spent (``rateLimit.cost``), for the benchmark and the tests

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

    # --- GraphQL ---------------------------------------------------------------------------------

    def graphql(self, operation: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        """One GraphQL query's ``data``. HTTP errors are the layer's (a 403 or 429 with
        ``Retry-After`` pauses the connection); errors in a 200 body raise here: a spent budget
        (``RATE_LIMITED``) pauses until ``Retry-After`` or ``X-RateLimit-Reset`` (else a minute),
        ``NOT_FOUND`` and ``FORBIDDEN`` say what was not seen, anything else says GitHub's message."""
        response = self.api.request(
            "POST", self.graphql_url, json={"query": query, "variables": variables, "operationName": operation}
        )
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise ApiError(f"GitHub's GraphQL API sent something other than a JSON object for {operation}", 0)
        errors = [error for error in body.get("errors") or [] if isinstance(error, dict)]
        if errors or body.get("errors"):
            raise self._graphql_error(operation, variables, errors, response)
        data = body.get("data")
        if not isinstance(data, dict):
            raise ApiError(f"GitHub's GraphQL API answered {operation} without data", 0)
        cost = (data.get("rateLimit") or {}).get("cost")
        self.points += cost if isinstance(cost, int) else 1
        return data

    def _graphql_error(
        self, operation: str, variables: dict[str, Any], errors: list[dict[str, Any]], response: httpx.Response
    ) -> IntegrationError:
        types = {str(error.get("type") or "") for error in errors}
        said = str((errors[0].get("message") if errors else "") or "an error without a message")[:300]
        where = f"{operation} of {variables.get('owner')}/{variables.get('name')}"
        if types & GRAPHQL_RATE_LIMITED or any(error.get("code") == "graphql_rate_limit" for error in errors):
            until = self.api.resume_at(response.headers, timezone.now())
            return self.api.pause(until, f"the GraphQL rate limit is spent ({where}: {said})")
        if "NOT_FOUND" in types:
            return ApiError(f"GitHub found nothing for {where} (or the credentials may not see it): {said}", 404)
        if "FORBIDDEN" in types:
            return ApiError(f"GitHub refused {where}: {said} (check the permissions)", 403)
        return ApiError(f"GitHub's GraphQL API refused {where}: {said}", 0)

    def pulls_probe_url(self, full_name: str) -> str:
        """The pull request updated last, by REST: its ETag changes with any pull request's update,
        so a walk asks for it with ``If-None-Match`` and reads GraphQL only when it changed (GraphQL
        has no conditional requests: a 304 is free, a query is not)."""
        params = {"state": "all", "sort": "updated", "direction": "desc", "per_page": 1}
        return self.api.url(f"repos/{full_name}/pulls", params)

    def pulls_graphql_url(self, after: str = "") -> str:
        """Where a walk of pull requests by GraphQL stands, as a cursor stores it: the endpoint, with
        the page's GraphQL cursor as ``after`` (read back by ``graphql_after``, never sent)."""
        return str(httpx.URL(self.graphql_url).copy_merge_params({"after": after})) if after else self.graphql_url

    def is_graphql(self, url: str) -> bool:
        return url.split("?", 1)[0] == self.graphql_url

    @staticmethod
    def graphql_after(url: str) -> str:
        return httpx.URL(url).params.get("after", "")

    def pulls_graphql(self, full_name: str, after: str = "") -> tuple[list[dict[str, Any]], str]:
        """A page of pull requests, most recently updated first, each with its first reviews and
        commits (``pull_in_full`` reads the rest); and the next page's cursor ("" after the last)."""
        owner, name = full_name.split("/", 1)
        variables = {
            "owner": owner,
            "name": name,
            "first": GRAPHQL_PER_PAGE,
            "inner": GRAPHQL_INNER,
            "after": after or None,
        }
        data = self.graphql("PullRequests", PULLS_QUERY, variables)
        found = _graphql_connection(_graphql_object(data, "repository", full_name), "pullRequests", full_name)
        page = found.get("pageInfo") or {}
        following = str(page.get("endCursor") or "") if page.get("hasNextPage") else ""
        return [node for node in found["nodes"] if isinstance(node, dict)], following

    def pull_in_full(self, full_name: str, node: dict[str, Any]) -> dict[str, Any]:
        """The pull request node with all its reviews and commits: a query a further hundred for a
        connection the page did not give whole (``pageInfo.hasNextPage``). GitHub lists at most
        250 commits of a pull request, as REST does."""
        owner, name = full_name.split("/", 1)
        for field_name, query in PULL_CONNECTION_QUERIES.items():
            listed = node.get(field_name)
            if not isinstance(listed, dict):
                listed = {}
            page, nodes = listed.get("pageInfo") or {}, list(listed.get("nodes") or [])
            while page.get("hasNextPage") and page.get("endCursor"):
                variables = {
                    "owner": owner,
                    "name": name,
                    "number": node.get("number"),
                    "inner": GRAPHQL_INNER,
                    "after": page["endCursor"],
                }
                operation = "PullRequestReviews" if field_name == "reviews" else "PullRequestCommits"
                data = self.graphql(operation, query, variables)
                pull = _graphql_object(_graphql_object(data, "repository", full_name), "pullRequest", full_name)
                more = _graphql_connection(pull, field_name, full_name)
                nodes.extend(more["nodes"])
                page = more.get("pageInfo") or {}
            node = {**node, field_name: {"pageInfo": {"hasNextPage": False}, "nodes": nodes}}
        return node

    # --- Actions ---------------------------------------------------------------------------------

    def rerun_failed_jobs(self, full_name: str, run_id: int) -> None:
        """Re-run the failed jobs of a workflow run (and what depends on them): 201, no body."""
        self.api.request("POST", f"repos/{full_name}/actions/runs/{run_id}/rerun-failed-jobs")

    def run_logs_url(self, full_name: str, run_id: int, *, attempt: int | None = None) -> str:
        """Where the run's logs archive (of its latest attempt, or of ``attempt``) can be downloaded for
        a minute: GitHub's 302 ``Location``, not followed (the archive is on another host, read without
        these credentials: ``actions.selfservice`` streams it)."""
        path = f"repos/{full_name}/actions/runs/{run_id}" + (f"/attempts/{attempt}" if attempt else "")
        response = self.api.request("GET", f"{path}/logs")
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


def _graphql_object(data: dict[str, Any], name: str, full_name: str) -> dict[str, Any]:
    found = data.get(name)
    if not isinstance(found, dict):
        raise ApiError(f"GitHub's GraphQL API found no {name} for {full_name} (or the credentials may not see it)", 404)
    return found


def _graphql_connection(obj: dict[str, Any], name: str, full_name: str) -> dict[str, Any]:
    found = obj.get(name)
    if not isinstance(found, dict) or not isinstance(found.get("nodes"), list):
        raise ApiError(f"GitHub's GraphQL API sent {name} of {full_name} without a list of nodes", 0)
    return found


def test_connection(connection: Connection) -> tuple[bool, str]:
    """The admin's "Test the connection" (``integrations.health.check_connection``): one real call."""
    try:
        with GitHub(connection) as github:
            return True, github.test_connection()
    except IntegrationError as exc:
        return False, str(exc)


test_connection.__test__ = False  # type: ignore[attr-defined]  # a product function, not a test, where imported

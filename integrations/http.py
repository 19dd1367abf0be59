"""The HTTP layer every provider's REST client stands on (GitHub's, GitLab's), bound to a ``Connection``.

What it does for them, so that no provider repeats it:

- **Pagination** by the ``Link`` header's ``rel="next"`` (``Page.next_url``): the next page's URL
  is stored as it is (``SyncCursor.next_url``), so a walk resumes from it after a crash.
- **Pagination by ``x-next-page``** too (GitLab's offset pagination, which sends it beside ``Link``):
  without a ``rel="next"``, the same URL with ``page`` set to it.
- **Conditional requests**: ``get_page(url, etag=...)`` sends ``If-None-Match``; a 304 comes back
  as a page with ``not_modified`` set and is counted (``not_modified``); GitHub does not count it
  against its rate limit (GitLab does).
- **One rate budget per connection**: every answer's rate headers (GitHub's ``X-RateLimit-*`` with a
  Unix reset time by default; ``RateHeaders`` names another provider's: GitLab's ``RateLimit-*``,
  PagerDuty's ``ratelimit-*`` whose reset is in seconds from now) are written to the
  ``Connection`` row in one conditional UPDATE (the lower ``remaining`` of a window wins, an older
  window never overwrites a newer one), and each request first reads it back: at or below ``floor``
  requests left, or before ``paused_until``, ``RateLimited(resume_at)`` is raised and nothing is
  sent. Nothing here sleeps: the task that gets ``RateLimited`` reschedules itself.
- **Secondary limits** (403 or 429 with ``Retry-After``, or with ``X-RateLimit-Remaining: 0``, or a
  429 or a message naming a rate limit alone: a minute) set ``Connection.paused_until``, so that no
  other task of the connection calls meanwhile, and raise ``RateLimited``.
- **Server errors and timeouts** are retried ``retries`` times with a short growing backoff, then
  raised as ``ProviderUnavailable``; other answers are ``ApiError`` with the provider's own message
  (``message``, ``error``, or ``error.message`` with its ``error.errors``, as PagerDuty sends it).
- **Credentials** come from a ``Credentials`` object; a 401 asks it to refresh once (a GitHub App's
  installation token that expired) and the request is sent again. No header, token or query
  string is ever logged or put in an exception's message; a URL on another origin than the
  connection's API is refused, so a token never leaves for another host.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

import httpx
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone

from integrations.models import Connection

logger = logging.getLogger(__name__)

# Below this many requests left in the window, a connection's tasks wait for the reset: the
# webhooks' follow-up calls and an admin's "test the connection" keep a little room.
RATE_FLOOR = 50
# A secondary limit that names no time: GitHub asks for at least a minute.
SECONDARY_LIMIT_WAIT = timedelta(minutes=1)
TIMEOUT = httpx.Timeout(20.0, connect=5.0)
# Seconds before the first retry of a server error, doubled for each next one.
BACKOFF = 0.5


class IntegrationError(Exception):
    """A call to a provider failed; the message is for an admin (source health, the admin's test)."""


class RateLimited(IntegrationError):
    """No request may be made before ``resume_at``: reschedule, do not sleep."""

    def __init__(self, message: str, resume_at: datetime) -> None:
        super().__init__(message)
        self.resume_at = resume_at


class Unauthorized(IntegrationError):
    """The provider refused the credentials (401)."""


class ApiError(IntegrationError):
    """A 4xx other than 401 and the rate limits (or an unexpected answer): ``status`` says which."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class ProviderUnavailable(IntegrationError):
    """Server errors or timeouts, still after the retries."""


class Credentials(Protocol):
    def headers(self) -> dict[str, str]:
        """The ``Authorization`` (or provider's) header for the next request."""
        ...

    def refresh(self) -> bool:
        """After a 401: get new credentials; whether there are new ones to try once more."""
        ...


@dataclass(frozen=True)
class Page:
    """One page of a listing: its JSON (``data``), the next page's URL, its ETag, or a 304."""

    url: str
    data: Any = None
    next_url: str = ""
    etag: str = ""
    not_modified: bool = False

    def items(self, key: str | None = None) -> list[Any]:
        """The page's records: the JSON list, or the list under ``key`` (GitHub's ``workflow_runs``)."""
        if self.not_modified or self.data is None:
            return []
        found = self.data.get(key) if key and isinstance(self.data, dict) else self.data
        return list(found) if isinstance(found, list) else []


@dataclass(frozen=True)
class RateHeaders:
    """Which headers carry a provider's rate budget (``<prefix>limit``, ``-remaining``, ``-reset``) and
    what the reset is: a Unix time (GitHub's ``X-RateLimit-Reset``) or seconds from now (PagerDuty's
    ``ratelimit-reset``, as the IETF RateLimit header fields draft has it)."""

    prefix: str = "x-ratelimit-"
    reset_in_seconds: bool = False

    def get(self, headers: Mapping[str, str], name: str) -> str:
        return headers.get(self.prefix + name, "").strip()

    def reset_at(self, headers: Mapping[str, str], now: datetime) -> datetime | None:
        reset = self.get(headers, "reset")
        if not reset.isdigit():
            return None
        if self.reset_in_seconds:
            # Whole seconds, so that answers of one window name the same reset (the budget's UPDATE).
            return (now + timedelta(seconds=int(reset))).replace(microsecond=0)
        return datetime.fromtimestamp(int(reset), tz=UTC)


GITHUB_RATE_HEADERS = RateHeaders()


def _retry_after(headers: Mapping[str, str], now: datetime) -> datetime | None:
    value = headers.get("retry-after", "").strip()
    if value.isdigit():
        return now + timedelta(seconds=int(value))
    if value:
        try:
            return parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
    return None


def _message(response: httpx.Response) -> str:
    """The provider's own explanation of an error (GitHub's and GitLab's ``message``), shortened."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    found = body.get("message") or body.get("error") or ""
    if isinstance(found, dict):  # PagerDuty: {"error": {"message": ..., "code": ..., "errors": [...]}}
        details = [str(item) for item in found.get("errors") or () if isinstance(item, str)]
        found = "; ".join([str(found.get("message") or ""), *details]).strip("; ")
    if (detail := body.get("error_description")) and found:  # OAuth's shape: GitLab's insufficient_scope
        found = f"{found}: {detail}"
    return str(found)[:300]


class ApiClient:
    """Requests to one connection's API with its credentials, budget and pause; see the module's doc.

    ``requests`` and ``not_modified`` count what this client sent and what came back 304, for a
    backfill's counters. ``name`` is the provider as an admin reads it in the messages ("GitHub").
    """

    def __init__(
        self,
        connection: Connection,
        *,
        credentials: Credentials,
        name: str,
        headers: Mapping[str, str] | None = None,
        floor: int = RATE_FLOOR,
        retries: int = 2,
        backoff: float | None = None,
        rate_headers: RateHeaders = GITHUB_RATE_HEADERS,
        timeout: httpx.Timeout = TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.connection = connection
        self.credentials = credentials
        self.name = name
        self.floor = floor
        self.retries = retries
        self.backoff = BACKOFF if backoff is None else backoff
        self.rate_headers = rate_headers
        self.base_url = httpx.URL(connection.base_url + "/")
        self.http = httpx.Client(
            headers={"User-Agent": "e360", **(headers or {})},
            timeout=timeout,
            follow_redirects=False,
            transport=transport,
        )
        self.requests = 0
        self.not_modified = 0

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- URLs ----------------------------------------------------------------------------------

    def url(self, path: str, params: Mapping[str, Any] | None = None) -> str:
        """The absolute URL of ``path`` (relative to the API's root) with ``params``, as a cursor stores it."""
        url = self.base_url.join(path.lstrip("/")) if not path.startswith(("http://", "https://")) else httpx.URL(path)
        if params:
            url = url.copy_merge_params({k: str(v) for k, v in params.items()})
        return str(url)

    def _checked(self, url: str) -> httpx.URL:
        parsed = httpx.URL(url)
        base = self.base_url
        if (parsed.scheme, parsed.host, parsed.port) != (base.scheme, base.host, base.port):
            raise ApiError(f"{self.name} pointed to {parsed.host}, not its API's host: not followed", 0)
        return parsed

    # --- Budget --------------------------------------------------------------------------------

    def _check_budget(self) -> None:
        now = timezone.now()
        row = Connection.objects.filter(pk=self.connection.pk).values(
            "paused_until", "rate_remaining", "rate_reset_at"
        )[0]
        if row["paused_until"] and row["paused_until"] > now:
            raise RateLimited(
                f"{self.name} asked to pause until {row['paused_until']:%H:%M:%S} UTC", row["paused_until"]
            )
        reset = row["rate_reset_at"]
        if row["rate_remaining"] is not None and row["rate_remaining"] <= self.floor and reset and reset > now:
            raise RateLimited(
                f"{self.name}'s rate limit is nearly spent ({row['rate_remaining']} requests left until "
                f"{reset:%H:%M:%S} UTC)",
                reset,
            )

    def _record_budget(self, headers: Mapping[str, str]) -> None:
        """Write the window's limit, remaining and reset, in one UPDATE that two tasks can race:
        within a window the lower remaining wins, and an older window never replaces a newer one."""
        rate = self.rate_headers
        limit, remaining, reset = (
            rate.get(headers, "limit"),
            rate.get(headers, "remaining"),
            rate.reset_at(headers, timezone.now()),
        )
        if not (limit.isdigit() and remaining.isdigit() and reset):
            return
        Connection.objects.filter(
            Q(rate_reset_at__isnull=True) | Q(rate_reset_at__lte=reset), pk=self.connection.pk
        ).update(
            rate_limit=int(limit),
            rate_remaining=Case(
                When(rate_reset_at=reset, rate_remaining__lt=int(remaining), then=F("rate_remaining")),
                default=Value(int(remaining)),
            ),
            rate_reset_at=reset,
        )

    def resume_at(self, headers: Mapping[str, str], now: datetime) -> datetime:
        """When an answer that names a limit says to go on: ``Retry-After``, else the budget's reset,
        else in a minute (for a provider's own rate-limit answers: GitHub GraphQL's 200 with an error)."""
        return max(
            _retry_after(headers, now) or self.rate_headers.reset_at(headers, now) or now + SECONDARY_LIMIT_WAIT, now
        )

    def pause(self, until: datetime, why: str) -> RateLimited:
        """Pause the connection until ``until`` (no task of it calls meanwhile); the ``RateLimited`` to
        raise. For the limits the status alone does not say (GitHub's GraphQL answers a spent budget
        with a 200 and an error)."""
        Connection.objects.filter(
            Q(paused_until__isnull=True) | Q(paused_until__lt=until), pk=self.connection.pk
        ).update(paused_until=until)
        logger.warning("%s: %s; paused until %s", self.connection, why, until.isoformat())
        return RateLimited(f"{self.name}: {why}; e360 goes on at {until:%H:%M:%S} UTC", until)

    # --- Requests ------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        authenticate: bool = True,
        budget: bool = True,
    ) -> httpx.Response:
        """Send one request (``url``: a path under the API or an absolute URL on its host); the answer
        if 2xx, 3xx or 304, else the matching ``IntegrationError``. ``authenticate=False`` and
        ``budget=False``: the caller brings its own ``Authorization`` and the answer counts against
        another budget (a GitHub App's own JWT requests)."""
        target = self._checked(self.url(url, params))
        if budget:
            self._check_budget()
        refreshed = False
        attempt = 0
        while True:
            sent = {**(self.credentials.headers() if authenticate else {}), **(headers or {})}
            response = self._send(method, target, json=json, headers=sent, attempt=attempt)
            if response is None:  # a timeout or a server error, retried
                attempt += 1
                continue
            if budget:
                self._record_budget(response.headers)
            if response.status_code == 401 and authenticate and not refreshed and self.credentials.refresh():
                refreshed = True
                continue
            return self._judge(method, target, response)

    def _send(
        self, method: str, target: httpx.URL, *, json: Any, headers: dict[str, str], attempt: int
    ) -> httpx.Response | None:
        where = f"{method} {target.path}"
        try:
            response = self.http.request(method, target, json=json, headers=headers)
        except httpx.TimeoutException:
            problem = f"{self.name} did not answer {where} in time"
        except httpx.TransportError as exc:
            problem = f"{self.name} could not be reached for {where} ({type(exc).__name__})"
        else:
            self.requests += 1
            if response.status_code < 500:
                return response
            problem = f"{self.name} answered {where} with {response.status_code}"
        if attempt >= self.retries:
            raise ProviderUnavailable(f"{problem}, {attempt + 1} times: try again later")
        logger.info("%s: %s; retrying", self.connection, problem)
        time.sleep(self.backoff * 2**attempt)  # seconds at most: server errors, not rate limits
        return None

    def _judge(self, method: str, target: httpx.URL, response: httpx.Response) -> httpx.Response:
        status = response.status_code
        if status < 400:
            return response
        where = f"{method} {target.path}"
        said = _message(response)
        if status in (403, 429):
            now = timezone.now()
            headers = response.headers
            if (until := _retry_after(headers, now)) is not None:
                raise self.pause(until, f"a secondary rate limit on {where} (Retry-After)")
            if self.rate_headers.get(headers, "remaining") == "0":
                raise self.pause(
                    self.rate_headers.reset_at(headers, now) or now + SECONDARY_LIMIT_WAIT,
                    f"the rate limit is spent ({where})",
                )
            if status == 429 or "rate limit" in said.lower():
                raise self.pause(now + SECONDARY_LIMIT_WAIT, f"a secondary rate limit on {where}")
        if status == 401:
            raise Unauthorized(f"{self.name} refused the credentials for {where}: {said or 'Unauthorized'}")
        if status == 403:
            raise ApiError(f"{self.name} refused {where}: {said or 'Forbidden'} (check the permissions)", status)
        if status == 404:
            raise ApiError(f"{self.name} found nothing at {where} (or the credentials may not see it)", status)
        raise ApiError(f"{self.name} answered {where} with {status}: {said or response.reason_phrase}", status)

    # --- Reading -------------------------------------------------------------------------------

    def get_json(self, url: str, params: Mapping[str, Any] | None = None) -> Any:
        return self._json(self.request("GET", url, params=params), url)

    def get_page(self, url: str, params: Mapping[str, Any] | None = None, *, etag: str = "") -> Page:
        """One page of a listing; with ``etag``, a 304 is a page with ``not_modified`` (and no data)."""
        absolute = self.url(url, params)
        response = self.request("GET", absolute, headers={"If-None-Match": etag} if etag else None)
        if response.status_code == 304:
            self.not_modified += 1
            return Page(url=absolute, etag=etag, not_modified=True)
        if response.status_code != 200:
            raise ApiError(f"{self.name} answered GET {httpx.URL(absolute).path} with {response.status_code}", 0)
        following = response.links.get("next", {}).get("url", "")
        if not following and (page := response.headers.get("x-next-page", "").strip()).isdigit():
            following = str(httpx.URL(absolute).copy_set_param("page", page))
        return Page(
            url=absolute,
            data=self._json(response, absolute),
            next_url=following,
            etag=response.headers.get("etag", ""),
        )

    def pages(self, url: str, params: Mapping[str, Any] | None = None) -> Iterator[Page]:
        """Every page of a listing, following ``rel="next"``."""
        page = self.get_page(url, params)
        yield page
        while page.next_url:
            page = self.get_page(page.next_url)
            yield page

    def all_items(self, url: str, params: Mapping[str, Any] | None = None, *, key: str | None = None) -> list[Any]:
        return [item for page in self.pages(url, params) for item in page.items(key)]

    def _json(self, response: httpx.Response, url: str) -> Any:
        try:
            return response.json()
        except ValueError:
            raise ApiError(f"{self.name} sent something other than JSON for {httpx.URL(url).path}", 0) from None

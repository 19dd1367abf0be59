"""PagerDuty's REST API (v2) for a connection: what the admin's test and *Load PagerDuty services* call.

- **Where**: ``Connection.base_url``, ``https://api.pagerduty.com`` unless the connection's API URL
  says otherwise (``https://api.eu.pagerduty.com`` for an account in the EU service region).
- **Credentials**: a REST API key, sent as ``Authorization: Token token=<key>`` with
  ``Accept: application/vnd.pagerduty+json;version=2``. A read-only key is enough: e360 only reads.
- **Pages**: PagerDuty's classic pagination, ``limit`` and ``offset`` in the query and ``more`` in the
  body; each page's ``next_url`` is the same query at the next offset, so a stored cursor resumes
  from it like a ``Link`` header's. PagerDuty serves no offset past ``MAX_OFFSET``.
- **Rate limit**: every answer's ``ratelimit-limit``/``-remaining``/``-reset`` (seconds until the
  minute's window resets) go to the connection's budget; a 429 pauses the connection until the
  reset and raises ``RateLimited``: see ``integrations.http``, which also retries server errors.
- **Errors**: PagerDuty's ``{"error": {"message", "code", "errors"}}``, as the message; a 401 says
  the key is refused and names no key.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import httpx

from integrations.http import ApiClient, ApiError, IntegrationError, Page, RateHeaders, Unauthorized
from integrations.models import Connection
from metrics.storable import text_problem

HEADERS = {"Accept": "application/vnd.pagerduty+json;version=2"}
RATE_HEADERS = RateHeaders(prefix="ratelimit-", reset_in_seconds=True)
LIMIT = 100  # PagerDuty's largest page
# Classic pagination stops here: a listing longer than this has to be cut (by time, for incidents).
MAX_OFFSET = 10_000
MAX_SERVICE_ID = 200  # ExternalService.external_id
MAX_SERVICE_NAME = 300  # ExternalService.name


class NotConfigured(IntegrationError):
    """The connection has no API key."""


class KeyCredentials:
    """A REST API key (account or user, read-only is enough): nothing to refresh."""

    def __init__(self, key: str) -> None:
        self._key = key

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Token token={self._key}"}

    def refresh(self) -> bool:
        return False


def next_offset_url(url: str, data: Any) -> str:
    """The next page of a classic-paginated listing: ``url`` at ``offset + limit`` while the body says
    ``more``; empty at the end (and at PagerDuty's offset cap, past which it serves nothing)."""
    if not isinstance(data, dict) or data.get("more") is not True:
        return ""
    parsed = httpx.URL(url)
    limit, offset = (
        _number(data.get("limit"), parsed.params.get("limit")),
        _number(data.get("offset"), parsed.params.get("offset", "0")),
    )
    if not limit or offset is None or offset + limit >= MAX_OFFSET:
        return ""
    return str(parsed.copy_set_param("offset", str(offset + limit)))


def _number(*values: Any) -> int | None:
    for value in values:
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
        if isinstance(value, str) and value.isdigit():
            return int(value)
    return None


@dataclass(frozen=True)
class PagerDutyService:
    id: str
    name: str


class PagerDuty:
    """PagerDuty's REST API for one connection (``with PagerDuty(connection) as pagerduty: ...``)."""

    def __init__(self, connection: Connection, **options: Any) -> None:
        if not connection.api_token:
            raise NotConfigured("this PagerDuty source has no API key: enter a read-only REST API key")
        self.connection = connection
        self.api = ApiClient(
            connection,
            credentials=KeyCredentials(connection.api_token),
            name="PagerDuty",
            headers=HEADERS,
            rate_headers=RATE_HEADERS,
            **options,
        )

    def close(self) -> None:
        self.api.close()

    def __enter__(self) -> PagerDuty:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- Pages -----------------------------------------------------------------------------------

    def page(self, url: str) -> Page:
        """One page of a listing, its ``next_url`` from the body (``more``, ``offset``, ``limit``)."""
        page = self.api.get_page(url)
        return replace(page, next_url=next_offset_url(page.url, page.data))

    def pages(self, path: str, params: dict[str, Any] | None = None) -> Iterator[Page]:
        page = self.page(self.api.url(path, {"limit": LIMIT, "offset": 0, **(params or {})}))
        yield page
        while page.next_url:
            page = self.page(page.next_url)
            yield page

    # --- Services --------------------------------------------------------------------------------

    def services_total(self) -> int:
        """How many services the key can read: one request (``total=true`` asks PagerDuty to count)."""
        data = self.api.get_json("services", {"limit": 1, "offset": 0, "total": "true"})
        total = data.get("total") if isinstance(data, dict) else None
        if not isinstance(total, int) or isinstance(total, bool):
            raise ApiError("PagerDuty's list of services has no total: is the API URL PagerDuty's REST API?", 0)
        return total

    def services(self) -> list[PagerDutyService]:
        """Every service the key can read (id and name), all pages, checked before anything is written:
        ``ApiError`` naming the first one e360 cannot record."""
        found = []
        for page in self.pages("services", {"sort_by": "name"}):
            for item in page.items("services"):
                found.append(_service(item))
        return found

    # --- The admin's test ------------------------------------------------------------------------

    def test_connection(self) -> str:
        """One real call that says what the key sees; raises ``IntegrationError`` with the reason."""
        total = self.services_total()
        where = f" ({self.connection.api_url})" if self.connection.api_url else ""
        return (
            f"Connected to PagerDuty{where}: the API key reads {total} service{'s' if total != 1 else ''}. "
            'The action "Load PagerDuty services" lists them under External services, to map.'
        )


def _service(item: Any) -> PagerDutyService:
    if not isinstance(item, dict):
        raise ApiError("PagerDuty listed a service that is not an object", 0)
    service_id, name = item.get("id"), item.get("name") or item.get("summary") or ""
    if not isinstance(service_id, str) or not service_id.strip() or len(service_id.strip()) > MAX_SERVICE_ID:
        raise ApiError(f"PagerDuty listed a service without a usable id ({repr(service_id)[:50]})", 0)
    if not isinstance(name, str):
        raise ApiError(f"PagerDuty's service {service_id} has a name that is not text", 0)
    for what, value in (("id", service_id), ("name", name)):
        if problem := text_problem(value):
            raise ApiError(f"PagerDuty's service {service_id[:50]!r}: its {what} {problem}", 0)
    return PagerDutyService(id=service_id.strip(), name=name.strip()[:MAX_SERVICE_NAME])


def test_connection(connection: Connection) -> tuple[bool, str]:
    """The admin's "Test the connection" (``integrations.health.check_connection``): one real call,
    which writes nothing (loading the services is its own action)."""
    try:
        with PagerDuty(connection) as pagerduty:
            return True, pagerduty.test_connection()
    except Unauthorized:
        return False, (
            "PagerDuty refused the API key (401): enter a valid REST API key on the connection "
            "(a read-only key is enough)."
        )
    except IntegrationError as exc:
        return False, str(exc)


test_connection.__test__ = False  # type: ignore[attr-defined]  # a product function, not a test, where imported

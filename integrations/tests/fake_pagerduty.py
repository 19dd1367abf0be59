"""A PagerDuty REST API (v2) on loopback for the client and admin tests: a real HTTP server
(``ThreadingHTTPServer`` in a thread) answering PagerDuty's documented shapes from an in-memory account.

What it speaks, as developer.pagerduty.com documents it (trimmed to the fields e360 reads):

- ``Authorization: Token token=<key>`` with one of its keys, and ``Accept:
  application/vnd.pagerduty+json;version=2``; any other key is 401 ``{"error": {"message":
  "Unauthorized", "code": 2006}}``;
- classic pagination: ``limit`` (default 25, at most 100) and ``offset``; the body says ``limit``,
  ``offset``, ``more`` and ``total`` (null unless ``total=true`` is asked);
- ``ratelimit-limit``/``-remaining``/``-reset`` (seconds until the minute's window resets) on every
  answer; a spent budget is 429 ``{"error": {"message": "Rate Limit Exceeded", ...}}``;
- ``GET /services`` (sorted by name).

Faults are injected with ``fail(path_regex, status, headers, body, times)`` (a 502 before a
success, a 429 with rate headers, a 403).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from e360.tests.loopback import Fake, serving

API_KEY = "u+pagerduty-read-only-key-for-tests"
ACCEPT = "application/vnd.pagerduty+json;version=2"


class FakePagerDuty(Fake):
    """The state behind the server: services, keys, the minute's rate budget, faults and a log."""

    error_body = {"error": {"message": "Internal Server Error", "code": 2001}}

    def __init__(self) -> None:
        super().__init__()
        self.keys: set[str] = {API_KEY}
        self.services: list[dict[str, Any]] = []
        self.rate_limit = 960
        self.rate_remaining = 960
        self.rate_reset = 42  # seconds
        self.log: list[tuple[str, str, int]] = []  # (method, path with query, status)
        self.seen_headers: list[dict[str, str]] = []
        self.url = ""

    # --- Building an account ------------------------------------------------------------------

    def add_service(self, service_id: str, name: str) -> dict[str, Any]:
        service = {
            "id": service_id,
            "type": "service",
            "summary": name,
            "self": f"{self.url}/services/{service_id}",
            "html_url": f"https://acme.pagerduty.com/service-directory/{service_id}",
            "name": name,
            "description": "",
            "status": "active",
            "created_at": "2026-01-05T10:00:00Z",
        }
        self.services.append(service)
        return service

    # --- Answering -----------------------------------------------------------------------------

    def answer(self, method: str, target: str, headers: dict[str, str]) -> tuple[int, dict, Any]:
        with self.lock:
            self.seen_headers.append(headers)
            status, extra, payload = self._answer(method, target, headers)
            self.log.append((method, target, status))
            return status, extra, payload

    def _budget_headers(self) -> dict[str, str]:
        return {
            "ratelimit-limit": str(self.rate_limit),
            "ratelimit-remaining": str(self.rate_remaining),
            "ratelimit-reset": str(self.rate_reset),
        }

    def _answer(self, method: str, target: str, headers: dict[str, str]) -> tuple[int, dict, Any]:
        split = urlsplit(target)
        path, query = split.path, {k: v[-1] for k, v in parse_qs(split.query).items()}
        if (fault := self.fault(target)) is not None:
            return fault.status, fault.headers, fault.body
        key = headers.get("authorization", "").removeprefix("Token token=")
        if not headers.get("authorization", "").startswith("Token token=") or key not in self.keys:
            return 401, {}, {"error": {"message": "Unauthorized", "code": 2006}}
        if self.rate_remaining <= 0:
            return 429, self._budget_headers(), {"error": {"message": "Rate Limit Exceeded", "code": 2020}}
        self.rate_remaining -= 1
        if method == "GET" and path == "/services":
            return self._paged(sorted(self.services, key=lambda s: str(s.get("name"))), "services", query)
        return 404, self._budget_headers(), {"error": {"message": "Not Found", "code": 2100}}

    def _paged(self, items: list[dict[str, Any]], key: str, query: dict[str, str]) -> tuple[int, dict, Any]:
        try:
            limit = min(int(query.get("limit", 25)), 100)
            offset = int(query.get("offset", 0))
        except ValueError:
            return 400, self._budget_headers(), {"error": {"message": "Invalid Input Provided", "code": 2001}}
        chunk = items[offset : offset + limit]
        body = {
            key: chunk,
            "limit": limit,
            "offset": offset,
            "more": offset + limit < len(items),
            "total": len(items) if query.get("total") == "true" else None,
        }
        return 200, self._budget_headers(), body


@contextmanager
def served() -> Iterator[FakePagerDuty]:
    """A loopback PagerDuty serving in a thread until the block ends; ``.url`` is its API root."""
    fake = FakePagerDuty()
    with serving(lambda request: fake.answer(request.method, request.target, request.headers)) as url:
        fake.url = url
        yield fake


@pytest.fixture(name="fake_pagerduty")
def serve_fake_pagerduty() -> Iterator[FakePagerDuty]:
    """A loopback PagerDuty, serving until the test ends; ``fake_pagerduty.url`` is its API root."""
    with served() as fake:
        yield fake

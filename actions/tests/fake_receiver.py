"""A receiver of e360's signed webhooks on loopback, checking them as docs/actions/webhooks.md tells
receivers to: the HMAC-SHA256 of ``<X-E360-Timestamp>.<body>`` under the shared key, compared in
constant time; a timestamp older than five minutes refused (a replay); one effect per
``Idempotency-Key`` (a repeat is 200 "duplicate", not acted on twice).

Answers: 200 ``{"received": true}``; 401 for a bad or missing signature or an old timestamp; any
status queued with ``fail(status, headers, body)``.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from e360.tests.loopback import Answer, Request, serving

KEY = "whsec-shared-signing-key-for-tests"
TOLERANCE = 300  # seconds


def verify(key: str, headers: dict[str, str], body: bytes, now: float) -> bool:
    """The receiver's check, as the docs give it."""
    timestamp = headers.get("x-e360-timestamp", "")
    signature = headers.get("x-e360-signature", "")
    if not timestamp.isdigit() or abs(now - int(timestamp)) > TOLERANCE:
        return False
    expected = "sha256=" + hmac.new(key.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


class FakeReceiver:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.url = ""
        self.key = KEY
        self.received: list[dict[str, Any]] = []  # acted on, once per idempotency key
        self.requests: list[Request] = []
        self.refused = 0
        self.queued: list[Answer] = []
        self.delay = 0.0

    def fail(self, status: int, *, headers: dict[str, str] | None = None, body: Any = "") -> None:
        self.queued.append((status, headers or {}, body))

    def answer(self, request: Request) -> Answer:
        with self.lock:
            self.requests.append(request)
            if self.queued:
                return self.queued.pop(0)
            if not verify(self.key, request.headers, request.body, time.time()):
                self.refused += 1
                return 401, {}, {"error": "bad signature"}
            key = request.headers.get("idempotency-key", "")
            if key and any(item["dedupe_key"] == key for item in self.received):
                return 200, {}, {"received": True, "duplicate": True}
            self.received.append(request.json())
            return 200, {}, {"received": True}


@pytest.fixture
def fake_receiver() -> Iterator[FakeReceiver]:
    fake = FakeReceiver()
    with serving(fake.answer, lambda: fake.delay) as url:
        fake.url = url + "/hooks/e360"
        yield fake

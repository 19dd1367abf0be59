"""A Microsoft Teams Workflows webhook on loopback: the "When a Teams webhook request is received"
trigger of Power Automate, as learn.microsoft.com documents it.

``POST /workflows/<id>/triggers/manual/paths/invoke?api-version=1&sv=1.0&sig=<signature>``: 202
Accepted with no body for a message envelope holding an Adaptive Card; a wrong or missing ``sig``
401 ``{"error": {"code": "DirectApiAuthorizationRequired", …}}``; an unknown workflow 404
``WorkflowNotFound``; a body of another shape 400 ``TriggerInputSchemaMismatch``. ``limit(seconds)``:
the next request is 429 with ``Retry-After``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from e360.tests.loopback import Answer, Request, serving

WORKFLOW = "0f8a3c1d5e7b4a2f9c6d8e1a3b5c7d9f"
SIGNATURE = "Zx9-workflow-signature-for-tests"


class FakeTeams:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.url = ""
        self.cards: list[dict[str, Any]] = []
        self.limited: list[int] = []
        self.delay = 0.0

    def workflow_url(self, workflow: str = WORKFLOW, sig: str = SIGNATURE) -> str:
        query = f"api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={sig}"
        return f"{self.url}/workflows/{workflow}/triggers/manual/paths/invoke?{query}"

    def limit(self, seconds: int) -> None:
        self.limited.append(seconds)

    def answer(self, request: Request) -> Answer:
        with self.lock:
            return self._answer(request)

    def _answer(self, request: Request) -> Answer:
        split = urlsplit(request.target)
        if self.limited:
            seconds = self.limited.pop(0)
            error = {"code": "TooManyRequests", "message": "Rate limit is exceeded."}
            return 429, {"Retry-After": str(seconds)}, {"error": error}
        if split.path != f"/workflows/{WORKFLOW}/triggers/manual/paths/invoke":
            return 404, {}, {"error": {"code": "WorkflowNotFound", "message": "The workflow could not be found."}}
        if parse_qs(split.query).get("sig", [""])[-1] != SIGNATURE:
            message = "The request must be authenticated; the signature is not valid."
            return 401, {}, {"error": {"code": "DirectApiAuthorizationRequired", "message": message}}
        try:
            body = request.json()
            attachment = body["attachments"][0]
            valid = (
                body["type"] == "message"
                and attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
                and attachment["content"]["type"] == "AdaptiveCard"
            )
        except (ValueError, KeyError, IndexError, TypeError):
            valid = False
        if not valid:
            message = "The input body for trigger 'manual' of type 'Request' did not match its schema definition."
            return 400, {}, {"error": {"code": "TriggerInputSchemaMismatch", "message": message}}
        self.cards.append(attachment["content"])
        return 202, {}, None


@pytest.fixture
def fake_teams() -> Iterator[FakeTeams]:
    fake = FakeTeams()
    with serving(fake.answer, lambda: fake.delay) as url:
        fake.url = url
        yield fake

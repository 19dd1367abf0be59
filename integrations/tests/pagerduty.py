"""Delivering PagerDuty's documented webhook examples, signed, to e360 (for the PagerDuty tests)."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

from django.urls import reverse

SECRET = "pd-signing-secret-0123456789abcdef"
FIXTURES = Path(__file__).parent / "fixtures" / "pagerduty"


def fixture(event_type: str, **changes) -> dict:
    """A documented example; ``changes`` replace fields of its ``event`` (``data`` is merged)."""
    body = json.loads((FIXTURES / f"{event_type}.json").read_text())
    data = changes.pop("data", {})
    body["event"].update(changes)
    body["event"]["data"].update(data)
    return body


def sign(body: bytes, secret: str = SECRET) -> str:
    return "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def deliver(client, connection, payload, *, signature=None, raw=None):
    body = raw if raw is not None else json.dumps(payload).encode()
    return client.post(
        reverse("integrations:webhook", args=["pagerduty", connection.webhook_id]),
        body,
        content_type="application/json",
        headers={
            "X-PagerDuty-Signature": signature if signature is not None else sign(body),
            "X-Webhook-Id": "b7c1d54e-0d5e-4dfa-9b0e-7f5d2e1f3a11",
            "User-Agent": "PagerDuty-Webhook/V3.0",
        },
    )

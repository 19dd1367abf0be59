"""Delivering GitHub webhook events, signed as GitHub signs them, to e360 (for the GitHub tests)."""

from __future__ import annotations

import hashlib
import hmac
import json

from django.urls import reverse

SECRET = "It's a Secret to Everybody"  # docs.github.com's example secret


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def deliver(client, connection, event: str, payload, *, delivery="d-1", secret=SECRET, signature=None, raw=None):
    body = raw if raw is not None else json.dumps(payload).encode()
    return client.post(
        reverse("integrations:webhook", args=["github", connection.webhook_id]),
        body,
        content_type="application/json",
        headers={
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery,
            "X-Hub-Signature-256": signature if signature is not None else sign(body, secret),
        },
    )

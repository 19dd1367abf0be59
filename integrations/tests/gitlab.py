"""Delivering GitLab webhook events to e360 as GitLab sends them (for the GitLab tests)."""

from __future__ import annotations

import json

from django.urls import reverse

TOKEN = "a GitLab secret token"


def post(client, connection, hook: str, body, *, key: str | None = "key-1", token: str | None = TOKEN, headers=None):
    sent = {"X-Gitlab-Event": hook, **(headers or {})}
    if token is not None:
        sent["X-Gitlab-Token"] = token
    if key is not None:
        sent["Idempotency-Key"] = key
    return client.post(
        reverse("integrations:webhook", args=["gitlab", connection.webhook_id]),
        body if isinstance(body, bytes) else json.dumps(body).encode(),
        content_type="application/json",
        headers=sent,
    )

"""GitLab: the webhook (``PROVIDER``) and its events as e360's records (``events``, from the pure
``records``, which a REST backfill reuses).

A GitLab hook proves itself with its secret token, sent as it is in ``X-Gitlab-Token``; GitLab's
newer signing token (Standard Webhooks: ``webhook-id``, ``webhook-timestamp`` and
``webhook-signature``, an HMAC-SHA256 under the ``whsec_`` key) is checked instead when the
connection's secret is one. Both in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

from integrations.gitlab import events, records
from integrations.providers import Delivery, Provider

SIGNING_TOKEN_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
SIGNATURE_TOLERANCE_SECONDS = 5 * 60  # Standard Webhooks' window against replays


def verify(headers: Mapping[str, str], body: bytes, secret: str) -> bool:
    if secret.startswith(SIGNING_TOKEN_PREFIX):
        return signature_ok(headers, body, secret)
    sent = headers.get("X-Gitlab-Token", "")
    return hmac.compare_digest(sent.encode(), secret.encode())


def signature_ok(headers: Mapping[str, str], body: bytes, secret: str, now: float | None = None) -> bool:
    """``webhook-signature`` holds ``v1,<base64 HMAC-SHA256>`` values (space separated) of
    ``<webhook-id>.<webhook-timestamp>.<body>`` under the base64-decoded key after ``whsec_``; the
    timestamp must be within five minutes of now, so a captured request cannot be replayed later."""
    try:
        key = base64.b64decode(secret.removeprefix(SIGNING_TOKEN_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        return False
    message_id = headers.get("webhook-id", "")
    timestamp = headers.get("webhook-timestamp", "")
    if not message_id or not timestamp.isdigit():
        return False
    if abs((time.time() if now is None else now) - int(timestamp)) > SIGNATURE_TOLERANCE_SECONDS:
        return False
    digest = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    expected = b"v1," + base64.b64encode(digest)
    matched = False
    for sent in headers.get("webhook-signature", "").split():
        matched |= hmac.compare_digest(sent.encode(), expected)
    return matched


def delivery(headers: Mapping[str, str], payload: Any) -> Delivery:
    """The kind from ``X-Gitlab-Event`` (else the body's ``object_kind``); the delivery id is
    ``Idempotency-Key`` (GitLab 17.4+: the same on every retry and resend of an event), else
    ``X-Gitlab-Event-UUID`` with a digest of the body, since GitLab gives every webhook of a
    recursive chain the same event UUID and two different events must not be taken for one."""
    object_kind = payload.get("object_kind") if isinstance(payload, dict) else None
    kind = f"gitlab.{records.event_name(headers.get('X-Gitlab-Event', ''), object_kind)}"
    key = headers.get("Idempotency-Key", "").strip() or headers.get("webhook-id", "").strip()
    if not key and (uuid := headers.get("X-Gitlab-Event-UUID", "").strip()):
        digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]
        key = f"{uuid}:{digest}"
    return Delivery(kind=kind, delivery_id=key)


PROVIDER = Provider(
    name="gitlab",
    verify=verify,
    delivery=delivery,
    kinds_used=frozenset(f"gitlab.{event}" for event in events.HANDLERS),
    process=events.process,
    kept_headers=(
        "Idempotency-Key",
        "X-Gitlab-Event",
        "X-Gitlab-Event-UUID",
        "X-Gitlab-Webhook-UUID",
        "X-Gitlab-Instance",
        "webhook-id",
        "webhook-timestamp",
        "User-Agent",
    ),
)

"""GitHub: the webhook (``PROVIDER``), its events as e360's records (``events``), and the REST client
and backfill (``client``, ``backfill``) that self-service actions use too."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from integrations.github import events
from integrations.providers import Delivery, Provider


def verify(headers: Mapping[str, str], body: bytes, secret: str) -> bool:
    """``X-Hub-Signature-256`` is ``sha256=`` and the hex HMAC-SHA256 of the body under the secret."""
    sent = headers.get("X-Hub-Signature-256", "")
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(sent.encode(), expected.encode())


def delivery(headers: Mapping[str, str], payload: Any) -> Delivery:
    event = headers.get("X-GitHub-Event", "").strip().lower() or "unknown"
    return Delivery(kind=f"github.{event}", delivery_id=headers.get("X-GitHub-Delivery", "").strip())


PROVIDER = Provider(
    name="github",
    verify=verify,
    delivery=delivery,
    kinds_used=frozenset(f"github.{event}" for event in events.HANDLERS),
    process=events.process,
    kept_headers=("X-GitHub-Delivery", "X-GitHub-Event", "X-GitHub-Hook-ID", "User-Agent"),
)

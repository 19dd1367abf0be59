"""PagerDuty: the v3 webhook (``PROVIDER``), and its incident events as e360's incidents
(``records`` reads them, ``events`` writes them in the service each PagerDuty service maps to)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from integrations.pagerduty import events, records
from integrations.providers import Delivery, Provider

MAX_KIND = 60  # InboundEvent.kind


def verify(headers: Mapping[str, str], body: bytes, secret: str) -> bool:
    """``X-PagerDuty-Signature`` holds one or more comma-separated ``v1=<hex HMAC-SHA256 of the body>``,
    one per signing secret while PagerDuty rotates them: the request is PagerDuty's when any of them
    is the body's under our secret. Every value is compared, in constant time, so the time taken
    says nothing of which matched."""
    expected = ("v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()).encode()
    matched = False
    for sent in headers.get("X-PagerDuty-Signature", "").split(","):
        matched |= hmac.compare_digest(sent.strip().encode(), expected)
    return matched


def delivery(headers: Mapping[str, str], payload: Any) -> Delivery:
    """The event's own id (``event.id``) is the delivery id: PagerDuty repeats it on every attempt."""
    event = payload.get("event") if isinstance(payload, Mapping) else None
    event = event if isinstance(event, Mapping) else {}
    event_type, event_id = event.get("event_type"), event.get("id")
    event_type = event_type.strip().lower() if isinstance(event_type, str) and event_type.strip() else "unknown"
    return Delivery(
        kind=f"pagerduty.{event_type}"[:MAX_KIND],
        delivery_id=str(event_id).strip() if isinstance(event_id, str | int) and not isinstance(event_id, bool) else "",
    )


PROVIDER = Provider(
    name="pagerduty",
    verify=verify,
    delivery=delivery,
    kinds_used=frozenset(f"pagerduty.{event_type}" for event_type in records.EVENT_TYPES),
    process=events.process,
    # X-Webhook-Id: "unique to the webhook but repeated for each delivery attempt" (Behavior docs).
    kept_headers=("X-Webhook-Id", "User-Agent"),
)

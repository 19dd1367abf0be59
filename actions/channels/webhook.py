"""A signed HTTP webhook: the message as JSON, POSTed to the channel's URL with an HMAC-SHA256
signature a receiver checks with the shared key (docs/actions/webhooks.md):

- ``X-E360-Timestamp``: Unix seconds when it was signed;
- ``X-E360-Signature``: ``sha256=`` and the hex HMAC-SHA256, under the key, of
  ``<timestamp>.<body>`` (the timestamp, a full stop, the body's bytes): a receiver refuses an old
  timestamp (five minutes), so a captured request cannot be replayed later;
- ``Idempotency-Key``: the dedupe key, the same on every retry of one message, so that a receiver
  acts once.

Any 2xx is success; 429 with ``Retry-After`` pauses the channel.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

from django.utils import timezone

from actions.channels import http
from actions.channels.message import Message, Sent
from actions.channels.preview import Preview
from actions.models import Channel

SIGNATURE_HEADER = "X-E360-Signature"
TIMESTAMP_HEADER = "X-E360-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"


def body(channel: Channel, message: Message, dedupe_key: str) -> dict[str, Any]:
    person = message.recipient
    return {
        "channel": channel.name,
        "dedupe_key": dedupe_key,
        "title": message.title,
        "text": message.text,
        "url": message.url,
        "facts": message.facts_as_list(),
        "recipient": {"name": person.name, "email": person.email, "handle": person.handle} if person else None,
    }


def signature(key: str, timestamp: str, content: bytes) -> str:
    """``sha256=`` and the hex HMAC-SHA256 of ``<timestamp>.<content>`` under ``key``."""
    digest = hmac.new(key.encode(), timestamp.encode() + b"." + content, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def preview(channel: Channel, message: Message) -> Preview:
    return Preview(channel.url or "(no URL set)", body(channel, message, ""))


def deliver(channel: Channel, message: Message, *, dedupe_key: str) -> Sent:
    key = channel.read_secret()
    if not channel.url:
        return Sent.of(False, 0, "no URL is set")
    content = json.dumps(body(channel, message, dedupe_key), separators=(",", ":")).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: signature(key, timestamp, content),
        IDEMPOTENCY_HEADER: dedupe_key,
    }
    response = http.post(channel.url, name="The webhook", content=content, headers=headers)
    status = response.status_code
    if status == 429:
        until = http.retry_at(response.headers, timezone.now())
        return Sent.of(False, 429, f"The webhook is rate-limited until {until:%H:%M:%S} UTC", retry_at=until)
    if 200 <= status < 300:
        return Sent.of(True, status, http.said(response))
    return Sent.of(False, status, f"The webhook answered {status}: {http.said(response)}")

"""One POST to a channel's endpoint, for the senders that speak HTTP (Slack, Teams, signed webhooks).

Not ``integrations.http.ApiClient``: that one is bound to a provider ``Connection`` and its rate
budget, and retries server errors. A notification is sent once per call: a retry belongs to the
caller (an automation's run, with its dedupe key), so that a post that reached Slack but whose
answer was lost is not posted twice behind its back.

The URL of a Slack or Teams webhook is its secret (the token is its path): it is never logged and
never put in a message. httpx's own request log line names the URL, so the ``httpx`` logger is kept
at WARNING (``e360/settings.py``'s ``LOGGING``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

# Seconds: connecting, then the whole answer. A channel that hangs fails the send, not the worker.
TIMEOUT = 10.0
CONNECT_TIMEOUT = 5.0
# A 429 that names no time.
DEFAULT_PAUSE = timedelta(minutes=1)


class Unreachable(Exception):
    """Nothing answered (a timeout, a refused connection, a bad address); the message names no URL."""


def post(
    url: str,
    *,
    name: str,
    json: Any = None,
    content: bytes | None = None,
    data: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    """POST to ``url``; the answer whatever its status, or ``Unreachable`` (``name``: who, for the message)."""
    try:
        with httpx.Client(
            timeout=httpx.Timeout(TIMEOUT, connect=min(CONNECT_TIMEOUT, TIMEOUT)),
            follow_redirects=False,
            headers={"User-Agent": "e360"},
        ) as client:
            return client.post(url, json=json, content=content, data=data, headers=headers)
    except httpx.TimeoutException:
        raise Unreachable(f"{name} did not answer within {TIMEOUT:g} seconds") from None
    except (httpx.InvalidURL, httpx.UnsupportedProtocol):
        raise Unreachable(f"{name}'s URL is not a valid http(s) URL") from None
    except httpx.TransportError as exc:
        raise Unreachable(f"{name} could not be reached ({type(exc).__name__})") from None


def retry_at(headers: Mapping[str, str], now: datetime) -> datetime:
    """When a 429 says to come back: ``Retry-After`` in seconds or as a date, else in a minute."""
    value = headers.get("retry-after", "").strip()
    if value.isdigit():
        return now + timedelta(seconds=int(value))
    if value:
        try:
            return max(parsedate_to_datetime(value), now)
        except (TypeError, ValueError):
            pass
    return now + DEFAULT_PAUSE


def said(response: httpx.Response) -> str:
    """The answer's text, for ``Sent.response`` (shortened there)."""
    return response.text.strip() or response.reason_phrase

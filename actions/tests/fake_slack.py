"""A Slack on loopback: incoming webhooks and the Web API methods e360 calls, as api.slack.com
documents them.

- Incoming webhooks (``POST /services/T…/B…/<token>``): 200 ``ok`` in plain text; a body that is
  not JSON with ``text`` or ``blocks``, or whose header block is over 150 characters, 400
  ``invalid_payload``/``invalid_blocks``; an unknown webhook 404 ``no_service``; a webhook whose
  channel was deleted 404 ``channel_not_found``.
- Web API (``POST /api/<method>``, ``Authorization: Bearer xoxb-…``): always 200 with
  ``{"ok": true, …}`` or ``{"ok": false, "error": …}`` (``not_authed``, ``invalid_auth``,
  ``users_not_found``, ``channel_not_found``, ``not_in_channel``); ``users.lookupByEmail`` takes a
  form-encoded ``email``; ``conversations.open`` and ``chat.postMessage`` JSON.
- Rate limits: ``limit(path_regex, seconds)`` makes the next request to a matching path a 429
  with ``Retry-After``; ``fail(...)`` injects any answer; ``delay`` makes every answer late.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from e360.tests.loopback import Answer, Fake, Request, serving

BOT_TOKEN = "xoxb-1111-2222-bot-token-for-tests"
WEBHOOK_PATH = "/services/T0001/B0001/webhooksecrettoken0001"
OTHER_WEBHOOK_PATH = "/services/T0001/B0002/webhooksecrettoken0002"
GONE_WEBHOOK_PATH = "/services/T0001/B0009/webhookofadeletedchannel"


class FakeSlack(Fake):
    def __init__(self) -> None:
        super().__init__()
        self.webhooks = {WEBHOOK_PATH: "C0ALERTS", OTHER_WEBHOOK_PATH: "C0OTHER", GONE_WEBHOOK_PATH: "C0GONE"}
        self.deleted_channels = {"C0GONE"}
        self.channels = {"C0ALERTS": True, "C0OTHER": True, "C0NOTJOINED": False}  # id → the bot is a member
        self.users = {"alice@example.com": "U0ALICE", "bob@example.com": "U0BOB"}
        self.dms: dict[str, str] = {}  # D id → user id
        self.posted: list[tuple[str, Any]] = []  # (webhook path or channel id, body)
        self.delay = 0.0

    def webhook_url(self, path: str = WEBHOOK_PATH) -> str:
        return self.url + path

    def limit(self, path: str, seconds: int) -> None:
        """The next request to ``path`` is 429 with ``Retry-After: seconds`` (Slack's rate limits)."""
        body: Any = "rate_limited" if path.startswith("/services") else {"ok": False, "error": "ratelimited"}
        self.fail(path, 429, headers={"Retry-After": str(seconds)}, body=body)

    def answer(self, request: Request) -> Answer:
        with self.lock:
            status, headers, body = self._answer(request)
            self.log.append((request.method, request.target, status))
            return status, headers, body

    def _answer(self, request: Request) -> Answer:
        if (fault := self.fault(request.target)) is not None:
            return fault.status, fault.headers, fault.body
        path = urlsplit(request.target).path
        if path.startswith("/services/"):
            return self._webhook(path, request)
        if path.startswith("/api/"):
            return self._api(path.removeprefix("/api/"), request)
        return 404, {}, "not found"

    def _webhook(self, path: str, request: Request) -> Answer:
        if path not in self.webhooks:
            return 404, {}, "no_service"
        if self.webhooks[path] in self.deleted_channels:
            return 404, {}, "channel_not_found"
        try:
            body = request.json()
        except ValueError:
            return 400, {}, "invalid_payload"
        if not isinstance(body, dict) or not (body.get("text") or body.get("blocks")):
            return 400, {}, "invalid_payload"
        for block in body.get("blocks") or []:
            if block.get("type") == "header" and len(block["text"]["text"]) > 150:
                return 400, {}, "invalid_blocks"
        self.posted.append((path, body))
        return 200, {}, "ok"

    def _api(self, method: str, request: Request) -> Answer:
        authorization = request.headers.get("authorization", "")
        if not authorization:
            return 200, {}, {"ok": False, "error": "not_authed"}
        if authorization != f"Bearer {BOT_TOKEN}":
            return 200, {}, {"ok": False, "error": "invalid_auth"}
        kind = request.headers.get("content-type", "")
        if kind.startswith("application/json"):
            if kind != "application/json; charset=utf-8":
                return 200, {}, {"ok": False, "error": "invalid_charset"}  # stricter than Slack's warning
            args = request.json()
        else:
            args = {key: values[-1] for key, values in parse_qs(request.body.decode()).items()}
        if method == "users.lookupByEmail":
            user = self.users.get(str(args.get("email", "")).lower())
            if user is None:
                return 200, {}, {"ok": False, "error": "users_not_found"}
            return 200, {}, {"ok": True, "user": {"id": user, "profile": {"email": args["email"]}}}
        if method == "conversations.open":
            user = args.get("users", "")
            if user not in self.users.values():
                return 200, {}, {"ok": False, "error": "user_not_found"}
            dm = "D" + user[1:]
            self.dms[dm] = user
            return 200, {}, {"ok": True, "channel": {"id": dm}}
        if method == "chat.postMessage":
            target = args.get("channel", "")
            if target in self.dms:
                pass
            elif target not in self.channels or target in self.deleted_channels:
                return 200, {}, {"ok": False, "error": "channel_not_found"}
            elif not self.channels[target]:
                return 200, {}, {"ok": False, "error": "not_in_channel"}
            if not (args.get("text") or args.get("blocks")):
                return 200, {}, {"ok": False, "error": "no_text"}
            self.posted.append((target, args))
            return 200, {}, {"ok": True, "channel": target, "ts": f"1700000000.{len(self.posted):06d}"}
        return 200, {}, {"ok": False, "error": "unknown_method"}


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    fake = FakeSlack()
    with serving(fake.answer, lambda: fake.delay) as url:
        fake.url = url
        yield fake

"""Slack: an incoming webhook (one channel, chosen when the webhook was made), or a bot token (the
Web API's ``chat.postMessage`` to a channel id, or to a person's direct messages).

The message is Block Kit: a header, the text as an mrkdwn section, the facts as fields, and a
button to the e360 page; ``text`` carries the same as a fallback (notifications, screen readers).

Incoming webhooks answer ``ok`` (200) or an error word in plain text with a status
(``invalid_payload`` 400, ``channel_not_found`` and ``no_service`` 404, ``action_prohibited`` 403,
``channel_is_archived`` and ``no_active_hooks`` 410 …). The Web API answers 200 with
``{"ok": false, "error": "..."}``. Both say 429 with ``Retry-After``: the channel is paused until
then (``Channel.paused_until``), so this webhook or token waits and the others do not.

A direct message: ``users.lookupByEmail`` with the person's catalog email, then
``conversations.open`` with their user id, then ``chat.postMessage`` to that conversation. The user
id and conversation are kept per channel (``SlackMember``) for ``SLACK_MEMBER_TTL``, and forgotten
when Slack no longer knows them.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx
from django.utils import timezone

from actions.channels import http
from actions.channels.message import Message, Sent
from actions.channels.preview import Preview, facts_for_all
from actions.models import Channel, SlackMember
from e360.models import Person

SLACK_MEMBER_TTL = timedelta(days=7)
HEADER_LENGTH = 150  # Block Kit's limits
SECTION_LENGTH = 3000
FIELDS = 10
FIELD_LENGTH = 2000

# What an admin can do about Slack's error words.
HINTS = {
    "invalid_payload": "Slack could not read the message",
    "no_service": "the webhook was removed or its URL is wrong",
    "no_active_hooks": "the webhook was turned off",
    "channel_not_found": "the channel does not exist, or the bot or webhook cannot see it",
    "channel_is_archived": "the channel is archived",
    "action_prohibited": "a workspace admin restricted posting there",
    "posting_to_general_channel_denied": "only admins may post in that channel",
    "invalid_auth": "the bot token is not valid",
    "not_authed": "no bot token was sent",
    "token_revoked": "the bot token was revoked",
    "account_inactive": "the bot's app was uninstalled",
    "not_in_channel": "invite the bot to the channel first",
    "missing_scope": "the bot lacks a scope",
    "users_not_found": "no Slack user has this person's email",
    "user_not_found": "no Slack user has this person's email",
    "is_archived": "the channel is archived",
    "msg_too_long": "the message is too long for Slack",
}


def _escaped(text: str) -> str:
    """mrkdwn's three control characters (Slack: "Escaping text")."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, length: int) -> str:
    """At most ``length`` characters, an ellipsis ending a cut one; never half an escape (``&am``)."""
    if len(text) <= length:
        return text
    return re.sub(r"&[a-z]{0,3}$", "", text[: length - 1]) + "…"


def blocks(message: Message) -> dict[str, Any]:
    """The Block Kit message: ``text`` (the fallback) and ``blocks``."""
    found: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(message.title, HEADER_LENGTH), "emoji": True}}
    ]
    if message.text:
        found.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": _cut(_escaped(message.text), SECTION_LENGTH)}}
        )
    facts = facts_for_all(message)[:FIELDS]
    if facts:
        fields = [
            {"type": "mrkdwn", "text": _cut(f"*{_escaped(fact.label)}*\n{_escaped(fact.value)}", FIELD_LENGTH)}
            for fact in facts
        ]
        found.append({"type": "section", "fields": fields})
    if message.url:
        button = {"type": "button", "text": {"type": "plain_text", "text": "Open in e360"}, "url": message.url}
        found.append({"type": "actions", "elements": [button]})
    fallback = message.title + (f": {message.text}" if message.text else "")
    return {"text": _cut(_escaped(fallback), SECTION_LENGTH), "blocks": found}


def _explained(error: str) -> str:
    hint = HINTS.get(error)
    return f"{error} ({hint})" if hint else error


def _paused(response: httpx.Response, who: str) -> Sent:
    until = http.retry_at(response.headers, timezone.now())
    return Sent.of(False, 429, f"{who} is rate-limited: it asks to wait until {until:%H:%M:%S} UTC", retry_at=until)


# --- Incoming webhook --------------------------------------------------------------------------


def webhook_preview(channel: Channel, message: Message) -> Preview:
    return Preview("the incoming webhook's channel", blocks(message))


def webhook_deliver(channel: Channel, message: Message, *, dedupe_key: str) -> Sent:
    response = http.post(channel.read_secret(), name="Slack's incoming webhook", json=blocks(message))
    status = response.status_code
    if status == 429:
        return _paused(response, "Slack's incoming webhook")
    answer = http.said(response)
    if status == 200 and answer == "ok":
        return Sent.of(True, status, "ok")
    word = answer if answer.replace("_", "").isalnum() else ""
    return Sent.of(False, status, f"Slack answered {status}: {_explained(word) if word else answer}")


# --- Bot token (Web API) -----------------------------------------------------------------------


class SlackApiError(Exception):
    def __init__(self, sent: Sent) -> None:
        super().__init__(sent.response)
        self.sent = sent


def _call(channel: Channel, token: str, method: str, *, json: Any = None, data: Any = None) -> dict[str, Any]:
    """One Web API method; its JSON when ``ok``, else ``SlackApiError`` carrying the failed ``Sent``."""
    response = http.post(
        f"{channel.api_root}/{method}",
        name=f"Slack's {method}",
        json=json,
        data=data,
        # Without the charset, Slack answers with a ``missing_charset`` warning.
        headers={"Authorization": f"Bearer {token}"}
        | ({"Content-Type": "application/json; charset=utf-8"} if json is not None else {}),
    )
    status = response.status_code
    if status == 429:
        raise SlackApiError(_paused(response, f"Slack's {method}"))
    try:
        body = response.json()
    except ValueError:
        raise SlackApiError(
            Sent.of(False, status, f"Slack's {method} answered {status}: {http.said(response)}")
        ) from None
    if status != 200 or not isinstance(body, dict):
        raise SlackApiError(Sent.of(False, status, f"Slack's {method} answered {status}"))
    if not body.get("ok"):
        error = str(body.get("error") or "unknown_error")
        if error == "ratelimited":
            raise SlackApiError(_paused(response, f"Slack's {method}"))
        needed = f", needs {body['needed']}" if error == "missing_scope" and body.get("needed") else ""
        raise SlackApiError(Sent.of(False, status, f"Slack's {method} refused: {_explained(error)}{needed}"))
    return body


def _direct_conversation(channel: Channel, token: str, person: Person) -> str:
    """The id of the bot's direct-message conversation with ``person``, looked up or kept."""
    email = person.email.lower()
    fresh_since = timezone.now() - SLACK_MEMBER_TTL
    kept = SlackMember.objects.filter(channel=channel, email=email, checked_at__gte=fresh_since).first()
    if kept is not None:
        return kept.dm_channel
    user = _call(channel, token, "users.lookupByEmail", data={"email": email})["user"]["id"]
    opened = _call(channel, token, "conversations.open", json={"users": user})["channel"]["id"]
    SlackMember.objects.update_or_create(
        channel=channel,
        email=email,
        defaults={"user_id": user, "dm_channel": opened, "checked_at": timezone.now()},
    )
    return str(opened)


def bot_preview(channel: Channel, message: Message) -> Preview:
    if message.recipient is not None:
        to = f"{message.recipient.name} <{message.recipient.email}> (direct message)"
        target = message.recipient.email
    else:
        to = target = channel.slack_channel or "(no Slack channel set)"
    return Preview(to, {"channel": target, **blocks(message), "unfurl_links": False})


def bot_deliver(channel: Channel, message: Message, *, dedupe_key: str) -> Sent:
    token = channel.read_secret()
    person = message.recipient
    try:
        if person is not None:
            target = _direct_conversation(channel, token, person)
        elif channel.slack_channel:
            target = channel.slack_channel
        else:
            return Sent.of(False, 0, "no Slack channel id is set for messages that are not for one person")
        body = {"channel": target, **blocks(message), "unfurl_links": False}
        answer = _call(channel, token, "chat.postMessage", json=body)
    except SlackApiError as exc:
        if person is not None and any(word in exc.sent.response for word in ("channel_not_found", "user_not_found")):
            SlackMember.objects.filter(channel=channel, email=person.email.lower()).delete()
        return exc.sent
    return Sent.of(True, 200, f"ok (message {answer.get('ts', '')} in {answer.get('channel', target)})")

"""Microsoft Teams, through a Workflows (Power Automate) webhook: the "When a Teams webhook request is
received" trigger, whose flow posts the card to a channel or chat. The Office 365 connectors' incoming
webhooks and their message cards are retired; Workflows take Adaptive Cards only, in a message
envelope: ``{"type": "message", "attachments": [{"contentType":
"application/vnd.microsoft.card.adaptive", "content": <the card>}]}``.

The workflow's URL carries its signature (``sig=``): it is the secret. The trigger answers 202
Accepted (the flow runs afterwards: a card the flow cannot post fails there, in the flow's run
history); errors are JSON ``{"error": {"code": ..., "message": ...}}``; 429 with ``Retry-After``
pauses the channel.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from actions.channels import http
from actions.channels.message import Message, Sent
from actions.channels.preview import Preview, facts_for_all
from actions.models import Channel

CARD_VERSION = "1.4"  # what Teams renders in channels and chats


def card(message: Message) -> dict[str, Any]:
    """The message envelope with its Adaptive Card."""
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": message.title, "weight": "Bolder", "size": "Medium", "wrap": True}
    ]
    if message.text:
        body.append({"type": "TextBlock", "text": message.text, "wrap": True})
    if facts := facts_for_all(message):
        body.append({"type": "FactSet", "facts": [{"title": fact.label, "value": fact.value} for fact in facts]})
    content: dict[str, Any] = {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": CARD_VERSION,
        "body": body,
    }
    if message.url:
        content["actions"] = [{"type": "Action.OpenUrl", "title": "Open in e360", "url": message.url}]
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": content}
        ],
    }


def preview(channel: Channel, message: Message) -> Preview:
    return Preview("the workflow's channel or chat", card(message))


def _error(response: Any) -> str:
    try:
        found = response.json().get("error") or {}
    except (ValueError, AttributeError):
        return http.said(response)
    if not isinstance(found, dict):
        return str(found)
    return ": ".join(str(part) for part in (found.get("code"), found.get("message")) if part) or http.said(response)


def deliver(channel: Channel, message: Message, *, dedupe_key: str) -> Sent:
    response = http.post(channel.read_secret(), name="The Teams workflow", json=card(message))
    status = response.status_code
    if status == 429:
        until = http.retry_at(response.headers, timezone.now())
        return Sent.of(False, 429, f"The Teams workflow is rate-limited until {until:%H:%M:%S} UTC", retry_at=until)
    if status in (200, 202):
        return Sent.of(True, status, "accepted")
    return Sent.of(False, status, f"The Teams workflow answered {status}: {_error(response)}")

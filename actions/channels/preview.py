"""What a sender would send, before sending it: to whom (``recipient``, for the outbox and a dry run's
record) and the body it would post (``payload``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from actions.channels.message import Fact, Message


@dataclass(frozen=True)
class Preview:
    recipient: str
    payload: dict[str, Any]


def facts_for_all(message: Message) -> tuple[Fact, ...]:
    """The facts, with who the message is for when it goes where everyone reads it (a channel)."""
    if message.recipient is None:
        return message.facts
    return (Fact("For", message.recipient.name), *message.facts)

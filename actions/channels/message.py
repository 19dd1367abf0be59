"""What a channel sends (``Message``) and what it answered (``Sent``): plain values, no Django."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from e360.models import Person

# What a Sent keeps of an answer: enough to read the error, not a whole HTML page.
RESPONSE_LENGTH = 500


@dataclass(frozen=True)
class Fact:
    label: str
    value: str


@dataclass(frozen=True)
class Message:
    """A notification: a title, a text (plain, a few lines), the e360 page it is about (``url``),
    facts as label/value pairs, and, for a message to one person (a reviewer's reminder), that
    person: email goes to their address, a Slack bot to their direct messages; the other kinds post
    where they always post and name them."""

    title: str
    text: str = ""
    url: str = ""
    facts: tuple[Fact, ...] = ()
    recipient: Person | None = field(default=None, compare=False)

    def facts_as_list(self) -> list[dict[str, str]]:
        return [{"label": fact.label, "value": fact.value} for fact in self.facts]


@dataclass(frozen=True)
class Sent:
    """A channel's answer: ``ok``; ``status`` (the HTTP status, the SMTP reply code, 0 when nothing
    answered or nothing was sent); ``response``, what it said, shortened, never a secret; and
    ``retry_at`` when the channel is rate-limited (nothing sent; try again then)."""

    ok: bool
    status: int
    response: str
    retry_at: datetime | None = None

    @classmethod
    def of(cls, ok: bool, status: int, response: str, retry_at: datetime | None = None) -> Sent:
        text = " ".join(response.split())
        if len(text) > RESPONSE_LENGTH:
            text = text[: RESPONSE_LENGTH - 1] + "…"
        return cls(ok=ok, status=status, response=text, retry_at=retry_at)

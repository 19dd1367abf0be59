"""``send(channel, message, dedupe_key=...)``: one message through one channel, by its kind's sender.

- A paused channel (a 429's ``Retry-After``, ``Channel.paused_until``) sends nothing and answers
  ``retry_at``; a 429 pauses it. The pause is the channel's own: another channel, even of the same
  kind, goes on.
- The outbox kind, and any channel in a dry run, store an ``OutboxMessage`` (what would have been
  sent, to whom, the body) and send nothing; the same dedupe key stores it once.
- A failure is a ``Sent`` with ``ok`` false and the reason (a timeout, the provider's error), never
  an exception: one channel that fails does not stop the caller's other work. Neither the answer
  nor the log names a secret (a webhook's URL is one).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from actions.channels import email, http, slack, teams, webhook
from actions.channels.message import Message, Sent
from actions.channels.preview import Preview
from actions.models import Channel, MissingSecret, OutboxMessage

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sender:
    """A kind's two halves: what it would send, to whom (``preview``, for the outbox and dry runs), and
    sending it (``deliver(channel, message, dedupe_key=...)``; the outbox has none)."""

    preview: Callable[[Channel, Message], Preview]
    deliver: Callable[..., Sent] | None = None


def _outbox_preview(channel: Channel, message: Message) -> Preview:
    person = message.recipient
    to = (
        f"{person.name} <{person.email}>"
        if person
        else (f"the {channel.team} team" if channel.team_id else "the outbox")
    )
    return Preview(
        to, {"title": message.title, "text": message.text, "url": message.url, "facts": message.facts_as_list()}
    )


SENDERS: dict[str, Sender] = {
    Channel.Kind.EMAIL: Sender(email.preview, email.deliver),
    Channel.Kind.SLACK_WEBHOOK: Sender(slack.webhook_preview, slack.webhook_deliver),
    Channel.Kind.SLACK_BOT: Sender(slack.bot_preview, slack.bot_deliver),
    Channel.Kind.TEAMS: Sender(teams.preview, teams.deliver),
    Channel.Kind.WEBHOOK: Sender(webhook.preview, webhook.deliver),
    Channel.Kind.OUTBOX: Sender(_outbox_preview),
}


def send(channel: Channel, message: Message, *, dedupe_key: str, dry_run: bool = False) -> Sent:
    """Send ``message`` through ``channel`` (see the module's doc); ``dedupe_key`` names this message
    across retries (the outbox's, the signed webhook's ``Idempotency-Key``, the email's Message-ID)."""
    sender = SENDERS[channel.kind]
    if dry_run or sender.deliver is None:
        sent = _store(channel, message, sender.preview(channel, message), dedupe_key=dedupe_key, dry_run=dry_run)
        logger.info("channel %s: %s", channel.pk, sent.response)
        return sent
    now = timezone.now()
    paused_until = Channel.objects.filter(pk=channel.pk).values_list("paused_until", flat=True).first()
    if paused_until is not None and paused_until > now:
        channel.paused_until = paused_until
        return Sent.of(
            False, 0, f"rate-limited: nothing is sent before {paused_until:%H:%M:%S} UTC", retry_at=paused_until
        )
    try:
        sent = sender.deliver(channel, message, dedupe_key=dedupe_key)
    except MissingSecret as exc:
        sent = Sent.of(False, 0, f"cannot send: {exc}")
    except http.Unreachable as exc:
        sent = Sent.of(False, 0, str(exc))
    if sent.retry_at is not None:
        _pause(channel, sent.retry_at)
    # The channel's id and kind, never its settings: a webhook's URL is its secret.
    logger.log(
        logging.INFO if sent.ok else logging.WARNING,
        "channel %s (%s): %s %s",
        channel.pk,
        channel.kind,
        sent.status,
        sent.response,
    )
    return sent


def _pause(channel: Channel, until: datetime) -> None:
    """Pause the channel until ``until`` (a later pause is kept: two workers may race)."""
    Channel.objects.filter(Q(paused_until__isnull=True) | Q(paused_until__lt=until), pk=channel.pk).update(
        paused_until=until
    )
    channel.paused_until = Channel.objects.filter(pk=channel.pk).values_list("paused_until", flat=True).first()


def _store(channel: Channel, message: Message, preview: Preview, *, dedupe_key: str, dry_run: bool) -> Sent:
    where = "a dry run, kept in the outbox" if dry_run else "kept in the outbox"
    if dedupe_key:
        found = OutboxMessage.objects.filter(channel=channel, dedupe_key=dedupe_key, dry_run=dry_run).first()
        if found is not None:
            return Sent.of(True, 0, f"{where} already (message {found.pk}): not stored twice")
    try:
        with transaction.atomic():
            stored = OutboxMessage.objects.create(
                channel=channel,
                kind=channel.kind,
                dry_run=dry_run,
                dedupe_key=dedupe_key,
                recipient=preview.recipient[:300],
                title=message.title[:300],
                text=message.text,
                url=message.url,
                facts=message.facts_as_list(),
                payload=preview.payload,
            )
    except IntegrityError:  # the same key, stored meanwhile by another worker
        return Sent.of(True, 0, f"{where} already: not stored twice")
    return Sent.of(True, 0, f"{where} (message {stored.pk}), to {preview.recipient}")

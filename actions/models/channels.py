"""Where automations and reminders send: a notification ``Channel`` (email, Slack, Microsoft Teams, a
signed HTTP webhook, or the local outbox) and the ``OutboxMessage`` the outbox and dry runs keep.

A channel's secret (a Slack or Teams webhook URL, whose path is its token; a Slack bot token; a
webhook's HMAC key) is stored encrypted (``secret``) or named by an environment variable
(``secret_env``, read when sending), never both, and never shown back. Sending is
``actions.channels.send``.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from django.db import models
from django.db.models import Q
from django.utils import timezone

from e360.env import env_str
from e360.models import Team
from e360.secrets import EncryptedTextField, Secret

SLACK_API_URL = "https://slack.com/api"


class MissingSecret(Exception):
    """The channel's secret is neither stored nor in its environment variable: nothing can be sent."""


class ChannelQuerySet(models.QuerySet["Channel"]):
    def of_teams(self, team_ids: Collection[int] | None) -> ChannelQuerySet:
        """The organisation's channels (no team) and those of ``team_ids``; None: every channel."""
        if team_ids is None:
            return self
        return self.filter(Q(team__isnull=True) | Q(team_id__in=team_ids))


class Channel(models.Model):
    """Who may post where: a team may use the organisation's channels and those of its own team and the teams
    above it (``usable_by``), so a sub-team may post to its department's channel, never to a sibling's."""

    class Kind(models.TextChoices):
        EMAIL = "email", "Email"
        SLACK_WEBHOOK = "slack_webhook", "Slack incoming webhook"
        SLACK_BOT = "slack_bot", "Slack bot (token)"
        TEAMS = "teams", "Microsoft Teams workflow webhook"
        WEBHOOK = "webhook", "Signed HTTP webhook"
        OUTBOX = "outbox", "Outbox (stored, nothing sent)"

    name = models.CharField(max_length=200, unique=True, help_text="e.g. “#payments-alerts” or “Platform on-call”.")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    team = models.ForeignKey(
        Team,
        models.SET_NULL,  # as a source's: a deleted team leaves its channels to the admins, secrets kept
        null=True,
        blank=True,
        related_name="+",
        help_text="The team that owns this channel; empty: the organisation's.",
    )
    # Non-secret settings, each used by some kinds (the admin shows which).
    addresses = models.JSONField(
        default=list, blank=True, help_text="Email: the addresses a message goes to (unless it is for one person)."
    )
    slack_channel = models.CharField(
        max_length=40, blank=True, help_text="Slack bot: the channel id (C0123ABCD) messages not for a person go to."
    )
    url = models.URLField(
        "URL", max_length=500, blank=True, help_text="Signed webhook: where it is posted (not a secret)."
    )
    api_url = models.URLField(
        "Slack API URL", blank=True, help_text=f"Slack bot: empty for {SLACK_API_URL} (Slack's Web API)."
    )
    # The secret: stored encrypted, or the environment variable holding it.
    secret = EncryptedTextField(
        blank=True, help_text="A Slack or Teams webhook URL, a Slack bot token or a webhook's HMAC key."
    )
    secret_env = models.CharField(
        "secret's environment variable",
        max_length=100,
        blank=True,
        help_text="The environment variable holding the secret, read when sending (or NAME_FILE: a file's path).",
    )
    paused_until = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="Rate-limited (429 with Retry-After): nothing sent before."
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = ChannelQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(secret="") | Q(secret_env=""), name="actions_channel_one_secret_source"),
        ]

    def __str__(self) -> str:
        return self.name

    def usable_by(self, chain: Collection[int]) -> bool:
        """Whether the team whose ``chain`` this is (``TeamTree.chain``: itself, then the teams above; empty for
        the organisation) may post here."""
        return self.team_id is None or self.team_id in chain

    @property
    def secret_label(self) -> str:
        """What the kind's secret is ("the bot token"); empty for the kinds that need none."""
        return SECRET_OF.get(self.kind, "")

    def read_secret(self) -> Secret:
        """The secret, from the database or the environment; ``MissingSecret`` (which names the variable,
        never a value) when there is none."""
        if self.secret_env:
            value = env_str(self.secret_env)
            if not value:
                raise MissingSecret(f"the environment variable {self.secret_env} is not set")
            return Secret(value)
        if not self.secret:
            raise MissingSecret(f"no secret is stored ({self.secret_label or 'none is needed'})")
        return Secret(self.secret)

    @property
    def api_root(self) -> str:
        return (self.api_url or SLACK_API_URL).rstrip("/")

    def is_paused(self, now: datetime) -> bool:
        return self.paused_until is not None and self.paused_until > now


# The kinds that need a secret to send, and what it is.
SECRET_OF: dict[str, str] = {
    Channel.Kind.SLACK_WEBHOOK: "the webhook URL",
    Channel.Kind.SLACK_BOT: "the bot token",
    Channel.Kind.TEAMS: "the workflow's URL",
    Channel.Kind.WEBHOOK: "the signing key",
}


class SlackMember(models.Model):
    """A person's Slack user and direct-message conversation, as a Slack bot channel found them
    (``users.lookupByEmail``, ``conversations.open``): kept so that reminders to the same reviewer do
    not look them up each time; looked up again after ``SLACK_MEMBER_TTL`` or when Slack no longer
    knows them."""

    channel = models.ForeignKey(Channel, models.CASCADE, related_name="slack_members")
    email = models.EmailField()
    user_id = models.CharField(max_length=40)
    dm_channel = models.CharField(max_length=40)
    checked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["channel", "email"], name="actions_slackmember_unique")]

    def __str__(self) -> str:
        return f"{self.email} → {self.user_id}"


class OutboxMessage(models.Model):
    """What a channel would have sent, to whom and when: the outbox channel's messages (nothing leaves
    e360), and every dry run's. ``payload`` is the body the channel's kind would have posted."""

    channel = models.ForeignKey(Channel, models.CASCADE, related_name="outbox")
    kind = models.CharField(max_length=20, choices=Channel.Kind.choices)
    dry_run = models.BooleanField(default=False)
    dedupe_key = models.CharField(max_length=200, blank=True)
    recipient = models.CharField(max_length=300, help_text="To whom: addresses, a Slack channel, a person.")
    title = models.CharField(max_length=300)
    text = models.TextField(blank=True)
    url = models.URLField(max_length=500, blank=True)
    facts = models.JSONField(default=list, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            # A retry of the same message stores nothing more.
            models.UniqueConstraint(
                fields=["channel", "dedupe_key", "dry_run"],
                condition=~Q(dedupe_key=""),
                name="actions_outbox_dedupe",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} → {self.recipient}"

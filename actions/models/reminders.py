"""PR review reminders: a team's (or a service's) policy, and one row per reminder that fell due.

What is due is decided by ``actions.reminders`` (selection) and recorded there; the rows are the
evidence the holdout is measured from later (pickup time of reminded against held-out pull requests).
"""

from __future__ import annotations

from datetime import time

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from actions.models.channels import Channel
from e360.models import Service, Team
from metrics.models import PullRequest

# The channels that reach each reviewer on their own; a team's channel may be of any kind.
CHANNEL_KINDS: dict[str, tuple[str, ...]] = {
    "reviewers_dm": (Channel.Kind.SLACK_BOT, Channel.Kind.OUTBOX),
    "email": (Channel.Kind.EMAIL, Channel.Kind.OUTBOX),
}


class ReminderPolicyQuerySet(models.QuerySet["ReminderPolicy"]):
    def of_teams(self, team_ids: set[int] | None) -> ReminderPolicyQuerySet:
        """Those of teams in ``team_ids`` (their own, or one of their services'); None: every policy."""
        if team_ids is None:
            return self
        return self.filter(Q(team_id__in=team_ids) | Q(service__owner_id__in=team_ids))


class ReminderPolicy(models.Model):
    """When and how the reviewers of a team's (or one service's) pull requests are reminded.

    A pull request follows the most specific active policy: its service's, else its owning team's,
    else the nearest ancestor team's that covers its sub-teams.
    """

    class Recipients(models.TextChoices):
        REVIEWERS_DM = "reviewers_dm", "Each reviewer, by direct message"
        CHANNEL = "channel", "The team's channel"
        EMAIL = "email", "Each reviewer, by email"

    team = models.OneToOneField(
        Team, models.CASCADE, null=True, blank=True, related_name="reminder_policy", help_text="A team's pull requests…"
    )
    service = models.OneToOneField(
        Service,
        models.CASCADE,
        null=True,
        blank=True,
        related_name="reminder_policy",
        help_text="…or one service's (its owning team's working time applies).",
    )
    include_sub_teams = models.BooleanField(
        default=False, help_text="A team's policy also covers its sub-teams' services that have no policy of their own."
    )
    after_hours = models.PositiveSmallIntegerField(
        "remind after (business hours)",
        default=8,
        validators=[MinValueValidator(1), MaxValueValidator(1000)],
        help_text="Business hours (the owning team's working days and hours) a pull request waits for a first review.",
    )
    again_after_hours = models.PositiveSmallIntegerField(
        "remind again after (business hours)",
        default=8,
        validators=[MinValueValidator(1), MaxValueValidator(1000)],
        help_text="Remind again when still waiting this long since the last reminder; sooner if the pull request "
        "changed (new commits or reviews).",
    )
    digest = models.BooleanField(
        "daily digest",
        default=False,
        help_text="Gather the day's reminders into one digest at the time below (working days only), "
        "instead of reminding as each pull request falls due.",
    )
    digest_at = models.TimeField(
        "digest time", default=time(9, 30), help_text="The digest's local time, in the owning team's time zone."
    )
    holdout_percent = models.PositiveSmallIntegerField(
        "holdout (%)",
        default=0,
        validators=[MaxValueValidator(50)],
        help_text="Share of eligible pull requests never reminded (chosen by a stable hash), "
        "so the reminders' effect on pickup time can be measured.",
    )
    recipients = models.CharField(max_length=20, choices=Recipients.choices, default=Recipients.REVIEWERS_DM)
    channel = models.ForeignKey(
        Channel,
        models.PROTECT,
        null=True,
        related_name="reminder_policies",
        help_text="Where reminders go: a Slack bot (direct messages) or the outbox for each reviewer by direct "
        "message; an email channel (or the outbox) by email; any channel for the team's channel.",
    )
    is_active = models.BooleanField(default=True)
    created = models.DateTimeField(default=timezone.now, editable=False)
    last_digest_on = models.DateField(
        null=True, blank=True, editable=False, help_text="The local day of the last digest gathered."
    )

    objects = ReminderPolicyQuerySet.as_manager()

    class Meta:
        verbose_name = "reminder policy"
        verbose_name_plural = "reminder policies"
        constraints = [
            models.CheckConstraint(
                condition=Q(team__isnull=False, service__isnull=True) | Q(team__isnull=True, service__isnull=False),
                name="reminder_policy_team_or_service",
            )
        ]

    def __str__(self) -> str:
        return f"Review reminders of {self.team or self.service}"

    @property
    def owner_team_id(self) -> int | None:
        """The team it belongs to: its team, or its service's owner (whose leads manage it)."""
        if self.team_id is not None:
            return self.team_id
        return self.service.owner_id if self.service is not None else None

    def clean(self) -> None:
        if (self.team_id is None) == (self.service_id is None):
            raise ValidationError("Choose a team or a service (one of them).")
        if self.service_id is not None and self.include_sub_teams:
            raise ValidationError({"include_sub_teams": "Only a team's policy covers sub-teams."})
        kinds = CHANNEL_KINDS.get(self.recipients)
        channel = self.channel if self.channel_id is not None else None
        if channel is not None and kinds is not None and channel.kind not in kinds:
            names = " or ".join(str(Channel.Kind(kind).label) for kind in kinds)
            raise ValidationError({"channel": f"{self.get_recipients_display()} needs a channel of kind {names}."})


class ReminderQuerySet(models.QuerySet["Reminder"]):
    def to_send(self) -> ReminderQuerySet:
        """Reminders due and not sent yet (held-out ones are never sent), oldest first: the sender's outbox."""
        return self.filter(status=Reminder.Status.DUE).order_by("due_at", "id")

    def held_out(self) -> ReminderQuerySet:
        return self.filter(held_out=True)


class Reminder(models.Model):
    """A reminder that fell due for a pull request under a policy: sent, to send, or held out.

    ``round`` counts a pull request's reminders under its policy (1, 2, …): a selection computes the
    next one from the rows, so a worker killed mid-run and run again, or two workers at once, select
    the same round and the unique constraint keeps one row. ``commits``, ``last_commit_at`` and
    ``reviews`` are the pull request as it was then: "changed since the last reminder" compares them.
    """

    class Status(models.TextChoices):
        DUE = "due", "Due (to send)"
        SENDING = "sending", "Sending (taken by a worker; left so if it died: never sent twice)"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        HELD_OUT = "held_out", "Held out (never sent)"

    policy = models.ForeignKey(ReminderPolicy, models.CASCADE, related_name="reminders")
    pull_request = models.ForeignKey(PullRequest, models.CASCADE, related_name="+")
    round = models.PositiveSmallIntegerField(help_text="1 for the first reminder of the pull request, 2 for the next…")
    held_out = models.BooleanField(
        default=False, help_text="In the holdout: recorded when it would have been sent, and never sent."
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DUE)
    due_at = models.DateTimeField(help_text="When it fell due (the selection's time).")
    digest_on = models.DateField(
        null=True, blank=True, help_text="The local day of the digest it belongs to; empty: sent on its own."
    )
    waited = models.DurationField(help_text="Business time it had waited for a first review by then.")
    reviewers = models.JSONField(default=list, blank=True, help_text="The catalog people to remind (Person ids).")
    why = models.CharField(max_length=300)
    commits = models.PositiveIntegerField(help_text="The pull request's commits then.")
    last_commit_at = models.DateTimeField(null=True, blank=True, help_text="Its latest commit then.")
    reviews = models.PositiveIntegerField(help_text="Its reviews and comments then (its author's included).")
    sent_at = models.DateTimeField(null=True, blank=True)
    requested_by = models.CharField(
        max_length=254,
        blank=True,
        help_text="Who sent it now from the review queue (“Remind reviewers now”); empty: the schedule's.",
    )
    error = models.TextField(blank=True, help_text="Why sending failed.")

    objects = ReminderQuerySet.as_manager()

    class Meta:
        ordering = ["-due_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "pull_request", "round"], name="reminder_unique_round"),
        ]
        indexes = [
            models.Index(fields=["pull_request", "policy"], name="reminder_by_pull_request"),
            models.Index(fields=["status", "due_at"], name="reminder_outbox"),
        ]

    def __str__(self) -> str:
        kind = "held out" if self.held_out else "reminder"
        return f"{kind} {self.round} of pull request {self.pull_request_id}"

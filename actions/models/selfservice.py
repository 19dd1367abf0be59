"""Self-service actions: who may run each kind (``ActionPolicy``) and what was run (``ActionAudit``).

The rules that read them (permission, rate limit, execution) are ``actions.selfservice``'s.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.utils import timezone

from e360.models import Person, Team
from metrics.models import PipelineRun, PullRequest


class ActionKind(models.TextChoices):
    RERUN_FAILED_JOBS = "rerun_failed_jobs", "Re-run failed jobs"
    FETCH_LOGS = "fetch_logs", "Fetch logs"
    REMIND_REVIEWERS = "remind_reviewers", "Remind reviewers"


class ActionPolicy(models.Model):
    """Who may run one kind of action, and how often. A kind without a row runs with ``DEFAULTS``
    (``actions.selfservice.policy_for``)."""

    class Who(models.TextChoices):
        MEMBERS = "members", "Members of the team (and leads of the teams above it)"
        LEADS = "leads", "Leads of the team (or of a team above it)"
        PLATFORM = "platform", "Only the platform group below"

    kind = models.CharField(max_length=40, choices=ActionKind.choices, unique=True)
    enabled = models.BooleanField(default=True, help_text="Off: nobody may run it; the pages say so.")
    who = models.CharField(
        "team role",
        max_length=20,
        choices=Who.choices,
        default=Who.MEMBERS,
        help_text="Who of the team that owns the target (the run's service) may run it.",
    )
    platform_group = models.ForeignKey(
        Group,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Also allowed, on any team they can see: the users of this group.",
    )
    platform_team = models.ForeignKey(
        Team,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Also allowed, on any team they can see: the members of this catalog team.",
    )
    per_user_per_hour = models.PositiveSmallIntegerField(
        default=10, help_text="How many times one person may run it in an hour (on any target)."
    )
    per_target_per_hour = models.PositiveSmallIntegerField(
        default=3, help_text="How many times it may run on one target (a run, a pull request) in an hour, by anyone."
    )

    class Meta:
        verbose_name = "self-service action policy"
        verbose_name_plural = "self-service action policies"
        ordering = ["kind"]

    def __str__(self) -> str:
        return self.get_kind_display()


class ActionAuditQuerySet(models.QuerySet["ActionAudit"]):
    def counted(self) -> ActionAuditQuerySet:
        """What the rate limits count: actions that were sent (refusals are not)."""
        return self.exclude(status=ActionAudit.Status.REFUSED)


class ActionAudit(models.Model):
    """One self-service action someone asked for: who, what, on what, when, and what came of it."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        REFUSED = "refused", "Refused"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+")
    person = models.ForeignKey(Person, models.SET_NULL, null=True, blank=True, related_name="+")
    actor = models.CharField(max_length=254, help_text="Who, as they were named then (kept if the user goes).")
    kind = models.CharField(max_length=40, choices=ActionKind.choices)
    team = models.ForeignKey(Team, models.SET_NULL, null=True, blank=True, related_name="+")
    pipeline_run = models.ForeignKey(PipelineRun, models.SET_NULL, null=True, blank=True, related_name="+")
    pull_request = models.ForeignKey(PullRequest, models.SET_NULL, null=True, blank=True, related_name="+")
    target = models.CharField(max_length=300, help_text="The target, as it read then.")
    started_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RUNNING)
    message = models.CharField(max_length=500, blank=True, help_text="What the person was told.")
    response = models.CharField(max_length=500, blank=True, help_text="The provider's answer, shortened.")
    duration_ms = models.PositiveIntegerField(null=True, blank=True)

    objects = ActionAuditQuerySet.as_manager()

    class Meta:
        verbose_name = "self-service action"
        ordering = ["-started_at", "-id"]
        indexes = [
            # The rate limits: a user's (or a target's) actions of a kind in the last hour.
            models.Index(fields=["user", "kind", "started_at"]),
            models.Index(fields=["pipeline_run", "kind", "started_at"]),
            models.Index(fields=["pull_request", "kind", "started_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.target} by {self.actor}"

"""Automations: a trigger, optional conditions, one action (``Automation``), and the log of what each did
(``AutomationRun``, one per trigger occurrence: its ``dedupe_key`` is unique per automation).

What reads and writes them is ``actions.automations`` (the engine, every minute).
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from actions.models.channels import Channel
from actions.models.initiatives import DIMENSION_CHOICES
from actions.models.thresholds import Threshold
from e360.models import Service, Team
from surveys.models import Dimension

MAX_FAILURES_IN_A_ROW = 50


class Trigger(models.TextChoices):
    THRESHOLD_CROSSED = "threshold_crossed", "A threshold is crossed"
    THRESHOLD_RECOVERED = "threshold_recovered", "A threshold recovers"
    INCIDENT_OPENED = "incident_opened", "An incident is opened"
    PIPELINE_FAILING = "pipeline_failing", "A pipeline fails on the default branch K times in a row"
    PULL_REQUEST_WAITING = "pull_request_waiting", "A pull request waits for a first review N business hours"
    SCHEDULE = "schedule", "On a schedule"
    SURVEY_CLOSED = "survey_closed", "A survey closes with a dimension below X % favourable"
    INCIDENT_RESOLVED = "incident_resolved", "An incident is resolved"
    INITIATIVE_STARTED = "initiative_started", "An initiative's teams started N weeks ago"
    PEOPLE_JOINED = "people_joined", "People joined N days ago (onboarding)"


THRESHOLD_TRIGGERS = (Trigger.THRESHOLD_CROSSED, Trigger.THRESHOLD_RECOVERED)
# What a pulse survey may follow (``actions.pulses``): an incident's team, an initiative's teams, newcomers.
PULSE_TRIGGERS = (Trigger.INCIDENT_OPENED, Trigger.INCIDENT_RESOLVED, Trigger.INITIATIVE_STARTED, Trigger.PEOPLE_JOINED)
MAX_PULSE_DAYS_OPEN = 30


class Do(models.TextChoices):
    MESSAGE = "message", "Send a message through a channel"
    RERUN_FAILED_JOBS = "rerun_failed_jobs", "Re-run the failed jobs (GitHub Actions)"
    CREATE_INITIATIVE = "create_initiative", "Draft an initiative for the team"
    OPEN_PULSE = "open_pulse", "Open a pulse survey"


class AutomationQuerySet(models.QuerySet["Automation"]):
    def of_teams(self, team_ids: set[int] | None) -> AutomationQuerySet:
        """Those owned by these teams (None: all, the organisation's too)."""
        return self if team_ids is None else self.filter(team_id__in=team_ids)


class Automation(models.Model):
    name = models.CharField(max_length=200)
    team = models.ForeignKey(
        Team,
        models.CASCADE,
        null=True,
        blank=True,
        related_name="automations",
        help_text="The owner team: its thresholds, services and working time. Empty: the organisation's.",
    )
    # The trigger and its parameters (each used by some triggers; the form says which).
    trigger = models.CharField(max_length=30, choices=Trigger.choices)
    threshold = models.ForeignKey(
        Threshold,
        models.CASCADE,
        null=True,
        blank=True,
        related_name="automations",
        help_text="Threshold triggers: this one; empty: any threshold of the owner team (the organisation: any).",
    )
    failures_in_a_row = models.PositiveSmallIntegerField(
        "K failures in a row",
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_FAILURES_IN_A_ROW)],
        help_text="Pipeline trigger: the last K finished runs of a workflow on the default branch all failed.",
    )
    waiting_hours = models.PositiveSmallIntegerField(
        "N business hours",
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 30)],
        help_text="Pull request trigger: waiting for a first review this long, in its owning team's working time.",
    )
    every_hours = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 7)],
        help_text="Schedule: every N hours (counted from midnight UTC).",
    )
    daily_at = models.TimeField(
        null=True, blank=True, help_text="Schedule: every day at this time, in the owner team's time zone (else UTC)."
    )
    survey_dimension = models.CharField(
        max_length=20,
        choices=Dimension.choices,
        blank=True,
        help_text="Survey trigger: the dimension whose % favourable is watched.",
    )
    favourable_below = models.FloatField(
        "X % favourable",
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text="Survey trigger: a team (or the organisation) shown below this % favourable when a survey closes.",
    )
    weeks_after_start = models.PositiveSmallIntegerField(
        "N weeks after the start",
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(52)],
        help_text="Initiative trigger: N weeks after its teams started (teams with their own later start: theirs).",
    )
    days_after_joining = models.PositiveSmallIntegerField(
        "N days after joining",
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
        help_text="Onboarding trigger: people whose joining date (the catalog's) was N days ago, e.g. 7 or 30.",
    )
    # Conditions (each optional; empty: no filter).
    tiers = models.JSONField(
        default=list, blank=True, help_text="Only services of these tiers (1-4), e.g. [1, 2]; empty: any tier."
    )
    teams = models.ManyToManyField(
        Team, blank=True, related_name="+", help_text="Only services of these teams; empty: any of the owner's."
    )
    services = models.ManyToManyField(Service, blank=True, related_name="+", help_text="Only these services.")
    # The action.
    action = models.CharField(max_length=30, choices=Do.choices, default=Do.MESSAGE)
    channel = models.ForeignKey(
        Channel,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="automations",
        help_text="Message: where it goes (the owner team's channels or the organisation's).",
    )
    note = models.TextField(blank=True, help_text="Added to the message: what to do, whom to call.")
    initiative_dimension = models.CharField(
        max_length=30,
        choices=DIMENSION_CHOICES,
        blank=True,
        help_text="Draft an initiative: the bottleneck dimension it addresses (its primary metrics follow from it).",
    )
    pulse_template = models.ForeignKey(
        "surveys.Template",
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Open a pulse: the survey asked (e.g. Post-incident). Empty: the pulse dimension's questions; for "
        "onboarding, Onboarding — week 1 (month 1 from day 30).",
    )
    pulse_dimension = models.CharField(
        max_length=20,
        choices=Dimension.choices,
        blank=True,
        help_text="Open a pulse: ask only this dimension's questions. An initiative's pulse asks its survey dimension.",
    )
    pulse_days_open = models.PositiveSmallIntegerField(
        "pulse open for (days)",
        default=7,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_PULSE_DAYS_OPEN)],
        help_text="Open a pulse: how long it takes answers.",
    )
    dry_run = models.BooleanField(
        default=False,
        help_text="Messages are kept in the outbox as dry runs; nothing is sent, re-run, drafted or opened.",
    )
    quiet_hours = models.BooleanField(
        default=True,
        help_text="Outside the owner team's working time a run waits until it starts (never dropped).",
    )
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    checked_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When the engine last looked for its triggers."
    )

    objects = AutomationQuerySet.as_manager()

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(action="message") | Q(channel__isnull=False), name="automation_message_has_a_channel"
            ),
            models.CheckConstraint(
                condition=~Q(action="create_initiative") | ~Q(initiative_dimension=""),
                name="automation_initiative_has_a_dimension",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def trigger_text(self) -> str:
        if self.trigger in THRESHOLD_TRIGGERS:
            what = f"“{self.threshold}”" if self.threshold_id else "any threshold of " + self.owner_text
            verb = "crossed" if self.trigger == Trigger.THRESHOLD_CROSSED else "recovered"
            return f"{what} {verb}"
        if self.trigger == Trigger.PIPELINE_FAILING:
            return f"a pipeline failed {self.failures_in_a_row} times in a row on the default branch"
        if self.trigger == Trigger.PULL_REQUEST_WAITING:
            return f"a pull request waited {self.waiting_hours} business hours for a first review"
        if self.trigger == Trigger.SCHEDULE:
            if self.daily_at is not None:
                return f"daily at {self.daily_at:%H:%M}"
            return f"every {self.every_hours} hours"
        if self.trigger == Trigger.INITIATIVE_STARTED:
            return f"an initiative's teams started {self.weeks_after_start} weeks ago"
        if self.trigger == Trigger.PEOPLE_JOINED:
            return f"people joined {self.days_after_joining} days ago"
        if self.trigger == Trigger.SURVEY_CLOSED:
            below = "?" if self.favourable_below is None else f"{self.favourable_below:g}"
            return f"a survey closed with {self.get_survey_dimension_display() or '?'} below {below}% favourable"
        return self.get_trigger_display()

    @property
    def owner_text(self) -> str:
        return str(self.team) if self.team_id else "the organisation"


class AutomationRunQuerySet(models.QuerySet["AutomationRun"]):
    def due(self, now: datetime) -> AutomationRunQuerySet:
        """Runs to execute now: pending or waiting, whose not-before time has come."""
        return self.filter(
            Q(not_before__isnull=True) | Q(not_before__lte=now),
            status__in=[AutomationRun.Status.PENDING, AutomationRun.Status.WAITING],
        )


class AutomationRun(models.Model):
    """One trigger occurrence of an automation and what came of it. ``dedupe_key`` names the occurrence
    (``threshold-12-3-crossed``, ``incident:42``, ``schedule:2026-05-04``): unique per automation, so
    collecting the triggers again (a retry, two workers) creates no second run; it is also the key the
    channel is given (the webhook's ``Idempotency-Key``, the email's Message-ID, the outbox's)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        WAITING = "waiting", "Waiting for working time"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        DRY_RUN = "dry_run", "Dry run"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped by the conditions"

    automation = models.ForeignKey(Automation, models.CASCADE, related_name="runs")
    trigger = models.CharField(max_length=30, choices=Trigger.choices)
    dedupe_key = models.CharField(max_length=200)
    inputs = models.JSONField(default=dict, blank=True, help_text="What triggered it.")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    not_before = models.DateTimeField(null=True, blank=True, help_text="Not run before (working time, a rate limit).")
    response = models.CharField(max_length=500, blank=True, help_text="The channel's (or GitHub's) answer.")
    attempts = models.PositiveSmallIntegerField(default=0)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True, help_text="When a worker last took it to execute.")
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = AutomationRunQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["automation", "dedupe_key"], name="automation_run_once_per_key"),
        ]
        indexes = [
            models.Index(fields=["status", "not_before"], name="automation_run_due"),
            models.Index(fields=["-created_at", "-id"], name="automation_run_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.automation} {self.dedupe_key}: {self.get_status_display()}"

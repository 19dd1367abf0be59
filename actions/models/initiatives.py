"""Initiatives: what a team does about a bottleneck, tied to the metrics that should move (``Initiative``), and the
teams it targets, each with its start (``InitiativeTeam``).

When its start comes, its definitions (metrics, dimension, guardrail, windows, teams) and each team's baseline are
frozen (``frozen``, written by ``actions.initiatives.initiative_freeze``): a definition changed afterwards could move
the goalposts, so it is refused ("start a new one"); its name, hypothesis, owner and linked automations, thresholds
and reminder policies may still change.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils import timezone

from e360.models import Team
from insights import engine
from metrics import definitions as d
from metrics.scope import reading_profile
from surveys.models import Dimension

FROZEN_MESSAGE = "This initiative has started: its definitions are frozen. Start a new one."
# What freezing fixes: changing any of these after it is refused (the target teams and their starts too).
FROZEN_FIELDS = (
    "dimension",
    "primary_metrics",
    "survey_dimension",
    "guardrail_metric",
    "guardrail_worse_when",
    "ramp_up_days",
    "window_days",
    "starts_on",
)
MAX_PRIMARY_METRICS = 3
DIMENSION_CHOICES = [(dimension.key, dimension.label) for dimension in engine.DIMENSIONS]


def org_today(now: datetime | None = None) -> date:
    """Today in the organisation's time zone (the day metrics are cut by): a start "has come" on that day."""
    return d.bucket_day(now or timezone.now(), reading_profile())


def delivery_metrics() -> dict[str, Any]:
    """The metrics an initiative measures: the thresholds' delivery metrics (docs/metrics.md, the review queue's
    among them), read the way thresholds read them (``actions.threshold_metrics``)."""
    from actions.threshold_metrics import METRICS, Source

    return {key: metric for key, metric in METRICS.items() if metric.source == Source.DELIVERY}


class CreatedFrom(models.TextChoices):
    ADMIN = "admin", "The admin"
    BOTTLENECK_CARD = "bottleneck_card", "A bottleneck card"
    AUTOMATION = "automation", "An automation"


class WorseWhen(models.TextChoices):
    RISES = "rises", "Rises"
    FALLS = "falls", "Falls"


class Status(models.TextChoices):
    PLANNED = "planned", "Planned: starts later"
    STARTING = "starting", "Started: freezing within the hour"
    FROZEN = "frozen", "Running: definitions frozen"


class InitiativeQuerySet(models.QuerySet["Initiative"]):
    def planned(self, today: date) -> InitiativeQuerySet:
        return self.filter(starts_on__gt=today, frozen_at__isnull=True)

    def starting(self, today: date) -> InitiativeQuerySet:
        """Started, not frozen yet: what the hourly task freezes."""
        return self.filter(starts_on__lte=today, frozen_at__isnull=True)

    def frozen(self) -> InitiativeQuerySet:
        return self.filter(frozen_at__isnull=False)

    def of_teams(self, team_ids: set[int] | None) -> InitiativeQuerySet:
        """Those whose every target team is in ``team_ids`` (and that target one at least); None: all."""
        if team_ids is None:
            return self
        targets = InitiativeTeam.objects.filter(initiative=OuterRef("pk"))
        return self.filter(Exists(targets)).exclude(Exists(targets.exclude(team_id__in=team_ids)))


class Initiative(models.Model):
    name = models.CharField(max_length=200)
    dimension = models.CharField(
        "bottleneck dimension", max_length=30, choices=DIMENSION_CHOICES, help_text="The bottleneck it addresses."
    )
    hypothesis = models.CharField(
        max_length=300,
        help_text="In one sentence: what you do and what you expect to move, e.g. “…: pickup time falls”.",
    )
    # SET_NULL, not PROTECT: an initiative is the evidence of a change and outlives its owner's account (deleting a
    # user, e.g. on erasure, must not wait for every initiative they owned to be handed over); the admin shows it
    # ownerless and its form asks for one on the next save.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,  # the admin's form asks for one; a draft from an automation may have none to give
        related_name="owned_initiatives",
        help_text="Who answers for it.",
    )
    teams = models.ManyToManyField(Team, through="InitiativeTeam", related_name="initiatives")
    starts_on = models.DateField(
        help_text="The start (the organisation's time zone), and each team's unless the team has its own (later) one."
    )
    primary_metrics = models.JSONField(
        default=list, help_text=f"1–{MAX_PRIMARY_METRICS} delivery metrics (keys of the thresholds' metrics)."
    )
    survey_dimension = models.CharField(
        max_length=30, choices=Dimension.choices, blank=True, help_text="Empty: the bottleneck dimension."
    )
    guardrail_metric = models.CharField(
        max_length=60,
        blank=True,
        help_text="A delivery metric that must not get worse meanwhile (e.g. the change failure rate).",
    )
    guardrail_worse_when = models.CharField(
        max_length=5,
        choices=WorseWhen.choices,
        blank=True,
        help_text="Which way counts as worse; empty: the metric's bad direction.",
    )
    ramp_up_days = models.PositiveSmallIntegerField(
        default=14,
        validators=[MaxValueValidator(90)],
        help_text="Days after a team's start that are left out of its after-window (the change settling in).",
    )
    window_days = models.PositiveSmallIntegerField(
        default=90,
        validators=[MinValueValidator(7), MaxValueValidator(365)],
        help_text="The length of the equal before- and after-windows, in days.",
    )
    automations = models.ManyToManyField("actions.Automation", blank=True, related_name="initiatives")
    thresholds = models.ManyToManyField("actions.Threshold", blank=True, related_name="initiatives")
    reminder_policies = models.ManyToManyField("actions.ReminderPolicy", blank=True, related_name="initiatives")
    created_from = models.CharField(max_length=20, choices=CreatedFrom.choices, default=CreatedFrom.ADMIN)
    # One initiative per automation run: a retried run finds the one it drafted instead of drafting another.
    automation_run = models.OneToOneField(
        "actions.AutomationRun",
        models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="initiative",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    frozen_at = models.DateTimeField(null=True, blank=True, editable=False)
    frozen = models.JSONField(
        default=dict, blank=True, editable=False, help_text="The definitions and baselines, as frozen at the start."
    )

    objects = InitiativeQuerySet.as_manager()

    class Meta:
        ordering = ["-starts_on", "-pk"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("actions:initiative-detail", args=[self.pk])

    def status(self, today: date | None = None) -> Status:
        if self.frozen_at is not None:
            return Status.FROZEN
        return Status.PLANNED if self.starts_on > (today or org_today()) else Status.STARTING

    @property
    def dimension_label(self) -> str:
        return engine.DIMENSIONS_BY_KEY[self.dimension].label if self.dimension in engine.DIMENSIONS_BY_KEY else ""

    @property
    def targets_with_teams(self) -> list[InitiativeTeam]:
        """The target teams with their ``team``, first added first (``actions.initiatives.with_teams`` reads them
        with the initiative; otherwise one query here)."""
        if "targets" in getattr(self, "_prefetched_objects_cache", {}):
            return list(self.targets.all())
        return list(self.targets.select_related("team").order_by("pk"))

    @property
    def metric_keys(self) -> list[str]:
        """The primary metrics, then the guardrail: those a baseline holds."""
        keys = list(self.primary_metrics or [])
        if self.guardrail_metric and self.guardrail_metric not in keys:
            keys.append(self.guardrail_metric)
        return keys

    def stored_frozen_at(self) -> datetime | None:
        if self.pk is None:
            return None
        return Initiative.objects.filter(pk=self.pk).values_list("frozen_at", flat=True).first()

    def clean(self) -> None:
        metrics = delivery_metrics()
        if not self.survey_dimension and self.dimension:
            self.survey_dimension = self.dimension
        errors: dict[str, str] = {}
        keys = self.primary_metrics
        if not isinstance(keys, list) or not all(isinstance(key, str) for key in keys):
            errors["primary_metrics"] = "A list of metric keys."
        elif not 1 <= len(keys) <= MAX_PRIMARY_METRICS or len(set(keys)) != len(keys):
            errors["primary_metrics"] = f"Choose 1 to {MAX_PRIMARY_METRICS} different metrics."
        elif unknown := [key for key in keys if key not in metrics]:
            errors["primary_metrics"] = f"Not a delivery metric: {', '.join(unknown)}."
        if self.guardrail_metric:
            guardrail = metrics.get(self.guardrail_metric)
            if guardrail is None:
                errors["guardrail_metric"] = f"Not a delivery metric: {self.guardrail_metric}."
            elif isinstance(keys, list) and self.guardrail_metric in keys:
                errors["guardrail_metric"] = "A guardrail watches another metric than the primary ones."
            elif not self.guardrail_worse_when:
                self.guardrail_worse_when = WorseWhen.RISES if guardrail.higher_is_worse else WorseWhen.FALLS
        elif self.guardrail_worse_when:
            self.guardrail_worse_when = ""
        if errors:
            raise ValidationError(errors)
        self.refuse_if_frozen()

    def refuse_if_frozen(self) -> None:
        """Refuse a change of a frozen definition (as stored: a form read before the freeze included)."""
        if self.pk is None:
            return
        stored = Initiative.objects.filter(pk=self.pk).values("frozen_at", *FROZEN_FIELDS).first()
        if stored is None or stored["frozen_at"] is None:
            return
        if any(_frozen_value(name, stored[name]) != _frozen_value(name, getattr(self, name)) for name in FROZEN_FIELDS):
            raise ValidationError(FROZEN_MESSAGE, code="frozen")


def _frozen_value(name: str, value: Any) -> Any:
    # The primary metrics' order means nothing (a form posts them in its checkboxes' order).
    return sorted(value) if name == "primary_metrics" and isinstance(value, list) else value


class InitiativeTeam(models.Model):
    """A target team of an initiative, and its own start when it starts after the initiative (a staggered start)."""

    initiative = models.ForeignKey(Initiative, models.CASCADE, related_name="targets")
    team = models.ForeignKey(Team, models.PROTECT, related_name="+")
    starts_on = models.DateField(null=True, blank=True, help_text="Empty: the initiative's start.")
    baseline_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When its baseline was frozen (at its start)."
    )

    class Meta:
        ordering = ["starts_on", "team__name", "pk"]
        constraints = [models.UniqueConstraint(fields=["initiative", "team"], name="initiative_team_once")]
        indexes = [models.Index(fields=["baseline_at", "starts_on"], name="initiative_team_baseline_due")]

    def __str__(self) -> str:
        return f"{self.team} in {self.initiative}"

    @property
    def start(self) -> date:
        return self.starts_on or self.initiative.starts_on

    def clean(self) -> None:
        try:
            initiative = self.initiative
        except Initiative.DoesNotExist:  # not bound to one yet: the form checks it with its initiative
            return
        if self.starts_on is not None and initiative.starts_on is not None and self.starts_on < initiative.starts_on:
            raise ValidationError(
                {"starts_on": f"A team starts on or after the initiative's start ({initiative.starts_on:%Y-%m-%d})."}
            )
        if initiative.stored_frozen_at() is None:
            return
        stored = InitiativeTeam.objects.filter(pk=self.pk).values("team_id", "starts_on").first() if self.pk else None
        if stored is None or stored != {"team_id": self.team_id, "starts_on": self.starts_on}:
            raise ValidationError(FROZEN_MESSAGE, code="frozen")


def baseline_due(today: date) -> Q:
    """The target teams whose start has come and whose baseline is not frozen yet."""
    return Q(baseline_at__isnull=True) & (
        Q(starts_on__lte=today) | Q(starts_on__isnull=True, initiative__starts_on__lte=today)
    )

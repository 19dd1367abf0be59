"""Thresholds: a metric of a scope compared with a value over a window, evaluated on a schedule, and the log of
their crossings and recoveries (``ThresholdEvent``), which automations trigger on.

The rule's arithmetic is ``actions/crossings.py`` (pure); what a metric is and how it is read,
``actions/threshold_metrics.py``; writes and evaluation, ``actions/thresholds.py``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from actions import crossings as rules

if TYPE_CHECKING:
    from actions.threshold_metrics import Metric, Subject

MAX_WINDOW_DAYS = 180
MAX_COOLDOWN_HOURS = 24 * 30


class ScopeKind(models.TextChoices):
    ORGANISATION = "organisation", "The organisation"
    TEAM = "team", "A team (its own services)"
    TEAM_SUBTREE = "team_subtree", "A team with its sub-teams"
    SERVICE = "service", "A service"


class Comparison(models.TextChoices):
    GT = rules.Comparison.GT.value, ">"
    GTE = rules.Comparison.GTE.value, "≥"
    LT = rules.Comparison.LT.value, "<"
    LTE = rules.Comparison.LTE.value, "≤"


class EventKind(models.TextChoices):
    CROSSED = rules.Kind.CROSSED.value, "Crossed"
    RECOVERED = rules.Kind.RECOVERED.value, "Recovered"


class ThresholdQuerySet(models.QuerySet["Threshold"]):
    def active(self) -> ThresholdQuerySet:
        return self.filter(is_active=True)

    def of_teams(self, team_ids: set[int] | None) -> ThresholdQuerySet:
        """Those on teams in ``team_ids`` (their own, or one of their services); None: every threshold, the
        organisation's included."""
        if team_ids is None:
            return self
        return self.filter(Q(team_id__in=team_ids) | Q(service__owner_id__in=team_ids))


class Threshold(models.Model):
    name = models.CharField(max_length=200)
    metric = models.CharField(max_length=60, help_text="A key of actions.threshold_metrics.METRICS.")
    scope = models.CharField(max_length=20, choices=ScopeKind.choices)
    team = models.ForeignKey(
        "e360.Team", models.CASCADE, null=True, blank=True, related_name="thresholds", help_text="Team scopes only."
    )
    service = models.ForeignKey(
        "e360.Service",
        models.CASCADE,
        null=True,
        blank=True,
        related_name="thresholds",
        help_text="Service scope only.",
    )
    comparison = models.CharField(max_length=3, choices=Comparison.choices)
    value = models.FloatField(help_text="In the metric's unit (%, hours, minutes, per week, pull requests, lines).")
    window_days = models.PositiveSmallIntegerField(
        default=7, validators=[MinValueValidator(1), MaxValueValidator(MAX_WINDOW_DAYS)]
    )
    cooldown_hours = models.PositiveIntegerField(
        default=24,
        validators=[MaxValueValidator(MAX_COOLDOWN_HOURS)],
        help_text="After firing, it does not fire again for this long, even once it has recovered.",
    )
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # State, written by the evaluation only.
    is_firing = models.BooleanField(default=False, editable=False)
    firing_since = models.DateTimeField(null=True, blank=True, editable=False)
    crossed_at = models.DateTimeField(null=True, blank=True, editable=False, help_text="The last crossing.")
    crossings = models.PositiveIntegerField(default=0, editable=False, help_text="How many times it has fired.")
    last_value = models.FloatField(null=True, blank=True, editable=False)
    last_evaluated_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = ThresholdQuerySet.as_manager()

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(scope="organisation", team__isnull=True, service__isnull=True))
                | (Q(scope__in=["team", "team_subtree"], team__isnull=False, service__isnull=True))
                | (Q(scope="service", team__isnull=True, service__isnull=False)),
                name="threshold_scope_matches_its_target",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def metric_spec(self) -> Metric | None:
        from actions.threshold_metrics import METRICS

        return METRICS.get(self.metric)

    @property
    def owner_team_id(self) -> int | None:
        """The team whose leads manage it: the scope's team, or the service's owner; None: the organisation's."""
        if self.service is not None:
            return self.service.owner_id
        return self.team_id

    @property
    def rule(self) -> rules.Rule:
        return rules.Rule(rules.Comparison(self.comparison), self.value, timedelta(hours=self.cooldown_hours))

    @property
    def state(self) -> rules.State:
        return rules.State(self.is_firing, self.crossed_at)

    def subject(self) -> Subject:
        from actions.threshold_metrics import Subject

        spec = self.metric_spec
        if spec is None:
            raise ValueError(f"unknown metric {self.metric!r}")
        return Subject(spec, ScopeKind(self.scope), self.team, self.service, self.window_days)

    @property
    def scope_text(self) -> str:
        if self.scope == ScopeKind.ORGANISATION:
            return "the organisation"
        if self.scope == ScopeKind.SERVICE:
            return f"service {self.service}"
        if self.scope == ScopeKind.TEAM_SUBTREE:
            return f"{self.team} and its sub-teams"
        return f"{self.team} (its own services)"

    @property
    def last_value_text(self) -> str:
        spec = self.metric_spec
        return spec.text(self.last_value) if spec else "no value"

    @property
    def rule_text(self) -> str:
        spec = self.metric_spec
        label = spec.label if spec else self.metric
        value = spec.text(self.value) if spec else f"{self.value:g}"
        over = "" if spec is not None and spec.source == "survey" else f" over {self.window_days} days"
        return f"{label} {rules.Comparison(self.comparison).symbol} {value}{over}"


class ThresholdEvent(models.Model):
    """A crossing or a recovery of a threshold: the log automations trigger on.

    ``key`` is stable and unique (``threshold-<id>-<n>-crossed`` for its n-th crossing, ``…-recovered`` for the
    recovery that follows): an automation records the keys it has acted on and so consumes each event exactly once,
    however often it is retried or the evaluation is run again.
    """

    threshold = models.ForeignKey(Threshold, models.CASCADE, related_name="events")
    key = models.CharField(max_length=80, unique=True)
    kind = models.CharField(max_length=10, choices=EventKind.choices)
    at = models.DateTimeField()
    value = models.FloatField(help_text="The metric's value, in its unit.")
    # The rule when it happened (a threshold can be edited since).
    comparison = models.CharField(max_length=3, choices=Comparison.choices)
    limit = models.FloatField()
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["threshold", "-at"], name="threshold_event_recent")]

    def __str__(self) -> str:
        return f"{self.threshold} {self.kind} at {self.at:%Y-%m-%d %H:%M}"

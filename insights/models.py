"""Precomputed insight results, one set per standard period (``insights.services.insights_refresh``).

The bottleneck and correlation pages, and the dashboards' bottleneck lists, read these rows and nothing else of the
insights computation: a refresh reads every team's rollups and survey figures once an hour, a page reads a few rows.
A refresh replaces a period's rows in one transaction, so a page sees either the old set or the new one.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from e360.models import Team


class PeriodResult(models.Model):
    """One refresh of one standard period: when, over which window and survey waves, and the org ranking."""

    days = models.PositiveSmallIntegerField(unique=True, help_text="The period: the last N org-zone days.")
    computed_at = models.DateTimeField(default=timezone.now)
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    # The survey waves sentiment came from: the latest closed wave with dimension questions, and the one before it
    # in the same series (for the change and the within-team correlations).
    campaign = models.ForeignKey("surveys.Campaign", models.SET_NULL, null=True, blank=True, related_name="+")
    previous_campaign = models.ForeignKey("surveys.Campaign", models.SET_NULL, null=True, blank=True, related_name="+")
    teams = models.PositiveIntegerField(default=0, help_text="Teams computed.")
    leaf_teams = models.PositiveIntegerField(default=0, help_text="Teams without sub-teams: the org ranking's.")
    org_ranking = models.JSONField(default=list, blank=True, help_text="engine.OrgItem per dimension, ranked.")
    org_grid = models.JSONField(
        default=list,
        blank=True,
        help_text=(
            "Each leaf team as the org ranking saw it: [team id, active members, [[label, score] per dimension in "
            "engine.DIMENSIONS' order]]. The org pages read this row, not every leaf team's items."
        ),
    )
    leaf_people = models.PositiveIntegerField(
        default=0, help_text="The active people in the leaf teams, each counted once however many they are in."
    )
    seconds = models.FloatField(default=0, help_text="How long the refresh took.")
    version = models.UUIDField(
        default=uuid.uuid4,
        editable=False,
        help_text=(
            "New and random on every store, so what a process decoded of the row is kept under it: a database rolled "
            "back or restored never gives another content an old version."
        ),
    )

    class Meta:
        ordering = ["days"]

    def __str__(self) -> str:
        return f"Insights over {self.days} days, computed {self.computed_at:%Y-%m-%d %H:%M}"


class TeamResult(models.Model):
    """A team's mapped metric values over the period (its whole subtree's services), its sentiment as the anonymity
    rules let it out, and its bottleneck ranking."""

    period = models.ForeignKey(PeriodResult, models.CASCADE, related_name="team_results")
    team = models.ForeignKey(Team, models.CASCADE, related_name="+")
    depth = models.PositiveSmallIntegerField(help_text="1 for a root team: peers are the teams at the same depth.")
    leaf = models.BooleanField(default=False)
    people = models.PositiveIntegerField(default=0, help_text="Active members of the team itself.")
    metrics = models.JSONField(
        default=dict, blank=True, help_text="Metric key → [value (base unit) or null, display text, sample]."
    )
    wave_change = models.JSONField(
        default=dict,
        blank=True,
        help_text="Metric key → change between the windows ending at the previous and the latest wave's close.",
    )
    items = models.JSONField(default=list, blank=True, help_text="engine.Item per dimension, ranked.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["period", "team"], name="insights_teamresult_unique")]

    def __str__(self) -> str:
        return f"{self.team_id} over {self.period_id}"


class PairResult(models.Model):
    """One dimension–metric pair's correlation across teams, and its within-team change across the last two waves.

    ``team`` is the scope: null for the organisation (every team without sub-teams), else a team with sub-teams
    (the teams without sub-teams below it), for its leads. ``points`` holds the scatter's teams: only those whose
    sentiment is shown, as [team id, name, % favourable, value]. Below ``min_n`` teams rho, low and high are null
    (``stats.Correlation`` refuses them) and there are no points.
    """

    period = models.ForeignKey(PeriodResult, models.CASCADE, related_name="pairs")
    team = models.ForeignKey(Team, models.CASCADE, null=True, blank=True, related_name="+")
    position = models.PositiveSmallIntegerField(help_text="Its place in docs/surveys.md#dimensions.")
    dimension = models.CharField(max_length=20)
    metric = models.CharField(max_length=40)
    n = models.PositiveIntegerField()
    rho = models.FloatField(null=True, blank=True)
    low = models.FloatField(null=True, blank=True)
    high = models.FloatField(null=True, blank=True)
    min_n = models.PositiveSmallIntegerField()
    confidence = models.FloatField()
    points = models.JSONField(default=list, blank=True)
    change_n = models.PositiveIntegerField(default=0)
    change_rho = models.FloatField(null=True, blank=True)
    change_low = models.FloatField(null=True, blank=True)
    change_high = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(
                fields=["period", "dimension", "metric"],
                condition=models.Q(team__isnull=True),
                name="insights_pairresult_unique",
            ),
            models.UniqueConstraint(
                fields=["period", "team", "dimension", "metric"],
                condition=models.Q(team__isnull=False),
                name="insights_pairresult_team_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.dimension} × {self.metric}"

"""What to do about a bottleneck: the actions that address each dimension of the insights engine
(``insights.engine.DIMENSIONS``), pre-filled for a team, in one place (``SUGGESTIONS``: pure data).

Three kinds: a **threshold** (a link to the thresholds' form, ``/actions/thresholds/new/``, with the metric, the
scope — the team with its sub-teams, what its bottleneck page covers —, the team, the comparison and the value in
its query); **review reminders** (a link to the reminder policies' form, ``/actions/reminders/new/``, with the
team in its query, or to the team's existing policy); and on each of those dimensions, **start an initiative**
(``/actions/initiatives/new/`` with the team, the dimension and its mapped delivery metrics). All are offered to
whoever manages the team (its leads and the leads above it; org viewers: ``thresholds.managed_team_ids``).
``for_team`` keeps the suggestions a user may follow; a dimension with none shows nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from django.urls import reverse

from actions import threshold_metrics
from actions.initiatives import mapped_metrics
from actions.models import ReminderPolicy
from actions.models.thresholds import Comparison, ScopeKind
from actions.thresholds import managed_team_ids
from e360.models import Team, User
from insights import engine


@dataclass(frozen=True)
class Alert:
    """A threshold to suggest: ``title`` and ``name`` take the team's name as ``{team}``."""

    title: str
    name: str
    metric: str  # a key of threshold_metrics.METRICS
    comparison: Comparison
    value: float


@dataclass(frozen=True)
class Reminders:
    """Review reminders for the team."""

    title: str = "Set up review reminders for {team}"


Suggestion = Alert | Reminders

SUGGESTIONS: dict[str, tuple[Suggestion, ...]] = {
    "code_review": (
        Reminders(),
        Alert(
            "Alert when pull requests wait over 8 hours for a pickup",
            "{team}: pickup time over 8 h",
            "pickup_time",
            Comparison.GT,
            8,
        ),
    ),
    "ci_cd": (
        Alert(
            "Alert when pipeline failures exceed 20%",
            "{team}: pipeline failures over 20%",
            "pipeline_failure_rate",
            Comparison.GT,
            20,
        ),
        Alert("Alert when flaky runs exceed 10%", "{team}: flaky runs over 10%", "flaky_rate", Comparison.GT, 10),
    ),
    "release": (
        Alert(
            "Alert when deployments fall below 1 a week",
            "{team}: fewer than 1 deployment a week",
            "deployment_frequency",
            Comparison.LT,
            1,
        ),
    ),
    "stability": (
        Alert(
            "Alert when the change failure rate exceeds 15%",
            "{team}: change failure rate over 15%",
            "change_failure_rate",
            Comparison.GT,
            15,
        ),
    ),
    "cognitive_load": (
        Alert(
            "Alert when pull requests exceed 400 lines", "{team}: PR size over 400 lines", "pr_size", Comparison.GT, 400
        ),
    ),
    "tooling": (
        Alert(
            "Alert when the median pipeline exceeds 15 minutes",
            "{team}: median pipeline over 15 min",
            "pipeline_p50_duration",
            Comparison.GT,
            15,
        ),
    ),
}


@dataclass(frozen=True)
class Link:
    title: str
    url: str
    note: str = ""


def threshold_url(alert: Alert, team: Team) -> str:
    """The thresholds' form, pre-filled with ``alert`` on ``team`` and its sub-teams."""
    query = {
        "name": alert.name.format(team=team.name),
        "metric": alert.metric,
        "scope": ScopeKind.TEAM_SUBTREE.value,
        "team": team.pk,
        "comparison": alert.comparison.value,
        "value": f"{alert.value:g}",
    }
    return f"{reverse('actions:threshold-add')}?{urlencode(query)}"


def for_team(user: User, team: Team) -> dict[str, list[Link]]:
    """Each dimension's suggestions ``user`` may follow for ``team`` (dimensions with none left out)."""
    managed = managed_team_ids(user)
    if managed is not None and team.pk not in managed:
        return {}
    policy = ReminderPolicy.objects.filter(team=team).first()
    found: dict[str, list[Link]] = {}
    for dimension, suggestions in SUGGESTIONS.items():
        links = []
        for suggestion in suggestions:
            if isinstance(suggestion, Alert):
                metric = threshold_metrics.METRICS[suggestion.metric]
                note = f"{metric.label} {suggestion.comparison.label} {metric.text(suggestion.value)}"
                links.append(Link(suggestion.title, threshold_url(suggestion, team), note))
            elif policy is None:
                url = f"{reverse('actions:reminder-add')}?{urlencode({'team': team.pk})}"
                links.append(Link(suggestion.title.format(team=team.name), url))
            else:
                url = reverse("actions:reminder-edit", args=[policy.pk])
                state = "on" if policy.is_active else "off"
                links.append(Link(f"Review reminders of {team.name} ({state})", url, "Change the policy"))
        if initiative := start_initiative(team, dimension):
            links.append(initiative)
        if links:
            found[dimension] = links
    return found


def start_initiative(team: Team, dimension: str) -> Link | None:
    """ "Start an initiative on <dimension>": the initiative form pre-filled with the team and the dimension (its
    mapped delivery metrics), for a dimension that has some to measure."""
    label = engine.DIMENSIONS_BY_KEY[dimension].label if dimension in engine.DIMENSIONS_BY_KEY else ""
    if not label or not mapped_metrics(dimension):
        return None
    query = {"from": "bottleneck", "dimension": dimension, "target_teams": team.pk, "name": f"{team.name}: {label}"}
    url = f"{reverse('actions:initiative-add')}?{urlencode(query)}"
    return Link(f"Start an initiative on {label}", url, "its gain measured against comparable teams")

"""What the engine is fed of delivery: each team's mapped metric values, read from rollups, and its people.

Nothing here recomputes a metric. Metric values come from ``metrics.rollups.Figures`` over the team's scope
(``metrics.scope.team_scope(team, None)``: the team and every team below it), the same summary the team's delivery
page shows.

Metric values are kept in base units — rates as a fraction, durations in seconds, frequency in production
deployments per day, sizes in lines, the review queue as a count — with the text the pages write for them
(``metrics.display``) and the sample each rests on. The correlation pages write and scale their points with the same
readers (``metric_text``, ``axis_value``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db.models import Count

from e360.models import Membership, Team
from insights import engine
from metrics import definitions as d
from metrics import display
from metrics.rollups import Figures
from metrics.scope import team_scope

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from e360.tree import TeamTree

# --- Metric values ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reading:
    """One mapped metric of one team over one window: base-unit value (None: no data), display text, sample."""

    value: float | None
    display: str
    sample: int


def _seconds(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()


def _duration_text(seconds: float | None) -> str:
    return display.short_duration(None if seconds is None else timedelta(seconds=seconds)) or "no data"


def _percent_text(value: float | None) -> str:
    figure = display.percent(value)
    return "no data" if figure is None else str(figure)


def _frequency_text(per_day: float | None) -> str:
    figure = display.frequency(per_day)
    return "no data" if figure is None else str(figure)


def _count_text(value: float | None) -> str:
    return "no data" if value is None else f"{value:,.0f}"


def _lines_text(value: float | None) -> str:
    return "no data" if value is None else f"{value:,.0f} lines"


@dataclass(frozen=True)
class MetricReader:
    """Where a mapped metric is in a ``DoraSummary``, how it is written, and how a chart's axis shows it."""

    read: Callable[[d.DoraSummary], tuple[float | None, int]]
    text: Callable[[float | None], str]
    axis_unit: str  # the scatter's axis: values are divided by ``axis_scale`` into this unit
    axis_scale: float = 1.0


# The sample of each figure is what it is computed over: CI runs for the failure rate, commits for the flaky rate,
# runs with a duration for pipeline durations, production deployments for frequency, failure and rework rates,
# merged pull requests for pickup, review time and size (those that have one), changes deployed for lead time and
# its components, recovered failures for recovery time. The review queue's is the pull requests merged in the
# window: a count of waiting PRs rests on the team's flow of PRs, not on itself.
READERS: dict[str, MetricReader] = {
    "pipeline_failure_rate": MetricReader(
        lambda s: (s.pipeline.failure_rate, s.pipeline.runs), _percent_text, "%", 0.01
    ),
    "flaky_rate": MetricReader(lambda s: (s.pipeline.flaky_rate, s.pipeline.commits), _percent_text, "%", 0.01),
    "pipeline_p90_duration": MetricReader(
        lambda s: (_seconds(s.pipeline.duration.p90), s.pipeline.duration.count), _duration_text, "min", 60
    ),
    "pipeline_p50_duration": MetricReader(
        lambda s: (_seconds(s.pipeline.duration.median), s.pipeline.duration.count), _duration_text, "min", 60
    ),
    "deployment_frequency": MetricReader(
        lambda s: (s.deployment_frequency.deployments_per_day, s.deployment_frequency.deployments),
        _frequency_text,
        "per week",
        1 / 7,
    ),
    "pickup_time": MetricReader(
        lambda s: (_seconds(s.review.pickup.median), s.review.pickup.count), _duration_text, "h", 3600
    ),
    "review_time": MetricReader(
        lambda s: (_seconds(s.review.review.median), s.review.review.count), _duration_text, "h", 3600
    ),
    "prs_waiting_24h": MetricReader(
        lambda s: (None if s.review.waiting is None else float(s.review.waiting), s.review.pickup.count),
        _count_text,
        "PRs",
    ),
    "lead_time": MetricReader(
        lambda s: (_seconds(s.lead_time.lead_time.median), s.lead_time.lead_time.count), _duration_text, "h", 3600
    ),
    "deploy_time": MetricReader(
        lambda s: (_seconds(s.lead_time.deploy.median), s.lead_time.deploy.count), _duration_text, "h", 3600
    ),
    "change_failure_rate": MetricReader(
        lambda s: (s.change_failure_rate.value, s.change_failure_rate.deployments), _percent_text, "%", 0.01
    ),
    "recovery_time": MetricReader(
        lambda s: (_seconds(s.recovery.median), s.recovery.failed_deployment_recovery.count),
        _duration_text,
        "h",
        3600,
    ),
    "rework_rate": MetricReader(lambda s: (s.rework.value, s.rework.deployments), _percent_text, "%", 0.01),
    "coding_time": MetricReader(
        lambda s: (_seconds(s.lead_time.coding.median), s.lead_time.coding.count), _duration_text, "h", 3600
    ),
    "pr_size": MetricReader(lambda s: (s.review.size_median, s.review.sized), _lines_text, "lines"),
}
assert set(READERS) == set(engine.METRICS), "every mapped metric needs a reader"


def readings(summary: d.DoraSummary) -> dict[str, Reading]:
    """Every mapped metric of a summary."""
    found = {}
    for key, reader in READERS.items():
        value, sample = reader.read(summary)
        found[key] = Reading(value, reader.text(value), sample)
    return found


def metric_text(key: str, value: float | None) -> str:
    return READERS[key].text(value)


def axis_value(key: str, value: float) -> float:
    """A base-unit value in its chart axis' unit (hours, minutes, %, per week)."""
    return value / READERS[key].axis_scale


def window(days: int, now: datetime, profile: d.Profile) -> d.Window:
    """The last ``days`` org-zone days, today included: the delivery pages' window (``selectors.default_window``)."""
    return d.Window.last_days(days, now=now, tz=profile)


def team_readings(
    team: Team, windows: Iterable[d.Window], *, now: datetime, tree: TeamTree | None = None
) -> list[dict[str, Reading]]:
    """The team's mapped metrics (the team and every team below it) over each window, from rollups.

    The review queue is read at each window's end (or ``now``, if earlier), as the delivery page reads it.
    ``tree``: the team tree, read once for every team of a refresh (loaded otherwise).
    """
    windows = list(windows)
    scope = team_scope(team, None, tree)
    figures = Figures(scope, windows, now=now)
    return [readings(figures.summary(w)) for w in windows]


# --- People -------------------------------------------------------------------------------------------------------


def people_by_team() -> dict[int, int]:
    """Active members of each team itself (not of its sub-teams), from one query: the org ranking's weights."""
    rows = (
        Membership.objects.filter(person__is_active=True)
        .values("team_id")
        .annotate(n=Count("person_id", distinct=True))
        .values_list("team_id", "n")
        .order_by()
    )
    return dict(rows)


def distinct_people(team_ids: Iterable[int]) -> int:
    """The active people in these teams, each counted once however many of them they are in (one query)."""
    members = Membership.objects.filter(person__is_active=True, team_id__in=list(team_ids))
    return members.values("person_id").distinct().count()

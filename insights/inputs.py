"""What the insights engine is fed: each team's mapped metric values, read from rollups, and its sentiment, read
from the survey figures the anonymity rules let out (``surveys.published.group_scores``).

Nothing here recomputes a metric or a score. Metric values come from ``metrics.rollups.Figures`` over the team's
scope (``metrics.scope.team_scope(team, None)``: the team and every team below it), the same summary the team's
delivery page shows; sentiment comes from stored ``GroupScore`` rows, shown cells only.

Metric values are kept in base units — rates as a fraction, durations in seconds, frequency in production
deployments per day, sizes in lines, the review queue as a count — with the text the pages write for them
(``metrics.display``) and the sample each rests on (``SAMPLES``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING

from django.db.models import Count

from e360.models import Membership, Team
from insights import engine
from metrics import definitions as d
from metrics import display
from metrics.rollups import Figures
from metrics.scope import team_scope
from surveys import anonymity, published
from surveys.anonymity import ORG, Cell
from surveys.models import LIKERT_KINDS, Campaign, Dimension, GroupScore, Question
from surveys.results import status_text

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from e360.tree import TeamTree

STANDARD_DAYS: tuple[int, ...] = (30, 90, 180, 365)


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


# --- Sentiment ----------------------------------------------------------------------------------------------------


def latest_wave() -> Campaign | None:
    """The latest closed campaign that asked dimension questions (likert questions with a dimension), preferring
    one that invited everyone: a later post-incident or onboarding survey of one team asks a few dimensions of a
    few people, and must not take the organisation-wide wave's place for every other team."""
    return (
        Campaign.objects.filter(
            status=Campaign.Status.CLOSED,
            version__questions__kind__in=LIKERT_KINDS,
            version__questions__dimension__gt="",
        )
        .select_related("version", "series")
        .distinct()
        .order_by("-everyone", "-closes_at", "-pk")
        .first()
    )


def previous_wave(campaign: Campaign) -> Campaign | None:
    """The closed wave ``campaign``'s changes compare with (what the results pages compare with)."""
    return published.previous_wave(campaign)


@dataclass(frozen=True)
class WaveFigures:
    """One closed wave's stored figures for the teams the insights may show, read once: those its results list, on
    the team tree frozen when it closed (``surveys.published``). A campaign of one team has a stored figure for that
    team's parent too, equal to the team's; the results pages do not list the parent, and neither may the insights,
    or its plain members would read the team's figure."""

    campaign: Campaign
    rows: dict[anonymity.Label, GroupScore]
    teams: frozenset[int]

    @classmethod
    def load(cls, campaign: Campaign) -> WaveFigures:
        return cls(campaign, published.group_scores(campaign), published.freeze(campaign).teams)

    @cached_property
    def questions(self) -> list[Question]:
        return published.questions(self.campaign)

    def change_shown(self, team: anonymity.Label, before: WaveFigures, dimension: str) -> bool:
        """Whether the team's change on ``dimension`` since ``before`` (the previous wave) may be shown, as the
        results pages decide it: ``anonymity.wave_change`` when the figures were published, and
        ``published.hidden_changes`` for the dimension's items."""
        row = self.rows.get(team)
        if not self.cell(team).shown or row is None or row.change_status != "shown" or team not in before.rows:
            return False
        k = max(self.campaign.k, before.campaign.k)
        hidden = published.hidden_changes(self.questions, row, before.questions, before.rows[team], k)
        return dimension not in hidden.dimensions

    def cell(self, team: anonymity.Label) -> Cell:
        row = self.rows.get(team)
        if row is None or (team is not ORG and team not in self.teams):
            return Cell(0, "no_data")
        return Cell(row.responses or 0, row.status)  # type: ignore[arg-type]  # a stored status is one of anonymity's

    def score(self, team: anonymity.Label, dimension: str) -> float | None:
        """A shown group's % favourable on ``dimension``; None when hidden or not asked."""
        if not self.cell(team).shown:
            return None
        return (self.rows[team].dimensions.get(dimension) or {}).get("score")


def dimensions_asked(campaign: Campaign) -> list[str]:
    """The dimensions the campaign's likert questions cover, in the order of docs/surveys.md#dimensions."""
    asked = set(
        campaign.version.questions.filter(kind__in=LIKERT_KINDS)  # type: ignore[union-attr]  # a campaign has its version
        .exclude(dimension="")
        .values_list("dimension", flat=True)
    )
    return [dimension.value for dimension in Dimension if dimension.value in asked]


def sentiments(
    team: anonymity.Label, wave: WaveFigures, before: WaveFigures | None, asked: Iterable[str]
) -> list[engine.Sentiment]:
    """The engine's sentiment per asked dimension for a team (ORG: the organisation), from stored figures only.

    A hidden team carries no number, only why ("fewer than 3 responses"). The previous wave's score is given only
    where the change may be shown (``WaveFigures.change_shown``); the organisation's only when it is shown and the
    team is not the organisation itself.
    """
    campaign = wave.campaign
    cell = wave.cell(team)
    found = []
    for dimension in asked:
        if not cell.shown:
            found.append(engine.Sentiment(dimension, False, None, None, None, 0, status_text(cell.status, campaign.k)))
            continue
        score = wave.score(team, dimension)
        if score is None:
            found.append(engine.Sentiment(dimension, False, None, None, None, 0, "no survey answers"))
            continue
        previous = None
        if before is not None and wave.change_shown(team, before, dimension):
            previous = before.score(team, dimension)
        org = wave.score(ORG, dimension) if team is not ORG else None
        found.append(engine.Sentiment(dimension, True, score, previous, org, cell.n))
    return found

"""What a threshold can watch, and how each value is read: one registry, read from the figures the pages show.

- **Delivery metrics** (docs/metrics.md): the insights' metric readers (``insights.selectors.READERS``) over a
  ``DoraSummary`` of ``metrics.rollups.Figures`` — the one read path of every delivery figure — with their label and
  which direction is bad from the engine (``insights.engine.METRICS``). The review queue is among them:
  ``prs_waiting_24h`` (pull requests waiting for a first review past the profile's 24 h at the window's end, which
  ``Figures`` reads from the queue as the delivery page does) and ``pickup_time`` (how long merged pull requests
  waited for their first review). A threshold's value is written in the unit the correlation charts use (%, hours,
  minutes, per week, PRs, lines): ``axis_value`` converts the base-unit figure.
- **Survey dimensions**: a dimension's % favourable in the latest closed wave with dimension questions, from the
  stored figures (``insights.selectors.WaveFigures``): a group hidden by the anonymity rules (fewer than k
  responses, complementary suppression) gives no value, never a number. The window does not apply: a wave's figure
  stands until the next wave closes.

Scopes: the organisation (every service, through the root teams' rollups), a team alone (its own services' day
rows), a team with its sub-teams (``metrics.scope.team_scope``, every sub-team: the rule is the organisation's, not
a viewer's page), a service.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from functools import cached_property
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from actions.models.thresholds import ScopeKind
from e360.models import Service, Team
from e360.tree import TeamTree
from insights import engine, selectors
from metrics import definitions as d
from metrics.models import PullRequest
from metrics.rollups import Figures, Holders, Holding
from metrics.scope import in_services, reading_profile, team_scope
from surveys.anonymity import ORG
from surveys.models import Campaign, Dimension

if TYPE_CHECKING:
    from surveys import anonymity

BACKTEST_DAYS = 90
QUEUE_METRICS = frozenset({"prs_waiting_24h"})  # read from the review queue at the window's end


class Source(StrEnum):
    DELIVERY = "delivery"
    SURVEY = "survey"


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    unit: str  # the unit a threshold's value is written in
    higher_is_worse: bool
    source: Source
    # Of the rollups' distributions, those the figure needs: a tick reads only them (``Figures(distributions=…)``).
    distributions: tuple[str, ...] = ()

    def text(self, value: float | None) -> str:
        if value is None:
            return "no value"
        unit = "" if self.unit == "%" else " "
        return f"{value:,.4g}{unit}{self.unit}"

    @property
    def bad_comparisons(self) -> tuple[str, str]:
        """The comparisons that alert on things getting worse (what the form suggests first)."""
        return ("gt", "gte") if self.higher_is_worse else ("lt", "lte")


_DISTRIBUTIONS: dict[str, tuple[str, ...]] = {
    "pipeline_p90_duration": ("pipeline_durations",),
    "pipeline_p50_duration": ("pipeline_durations",),
    "pickup_time": ("pr_pickup_times",),
    "review_time": ("pr_review_times",),
    "lead_time": ("lead_times",),
    "deploy_time": ("deploy_times",),
    "coding_time": ("coding_times",),
    "recovery_time": ("recovery_times",),
    "pr_size": ("pr_sizes",),
}
# The units of ``selectors.axis_value``, as a person writes them.
_UNITS = {"h": "hours", "min": "minutes", "per week": "per week", "%": "%", "PRs": "pull requests", "lines": "lines"}


def _delivery_metrics() -> dict[str, Metric]:
    found = {}
    for key, reader in selectors.READERS.items():
        spec = engine.METRICS[key]
        found[key] = Metric(
            key=key,
            label=spec.label[0].upper() + spec.label[1:],
            unit=_UNITS[reader.axis_unit],
            higher_is_worse=spec.lower_is_better,
            source=Source.DELIVERY,
            distributions=_DISTRIBUTIONS.get(key, ()),
        )
    return found


def _survey_metrics() -> dict[str, Metric]:
    return {
        f"survey.{dimension.value}": Metric(
            key=f"survey.{dimension.value}",
            label=f"Survey: {dimension.label} (% favourable)",
            unit="%",
            higher_is_worse=False,
            source=Source.SURVEY,
        )
        for dimension in Dimension
    }


METRICS: dict[str, Metric] = {**_delivery_metrics(), **_survey_metrics()}


def metric_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """The form's choices, grouped: delivery metrics, then survey dimensions."""
    groups: dict[Source, list[tuple[str, str]]] = {Source.DELIVERY: [], Source.SURVEY: []}
    for metric in METRICS.values():
        groups[metric.source].append((metric.key, f"{metric.label} ({metric.unit})"))
    return [("Delivery", groups[Source.DELIVERY]), ("Surveys", groups[Source.SURVEY])]


# --- What is read ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Subject:
    """What a threshold watches: a metric of a scope over a window of days (a ``Threshold``'s or a form's)."""

    metric: Metric
    scope: ScopeKind
    team: Team | None
    service: Service | None
    window_days: int


@dataclass(frozen=True)
class Reading:
    """A value (in the metric's unit; None: no data, or hidden) at ``at``, over ``window`` (None for surveys)."""

    at: datetime
    value: float | None
    window: d.Window | None


def holders(subject: Subject, tree: TeamTree | None = None) -> Holding:
    """The rows that hold the subject's delivery figures."""
    if subject.scope == ScopeKind.ORGANISATION:
        return Holders.organisation()
    if subject.scope == ScopeKind.SERVICE:
        assert subject.service is not None
        return Holders.services([subject.service.pk])
    assert subject.team is not None
    if subject.scope == ScopeKind.TEAM_SUBTREE:
        return team_scope(subject.team, None, tree)
    return Holders.services(list(Service.objects.filter(owner=subject.team).values_list("id", flat=True)))


class _Figures(Figures):
    """``Figures`` that skip the raw reads no threshold metric uses: the review queue at each window's end unless
    the metric is the queue (then read for every window at once), the failed deployments left unrecovered and
    the sources' last events (data quality). A tick evaluates thousands of thresholds, each with a few queries:
    two fewer each is what ``bench_actions`` times."""

    def __init__(self, *args: Any, reads_queue: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reads_queue = reads_queue
        self.queue: dict[datetime, int] | None = None  # read with other teams' (``team_figures``)

    def waiting_for_review(self, at: datetime) -> int:
        if not self.reads_queue:
            return 0
        if self.queue is not None:
            return self.queue[at]
        if len(self.windows) > 1 and at in self.waiting_at:  # a backtest; a tick's one window counts plainly
            return self.waiting_at[at]
        return super().waiting_for_review(at)

    @cached_property
    def waiting_at(self) -> dict[datetime, int]:
        """The review queue at every window's end, read at once (two queries for a 90-day backtest, not 180)."""
        ats = sorted({min(self.now, window.end) for window in self.windows})
        prs = PullRequest.objects.filter(in_services(self.service_ids))
        return dict(zip(ats, prs.waiting_for_review_counts(ats, self.profile.review_wait), strict=True))

    @cached_property
    def unrecovered(self) -> dict[d.Window, int]:
        return {}

    @cached_property
    def last_events(self) -> dict[str, datetime]:
        return {}


def _delivery(subject: Subject, ends: Sequence[datetime], now: datetime, tree: TeamTree | None) -> list[Reading]:
    profile = reading_profile()
    windows = [d.Window.last_days(subject.window_days, now=end, tz=profile) for end in ends]
    values = over_windows(holders(subject, tree), [subject.metric.key], windows, now)
    return [
        Reading(end, found[subject.metric.key], window)
        for end, window, found in zip(ends, windows, values, strict=True)
    ]


def _options(keys: Sequence[str]) -> dict[str, Any]:
    """What a ``_Figures`` of ``keys`` reads: the distributions the metrics need, the queue when one is read from it."""
    distributions = {name for key in keys for name in METRICS[key].distributions}
    return {"distributions": tuple(sorted(distributions)), "reads_queue": any(key in QUEUE_METRICS for key in keys)}


def metric_values(figures: Figures, keys: Sequence[str], windows: Sequence[d.Window]) -> list[dict[str, float | None]]:
    """The metrics' values over each window, in their units (None: no data)."""
    found = []
    for window in windows:
        summary = figures.summary(window)
        row: dict[str, float | None] = {}
        for key in keys:
            value, _ = selectors.READERS[key].read(summary)
            row[key] = None if value is None else selectors.axis_value(key, value)
        found.append(row)
    return found


def over_windows(
    holding: Holding, keys: Sequence[str], windows: Sequence[d.Window], now: datetime
) -> list[dict[str, float | None]]:
    """Delivery metrics of one scope over each of ``windows`` (of any lengths), in their units: one ``Figures``
    read over the span the windows cover, of the distributions the metrics need. None: no data."""
    return metric_values(_Figures(holding, windows, now=now, **_options(keys)), keys, windows)


def team_figures(
    team_ids: Collection[int], keys: Sequence[str], windows: Sequence[d.Window], now: datetime, tree: TeamTree
) -> dict[int, _Figures]:
    """Each team's figures (the team with every team below it, as a threshold on it reads them) over ``windows``,
    of what ``keys`` need, read at once: the rollups in three queries (``Figures.of_teams``) and, when a metric is
    the review queue, the queue at every window's end in two, however many teams."""
    holdings = Holders.subtrees(team_ids, tree)
    options = _options(keys)
    found = _Figures.of_teams(holdings, windows, now=now, **options)
    if options["reads_queue"] and found:
        ats = sorted({min(now, window.end) for window in windows})
        services = {service for holding in holdings.values() for service in holding.filter_ids or ()}
        waiting = {}
        if services:
            prs = PullRequest.objects.filter(in_services(services))
            waiting = prs.waiting_for_review_counts_by_service(ats, reading_profile().review_wait)
        zeros = [0] * len(ats)
        for team, figures in found.items():
            counts = [waiting.get(service, zeros) for service in holdings[team].filter_ids or ()]
            figures.queue = dict(zip(ats, (sum(column) for column in zip(zeros, *counts, strict=True)), strict=True))
    return found


def _label(subject: Subject) -> anonymity.Label:
    if subject.scope == ScopeKind.ORGANISATION:
        return ORG
    assert subject.team is not None, "a survey's figure is a team's or the organisation's"
    return subject.team.pk


def _closed(campaign: Campaign) -> datetime:
    return campaign.closed_at or campaign.closes_at


def _survey(subject: Subject, ends: Sequence[datetime]) -> list[Reading]:
    """At each moment, the dimension's score of the latest wave closed by then (back along its series)."""
    waves: list[selectors.WaveFigures] = []
    campaign = selectors.latest_wave()
    while campaign is not None:
        waves.append(selectors.WaveFigures.load(campaign))
        if _closed(campaign) <= min(ends):
            break
        campaign = selectors.previous_wave(campaign)
    dimension = subject.metric.key.removeprefix("survey.")
    label = _label(subject)
    found = []
    for end in ends:
        wave = next((w for w in waves if _closed(w.campaign) <= end), None)
        found.append(Reading(end, None if wave is None else wave.score(label, dimension), None))
    return found


def current(subject: Subject, now: datetime | None = None, tree: TeamTree | None = None) -> Reading:
    """The value now: the window of the last ``window_days`` days, today included (the delivery pages' window)."""
    now = now or timezone.now()
    if subject.metric.source == Source.SURVEY:
        return _survey(subject, [now])[0]
    return _delivery(subject, [now], now, tree)[0]


def daily(subject: Subject, days: int = BACKTEST_DAYS, now: datetime | None = None) -> list[Reading]:
    """The value at the end of each of the last ``days`` org-zone days (today: now), each over the window ending then.

    The figures are read once over the span every window covers (``Figures``)."""
    now = now or timezone.now()
    profile = reading_profile()
    today = d.bucket_day(now, profile)
    ends = [_day_end(today - timedelta(days=n), profile, now) for n in range(days - 1, -1, -1)]
    if subject.metric.source == Source.SURVEY:
        return _survey(subject, ends)
    return _delivery(subject, ends, now, None)


def before(subject: Subject, day: date, now: datetime | None = None) -> Reading:
    """The value over the ``window_days`` org-zone days before ``day`` (``day`` itself left out): an initiative's
    baseline before a team's start. A survey dimension's: the latest wave closed by then."""
    now = now or timezone.now()
    end = _day_end(day - timedelta(days=1), reading_profile(), now)
    if subject.metric.source == Source.SURVEY:
        return _survey(subject, [end])[0]
    return _delivery(subject, [end], now, None)[0]


def _day_end(day: date, profile: d.Profile, now: datetime) -> datetime:
    """The last moment of an org-zone day (a microsecond before the next midnight), or now for today."""
    end = d.Window.from_days(day, day + timedelta(days=1), profile).end - timedelta(microseconds=1)
    return min(end, now)

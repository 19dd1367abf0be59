"""What the leader dashboards (``insights.views.dashboard``) read besides the other pages' figures: the period a
request asks for, the delivery figures of the organisation or a team with a weekly sparkline per tile, the teams a
viewer may pick, and what they keep of the bottleneck ranking and the sentiment.

Delivery figures come from rollups only, through ``metrics.rollups.Figures`` (the delivery pages'
reader), so a dashboard shows exactly what the delivery page of the same scope and period shows, and its
cost follows the window, never the number of teams, services or deployments. Survey and bottleneck figures
come from ``waves`` and ``stored`` (stored results only).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.utils import formats
from django.utils.safestring import SafeString

from e360 import access
from e360.htmx import html_join, select_options
from e360.memo import keep
from e360.models import User
from e360.tree import TeamTree
from insights import engine
from insights.selectors.stored import STANDARD_DAYS, Bottlenecks, Hit
from insights.selectors.waves import DimensionScore, Sentiment
from metrics import definitions as d
from metrics import display, rollups
from metrics.rollups import DELIVERY_DISTRIBUTIONS, HEADLINE_DISTRIBUTIONS, Figures, Holders
from metrics.scope import Scope, reading_profile
from metrics.selectors import Period

# The periods offered, longest a year: those insight results are precomputed for.
PERIODS: tuple[int, ...] = STANDARD_DAYS
DEFAULT_PERIOD = 90
# A custom period costs what a preset of its length costs: no longer than the longest preset.
MAX_CUSTOM_DAYS = PERIODS[-1]


class PeriodError(ValueError):
    """A custom period the dashboards cannot show; the message says why, in words for the page."""


def _period(first_day: date, end_day: date, profile: d.Profile, *, custom: bool) -> Period:
    window = d.Window.from_days(first_day, end_day, profile)
    return Period(
        days=(end_day - first_day).days,
        window=window,
        previous=d.previous_window(window, profile),
        first_day=first_day,
        last_day=end_day - timedelta(days=1),
        custom=custom,
    )


def _date_text(day: date) -> str:
    return f"{day.day} {day:%b %Y}"


def _day(value: str, what: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise PeriodError(f"The {what} date “{value}” is not a date: write it as YYYY-MM-DD.") from None


def period(params: Mapping[str, str], *, now: datetime, profile: d.Profile | None = None) -> Period:
    """The period ``params`` (a request's query) ask for.

    ``from`` and ``to`` (both days included, org zone) name a custom period; otherwise ``days`` names one of
    ``PERIODS`` ending today, and anything else is the default, as on the delivery pages. A custom period
    that cannot be shown (one date missing or not a date, reversed, ending after today, longer than
    ``MAX_CUSTOM_DAYS``) raises ``PeriodError``.
    """
    profile = profile or reading_profile()
    today = d.bucket_day(now, profile)
    first, last = (params.get("from") or "").strip(), (params.get("to") or "").strip()
    if first or last:
        if not (first and last):
            raise PeriodError("A custom period needs both a start and an end date.")
        first_day, last_day = _day(first, "start"), _day(last, "end")
        if first_day > last_day:
            raise PeriodError(
                f"The start date ({_date_text(first_day)}) is after the end date ({_date_text(last_day)}): swap them."
            )
        if last_day > today:
            raise PeriodError(f"The end date ({_date_text(last_day)}) is after today ({_date_text(today)}).")
        length = (last_day - first_day).days + 1
        if length > MAX_CUSTOM_DAYS:
            raise PeriodError(
                f"A custom period is at most {MAX_CUSTOM_DAYS} days; {_date_text(first_day)} to {_date_text(last_day)} "
                f"is {length:,} days."
            )
        return _period(first_day, last_day + timedelta(days=1), profile, custom=True)
    try:
        days = int(params.get("days") or "")
    except ValueError:
        days = DEFAULT_PERIOD
    if days not in PERIODS:
        days = DEFAULT_PERIOD
    # The same window as ``metrics.selectors.default_window``: the last ``days`` days, today included.
    end_day = today + timedelta(days=1)
    return _period(end_day - timedelta(days=days), end_day, profile, custom=False)


# The distributions the org dashboard shows: the tiles' and sparklines' medians. The rollups' other ones are left in
# the database: a year of the organisation's weeks is otherwise hundreds of histograms decoded for nothing. A team's
# dashboard shows its lead time by stage too, as its delivery page does (``DELIVERY_DISTRIBUTIONS``).
ORG_DISTRIBUTIONS = HEADLINE_DISTRIBUTIONS


def org_delivery(period: Period) -> Delivery:
    """The organisation's delivery over ``period``: every service's figures, from the team rollups of the roots of
    the team tree, which hold them all (every service has an owner), with no service filter on the raw rows read.

    Every org dashboard (and the org viewers' home page) shows the same figures, and they change only when a write
    changes the rollups, or when the day turns and moves the window: they are computed once per rollup version and
    period (``rollups.kept``), and only the sources' last events are read again.
    """
    holders = Holders.organisation()

    def compute() -> Delivery:
        figures = Figures(holders, [period.window], compared=period.previous, distributions=ORG_DISTRIBUTIONS)
        return delivery(figures, period)

    found = rollups.kept(holders, ("org dashboard", period, repr(holders.profile)), compute)
    return dataclasses.replace(found, sources=_sources(rollups.last_events()))


def scope_figures(scope: Scope, period: Period, *, now: datetime) -> Figures:
    """A team's figures, read as its delivery page reads them."""
    return Figures(scope, [period.window], now=now, compared=period.previous, distributions=DELIVERY_DISTRIBUTIONS)


@dataclass(frozen=True)
class Week:
    """One ISO week of the period as the sparklines and the weekly table show it, its texts made once
    (a year's table has 53 rows: the template reads fields, it computes nothing).

    Durations are medians in hours of the week's changes (lead time) and recovered failures (recovery);
    rates are shares of the week's production deployments. None is "no data", never 0.
    """

    label: str
    deployments: int
    failed: int
    rework: int
    lead_time: float | None
    recovery: float | None
    recovered: int
    succeeded: int
    failure_rate: float | None
    rework_rate: float | None
    lead_time_text: str | None
    recovery_text: str | None
    failure_rate_text: str | None
    rework_rate_text: str | None

    @classmethod
    def of(
        cls,
        label: str,
        *,
        deployments: int,
        failed: int,
        rework: int,
        lead_time: float | None,
        recovery: float | None,
        recovered: int,
    ) -> Week:
        failure_rate = failed / deployments if deployments else None
        rework_rate = rework / deployments if deployments else None
        return cls(
            label=label,
            deployments=deployments,
            failed=failed,
            rework=rework,
            lead_time=lead_time,
            recovery=recovery,
            recovered=recovered,
            succeeded=deployments - failed,
            failure_rate=failure_rate,
            rework_rate=rework_rate,
            lead_time_text=_hours_text(lead_time),
            recovery_text=_hours_text(recovery),
            failure_rate_text=_percent_text(failure_rate),
            rework_rate_text=_percent_text(rework_rate),
        )


def _percent_text(rate: float | None) -> str | None:
    figure = display.percent(rate)
    return None if figure is None else str(figure)


def _hours_text(hours: float | None) -> str | None:
    return None if hours is None else display.short_duration(timedelta(hours=hours))


@dataclass(frozen=True)
class Sparkline:
    """A tile's weekly values for ``static/insights/dashboard.js``, and the same in words for the canvas."""

    key: str
    values: tuple[float | None, ...]
    description: str

    @property
    def has_data(self) -> bool:
        """A line worth drawing: some week has a figure (for deployments, a week with some)."""
        return any(self.values) if self.key == "frequency" else any(value is not None for value in self.values)


def _sparkline(
    key: str, what: str, weeks: list[Week], values: list[float | None], texts: list[str | None]
) -> Sparkline:
    known = [
        (week.label.rstrip("*"), value, text)
        for week, value, text in zip(weeks, values, texts, strict=True)
        if value is not None
    ]
    if not known:
        description = f"{what} per week: no data in this period."
    else:
        first, last = known[0], known[-1]
        low = min(known, key=lambda item: item[1])
        high = max(known, key=lambda item: item[1])
        description = (
            f"{what} per week, {len(weeks)} weeks: {first[2]} in the week of {first[0]}, {last[2]} in the week of "
            f"{last[0]}; highest {high[2]} (week of {high[0]}), lowest {low[2]}. The weekly table has every week."
        )
    return Sparkline(key, tuple(values), description)


def _percent_value(rate: float | None) -> float | None:
    return None if rate is None else round(rate * 100, 1)


@dataclass(frozen=True)
class Delivery:
    """What a dashboard shows of a scope's delivery over a period."""

    summary: d.DoraSummary
    tiles: list[display.Tile]
    quality: display.Quality
    bands_year: int
    sources: list[SourceEvent]
    weeks: list[Week]
    sparklines: dict[str, Sparkline]
    chart: dict  # ``display.weekly_chart``: what ``static/metrics/dora-charts.js`` draws
    series: dict  # what ``static/insights/dashboard.js`` draws: sparklines, failure rate and recovery charts
    week_rows: SafeString  # the weekly table's rows, made with the figures (a year is 53 rows)

    @property
    def tiles_with_sparklines(self) -> list[tuple[display.Tile, Sparkline]]:
        return [(tile, self.sparklines[tile.key]) for tile in self.tiles]

    @property
    def has_deployments(self) -> bool:
        return any(week.deployments for week in self.weeks)

    @property
    def has_lead_times(self) -> bool:
        return any(week.lead_time is not None for week in self.weeks)

    @property
    def has_recoveries(self) -> bool:
        return any(week.recovery is not None for week in self.weeks)

    @property
    def lead_time_rows(self) -> SafeString:
        """The lead time table's rows: per week, its label and the medians of the lead time and its stages, in
        hours."""
        names = ("coding", "pickup", "review", "deploy", "lead_time")
        columns = zip(self.chart["labels"], *(self.chart[name] for name in names), strict=True)
        return html_join(
            '<tr><th scope="row">{}</th>' + '<td class="num">{}</td>' * len(names) + "</tr>",
            ((label, *(_cell(value) for value in values)) for label, *values in columns),
        )

    @property
    def has_partial_weeks(self) -> bool:
        return True in self.chart["partial"]


@dataclass(frozen=True)
class SourceEvent:
    """A source and when it last sent anything, for the data-quality line."""

    name: str
    last_event_at: datetime


def _cell(value: object) -> str:
    """A table cell's figure as a template writes it, "—" for none."""
    return "—" if value is None else str(formats.localize(value))


def _sources(last_events: Mapping[str, datetime]) -> list[SourceEvent]:
    return [SourceEvent(name, at) for name, at in sorted(last_events.items())]


def delivery(figures: Figures, period: Period) -> Delivery:
    """The period's tiles against the previous period, the data-quality line and the weekly series."""
    current, previous = figures.summary(period.window), figures.summary(period.previous)
    weekly = figures.weekly(period.window)
    chart = display.weekly_chart(weekly, period.window, figures.profile)
    weeks = [
        Week.of(
            label,
            deployments=point["deployments"] + point["failed"],
            failed=point["failed"],
            rework=point["rework"],
            lead_time=point["lead_time"],
            recovery=point["recovery"],
            recovered=point["recovered"],
        )
        for label, point in zip(chart["labels"], weekly, strict=True)
    ]
    sparklines = {
        spark.key: spark
        for spark in (
            _sparkline(
                "frequency",
                "Production deployments",
                weeks,
                [float(w.deployments) for w in weeks],
                [f"{w.deployments:,}" for w in weeks],
            ),
            _sparkline(
                "lead-time", "Median lead time", weeks, [w.lead_time for w in weeks], [w.lead_time_text for w in weeks]
            ),
            _sparkline(
                "failure-rate",
                "Change failure rate",
                weeks,
                [_percent_value(w.failure_rate) for w in weeks],
                [w.failure_rate_text for w in weeks],
            ),
            _sparkline(
                "recovery",
                "Median failed deployment recovery time",
                weeks,
                [w.recovery for w in weeks],
                [w.recovery_text for w in weeks],
            ),
            _sparkline(
                "rework",
                "Deployment rework rate",
                weeks,
                [_percent_value(w.rework_rate) for w in weeks],
                [w.rework_rate_text for w in weeks],
            ),
        )
    }
    series = {
        "labels": chart["labels"],
        "sparklines": {key: list(spark.values) for key, spark in sparklines.items()},
        "deployments": [w.deployments for w in weeks],
        "failed": [w.failed for w in weeks],
        "recovered": [w.recovered for w in weeks],
    }
    return Delivery(
        summary=current,
        tiles=display.tiles(current, previous),
        quality=display.quality(current.data_quality),
        bands_year=current.bands_year,
        sources=_sources(current.data_quality.last_event_at),
        weeks=weeks,
        sparklines=sparklines,
        chart=chart,
        series=series,
        week_rows=html_join(
            '<tr><th scope="row">{}</th>' + '<td class="num">{}</td>' * 7 + "</tr>",
            (
                (
                    w.label,
                    _cell(w.succeeded),
                    _cell(w.failed),
                    w.failure_rate_text or "—",
                    w.lead_time_text or "—",
                    _cell(w.recovered),
                    w.recovery_text or "—",
                    w.rework_rate_text or "—",
                )
                for w in weeks
            ),
        ),
    )


@dataclass(frozen=True)
class TeamOption:
    """A team in the team picker, named by its path from the highest team the viewer sees (``TeamTree.label``)."""

    slug: str
    name: str
    depth: int  # the teams the viewer sees above it
    label: str


def team_options(user: User) -> list[TeamOption]:
    """The teams ``user`` may see in the tree's rendering order: depth first, by name under each parent (one
    query, none more once the request has the tree: ``TeamTree.for_user``). A team whose parent the viewer does not
    see is at the top."""
    return _options(_visible_tree(user))


def _visible_tree(user: User) -> TeamTree:
    tree, visible = TeamTree.for_user(user), access.visible_team_ids(user)
    return tree if visible is None else tree.only(visible)


def _options(tree: TeamTree) -> list[TeamOption]:
    return [TeamOption(tree.slugs[team], tree.names[team], depth, tree.label(team)) for team, depth in tree.indented()]


def team_picker(user: User, selected: str | None) -> SafeString:
    """The team picker's options for ``user`` (``team_options``, ``e360.htmx.select_options``). The teams are
    ordered and labelled once per tree the viewer sees in a process (``_pickers``): every org viewer's picker is the
    same 440 teams, ordering and labelling them costs more than the rest of a dashboard's catalog reads, and each
    dashboard selects another of them."""
    tree = _visible_tree(user)
    key = (tuple(sorted(tree.parents.items())), tuple(sorted(tree.names.items())), tuple(sorted(tree.slugs.items())))
    options = _pickers.get(key)
    if options is None:
        options = _options(tree)
        keep(_pickers, key, options, PICKERS)
    return select_options(((o.slug, o.label) for o in options), selected)


# Pickers' options per tree, the oldest dropped first.
PICKERS = 16
_pickers: dict[object, list[TeamOption]] = {}


# Each label's badge: the word says it; the colour only repeats it.
LABEL_BADGES: dict[str, str] = {
    engine.Label.CORROBORATED: "danger",
    engine.Label.PERCEPTION_ONLY: "warning",
    engine.Label.DATA_ONLY: "accent",
    engine.Label.NO_SIGNAL: "plain",
}


@dataclass(frozen=True)
class BottleneckRow:
    """A bottleneck as a dashboard lists it: the ranked item, its label badges, and (a team's) evidence links."""

    item: engine.Item | engine.OrgItem
    badges: tuple[tuple[str, str], ...]  # (badge modifier, text)
    evidence: tuple[tuple[str, str], ...]  # (label, url)
    teams: tuple[Hit, ...] = ()  # the organisation's: the teams it hits, biggest score first


def _org_badges(item: engine.OrgItem) -> tuple[tuple[str, str], ...]:
    reaches = (
        (engine.Label.CORROBORATED, item.corroborated),
        (engine.Label.PERCEPTION_ONLY, item.perception_only),
        (engine.Label.DATA_ONLY, item.data_only),
    )
    return tuple(
        (LABEL_BADGES[label], f"{label.value} in {reach.teams} {'team' if reach.teams == 1 else 'teams'}")
        for label, reach in reaches
        if reach.teams
    )


def top_bottlenecks(found: Bottlenecks, limit: int) -> list[BottleneckRow]:
    """The first ``limit`` items of the ranking that are a bottleneck somewhere: a team's with a label other
    than "no signal", the organisation's that are a signal for at least one team."""
    rows = []
    for item in found.items:
        if isinstance(item, engine.OrgItem):
            if item.signal.teams == 0:
                continue
            rows.append(BottleneckRow(item, _org_badges(item), (), found.hits.get(item.dimension, ())))
        else:
            if item.label == engine.Label.NO_SIGNAL:
                continue
            badge = (LABEL_BADGES[item.label], item.label.value)
            rows.append(BottleneckRow(item, (badge,), tuple(found.evidence_urls.get(item.dimension, ()))))
        if len(rows) == limit:
            break
    return rows


@dataclass(frozen=True)
class SentimentRow:
    """A dimension's latest score with its change since the previous wave, in an arrow and a word too."""

    score: DimensionScore
    trend: d.Trend | None  # None: no comparable previous wave
    arrow: str


def sentiment_rows(sentiment: Sentiment) -> list[SentimentRow]:
    rows = []
    for score in sentiment.dimensions:
        change = score.change if score.shown else None
        if change is None:
            trend, arrow = None, ""
        elif score.change_text in ("0", ""):
            trend, arrow = d.Trend.SAME, "→"
        elif change > 0:
            trend, arrow = d.Trend.BETTER, "↑"
        else:
            trend, arrow = d.Trend.WORSE, "↓"
        rows.append(SentimentRow(score, trend, arrow))
    return rows

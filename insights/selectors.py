"""Reads for the insights pages and the dashboards: sentiment from the published survey figures, and the
precomputed bottleneck and correlation results (``insights.models``, refreshed hourly by ``insights.tasks``).

Access: a developer sees their teams, a lead their sub-tree, org viewers everything (``e360.access``). The views
check it, once per request: the organisation's bottlenecks, correlations and dashboard need
``access.require_org_viewer``, a team's correlations (across the teams below it) every one of those teams visible
(``correlates_below``, through ``access.sees_subtree``'s rule).

Sentiment is read through ``surveys.results`` — the same figures, cells and changes the survey results page shows
the same viewer — so nothing here decides anonymity again: a hidden cell reaches these dataclasses as its status
and text only, with every number None.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.http import Http404
from django.urls import NoReverseMatch, reverse

from e360 import access
from e360.models import Membership, Team
from e360.tree import TeamTree
from insights import engine, inputs
from insights.inputs import STANDARD_DAYS
from insights.models import PairResult, PeriodResult, TeamResult
from insights.stats import Correlation
from metrics import display
from surveys import published
from surveys import results as survey_results
from surveys.anonymity import ORG
from surveys.models import LIKERT_KINDS, Campaign, Dimension
from surveys.scoring import Participation

if TYPE_CHECKING:
    from e360.models import User

__all__ = [
    "STANDARD_DAYS",
    "Bottlenecks",
    "Correlations",
    "DimensionScore",
    "Pair",
    "Point",
    "Sentiment",
    "WaveCell",
    "WaveGrid",
    "bottlenecks",
    "correlates_below",
    "correlations",
    "pick_pair",
    "sentiment",
    "sentiment_waves",
    "standard_days",
]

DIMENSION_LABELS: dict[str, str] = {dimension.value: dimension.label for dimension in Dimension}


# --- Sentiment ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DimensionScore:
    """A dimension's % favourable for the team. Every number is None unless ``status`` is "shown"; ``change`` is
    the points since the previous wave, only where the team is shown in both waves."""

    key: str
    label: str
    score: float | None
    mean: float | None
    change: float | None
    org_score: float | None
    percentile: float | None
    peers: int | None
    status: str
    status_text: str

    @property
    def shown(self) -> bool:
        return self.status == "shown"

    @property
    def change_text(self) -> str:
        return survey_results.signed(self.change)


@dataclass(frozen=True)
class Sentiment:
    """The team's (or the organisation's) latest closed wave with dimension questions, as the viewer may see it."""

    campaign: Campaign | None
    previous: Campaign | None
    status: str
    status_text: str
    responses: int | None
    participation: Participation | None
    dimensions: tuple[DimensionScore, ...]
    results_url: str

    @property
    def shown(self) -> bool:
        return self.status == "shown"

    @property
    def participation_percent(self) -> float | None:
        """Participation in %, for ``floatformat`` to round as every figure is (``widthratio`` rounds half to even)."""
        rate = self.participation.rate if self.participation is not None else None
        return None if rate is None else 100 * rate


def _dimension_campaigns() -> list[Campaign]:
    """Closed campaigns that asked dimension questions, newest first, those that invited everyone before the
    others (as ``inputs.latest_wave`` picks the wave the rankings use)."""
    return list(
        Campaign.objects.filter(
            status=Campaign.Status.CLOSED,
            version__questions__kind__in=LIKERT_KINDS,
            version__questions__dimension__gt="",
        )
        .distinct()
        .order_by("-everyone", "-closes_at", "-pk")
    )


def _campaign_access(campaign: Campaign, team: Team | None, viewer: User) -> survey_results.CampaignAccess | None:
    """The viewer's access to the campaign's results, if it covers ``team`` (None: any of its teams)."""
    try:
        scope = survey_results.campaign_for_user(viewer, campaign.pk)
    except Http404:
        return None
    if team is not None and team.pk not in scope.visible:
        return None
    return scope


def _latest_access(team: Team | None, viewer: User) -> survey_results.CampaignAccess | None:
    """The newest closed campaign with dimension questions whose results for ``team`` the viewer may see."""
    for campaign in _dimension_campaigns():
        scope = _campaign_access(campaign, team, viewer)
        if scope is not None:
            return scope
    return None


def _results_url(campaign: Campaign, team: Team | None) -> str:
    url = reverse("surveys:results", args=[campaign.pk])
    return f"{url}?team={team.slug}" if team is not None else url


def sentiment(team: Team | None, viewer: User) -> Sentiment:
    """The latest closed wave with dimension questions that ``viewer`` may see results of, for ``team`` (None: the
    organisation), with the change since the previous wave of the series and the organisation's score beside it.
    """
    scope = _latest_access(team, viewer)
    if scope is None:
        return Sentiment(None, None, "no_data", "no closed survey with results for this team yet", None, None, (), "")
    # The focused group alone (levels=0) and no free text: a summary reads figures, never answers' words.
    results = survey_results.campaign_results(
        scope, team=team.slug if team is not None else None, levels=0, every_question=False, texts=False
    )
    focus, org = results.focus, results.groups[0]
    org_scores = {
        figure.key: figure.percent_favourable for figure in org.dimensions if team is not None and figure.shown
    }
    dimensions = tuple(
        DimensionScore(
            figure.key,
            figure.label,
            figure.percent_favourable,
            figure.mean,
            figure.change_wave,
            org_scores.get(figure.key) if figure.shown else None,
            figure.percentile,
            figure.peers,
            figure.status,
            figure.status_text,
        )
        for figure in focus.dimensions
    )
    participation = focus.participation.participation if focus.participation.shown else None
    return Sentiment(
        campaign=results.campaign,
        previous=results.previous,
        status=focus.status,
        status_text=focus.status_text,
        responses=focus.responses if focus.shown else None,
        participation=participation,
        dimensions=dimensions,
        results_url=_results_url(results.campaign, team),
    )


@dataclass(frozen=True)
class WaveCell:
    score: float | None
    status: str
    status_text: str

    @property
    def shown(self) -> bool:
        return self.status == "shown"

    @property
    def heat(self) -> int | None:
        """Which of five colour bands a heatmap gives the cell (0: below 20% favourable … 4: 80% or more)."""
        return None if self.score is None else min(4, int(self.score // 20))


@dataclass(frozen=True)
class WaveGrid:
    """A team's dimension scores across waves: ``waves`` oldest first, ``rows`` of (key, label, one cell a wave)."""

    waves: tuple[Campaign, ...]
    rows: tuple[tuple[str, str, tuple[WaveCell, ...]], ...]


def sentiment_waves(team: Team | None, viewer: User, limit: int = 6) -> WaveGrid:
    """The team's dimension scores across the last ``limit`` closed waves of the series of its latest wave
    (``sentiment``'s), each wave's cells as that wave's own results page shows them to ``viewer``."""
    latest = _latest_access(team, viewer)
    if latest is None:
        return WaveGrid((), ())
    newest = latest.campaign
    waves = list(
        Campaign.objects.filter(series_id=newest.series_id, wave__lte=newest.wave, status=Campaign.Status.CLOSED)
        .select_related("version")
        .order_by("-wave")[:limit]
    )[::-1]
    group = team.pk if team is not None else ORG
    columns: list[dict[str, WaveCell]] = []
    asked: set[str] = set()
    for campaign in waves:
        scope = latest if campaign.pk == newest.pk else _campaign_access(campaign, team, viewer)
        cells: dict[str, WaveCell] = {}
        if scope is not None:
            keys = inputs.dimensions_asked(campaign)
            asked.update(keys)
            row = published.group_scores(campaign, [] if team is None else [group]).get(group)
            status = "no_data" if row is None else row.status
            for key in keys:
                score = (row.dimensions.get(key) or {}).get("score") if row is not None and status == "shown" else None
                if status == "shown" and score is None:
                    cells[key] = WaveCell(None, "no_data", survey_results.status_text("no_data", campaign.k))
                elif status == "shown":
                    cells[key] = WaveCell(score, "shown", "")
                else:
                    cells[key] = WaveCell(None, status, survey_results.status_text(status, campaign.k))
        columns.append(cells)
    missing = WaveCell(None, "no_data", "not asked")
    rows = tuple(
        (d.value, d.label, tuple(column.get(d.value, missing) for column in columns))
        for d in Dimension
        if d.value in asked
    )
    return WaveGrid(tuple(waves), rows)


# --- Precomputed results ------------------------------------------------------------------------------------------


def standard_days(days: int) -> tuple[int, bool]:
    """The standard period results are stored for: ``days`` itself when standard, else the smallest standard
    period at least as long (the longest when none is), and whether it was substituted."""
    if days in STANDARD_DAYS:
        return days, False
    longer = [standard for standard in STANDARD_DAYS if standard >= days]
    return (longer[0] if longer else STANDARD_DAYS[-1]), True


def _period(days: int) -> PeriodResult | None:
    return PeriodResult.objects.filter(days=days).first()


@dataclass(frozen=True)
class Bottlenecks:
    """A team's ranked ``engine.Item``s, or the organisation's ranked ``engine.OrgItem``s, as last computed.

    ``computed_at`` is None until the hourly refresh has run for the period (``items`` is then empty).
    ``note`` says why there are no items when the results exist but may not be shown to this viewer.
    """

    items: tuple[engine.Item, ...] | tuple[engine.OrgItem, ...]
    computed_at: datetime | None
    days: int
    substituted: bool
    evidence_urls: dict[str, list[tuple[str, str]]]
    url: str
    requested_days: int = 0
    note: str = ""
    people: int = 0  # org ranking: the people in the leaf teams ranked, each counted once
    teams: int = 0  # org ranking: how many leaf teams
    grid: tuple[GridRow, ...] = ()  # org ranking: each leaf team the viewer may see, its label per dimension
    hits: dict[str, tuple[Hit, ...]] = field(default_factory=dict)  # org ranking: dimension → teams it is a signal in

    @property
    def is_org(self) -> bool:
        return bool(self.items) and isinstance(self.items[0], engine.OrgItem)


@dataclass(frozen=True)
class Hit:
    """A team where a dimension is a signal: its label and score there, linked to its bottleneck page."""

    name: str
    url: str
    label: engine.Label
    score: float


@dataclass(frozen=True)
class GridRow:
    """A leaf team's label per dimension, in ``engine.DIMENSIONS``' order (the org page's team × dimension table)."""

    name: str
    url: str
    people: int
    cells: tuple[Hit, ...]


def _org_grid(period: PeriodResult, viewer: User, days: int) -> tuple[tuple[GridRow, ...], dict[str, tuple[Hit, ...]]]:
    """The leaf teams the viewer may see (one query, whatever the number of teams), each with its label and score
    per dimension as the last refresh stored them, and per dimension the teams it is a signal in, highest score
    first (ties by name) as the org ranking orders its ``team_names``."""
    leaves = TeamResult.objects.filter(period=period, leaf=True).select_related("team").order_by("team__name")
    visible = access.visible_team_ids(viewer)
    if visible is not None:
        leaves = leaves.filter(team_id__in=visible)
    rows = []
    for result in leaves.only("people", "items", "team__name", "team__slug"):
        url = bottleneck_url(result.team, days)
        stored = {item["dimension"]: item for item in result.items}
        cells = tuple(
            Hit(
                result.team.name,
                url,
                engine.Label(stored[d.key]["label"]) if d.key in stored else engine.Label.NO_SIGNAL,
                stored[d.key]["score"] if d.key in stored else 0.0,
            )
            for d in engine.DIMENSIONS
        )
        rows.append(GridRow(result.team.name, url, result.people, cells))
    hits = {
        d.key: tuple(
            sorted(
                (row.cells[i] for row in rows if row.cells[i].label != engine.Label.NO_SIGNAL),
                key=lambda hit: (-hit.score, hit.name),
            )
        )
        for i, d in enumerate(engine.DIMENSIONS)
    }
    return tuple(rows), hits


def _distinct_people(period: PeriodResult) -> int:
    """The active people in the ranked leaf teams, each once however many of those teams they are in."""
    leaves = TeamResult.objects.filter(period=period, leaf=True).values("team_id")
    return Membership.objects.filter(person__is_active=True, team_id__in=leaves).values("person_id").distinct().count()


def _sentiment_item(data: dict | None) -> engine.Sentiment | None:
    return None if data is None else engine.Sentiment(**data)


def item_from_json(data: dict) -> engine.Item:
    """An ``engine.Item`` back from its stored form (``dataclasses.asdict``)."""
    return engine.Item(
        **{
            **data,
            "label": engine.Label(data["label"]),
            "sentiment": _sentiment_item(data["sentiment"]),
            "metrics": tuple(engine.MetricEvidence(**metric) for metric in data["metrics"]),
        }
    )


def org_item_from_json(data: dict) -> engine.OrgItem:
    reaches = ("signal", "corroborated", "perception_only", "data_only")
    return engine.OrgItem(
        **{
            **data,
            **{name: engine.Reach(**data[name]) for name in reaches},
            "team_names": tuple(data["team_names"]),
        }
    )


def _optional_url(name: str, slug: str) -> str | None:
    """A page that another part of e360 may not provide yet (the operational views)."""
    try:
        return reverse(name, args=[slug])
    except NoReverseMatch:
        return None


def evidence_urls(team: Team, days: int) -> dict[str, list[tuple[str, str]]]:
    """Per dimension, the pages listing the records behind its metrics for the team and period.

    The delivery and operational pages offer ``display.PERIODS``; a longer period links to their longest, and the
    label says which.
    """
    shown_days = days if days in display.PERIODS else max(display.PERIODS)
    delivery = f"{reverse('metrics:team-delivery', args=[team.slug])}?days={shown_days}"
    suffix = f" (last {shown_days} days)"
    deployments = (f"Production deployments{suffix}", f"{delivery}#deployments")
    changes = (f"Changes deployed, with lead time components{suffix}", f"{delivery}#changes")
    incidents = (f"Incidents{suffix}", f"{delivery}#incidents")
    links: dict[str, list[tuple[str, str]]] = {}
    pipelines = _optional_url("metrics:team-pipelines", team.slug)
    reviews = _optional_url("metrics:team-reviews", team.slug)
    pipeline_links = (
        [(f"Pipeline runs and failing workflows{suffix}", f"{pipelines}?days={shown_days}")] if pipelines else []
    )
    review_links = [("Pull requests waiting for a first review", f"{reviews}?days={shown_days}")] if reviews else []
    links["ci_cd"] = [*pipeline_links, deployments]
    links["code_review"] = [*review_links, changes]
    links["release"] = [deployments, changes]
    links["stability"] = [deployments, incidents]
    links["cognitive_load"] = [changes]
    links["focus"] = []
    links["tooling"] = [*pipeline_links]
    links["clarity"] = [deployments]
    links["satisfaction"] = [*pipeline_links, *review_links, deployments, changes, incidents]
    return links


def bottleneck_url(team: Team | None, days: int) -> str:
    if team is None:
        return f"{reverse('insights:org-bottlenecks')}?days={days}"
    return f"{reverse('insights:team-bottlenecks', args=[team.slug])}?days={days}"


def bottlenecks(team: Team | None, days: int, viewer: User) -> Bottlenecks:
    """The precomputed bottleneck ranking of ``team`` (None: the organisation, for org viewers: the views check) for
    the standard period covering ``days``.

    A team's metrics cover its whole subtree; a viewer who may not see every team below it (a plain member of a
    parent team) gets no items and a note, as the delivery page would not show them those teams' figures.
    """
    standard, substituted = standard_days(days)
    url = bottleneck_url(team, standard)
    evidence = {} if team is None else evidence_urls(team, standard)
    common: dict[str, Any] = {"days": standard, "substituted": substituted, "requested_days": days, "url": url}
    period = _period(standard)
    if period is None:
        return Bottlenecks((), None, evidence_urls=evidence, **common)
    if team is None:
        org_items = tuple(org_item_from_json(item) for item in period.org_ranking)
        grid, hits = _org_grid(period, viewer, standard)
        return Bottlenecks(
            org_items,
            period.computed_at,
            evidence_urls=evidence,
            people=_distinct_people(period),
            teams=period.leaf_teams,
            grid=grid,
            hits=hits,
            **common,
        )
    if not access.sees_subtree(viewer, team):
        note = "This team's figures include its sub-teams, which you may not see: ask its lead."
        return Bottlenecks((), period.computed_at, evidence_urls={}, note=note, **common)
    result = TeamResult.objects.filter(period=period, team=team).only("items").first()
    if result is None:
        note = "This team was added after the last refresh: the next one includes it."
        return Bottlenecks((), period.computed_at, evidence_urls=evidence, note=note, **common)
    items = tuple(item_from_json(item) for item in result.items)
    return Bottlenecks(items, period.computed_at, evidence_urls=evidence, **common)


@dataclass(frozen=True)
class Point:
    """A team in a scatter: its % favourable and its metric value (base unit, and in the axis' unit)."""

    team: str
    score: float
    value: float
    axis_value: float
    display: str


@dataclass(frozen=True)
class Pair:
    dimension: str
    dimension_label: str
    metric: str
    metric_label: str
    lower_is_better: bool
    axis_unit: str
    correlation: Correlation
    within_team: Correlation
    points: tuple[Point, ...]

    @property
    def n(self) -> int:
        return self.correlation.n

    @property
    def key(self) -> str:
        return f"{self.dimension}--{self.metric}"


@dataclass(frozen=True)
class Correlations:
    """Every dimension–metric pair's correlation across teams as last computed (``computed_at`` None: not yet)."""

    pairs: tuple[Pair, ...]
    computed_at: datetime | None
    url: str
    days: int = 90
    substituted: bool = False
    campaign: Campaign | None = None
    previous: Campaign | None = None
    team: Team | None = None
    note: str = ""


def _pair(row: PairResult) -> Pair:
    spec = engine.METRICS[row.metric]
    correlation = Correlation(row.n, row.rho, row.low, row.high, row.min_n, row.confidence)
    within = Correlation(row.change_n, row.change_rho, row.change_low, row.change_high, row.min_n, row.confidence)
    points = tuple(
        Point(name, score, value, inputs.axis_value(row.metric, value), inputs.metric_text(row.metric, value))
        for _, name, score, value in row.points
    )
    return Pair(
        row.dimension,
        DIMENSION_LABELS.get(row.dimension, row.dimension),
        row.metric,
        spec.label,
        spec.lower_is_better,
        inputs.READERS[row.metric].axis_unit,
        correlation,
        within,
        points,
    )


def pick_pair(result: Correlations, key: str | None) -> Pair | None:
    """The pair ``key`` names ("ci_cd--flaky_rate"); by default the first, in the table's order, whose interval
    excludes zero, else the first with enough teams to tell, else the first."""
    if key is not None:
        return next((pair for pair in result.pairs if pair.key == key), None)
    for wanted in (lambda p: p.correlation.excludes_zero, lambda p: p.correlation.enough, lambda p: True):
        found = next((pair for pair in result.pairs if wanted(pair)), None)
        if found is not None:
            return found
    return None


def correlates_below(team: Team, viewer: User) -> bool:
    """Whether ``team`` has sub-teams and ``viewer`` may see every team below it: who may read the correlations
    across them (its leads, a lead above it, org viewers — not a member who sees only the team itself)."""
    below = TeamTree.for_user(viewer).subtree([team.pk])
    return len(below) > 1 and access.sees_all_of(viewer, below)


def correlations(days: int, team: Team | None = None) -> Correlations:
    """The precomputed correlations for the standard period covering ``days``: across the organisation's teams
    without sub-teams (``team`` None), or across those below ``team``. The view has checked who may read them: an org
    viewer, or for a team whoever may see every team below it (``correlates_below``)."""
    url = reverse("insights:correlations") if team is None else reverse("insights:team-correlations", args=[team.slug])
    standard, substituted = standard_days(days)
    url = f"{url}?days={standard}"
    period = PeriodResult.objects.filter(days=standard).select_related("campaign", "previous_campaign").first()
    if period is None:
        return Correlations((), None, url, standard, substituted, team=team)
    pairs = tuple(_pair(row) for row in period.pairs.filter(team=team))
    note = ""
    if team is not None and not pairs and period.campaign is not None:
        note = "This team's sub-teams are new since the last refresh: the next one includes them."
    return Correlations(
        pairs,
        period.computed_at,
        url,
        standard,
        substituted,
        period.campaign,
        period.previous_campaign,
        team=team,
        note=note,
    )

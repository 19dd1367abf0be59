"""The precomputed bottleneck and correlation results (``insights.models``, refreshed hourly by ``insights.tasks``)
as the pages and dashboards read them, for the standard period covering the one asked.

Access: a developer sees their teams, a lead their sub-tree, org viewers everything (``e360.access``). The views
check it, once per request: the organisation's bottlenecks, correlations and dashboard need
``access.require_org_viewer``, a team's correlations (across the teams below it) every one of those teams visible
(``correlates_below``, through ``access.sees_subtree``'s rule).
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from e360 import access
from e360.htmx import html_join
from e360.memo import keep
from e360.models import Team
from e360.tree import TeamTree
from insights import engine
from insights.models import PairResult, PeriodResult, TeamResult
from insights.selectors.readers import READERS, axis_value, metric_text
from insights.selectors.waves import DIMENSION_LABELS
from insights.stats import Correlation
from metrics import display

if TYPE_CHECKING:
    from collections.abc import Callable

    from e360.models import User
    from surveys.models import Campaign

# The periods results are stored for (``insights.tasks.refresh``), longest a year.
STANDARD_DAYS: tuple[int, ...] = (30, 90, 180, 365)


def standard_days(days: int) -> tuple[int, bool]:
    """The standard period results are stored for: ``days`` itself when standard, else the smallest standard
    period at least as long (the longest when none is), and whether it was substituted."""
    if days in STANDARD_DAYS:
        return days, False
    longer = [standard for standard in STANDARD_DAYS if standard >= days]
    return (longer[0] if longer else STANDARD_DAYS[-1]), True


def _period(days: int) -> PeriodResult | None:
    """The period's stored results but the organisation's ranking and grid (``_org_results``)."""
    return PeriodResult.objects.filter(days=days).defer("org_ranking", "org_grid").first()


@dataclass(frozen=True)
class _OrgResults:
    """A stored period's organisation ranking, decoded, and its grid as stored (``PeriodResult.org_grid``)."""

    items: tuple[engine.OrgItem, ...]
    grid: list


def _org_results(period: PeriodResult) -> _OrgResults:
    """The organisation's ranking and grid of ``period``, decoded once per stored result in a process.

    They are a few hundred kB of JSON at the large size, which only the hourly refresh changes, and each of its
    stores gives the row a new random ``version``. The second read takes the version with the JSON and keeps them
    under it: a refresh that committed in between is not kept under the older version."""
    found = _org_kept.get(period.version)
    if found is None:
        version, ranking, grid = (
            PeriodResult.objects.filter(pk=period.pk).values_list("version", "org_ranking", "org_grid").get()
        )
        found = _OrgResults(tuple(org_item_from_json(item) for item in ranking), grid)
        keep(_org_kept, version, found, 2 * len(STANDARD_DAYS))
    return found


# The organisation's results per stored period's version: each standard period's, and the one before a refresh while
# requests still read it.
_org_kept: dict[uuid.UUID, _OrgResults] = {}


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
    labels: tuple[engine.Label, ...]


# Each label's cell in the org grid: a letter badge, the word for screen readers (the colour only repeats it).
_GRID_CELLS: dict[engine.Label, SafeString] = {
    label: format_html(
        '<td class="team-grid__cell"><span class="badge badge--{}" title="{}">{}</span>'
        '<span class="visually-hidden"> {}</span></td>',
        badge,
        label.value,
        label.value[0].upper(),
        label.value,
    )
    for label, badge in (
        (engine.Label.CORROBORATED, "danger"),
        (engine.Label.PERCEPTION_ONLY, "warning"),
        (engine.Label.DATA_ONLY, "accent"),
    )
} | {
    engine.Label.NO_SIGNAL: format_html(
        '<td class="team-grid__cell"><span class="muted" aria-hidden="true">–</span>'
        '<span class="visually-hidden">{}</span></td>',
        engine.Label.NO_SIGNAL.value,
    )
}


def grid_rows_html(grid: tuple[GridRow, ...]) -> SafeString:
    """The org grid's table rows, escaped and joined in Python: 400 teams × 9 dimensions cost a template loop about
    as much as the rest of the page."""
    return html_join(
        '<tr><th scope="row" class="team-grid__team"><a href="{}">{}</a></th>{}</tr>',
        ((row.url, row.name, SafeString("".join(_GRID_CELLS[label] for label in row.labels))) for row in grid),
    )


_LABELS: dict[str, engine.Label] = {label.value: label for label in engine.Label}


def _org_grid(stored: list, viewer: User, days: int) -> tuple[tuple[GridRow, ...], dict[str, tuple[Hit, ...]]]:
    """The leaf teams the viewer may see, by name, each with its label per dimension as the last refresh stored them
    (``PeriodResult.org_grid``, one row for every team), and per dimension the teams it is a signal in, highest score
    first (ties by name) as the org ranking orders its ``team_names``. Names and slugs are the request's team tree
    (``TeamTree.for_user``): a team renamed or deleted since shows as it is now."""
    tree = TeamTree.for_user(viewer)
    visible = access.visible_team_ids(viewer)
    url_of = _team_bottleneck_urls(days)
    rows = []
    hits: dict[str, list[Hit]] = {d.key: [] for d in engine.DIMENSIONS}
    for team_id, people, cells in stored:
        if team_id not in tree.names or (visible is not None and team_id not in visible):
            continue
        name, url = tree.names[team_id], url_of(tree.slugs[team_id])
        labels = tuple(_LABELS[label] for label, _ in cells)
        rows.append(GridRow(name, url, people, labels))
        for d, label, (_, score) in zip(engine.DIMENSIONS, labels, cells, strict=True):
            if label != engine.Label.NO_SIGNAL:
                hits[d.key].append(Hit(name, url, label, score))
    rows.sort(key=lambda row: row.name)
    return tuple(rows), {
        key: tuple(sorted(found, key=lambda hit: (-hit.score, hit.name))) for key, found in hits.items()
    }


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


def _team_bottleneck_urls(days: int) -> Callable[[str], str]:
    """A team's bottleneck page by its slug, from one ``reverse``: the org grid links 400 teams, and reversing each
    costs more than the rest of the grid. A slug needs no quoting in a path."""
    before, _, after = reverse("insights:team-bottlenecks", args=["slug"]).rpartition("/slug/")
    return lambda slug: f"{before}/{slug}/{after}?days={days}"


def bottleneck_url(team: Team | None, days: int) -> str:
    if team is None:
        return f"{reverse('insights:org-bottlenecks')}?days={days}"
    return _team_bottleneck_urls(days)(team.slug)


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
        org = _org_results(period)
        grid, hits = _org_grid(org.grid, viewer, standard)
        return Bottlenecks(
            org.items,
            period.computed_at,
            evidence_urls=evidence,
            people=period.leaf_people,
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
    pk: int  # its ``PairResult``
    points: tuple[Point, ...] = ()  # the scatter's: read for the pair a page shows (``pick_pair``)

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
    """The pair as the table lists it, without its scatter's points (``_with_points``)."""
    spec = engine.METRICS[row.metric]
    correlation = Correlation(row.n, row.rho, row.low, row.high, row.min_n, row.confidence)
    within = Correlation(row.change_n, row.change_rho, row.change_low, row.change_high, row.min_n, row.confidence)
    return Pair(
        row.dimension,
        DIMENSION_LABELS.get(row.dimension, row.dimension),
        row.metric,
        spec.label,
        spec.lower_is_better,
        READERS[row.metric].axis_unit,
        correlation,
        within,
        row.pk,
    )


def _with_points(pair: Pair) -> Pair:
    """The pair with its scatter's teams (one query): a page shows one pair's, and the 33 pairs' points of 400 teams
    each are most of what the table would otherwise read and decode."""
    stored = PairResult.objects.filter(pk=pair.pk).values_list("points", flat=True).first() or []
    points = tuple(
        Point(name, score, value, axis_value(pair.metric, value), metric_text(pair.metric, value))
        for _, name, score, value in stored
    )
    return dataclasses.replace(pair, points=points)


def pick_pair(result: Correlations, key: str | None) -> Pair | None:
    """The pair ``key`` names ("ci_cd--flaky_rate"); by default the first, in the table's order, whose interval
    excludes zero, else the first with enough teams to tell, else the first; with its scatter's points."""
    if key is not None:
        found = next((pair for pair in result.pairs if pair.key == key), None)
        return None if found is None else _with_points(found)
    for wanted in (lambda p: p.correlation.excludes_zero, lambda p: p.correlation.enough, lambda p: True):
        found = next((pair for pair in result.pairs if wanted(pair)), None)
        if found is not None:
            return _with_points(found)
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
    period = (
        PeriodResult.objects.filter(days=standard)
        .defer("org_ranking", "org_grid")
        .select_related("campaign", "previous_campaign")
        .first()
    )
    if period is None:
        return Correlations((), None, url, standard, substituted, team=team)
    pairs = tuple(_pair(row) for row in period.pairs.filter(team=team).defer("points"))
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

"""Computing and storing the insight results of a standard period (``insights.models``).

``insights_refresh(days=...)`` reads every team's mapped metrics from rollups and its sentiment from the published
survey figures (``insights.selectors``), runs the engine (``insights.engine``: each team's bottleneck ranking, the org
ranking) and the statistics (``insights.stats``: each dimension–metric pair's correlation across teams, and the
within-team change across the last two waves), and replaces the period's stored results in one transaction.

Choices made here, beyond the engine's and the statistics' own definitions:

- **Peers** of a team are the other teams at the same depth of the tree (the rule ``surveys.published`` ranks
  survey scores by), and of those only the ones whose metric rests on at least ``engine.MIN_SAMPLE`` records: a
  peer's failure rate over two runs says nothing about where this team stands.
- **The org ranking and the correlations use the leaf teams** (teams without sub-teams): they do not overlap, so
  nobody counts twice, and a parent's figures are not its children's again. The org ranking weighs each leaf team
  by its active members.
- **Correlation points** are leaf teams whose sentiment is shown (``GroupScore`` shown cells only) and whose metric
  rests on at least ``engine.MIN_SAMPLE`` records. A hidden team is never a point.
- **Scopes**: the correlations are computed for the organisation and again for each team with sub-teams, over
  the leaf teams below it, for its leads (``insights.selectors.correlations``). A sub-tree with fewer than 8 such
  teams says "too few teams to tell" like the organisation would.
- **Within-team change**: a team's dimension score in the latest wave minus the previous wave's (only where its
  change may be shown: ``anonymity.wave_change``), against its metric over the ``days`` days before the latest
  wave closed minus the same before the previous wave closed (each side resting on at least ``engine.MIN_SAMPLE``
  records).
- **Seeds**: each pair's bootstrap is seeded from the pair itself (``pair_seed``), so the same data give the same
  interval in every refresh.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import time
import uuid
from collections import defaultdict
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from e360.models import Team
from e360.tree import TeamTree
from insights import engine, selectors, stats
from insights.models import PairResult, PeriodResult, TeamResult
from metrics.scope import reading_profile

if TYPE_CHECKING:
    from collections.abc import Callable

    from insights.selectors import Reading, WaveFigures
    from surveys.models import Campaign

logger = logging.getLogger(__name__)


def pair_seed(kind: str, dimension: str, metric: str) -> int:
    """The bootstrap seed of a pair: fixed by the pair, so intervals do not move between refreshes."""
    digest = hashlib.sha256(f"insights:{kind}:{dimension}:{metric}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def pairs() -> list[tuple[str, engine.MetricSpec]]:
    """Every dimension–metric pair of the table of docs/surveys.md#dimensions, in its order (focus has none)."""
    return [(dimension.key, spec) for dimension in engine.DIMENSIONS for spec in dimension.metrics]


def _counted(reading: Reading | None) -> float | None:
    """The reading's value if it counts (a value, on enough of a sample); else None."""
    if reading is None or reading.sample < engine.MIN_SAMPLE:
        return None
    return reading.value


@dataclasses.dataclass
class _Team:
    team: Team
    depth: int
    leaf: bool
    people: int
    current: dict[str, Reading]
    at_waves: tuple[dict[str, Reading], dict[str, Reading]] | None  # (previous wave's window, latest wave's)

    def wave_change(self) -> dict[str, float | None]:
        if self.at_waves is None:
            return {}
        before, after = self.at_waves
        return {
            key: now - then
            if (now := _counted(after[key])) is not None and (then := _counted(before[key])) is not None
            else None
            for key in engine.METRICS
        }


def _metric_values(teams: list[_Team]) -> dict[int, list[engine.MetricValue]]:
    """Each team's mapped metrics with its peers' values: the teams at its depth whose metric counts."""
    by_depth: dict[int, list[_Team]] = defaultdict(list)
    for entry in teams:
        by_depth[entry.depth].append(entry)
    values: dict[int, list[engine.MetricValue]] = {}
    for level in by_depth.values():
        counted = {
            key: [(entry.team.pk, value) for entry in level if (value := _counted(entry.current[key])) is not None]
            for key in engine.METRICS
        }
        for entry in level:
            values[entry.team.pk] = [
                engine.MetricValue(
                    key,
                    reading.value,
                    reading.display,
                    reading.sample,
                    [value for team, value in counted[key] if team != entry.team.pk],
                )
                for key, reading in entry.current.items()
            ]
    return values


def _correlations(
    teams: list[_Team], tree: TeamTree, wave: WaveFigures | None, before: WaveFigures | None
) -> list[PairResult]:
    """Each pair's correlation and within-team change across the leaf teams of the org (``team`` None) and of each
    team with sub-teams (rows without their period yet)."""
    if wave is None:
        return []
    leaves = [entry for entry in teams if entry.leaf]
    below: dict[int, list[_Team]] = defaultdict(list)
    for entry in leaves:
        for ancestor in tree.chain(entry.team.pk)[1:]:
            below[ancestor].append(entry)
    scopes: list[tuple[Team | None, list[_Team]]] = [(None, leaves)]
    scopes += [(entry.team, below[entry.team.pk]) for entry in teams if not entry.leaf]
    changes = {entry.team.pk: entry.wave_change() for entry in leaves}
    return [row for scope, members in scopes for row in _scope_pairs(scope, members, changes, wave, before)]


def _scope_pairs(
    scope: Team | None,
    leaves: list[_Team],
    changes: dict[int, dict[str, float | None]],
    wave: WaveFigures,
    before: WaveFigures | None,
) -> list[PairResult]:
    rows = []
    for position, (dimension, spec) in enumerate(pairs()):
        points: list[list[Any]] = []  # [team id, name, score, metric value]
        for entry in leaves:
            score = wave.score(entry.team.pk, dimension)
            if score is not None and (value := _counted(entry.current[spec.key])) is not None:
                points.append([entry.team.pk, entry.team.name, score, value])
        correlation = stats.correlate(
            [p[2] for p in points], [p[3] for p in points], seed=pair_seed("level", dimension, spec.key)
        )
        change_pairs = []
        if before is not None:
            for entry in leaves:
                team = entry.team.pk
                if not wave.change_shown(team, before, dimension):
                    continue
                now_score, then_score = wave.score(team, dimension), before.score(team, dimension)
                if now_score is None or then_score is None:
                    continue
                change_pairs.append((now_score - then_score, changes[team].get(spec.key)))
        within = stats.within_team_change(change_pairs, seed=pair_seed("change", dimension, spec.key))
        rows.append(
            PairResult(
                team=scope,
                position=position,
                dimension=dimension,
                metric=spec.key,
                n=correlation.n,
                rho=correlation.rho,
                low=correlation.low,
                high=correlation.high,
                min_n=correlation.min_n,
                confidence=correlation.confidence,
                points=points if correlation.enough else [],
                change_n=within.n,
                change_rho=within.rho,
                change_low=within.low,
                change_high=within.high,
            )
        )
    return rows


@dataclasses.dataclass(frozen=True)
class Computed:
    """A period's results before they are stored."""

    days: int
    now: datetime
    window_start: datetime
    window_end: datetime
    campaign: Campaign | None
    previous: Campaign | None
    teams: list[tuple[_Team, list[engine.Item]]]
    ranking: list[engine.OrgItem]
    leaf_people: int
    pairs: list[PairResult]
    started: float


def insights_compute(
    *, days: int, now: datetime | None = None, progress: Callable[[int, int, str], None] | None = None
) -> Computed:
    """Compute the insight results of the last ``days`` org-zone days, reading and writing nothing of their own
    (a closed campaign's survey figures are stored on their first read, by ``surveys.published``).

    ``progress(done, total, team name)`` is called after each team's metrics are read (the long part).
    """
    started = time.monotonic()
    now = now or timezone.now()
    profile = reading_profile()
    window = selectors.window(days, now, profile)
    tree = TeamTree.load()
    campaign = selectors.latest_wave()
    previous = selectors.previous_wave(campaign) if campaign is not None else None
    wave = selectors.WaveFigures.load(campaign) if campaign is not None else None
    before = selectors.WaveFigures.load(previous) if previous is not None else None
    asked = selectors.dimensions_asked(campaign) if campaign is not None else []
    windows = [window]
    if campaign is not None and previous is not None:
        # The same length of time before each wave closed: what the within-team change compares.
        windows += [selectors.window(days, c.closes_at, profile) for c in (previous, campaign)]

    people = selectors.people_by_team()
    team_rows = list(Team.objects.order_by("name", "pk"))
    teams: list[_Team] = []
    for done, team in enumerate(team_rows, start=1):
        readings = selectors.team_readings(team, windows, now=now, tree=tree)
        teams.append(
            _Team(
                team,
                tree.depth(team.pk),
                tree.is_leaf(team.pk),
                people.get(team.pk, 0),
                readings[0],
                (readings[1], readings[2]) if len(readings) == 3 else None,
            )
        )
        if progress is not None:
            progress(done, len(team_rows), team.name)

    metric_values = _metric_values(teams)
    results = []
    for entry in teams:
        team_sentiments = selectors.sentiments(entry.team.pk, wave, before, asked) if wave is not None else []
        items = engine.bottlenecks(engine.TeamInput(team_sentiments, metric_values[entry.team.pk]))
        results.append((entry, items))
    ranking = engine.org_ranking([(e.team.name, e.people, items) for e, items in results if e.leaf])
    leaf_people = selectors.distinct_people(e.team.pk for e in teams if e.leaf)
    return Computed(
        days,
        now,
        window.start,
        window.end,
        campaign,
        previous,
        results,
        ranking,
        leaf_people,
        _correlations(teams, tree, wave, before),
        started,
    )


def grid_cells(items: list[engine.Item]) -> list[list]:
    """A team's [label, score] per dimension, in ``engine.DIMENSIONS``' order: its row of the org grid."""
    by_dimension = {item.dimension: item for item in items}
    return [
        [item.label.value, item.score] if (item := by_dimension.get(d.key)) else [engine.Label.NO_SIGNAL.value, 0.0]
        for d in engine.DIMENSIONS
    ]


@transaction.atomic
def insights_store(computed: Computed) -> PeriodResult:
    """Replace the period's stored results with ``computed``, in one transaction."""
    # update_or_create locks the period's row: a second refresh of the same period waits for this one.
    period, _ = PeriodResult.objects.update_or_create(
        days=computed.days,
        defaults={
            "computed_at": computed.now,
            "version": uuid.uuid4(),
            "window_start": computed.window_start,
            "window_end": computed.window_end,
            "campaign": computed.campaign,
            "previous_campaign": computed.previous,
            "teams": len(computed.teams),
            "leaf_teams": sum(1 for entry, _ in computed.teams if entry.leaf),
            "org_ranking": [dataclasses.asdict(item) for item in computed.ranking],
            "org_grid": [
                [entry.team.pk, entry.people, grid_cells(items)] for entry, items in computed.teams if entry.leaf
            ],
            "leaf_people": computed.leaf_people,
        },
    )
    period.team_results.all().delete()
    period.pairs.all().delete()
    TeamResult.objects.bulk_create(
        [
            TeamResult(
                period=period,
                team=entry.team,
                depth=entry.depth,
                leaf=entry.leaf,
                people=entry.people,
                metrics={key: [r.value, r.display, r.sample] for key, r in entry.current.items()},
                wave_change=entry.wave_change(),
                items=[dataclasses.asdict(item) for item in items],
            )
            for entry, items in computed.teams
        ],
        batch_size=500,
    )
    for row in computed.pairs:
        row.period = period
    PairResult.objects.bulk_create(computed.pairs, batch_size=500)
    period.seconds = time.monotonic() - computed.started
    period.save(update_fields=["seconds"])
    return period


def insights_refresh(
    *, days: int, now: datetime | None = None, progress: Callable[[int, int, str], None] | None = None
) -> PeriodResult:
    """Compute and store the insight results of the last ``days`` org-zone days, replacing the period's last ones.

    Everything is read and computed first; only storing holds a transaction, so pages read the previous results
    until the new ones are in whole.
    """
    period = insights_store(insights_compute(days=days, now=now, progress=progress))
    logger.info("Insights over %s days: %s teams in %.1f s", days, period.teams, period.seconds)
    return period

"""What an initiative's pages read: its teams' weekly series, the comparison candidates', the survey side and the
pull requests still open at the cut-off — from the rollups and the stored survey figures, never raw history.

- **Weeks.** Periods of 7 org-zone days counted from the initiative's start (week 0 begins on it): from the first
  whole week of the before window (``window_days`` before the start) to the week holding the end of the last team's
  after window (its start + ramp-up + window). Only weeks that have ended are read. A team with a later (staggered)
  start is placed on the same weeks: its start is the first day of the week it falls in (``grid_start``), so no day
  after its start is counted before it (the ramp-up absorbs the few days before).
- **Series.** Each team is read as its frozen baseline reads it (``threshold_metrics``: the team with every team
  below it), every primary and guardrail metric over every week and over its baseline window (the ``window_days``
  before the initiative's start). The teams of a read are read at once (``threshold_metrics.team_figures``): a
  fixed number of queries however many teams, whatever the length of history.
- **Comparison candidates**: the other teams at the treated teams' depth in the tree, each with the start of any
  other initiative on the same dimension or a shared metric that is running during this one's weeks (None:
  none), and its baseline: frozen at the start (``candidate_baselines``), read before it.
  ``actions.estimates.select_comparison`` chooses among them, per metric; only the chosen teams' weeks are read
  (``with_weeks``).
- **Survey side**: the survey dimension's % favourable of each target team in the latest wave closed before its
  start and in the latest closed since its ramp-up ended (``insights.selectors.WaveFigures``: shown cells only; a
  group below the anonymity threshold has no number, only why).
- **Open at the cut-off**: for a pull-request metric, the target teams' pull requests opened in their after window
  and still waiting at the cut-off (the end of the after window, or now): not in the after window's figures.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from django.db.models import Count, Q

from actions import threshold_metrics
from actions.models import Initiative, InitiativeTeam
from actions.models.initiatives import org_today
from e360.models import Team
from e360.tree import TeamTree
from insights import selectors
from metrics import definitions as d
from metrics.models import PullRequest
from metrics.scope import in_services, reading_profile
from surveys import results as survey_results

WEEK = timedelta(days=7)
# The metrics read from pull requests: their figures leave out those still open (or unreviewed, for pickup time).
PR_METRICS = frozenset({"pickup_time", "review_time", "pr_size"})


def grid_start(initiative_start: date, start: date) -> date:
    """The first day of the initiative's week that ``start`` falls in."""
    return initiative_start + WEEK * ((start - initiative_start) // WEEK)


def team_starts(initiative: Initiative, targets: list[InitiativeTeam]) -> dict[int, date]:
    """Each target team's start, on the initiative's weeks (``grid_start``)."""
    return {target.team_id: grid_start(initiative.starts_on, target.start) for target in targets}


def weeks(initiative: Initiative, starts: dict[int, date], now: datetime) -> list[date]:
    """The first days of the weeks read (module docstring): those that have ended by ``now``."""
    window, ramp = timedelta(days=initiative.window_days), timedelta(days=initiative.ramp_up_days)
    first = initiative.starts_on - WEEK * (window // WEEK)
    last_end = max(starts.values(), default=initiative.starts_on) + ramp + window
    today = org_today(now)
    found = []
    day = first
    while day < last_end and day + WEEK <= today:
        found.append(day)
        day += WEEK
    return found


@dataclass(frozen=True)
class TeamSeries:
    """A team's weekly values (aligned with ``Reads.weeks``) and baseline per metric key; None: no data."""

    team: Team
    depth: int
    start: date | None  # a target's start (on the weeks); a candidate's start in another initiative, or None
    weekly: dict[str, tuple[float | None, ...]]
    baseline: dict[str, float | None]
    service_ids: tuple[int, ...] | None  # None: every service (the team holds them all)


@dataclass(frozen=True)
class SurveySide:
    """A target team's survey dimension before and after its start: a score, or why there is none."""

    team: Team
    before: float | None
    after: float | None
    before_text: str  # the score's text, or why there is none
    after_text: str

    @property
    def shown(self) -> bool:
        return self.before is not None and self.after is not None


@dataclass(frozen=True)
class Reads:
    initiative: Initiative
    now: datetime
    keys: tuple[str, ...]  # the metrics read: the primary ones, then the guardrail
    weeks: tuple[date, ...]
    targets: tuple[TeamSeries, ...]
    candidates: tuple[TeamSeries, ...]
    level: int  # the treated teams' depth in the tree: the candidates'
    declared_starts: dict[int, date]  # each target team's start as set (``TeamSeries.start``: on the weeks)
    tree: TeamTree

    @property
    def started(self) -> bool:
        return self.initiative.starts_on <= org_today(self.now)


def _series(
    teams: Sequence[tuple[Team, date | None]],
    keys: list[str],
    week_firsts: list[date],
    baseline: d.Window | None,
    tree: TeamTree,
    now: datetime,
) -> list[TeamSeries]:
    """The teams' weekly values over ``week_firsts`` and their values over ``baseline`` (None: not read), all the
    teams read at once (``threshold_metrics.team_figures``)."""
    profile = reading_profile()
    windows = [d.Window.from_days(first, first + WEEK, profile) for first in week_firsts]
    windows += [baseline] if baseline is not None else []
    if not keys or not windows:
        empty = {key: tuple[float | None, ...]() for key in keys}
        return [TeamSeries(team, tree.depth(team.pk), start, empty, dict.fromkeys(keys), ()) for team, start in teams]
    figures = threshold_metrics.team_figures([team.pk for team, _ in teams], keys, windows, now, tree)
    found = []
    for team, start in teams:
        read = threshold_metrics.metric_values(figures[team.pk], keys, windows)
        weekly_rows = read[: len(week_firsts)]
        weekly = {key: tuple(row[key] for row in weekly_rows) for key in keys}
        values = {key: read[-1][key] for key in keys} if baseline is not None else dict.fromkeys(keys)
        ids = figures[team.pk].service_ids
        service_ids = None if ids is None else tuple(ids)
        found.append(TeamSeries(team, tree.depth(team.pk), start, weekly, values, service_ids))
    return found


def _running_starts(initiative: Initiative, team_ids: set[int], since: date) -> dict[int, date]:
    """Per team, the earliest start in another initiative on the same dimension or a shared metric that is still
    running on ``since`` or starts after it (its after window ends after ``since``)."""
    metrics = set(initiative.metric_keys)
    others = (
        InitiativeTeam.objects.filter(team_id__in=team_ids)
        .exclude(initiative=initiative)
        .select_related("initiative")
        .only(
            "team_id",
            "starts_on",
            "initiative__starts_on",
            "initiative__dimension",
            "initiative__primary_metrics",
            "initiative__guardrail_metric",
            "initiative__ramp_up_days",
            "initiative__window_days",
        )
    )
    found: dict[int, date] = {}
    for other in others:
        theirs = other.initiative
        if theirs.dimension != initiative.dimension and not metrics & set(theirs.primary_metrics or []):
            continue
        if other.start + timedelta(days=theirs.ramp_up_days + theirs.window_days) <= since:
            continue  # over before this one's weeks begin
        found[other.team_id] = min(other.start, found.get(other.team_id, other.start))
    return found


def _level(tree: TeamTree, target_ids: set[int]) -> int:
    """The treated teams' depth: the most common; a tie goes to the shallower (never to the order of a set of ids)."""
    depths = Counter(tree.depth(team_id) for team_id in target_ids)
    return min(depths, key=lambda depth: (-depths[depth], depth)) if depths else 0


def _baseline_first(initiative: Initiative) -> date:
    return initiative.starts_on - timedelta(days=initiative.window_days)


def _baseline_window(initiative: Initiative) -> d.Window:
    return d.Window.from_days(_baseline_first(initiative), initiative.starts_on, reading_profile())


def candidate_baselines(
    initiative: Initiative, targets: list[InitiativeTeam], *, now: datetime, tree: TeamTree
) -> dict[str, dict[str, float | None]]:
    """Every comparison candidate's baseline of each metric (the teams at the treated teams' level, over the window
    before the initiative's start), read at once: frozen with the definitions, so a report after the start reads
    no candidate again and its selection cannot move."""
    target_ids = {target.team_id for target in targets if target.team_id in tree}
    level = _level(tree, target_ids)
    candidates = [(team, None) for team in Team.objects.filter(pk__in=_at_level(tree, level, target_ids))]
    keys = initiative.metric_keys
    read = _series(candidates, keys, [], _baseline_window(initiative), tree, now)
    return {str(series.team.pk): series.baseline for series in read}


def _at_level(tree: TeamTree, level: int, target_ids: set[int]) -> set[int]:
    return {team for team in tree if tree.depth(team) == level} - target_ids


def initiative_reads(
    initiative: Initiative,
    *,
    now: datetime,
    keys: list[str] | None = None,
    tree: TeamTree | None = None,
    candidates: bool = True,
) -> Reads:
    """The series of the initiative's teams and the baselines of its comparison candidates (module docstring), the
    candidates' as frozen at its start when they were; ``keys``: only these metrics (the list page's headline reads
    the first primary one and the guardrail); ``candidates``: False, none (a headline before the start)."""
    tree = tree or TeamTree.load()
    keys = list(initiative.metric_keys if keys is None else keys)
    targets = [t for t in initiative.targets_with_teams if t.team_id in tree]
    starts = team_starts(initiative, targets)
    week_firsts = weeks(initiative, starts, now)
    baseline = _baseline_window(initiative)
    target_ids = {t.team_id for t in targets}
    level = _level(tree, target_ids)
    frozen: dict[str, dict[str, float | None]] | None = (initiative.frozen or {}).get("candidates")
    if not candidates:
        candidate_ids = set()
    elif frozen is not None:
        candidate_ids = {int(pk) for pk in frozen if int(pk) in tree} - target_ids
    else:
        candidate_ids = _at_level(tree, level, target_ids)
    running = _running_starts(initiative, candidate_ids, week_firsts[0] if week_firsts else _baseline_first(initiative))
    ordered = sorted(Team.objects.in_bulk(candidate_ids).values(), key=lambda team: team.name)
    listed = [(team, running.get(team.pk)) for team in ordered]
    if frozen is not None:
        read = [
            TeamSeries(team, tree.depth(team.pk), start, {}, {key: frozen[str(team.pk)].get(key) for key in keys}, ())
            for team, start in listed
        ]
    else:
        read = _series(listed, keys, [], baseline, tree, now)
    return Reads(
        initiative=initiative,
        now=now,
        keys=tuple(keys),
        weeks=tuple(week_firsts),
        targets=tuple(_series([(t.team, starts[t.team_id]) for t in targets], keys, week_firsts, baseline, tree, now)),
        candidates=tuple(read),
        level=level,
        declared_starts={t.team_id: t.start for t in targets},
        tree=tree,
    )


def with_weeks(reads: Reads, team_ids: set[int]) -> Reads:
    """``reads`` with the weekly values of these candidates read (the comparison teams chosen), all at once."""
    wanted = [(series.team, series.start) for series in reads.candidates if series.team.pk in team_ids]
    if not wanted:
        return reads
    read = {s.team.pk: s for s in _series(wanted, list(reads.keys), list(reads.weeks), None, reads.tree, reads.now)}
    candidates = tuple(
        replace(series, weekly=read[series.team.pk].weekly) if series.team.pk in read else series
        for series in reads.candidates
    )
    return replace(reads, candidates=candidates)


# --- The survey side --------------------------------------------------------------------------------------------


def _survey_text(wave: selectors.WaveFigures | None, team: Team, dimension: str) -> tuple[float | None, str]:
    if wave is None:
        return None, "no survey closed then"
    if team.pk not in wave.teams:
        return None, f"not invited to “{wave.campaign.name}”"
    cell = wave.cell(team.pk)
    if not cell.shown:
        return (
            None,
            f"below the anonymity threshold in “{wave.campaign.name}” "
            f"({survey_results.status_text(cell.status, wave.campaign.k)})",
        )
    score = wave.score(team.pk, dimension)
    if score is None:
        return None, f"“{wave.campaign.name}” did not ask about it"
    return score, f"{score:.0f}% favourable in “{wave.campaign.name}”"


def survey_sides(initiative: Initiative, *, now: datetime) -> list[SurveySide]:
    """Each target team's survey dimension in the wave closed last before its start and in the wave closed last
    since its ramp-up ended (module docstring). Teams of one start share their waves; each wave is read once."""
    dimension = initiative.survey_dimension or initiative.dimension
    profile = reading_profile()
    loaded: dict[int, selectors.WaveFigures] = {}
    teams = {target.team.pk for target in initiative.targets_with_teams}

    def figures(since: datetime | None, until: datetime) -> selectors.WaveFigures | None:
        if since is not None and until <= since:
            return None
        campaign = selectors.wave_closed_between(since, until)
        if campaign is None:
            return None
        if campaign.pk not in loaded:
            loaded[campaign.pk] = selectors.WaveFigures.load(campaign, teams)
        return loaded[campaign.pk]

    sides = []
    by_start: dict[date, tuple[selectors.WaveFigures | None, selectors.WaveFigures | None]] = {}
    for target in initiative.targets_with_teams:
        start = target.start
        if start not in by_start:
            start_at = d.local_midnight(start, profile)
            after_from = d.local_midnight(start + timedelta(days=initiative.ramp_up_days), profile)
            later = figures(after_from, now) if after_from < now else None
            by_start[start] = (figures(None, start_at), later)
        before_wave, after_wave = by_start[start]
        before, before_text = _survey_text(before_wave, target.team, dimension)
        if after_wave is None:
            after, after_text = None, "no survey closed since the ramp-up ended"
        else:
            after, after_text = _survey_text(after_wave, target.team, dimension)
        sides.append(SurveySide(target.team, before, after, before_text, after_text))
    return sides


# --- Pull requests open at the cut-off ----------------------------------------------------------------------------


def open_at_cutoff(initiative: Initiative, reads: Reads) -> dict[str, int]:
    """Per pull-request metric among the primary ones, the target teams' pull requests opened in their after window
    and not in its figures at the cut-off: unreviewed (pickup time) or not merged nor closed (review time, size).
    One query; none before any team's after window has begun."""
    keys = [key for key in initiative.primary_metrics if key in PR_METRICS]
    if not keys:
        return {}
    profile = reading_profile()
    window, ramp = timedelta(days=initiative.window_days), timedelta(days=initiative.ramp_up_days)
    unreviewed = unfinished = Q(pk__in=[])
    for series in reads.targets:
        assert series.start is not None
        after_start = d.local_midnight(series.start + ramp, profile)
        if after_start >= reads.now or series.service_ids == ():
            continue
        cutoff = min(reads.now, d.local_midnight(series.start + ramp + window, profile))
        opened = in_services(series.service_ids) & Q(opened_at__gte=after_start, opened_at__lt=cutoff)
        unreviewed |= opened & (Q(attended_at__isnull=True) | Q(attended_at__gt=cutoff))
        unfinished |= (
            opened
            & (Q(merged_at__isnull=True) | Q(merged_at__gt=cutoff))
            & (Q(closed_at__isnull=True) | Q(closed_at__gt=cutoff))
        )
    counts = PullRequest.objects.filter(unreviewed | unfinished, is_direct_push=False).aggregate(
        unreviewed=Count("pk", filter=unreviewed), unfinished=Count("pk", filter=unfinished)
    )
    return {key: counts["unreviewed" if key == "pickup_time" else "unfinished"] or 0 for key in keys}

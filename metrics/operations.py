"""Reads for the operational pages: the review queue and pipeline reliability of a service, a team
or the whole organisation.

- **Review queue**: open pull requests nobody but their author has looked at yet, counted per
  owning team and waiting-time bucket (``definitions.review_queue``) in one aggregate over the
  ``pr_unattended`` partial index, and listed oldest first a page at a time.
- **Pipeline reliability**: the failure and flaky rates and run durations of a window come from
  the rollups (``selectors.Figures``, filled by ``definitions.pipeline``), so they are the figures
  the delivery pages and the insights read; per workflow (the slowest, and those that may be
  failing now) from ``WorkflowPeriodRollup``, one row per workflow of the window's period
  (``metrics.workflow_rollups``), sorted and counted by the database; then the failing
  workflows' latest runs, which ``definitions.failing_workflows`` judges.

Every query is bounded by the scope's services and the window (or, for the queue, by the
pull requests still waiting): its cost never grows with the length of history, and a page
runs the same number of queries however many rows, services or teams it covers (one more
while some service's workflow rollups are not in step for the day, to read its runs).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import Literal

from django.db.models import Count, F, Min, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from e360.models import Service, Team
from metrics import definitions as d
from metrics import selectors, workflow_rollups
from metrics.definitions.review_queue import AgeBucket, age_buckets
from metrics.models import PipelineRun, PullRequest, WorkflowPeriodRollup, WorkflowRollupCoverage
from metrics.scope import Scope, ServiceRef, in_services, reading_profile

# --- What a page covers ---------------------------------------------------------------


@dataclass(frozen=True)
class Area:
    """A service, a team with the sub-teams its viewer may see (``metrics.scope.Scope``), or the
    whole organisation, which ``Scope`` does not model: every service, read through the team
    rollups of the root teams."""

    kind: Literal["service", "team", "organisation"]
    name: str
    slug: str
    services: tuple[ServiceRef, ...]
    profile: d.Profile
    rollup_team_ids: tuple[int, ...]
    rollup_service_ids: tuple[int, ...]
    everything: bool

    @classmethod
    def of(cls, scope: Scope) -> Area:
        return cls(
            scope.kind,
            scope.name,
            scope.slug,
            scope.services,
            scope.profile,
            scope.rollup_team_ids,
            scope.rollup_service_ids,
            scope.everything,
        )

    @classmethod
    def organisation(cls) -> Area:
        """Every service; the root teams' rollups hold them all (a service always has an owner)."""
        rows = Service.objects.order_by("name").values_list("id", "name", "slug", "owner_id")
        roots = tuple(Team.objects.filter(parent__isnull=True).order_by("id").values_list("id", flat=True))
        return cls(
            "organisation",
            "Organisation",
            "",
            tuple(ServiceRef._make(r) for r in rows),
            reading_profile(),
            roots,
            (),
            True,
        )

    @property
    def filter_ids(self) -> list[int] | None:
        """The service ids a query of raw rows filters on; None when the area is every service."""
        return None if self.everything else [s.id for s in self.services]

    def rows(self, field: str = "service") -> Q:
        return in_services(self.filter_ids, field)

    @cached_property
    def by_id(self) -> dict[int, ServiceRef]:
        return {s.id: s for s in self.services}

    def service_ids_of_team(self, team_id: int) -> list[int]:
        return [s.id for s in self.services if s.owner_id == team_id]

    def service_by_slug(self, slug: str) -> ServiceRef | None:
        return next((s for s in self.services if s.slug == slug), None)

    @property
    def is_organisation(self) -> bool:
        return self.kind == "organisation"


# --- Review queue ---------------------------------------------------------------------


def _waiting() -> Q:
    """Open pull requests with no first review yet: nothing has attended to them (no review by
    someone else, no merge, no close). Exactly the rows of the ``pr_unattended`` partial index."""
    return Q(attended_at__isnull=True, is_direct_push=False)


def _aged(bucket: AgeBucket, now: datetime, first: bool) -> Q:
    """Pull requests whose wait at ``now`` falls in ``bucket``: opened in (now - end, now - start].
    The first bucket has no lower bound, so an opening time after ``now`` lands there."""
    q = Q() if first else Q(opened_at__lte=now - bucket.start)
    if bucket.end is not None:
        q &= Q(opened_at__gt=now - bucket.end)
    return q


@dataclass(frozen=True)
class TeamQueue:
    """One owning team's waiting pull requests in the area: how many per bucket."""

    team_id: int
    name: str
    slug: str
    counts: tuple[int, ...]
    oldest: datetime
    late: int

    @property
    def total(self) -> int:
        return sum(self.counts)


@dataclass(frozen=True)
class ReviewQueue:
    now: datetime
    review_wait: timedelta
    buckets: tuple[AgeBucket, ...]
    teams: tuple[TeamQueue, ...]  # the most late first

    @property
    def totals(self) -> tuple[int, ...]:
        return tuple(sum(t.counts[i] for t in self.teams) for i in range(len(self.buckets)))

    @property
    def total(self) -> int:
        return sum(self.totals)

    @property
    def late(self) -> int:
        return sum(t.late for t in self.teams)

    def bucket(self, key: str) -> AgeBucket | None:
        return next((b for b in self.buckets if b.key == key), None)

    def count(self, team_id: int | None = None, bucket: AgeBucket | None = None) -> int:
        """How many the list holds with these filters: no need to count the rows again."""
        teams = [t for t in self.teams if team_id is None or t.team_id == team_id]
        columns = range(len(self.buckets)) if bucket is None else [self.buckets.index(bucket)]
        return sum(t.counts[i] for t in teams for i in columns)


def review_queue(area: Area, now: datetime) -> ReviewQueue:
    """The pull requests waiting for a first review at ``now``, counted per owning team and
    bucket: one aggregate per service over the partial index, and the teams' names."""
    buckets = age_buckets(area.profile.review_wait)
    counts = (
        PullRequest.objects.filter(area.rows(), _waiting())
        .order_by()  # the model's ordering would join the GROUP BY
        .values("service_id")
        .annotate(
            oldest=Min("opened_at"),
            # Columns of the partial index only, so PostgreSQL counts from the index alone.
            **{f"b{i}": Count("opened_at", filter=_aged(b, now, i == 0)) for i, b in enumerate(buckets)},
        )
    )
    per_team: dict[int, list[int]] = {}
    oldest: dict[int, datetime] = {}
    for row in counts:
        service = area.by_id.get(row["service_id"])
        if service is None:  # a service created since the area was read
            continue
        team_counts = per_team.setdefault(service.owner_id, [0] * len(buckets))
        for i in range(len(buckets)):
            team_counts[i] += row[f"b{i}"]
        oldest[service.owner_id] = min(row["oldest"], oldest.get(service.owner_id, row["oldest"]))
    names = Team.objects.filter(id__in=per_team).values_list("id", "name", "slug") if per_team else []
    teams = [
        TeamQueue(
            team_id=team_id,
            name=name,
            slug=slug,
            counts=tuple(per_team[team_id]),
            oldest=oldest[team_id],
            late=sum(n for n, b in zip(per_team[team_id], buckets, strict=True) if b.late),
        )
        for team_id, name, slug in names
    ]
    teams.sort(key=lambda t: (-t.late, -t.total, t.oldest, t.name))
    return ReviewQueue(now, area.profile.review_wait, buckets, tuple(teams))


def waiting_pull_requests(
    area: Area, queue: ReviewQueue, *, team_id: int | None = None, bucket: AgeBucket | None = None
) -> QuerySet[PullRequest]:
    """The queue's pull requests, oldest first; of one owning team and one bucket when given."""
    prs = PullRequest.objects.filter(area.rows(), _waiting())
    if team_id is not None:
        prs = prs.filter(in_services(area.service_ids_of_team(team_id)))
    if bucket is not None:
        prs = prs.filter(_aged(bucket, queue.now, bucket is queue.buckets[0]))
    return (
        prs.select_related("repository")
        .only("id", "number", "title", "url", "author", "opened_at", "service_id", "repository__name")
        .order_by("opened_at", "id")
    )


# --- Pipeline reliability -------------------------------------------------------------

# Stored statuses by the verdict ``definitions.run_verdict`` gives them: the rest (cancelled,
# in progress) count neither as passed nor as failed.
PASSED = tuple(s for s in PipelineRun.Status.values if d.run_verdict(s) is True)
FAILED = tuple(s for s in PipelineRun.Status.values if d.run_verdict(s) is False)
SLOWEST = 10
# Failing workflows listed at most: those whose last passing run is the oldest.
MAX_FAILING = 50


@dataclass(frozen=True)
class WorkflowStats:
    """A workflow of a service over the window: its judged default-branch runs and their durations."""

    service: ServiceRef
    workflow: str
    runs: int
    failed: int
    median: timedelta | None
    p90: timedelta | None

    @property
    def failure_rate(self) -> float | None:
        return self.failed / self.runs if self.runs else None


@dataclass(frozen=True)
class Failing:
    """A workflow whose latest default-branch run of the window failed (``definitions.FailingWorkflow``)."""

    service: ServiceRef
    workflow: str
    since: datetime
    failed_runs: int
    last_run: PipelineRun
    passed_in_window: bool  # False: no run passed in the window, so the streak may be older


@dataclass(frozen=True)
class WeekPoint:
    monday: date
    label: str
    cut: bool  # the window's edges cut the week
    runs: int
    failed: int
    commits: int
    flaky: int

    @property
    def failure_rate(self) -> float | None:
        return self.failed / self.runs if self.runs else None

    @property
    def flaky_rate(self) -> float | None:
        return self.flaky / self.commits if self.commits else None


@dataclass(frozen=True)
class Pipelines:
    reliability: d.PipelineReliability
    weeks: tuple[WeekPoint, ...]
    slowest: tuple[WorkflowStats, ...]
    failing: tuple[Failing, ...]
    failing_total: int
    workflows: int


def _judged_runs(area: Area, window: d.Window, service_ids: list[int] | None = None) -> QuerySet[PipelineRun]:
    """Default-branch runs with a verdict finished in the window: what pipeline reliability counts;
    of the given services of the area, when given."""
    return PipelineRun.objects.filter(
        area.rows() if service_ids is None else in_services(service_ids),
        is_default_branch=True,
        status__in=PASSED + FAILED,
        finished_at__gte=window.start,
        finished_at__lt=window.end,
    )


def pipelines(area: Area, window: d.Window, now: datetime) -> Pipelines:
    """The window's pipeline reliability, weekly rates, slowest and failing workflows."""
    figures = selectors.Figures(
        area.filter_ids,
        [window],
        area.profile,
        now=now,
        rollups=(area.rollup_team_ids, area.rollup_service_ids),
    )
    reliability = figures.summary(window).pipeline
    weeks = _weeks(figures.days.within(window, area.profile).service_wide, window, area.profile)
    per_workflow = _workflows(area, window, now)
    failing = _failing(area, window, now, per_workflow.candidates)
    # Past the ones listed, a candidate counts as failing (a tie with a pass, settled only by the
    # definition, is too rare to read every candidate's runs for).
    total = len(failing) + max(0, per_workflow.candidates_total - MAX_FAILING)
    return Pipelines(reliability, weeks, per_workflow.slowest, failing, total, per_workflow.workflows)


@dataclass(frozen=True)
class _Candidate:
    service_id: int
    workflow: str
    last_pass: datetime | None


@dataclass(frozen=True)
class _PerWorkflow:
    """What the page shows per workflow: the slowest, how many workflows ran, and the first
    ``MAX_FAILING`` of the workflows that may be failing now, with how many there are."""

    slowest: tuple[WorkflowStats, ...]
    workflows: int
    candidates: tuple[_Candidate, ...]
    candidates_total: int

    def merge(self, other: _PerWorkflow, now: datetime) -> _PerWorkflow:
        """Both parts' figures (of different services): each part's first are enough for the first."""
        return _PerWorkflow(
            _slowest_first([*self.slowest, *other.slowest]),
            self.workflows + other.workflows,
            _candidates_first([*self.candidates, *other.candidates], now),
            self.candidates_total + other.candidates_total,
        )


def _slowest_first(stats: Iterable[WorkflowStats]) -> tuple[WorkflowStats, ...]:
    timed = [s for s in stats if s.p90 is not None]
    timed.sort(key=lambda s: (-s.p90.total_seconds(), -s.runs, s.service.name, s.workflow))  # type: ignore[union-attr]
    return tuple(timed[:SLOWEST])


def _candidates_first(candidates: Iterable[_Candidate], now: datetime) -> tuple[_Candidate, ...]:
    """By the age of their last pass, none first: the longest failing."""
    ordered = sorted(candidates, key=lambda c: (c.last_pass is not None, c.last_pass or now, c.service_id, c.workflow))
    return tuple(ordered[:MAX_FAILING])


def _seconds(value: float | None) -> timedelta | None:
    return None if value is None else timedelta(seconds=value)


def _is_candidate(last_pass: datetime | None, last_fail: datetime | None) -> bool:
    """The workflow's latest run before now may have failed: its last failure is not before its last
    pass. A tie (a pass and a failure finished at the same instant) is settled by the definition."""
    return last_fail is not None and (last_pass is None or last_fail >= last_pass)


# The same rule on ``WorkflowPeriodRollup`` rows.
_CANDIDATE = Q(last_fail__isnull=False) & (Q(last_pass__isnull=True) | Q(last_fail__gte=F("last_pass")))


def _workflows(area: Area, window: d.Window, now: datetime) -> _PerWorkflow:
    """Per (service, workflow) of the window: runs, failures and duration percentiles, and whether
    its latest run before ``now`` may have failed.

    A window of the page's periods reads the ``WorkflowPeriodRollup`` rows of its last day: a few
    queries over one row per workflow, sorted and counted by the database. A service whose rows are
    not in step for that day (``workflow_rollups``), and any other window, is read from its runs."""
    period = _stored_period(window, area.profile)
    if period is None:
        return _workflows_from_runs(area, window, now, area.filter_ids)
    days, day = period
    rows = WorkflowPeriodRollup.objects.filter(area.rows(), days=days, day=day)
    not_covered = (
        WorkflowRollupCoverage.objects.filter(area.rows())
        .exclude(first_day__lte=day, last_day__gte=day)
        .values_list("service_id", flat=True)
    )
    ahead = rows.filter(Q(last_pass__gte=now) | Q(last_fail__gte=now)).values_list("service_id", flat=True)
    from_runs = sorted(set(not_covered.union(ahead)))
    if from_runs:
        rows = rows.exclude(service__any=from_runs)

    timed = rows.filter(p90__isnull=False)
    tenth = timed.order_by("-p90").values("p90")[SLOWEST - 1 : SLOWEST]
    # Every row as slow as the tenth slowest: ties are ordered below, by what the database has not.
    slow = timed.filter(p90__gte=Coalesce(Subquery(tenth), Value(0.0))).values_list(
        "service_id", "workflow", "runs", "failed", "median", "p90"
    )
    counts = rows.aggregate(workflows=Count("pk"), candidates=Count("pk", filter=_CANDIDATE))
    first = (
        rows.filter(_CANDIDATE)
        .order_by(F("last_pass").asc(nulls_first=True), "service_id", "workflow")
        .values_list("service_id", "workflow", "last_pass")[:MAX_FAILING]
    )
    # A service created since the area was read (the organisation's has no filter) is left out.
    stats = [
        WorkflowStats(area.by_id[service_id], workflow, runs, failed, _seconds(median), _seconds(p90))
        for service_id, workflow, runs, failed, median, p90 in slow
        if service_id in area.by_id
    ]
    candidates = [
        _Candidate(service_id, workflow, last_pass)
        for service_id, workflow, last_pass in first
        if service_id in area.by_id
    ]
    rolled = _PerWorkflow(
        _slowest_first(stats), counts["workflows"], _candidates_first(candidates, now), counts["candidates"]
    )
    if not from_runs:
        return rolled
    return rolled.merge(_workflows_from_runs(area, window, now, from_runs), now)


def _stored_period(window: d.Window, profile: d.Profile) -> tuple[int, date] | None:
    """(days, last day) when the window is one of the periods ``WorkflowPeriodRollup`` stores."""
    if not window.is_day_aligned(profile):
        return None
    first, end = d.bucket_day(window.start, profile), d.bucket_day(window.end, profile)
    days = (end - first).days
    return (days, end - timedelta(days=1)) if days in workflow_rollups.PERIODS else None


def _workflows_from_runs(area: Area, window: d.Window, now: datetime, service_ids: list[int] | None) -> _PerWorkflow:
    """What ``_workflows`` reads from rows, computed from the window's runs of those services (all
    the area's when None) by ``workflow_rollups.window_stats``, the arithmetic the rows are written
    with."""
    runs = workflow_rollups.load_runs(_judged_runs(area, window, service_ids).order_by())
    stats, candidates = [], []
    for (service_key, workflow), values in workflow_rollups.window_stats(
        runs, window, area.profile.median_kind, before=now
    ).items():
        service = area.by_id.get(int(service_key))
        if service is None:  # a service created since the area was read
            continue
        stats.append(
            WorkflowStats(
                service,
                workflow,
                values["runs"],
                values["failed"],
                _seconds(values["median"]),
                _seconds(values["p90"]),
            )
        )
        if _is_candidate(values["last_pass"], values["last_fail"]):
            candidates.append(_Candidate(service.id, workflow, values["last_pass"]))
    return _PerWorkflow(_slowest_first(stats), len(stats), _candidates_first(candidates, now), len(candidates))


def _failing(area: Area, window: d.Window, now: datetime, candidates: Sequence[_Candidate]) -> tuple[Failing, ...]:
    """The candidates' runs since their last pass (all the window's when none passed), judged by
    ``definitions.failing_workflows``: those runs decide the latest verdict and the streak."""
    chosen = candidates[:MAX_FAILING]
    if not chosen:
        return ()
    since_last_pass = Q()
    for c in chosen:
        since_last_pass |= Q(service_id=c.service_id, workflow=c.workflow, finished_at__gte=c.last_pass or window.start)
    runs = {
        str(run.pk): run
        for run in _judged_runs(area, window)
        .filter(since_last_pass, finished_at__lt=now)
        .only(*d.PipelineRunRec.ROW_FIELDS, "url")
        .order_by()
    }
    records = [d.PipelineRunRec.from_row(run) for run in runs.values()]
    passed = {(c.service_id, c.workflow) for c in chosen if c.last_pass is not None}
    return tuple(
        Failing(
            service=area.by_id[int(f.service)],
            workflow=f.workflow,
            since=f.since,
            failed_runs=f.failed_runs,
            last_run=runs[f.last_run_id],
            passed_in_window=(int(f.service), f.workflow) in passed,
        )
        for f in d.failing_workflows(records, before=now)
    )


def _weeks(days: dict[date, dict], window: d.Window, profile: d.Profile) -> tuple[WeekPoint, ...]:
    """Per ISO week touching the window: its runs, failures, commits built and flaky commits,
    summed from the rollup days (weeks cut by the window's edges are marked)."""
    first_day, end_day = d.bucket_day(window.start, profile), d.bucket_day(window.end, profile)
    totals: dict[date, dict[str, int]] = {}
    for day in window.calendar_days(profile):
        week = totals.setdefault(day - timedelta(days=day.weekday()), defaultdict(int))
        for name in ("pipeline_runs", "pipeline_failures", "pipeline_commits", "pipeline_flaky_commits"):
            week[name] += days.get(day, {}).get(name, 0)
    points = []
    for monday, values in sorted(totals.items()):
        cut = monday < first_day or monday + timedelta(days=7) > end_day
        points.append(
            WeekPoint(
                monday=monday,
                label=f"{monday.day} {monday:%b}" + ("*" if cut else ""),
                cut=cut,
                runs=values["pipeline_runs"],
                failed=values["pipeline_failures"],
                commits=values["pipeline_commits"],
                flaky=values["pipeline_flaky_commits"],
            )
        )
    return tuple(points)


def runs_list(
    area: Area,
    window: d.Window,
    *,
    service_id: int | None = None,
    workflow: str | None = None,
    status: str | None = None,
) -> QuerySet[PipelineRun]:
    """Default-branch runs finished in the window, newest first, narrowed to a workflow or a status."""
    runs = PipelineRun.objects.filter(
        area.rows(), is_default_branch=True, finished_at__gte=window.start, finished_at__lt=window.end
    )
    if service_id is not None:
        runs = runs.filter(service_id=service_id)
    if workflow:
        runs = runs.filter(workflow=workflow)
    if status:
        runs = runs.filter(status=status)
    return runs.only(
        "id", "service_id", "workflow", "sha", "status", "attempt", "finished_at", "duration_seconds", "url"
    ).order_by("-finished_at", "-id")

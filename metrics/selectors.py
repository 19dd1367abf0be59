"""Reads for pages and the metrics API besides the figures (which ``metrics.rollups`` reads): the default window,
and the operational pages' reads, the review queue and pipeline reliability of a service, a team or the whole
organisation.

- **Review queue**: open pull requests nobody but their author has looked at yet, counted per
  owning team and waiting-time bucket (``definitions.review_queue``) in one aggregate over the
  ``pr_unattended`` partial index, and listed oldest first a page at a time.
- **Pipeline reliability**: the failure and flaky rates and run durations of a window come from
  the rollups (``rollups.Figures``, filled by ``definitions.pipeline``), so they are the figures
  the delivery pages and the insights read; per workflow (the slowest, and those that may be
  failing now) from ``rollups.per_workflow`` (one row per workflow of the window's period,
  sorted and counted by the database, or the runs where those rows are not in step); then the
  failing workflows' latest runs, which ``definitions.failing_workflows`` judges.

Every query is bounded by the scope's services and the window (or, for the queue, by the
pull requests still waiting): its cost never grows with the length of history, and a page
runs the same number of queries however many rows, services or teams it covers (one more
while some service's workflow rollups are not in step for the day, to read its runs).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cached_property

from django.db.models import Count, Min, Q, QuerySet
from django.utils import timezone

from e360.models import Service, Team
from metrics import definitions as d
from metrics import rollups
from metrics.definitions.review_queue import AgeBucket, age_buckets
from metrics.models import PipelineRun, PullRequest
from metrics.rollups import Holders
from metrics.scope import Scope, ScopeKind, ServiceRef, in_services

# --- What a page covers ---------------------------------------------------------------


@dataclass(frozen=True)
class Area:
    """A service, a team with the sub-teams its viewer may see (``metrics.scope.Scope``), or the
    whole organisation, which ``Scope`` does not model: every service, read through the team
    rollups of the root teams."""

    kind: ScopeKind
    name: str
    slug: str
    services: tuple[ServiceRef, ...]
    profile: d.Profile
    rollup_team_ids: Collection[int]
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
        held = Holders.organisation()
        services = tuple(ServiceRef._make(r) for r in rows)
        return cls(ScopeKind.ORGANISATION, "Organisation", "", services, held.profile, held.rollup_team_ids, (), True)

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
        return self.kind == ScopeKind.ORGANISATION


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
            team_counts[i] += row[f"b{i}"]  # type: ignore[literal-required]  # the b0, b1... annotated above
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


def waiting_for_review(area: Area) -> QuerySet[PullRequest]:
    """Every pull request of the area in the review queue, unordered, every column: for reads that
    pick their own (the actions app's review reminders select theirs from it)."""
    return PullRequest.objects.filter(area.rows(), _waiting())


def waiting_pull_requests(
    area: Area, queue: ReviewQueue, *, team_id: int | None = None, bucket: AgeBucket | None = None
) -> QuerySet[PullRequest]:
    """The queue's pull requests, oldest first; of one owning team and one bucket when given."""
    prs = waiting_for_review(area)
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
    slowest: tuple[rollups.WorkflowStats, ...]
    failing: tuple[Failing, ...]
    failing_total: int
    workflows: int


def pipelines(area: Area, window: d.Window, now: datetime) -> Pipelines:
    """The window's pipeline reliability, weekly rates, slowest and failing workflows."""
    # The pipeline figures alone: a summary would decode every distribution of the window's rows, and read the
    # review queue and the failures left unrecovered from raw rows.
    figures = rollups.Figures(area, [window], now=now, distributions=("pipeline_durations",))
    reliability = figures.pipeline(window)
    weeks = _weeks(figures.days.within(window, area.profile).service_wide, window, area.profile)
    per_workflow = rollups.per_workflow(area, window, now)
    failing = _failing(area, window, now, per_workflow.candidates)
    # Past the ones listed, a candidate counts as failing (a tie with a pass, settled only by the
    # definition, is too rare to read every candidate's runs for).
    total = len(failing) + per_workflow.candidates_unlisted
    return Pipelines(reliability, weeks, per_workflow.slowest, failing, total, per_workflow.workflows)


def _failing(
    area: Area, window: d.Window, now: datetime, candidates: Sequence[rollups.Candidate]
) -> tuple[Failing, ...]:
    """The candidates' runs since their last pass (all the window's when none passed), judged by
    ``definitions.failing_workflows``: those runs decide the latest verdict and the streak."""
    if not candidates:
        return ()
    since_last_pass = Q()
    for c in candidates:
        since_last_pass |= Q(service_id=c.service_id, workflow=c.workflow, finished_at__gte=c.last_pass or window.start)
    runs = {
        str(run.pk): run
        for run in rollups.judged_runs(area.filter_ids, window)
        .filter(since_last_pass, finished_at__lt=now)
        .only(*d.PipelineRunRec.ROW_FIELDS, "url")
        .order_by()
    }
    records = [d.PipelineRunRec.from_row(run) for run in runs.values()]
    passed = {(c.service_id, c.workflow) for c in candidates if c.last_pass is not None}
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


@dataclass(frozen=True)
class Period:
    """The days a page shows (org-zone days ``first_day`` … ``last_day``, a standard period of the last ``days``
    or a custom one) and the window before them: the delivery pages and the dashboards."""

    days: int
    window: d.Window
    previous: d.Window
    first_day: date
    last_day: date
    custom: bool = False

    @property
    def query(self) -> dict[str, str]:
        """The query parameters that name this period, for links that keep it."""
        if self.custom:
            return {"from": self.first_day.isoformat(), "to": self.last_day.isoformat()}
        return {"days": str(self.days)}


def default_window(profile: d.Profile, days: int = 90) -> d.Window:
    """The last ``days`` org-zone days, today included."""
    return d.Window.last_days(days, now=timezone.now(), tz=profile)

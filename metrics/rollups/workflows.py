"""Per-workflow CI figures of the pipelines page's periods, stored whole per service.

The pipelines page ranks a scope's workflows by the p90 duration of their runs over the last
30, 90 or 180 days, and finds those failing now from each one's latest pass and failure. A
percentile of a window is not a sum of its days: every value of the window has to meet. Day
rows per workflow would not spare an organisation's page that: its 180 days hold about half a
million (service, workflow, day) rows for a million runs, and reading and merging them is
slower than aggregating the runs. So each period is stored whole
(``WorkflowPeriodRollup``): one row per service, workflow, period and last day, and a page reads
one row per workflow of its scope, whatever the window's length or the number of its runs.

A page's window ends today, so rows are written for today and the ``AHEAD`` days after:

- the **service refresh** (``metrics.refresh``, through ``rollups.service_write``) writes the
  service's rows from the runs it has loaded anyway, so they are in step with its runs as its day
  rollups are, and records the days it wrote in ``WorkflowRollupCoverage`` (``coverage``);
- a **schedule** (hourly, ``sweep``) writes them for the services no refresh has reached since
  yesterday, so at midnight every service's rows of the new day are there. Each write deletes the
  service's rows of earlier days;
- a page for which a service's coverage lacks the day (the schedule stopped), or whose rows hold
  a run stamped after the page's ``now`` (a clock ahead: a row cannot tell what finished before
  ``now``), reads that service's runs of the window instead (``window_stats``): the same arithmetic
  on the same runs, so the figures do not depend on where they were read.

``per_workflow`` is the one read: it decides, per service, rows or runs. Percentiles are exact:
each row is computed from its runs' durations, not merged from parts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Protocol

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from e360.models import Service
from metrics import definitions as d
from metrics import display
from metrics.models import PipelineRun, WorkflowPeriodRollup
from metrics.rollups import coverage
from metrics.scope import ServiceRef, in_services

PERIODS: tuple[int, ...] = display.PERIODS  # the pipelines page's windows, in days up to today
AHEAD = 1  # days after today a write covers, so that midnight finds the new day's rows written
VALUE_FIELDS = ("runs", "failed", "median", "p90", "last_pass", "last_fail")


@dataclass
class _Tally:
    """A workflow's judged default-branch runs of a window, as they are added."""

    runs: int = 0
    failed: int = 0
    durations: list[float] = field(default_factory=list)
    last_pass: datetime | None = None
    last_fail: datetime | None = None

    def add(self, run: d.PipelineRunRec, passed: bool, before: datetime | None) -> None:
        self.runs += 1
        self.failed += not passed
        if (duration := d.run_duration(run)) is not None:
            self.durations.append(duration.total_seconds())
        at = run.finished_at
        assert at is not None  # judged runs have finished
        if before is not None and at >= before:
            return
        if passed:
            self.last_pass = at if self.last_pass is None else max(self.last_pass, at)
        else:
            self.last_fail = at if self.last_fail is None else max(self.last_fail, at)

    def values(self, kind: d.MedianKind) -> dict:
        """A row's values: counts, the duration percentiles in seconds, the latest pass and failure."""
        durations = sorted(self.durations)
        return {
            "runs": self.runs,
            "failed": self.failed,
            "median": d.percentile(durations, 0.5, kind),
            "p90": d.percentile(durations, 0.9, kind),
            "last_pass": self.last_pass,
            "last_fail": self.last_fail,
        }


def window_stats(
    runs: Iterable[d.PipelineRunRec], window: d.Window, kind: d.MedianKind, *, before: datetime | None = None
) -> dict[tuple[str, str], dict]:
    """Per (service, workflow): the window's judged default-branch runs, failures and duration
    percentiles, and its latest pass and failure among the runs finished before ``before``."""
    tallies: dict[tuple[str, str], _Tally] = defaultdict(_Tally)
    for run, passed in d.judged_runs(runs):
        if window.contains(run.finished_at):
            tallies[(run.service, run.workflow)].add(run, passed, before)
    return {key: tally.values(kind) for key, tally in tallies.items()}


def period_rows(runs: Iterable[d.PipelineRunRec], days: Sequence[date], profile: d.Profile) -> dict[tuple, dict]:
    """One service's rows: per (workflow, period, last day), the values ``window_stats`` gives the
    window of the period's days up to that day (every run counted, whatever the time)."""
    first = d.local_midnight(min(days) - timedelta(days=max(PERIODS) - 1), profile)
    tallies: dict[tuple[str, int, date], _Tally] = defaultdict(_Tally)
    for run, passed in d.judged_runs(runs):
        assert run.finished_at is not None
        if run.finished_at < first:
            continue
        finished = d.bucket_day(run.finished_at, profile)
        for day in days:
            for length in PERIODS:
                if 0 <= (day - finished).days < length:
                    tallies[(run.workflow, length, day)].add(run, passed, None)
    return {key: tally.values(profile.median_kind) for key, tally in tallies.items()}


def load_runs(runs: QuerySet) -> list[d.PipelineRunRec]:
    """The default-branch runs of a queryset of ``PipelineRun``, as the
    definitions' records."""
    rows = runs.filter(is_default_branch=True).values_list(*d.PipelineRunRec.ROW_FIELDS, named=True)
    return [d.PipelineRunRec.from_row(row) for row in rows]


def write(
    service_id: int,
    runs: Iterable[d.PipelineRunRec],
    profile: d.Profile,
    *,
    today: date | None = None,
) -> int:
    """Write the service's rows of today and the ``AHEAD`` days after from ``runs`` (its runs: all
    of them, or at least those of the longest period up to the last day), record those days as in
    step, and delete its rows of other days (a page whose day is not recorded reads the runs).
    Rewrites only the rows that changed; returns how many rows it wrote or deleted. Run it in the
    transaction that holds the service's row lock, so two writers of one service take turns."""
    today = today or d.bucket_day(timezone.now(), profile)
    days = [today + timedelta(days=n) for n in range(AHEAD + 1)]
    rows = period_rows(runs, days, profile)
    before: dict[tuple, tuple[int, dict]] = {}
    for row in WorkflowPeriodRollup.objects.filter(service_id=service_id).values(
        "pk", "workflow", "days", "day", *VALUE_FIELDS
    ):
        before[(row.pop("workflow"), row.pop("days"), row.pop("day"))] = (row.pop("pk"), row)
    stale = {key for key, (_, values) in before.items() if rows.get(key) != values}
    new = [key for key, values in rows.items() if key not in before or before[key][1] != values]
    if stale:
        WorkflowPeriodRollup.objects.filter(pk__in=[before[key][0] for key in stale]).delete()
    WorkflowPeriodRollup.objects.bulk_create(
        [
            WorkflowPeriodRollup(
                service_id=service_id, workflow=workflow, days=length, day=day, **rows[(workflow, length, day)]
            )
            for workflow, length, day in new
        ],
        batch_size=1000,
    )
    coverage.workflow_days_written(service_id, days)
    return len(new) + len(stale - set(new))


def sweep(*, today: date | None = None) -> str:
    """Write today's and tomorrow's rows of every service whose coverage lacks them (those no
    refresh reached since yesterday), one service at a time under its row lock. The hourly
    schedule runs it. One query when every service is in step."""
    # The definitions the refresh writes with (``refresh.profile_for``): the org zone, default percentiles.
    profile = d.Profile.default(time_zone=settings.TIME_ZONE)
    today = today or d.bucket_day(timezone.now(), profile)
    last = today + timedelta(days=AHEAD)
    start = d.local_midnight(today - timedelta(days=max(PERIODS) - 1), profile)
    end = d.local_midnight(last + timedelta(days=1), profile)
    covered = coverage.workflow_days_covering(today, last)
    pending = list(
        Service.objects.exclude(pk__in=covered.values("service_id")).order_by("pk").values_list("pk", flat=True)
    )
    written = 0
    for service_id in pending:
        with transaction.atomic():
            if not list(Service.objects.select_for_update().filter(pk=service_id).values_list("pk", flat=True)):
                continue  # deleted meanwhile
            if covered.filter(service_id=service_id).exists():
                continue  # a refresh wrote them meanwhile
            runs = PipelineRun.objects.filter(service_id=service_id, finished_at__gte=start, finished_at__lt=end)
            written += write(service_id, load_runs(runs), profile, today=today)
    return f"Workflow rollups of {len(pending)} services written to {last}: {written} rows written or deleted"


# --- Reading --------------------------------------------------------------------------------------

# Stored statuses by the verdict ``definitions.run_verdict`` gives them: the rest (cancelled,
# in progress) count neither as passed nor as failed.
PASSED = tuple(s for s in PipelineRun.Status.values if d.run_verdict(s) is True)
FAILED = tuple(s for s in PipelineRun.Status.values if d.run_verdict(s) is False)
SLOWEST = 10
# Failing workflows listed at most: those whose last passing run is the oldest.
MAX_FAILING = 50


class WorkflowScope(Protocol):
    """What ``per_workflow`` reads of a scope (``metrics.selectors.Area`` is one)."""

    @property
    def filter_ids(self) -> Collection[int] | None: ...
    @property
    def profile(self) -> d.Profile: ...
    @property
    def by_id(self) -> Mapping[int, ServiceRef]: ...


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
class Candidate:
    """A workflow whose latest run before now may have failed, and when its last pass finished."""

    service_id: int
    workflow: str
    last_pass: datetime | None


@dataclass(frozen=True)
class PerWorkflow:
    """What the pipelines page shows per workflow: the slowest, how many workflows ran, and the first
    ``MAX_FAILING`` of the workflows that may be failing now, with how many there are."""

    slowest: tuple[WorkflowStats, ...]
    workflows: int
    candidates: tuple[Candidate, ...]
    candidates_total: int

    @property
    def candidates_unlisted(self) -> int:
        return max(0, self.candidates_total - MAX_FAILING)

    def merge(self, other: PerWorkflow, now: datetime) -> PerWorkflow:
        """Both parts' figures (of different services): each part's first are enough for the first."""
        return PerWorkflow(
            _slowest_first([*self.slowest, *other.slowest]),
            self.workflows + other.workflows,
            _candidates_first([*self.candidates, *other.candidates], now),
            self.candidates_total + other.candidates_total,
        )


# p90s are ranked to the millisecond (the page shows far less): the rows' and the runs' arithmetic may differ in a
# float's last bits, and a tie must be ordered the same both ways (by runs, then name).
TIE_SECONDS = 0.001


def _slowest_first(stats: Iterable[WorkflowStats]) -> tuple[WorkflowStats, ...]:
    timed = [s for s in stats if s.p90 is not None]
    timed.sort(key=lambda s: (-slowness(s.p90), -s.runs, s.service.name, s.workflow))  # type: ignore[arg-type]
    return tuple(timed[:SLOWEST])


def slowness(p90: timedelta) -> int:
    """What ranks a workflow among the slowest: its p90 in whole milliseconds (``TIE_SECONDS``)."""
    return round(p90.total_seconds() / TIE_SECONDS)


def _candidates_first(candidates: Iterable[Candidate], now: datetime) -> tuple[Candidate, ...]:
    """By the age of their last pass, none first: the longest failing."""
    ordered = sorted(candidates, key=lambda c: (c.last_pass is not None, c.last_pass or now, c.service_id, c.workflow))
    return tuple(ordered[:MAX_FAILING])


def _timedelta(value: float | None) -> timedelta | None:
    return None if value is None else timedelta(seconds=value)


def _is_candidate(last_pass: datetime | None, last_fail: datetime | None) -> bool:
    """The workflow's latest run before now may have failed: its last failure is not before its last
    pass. A tie (a pass and a failure finished at the same instant) is settled by the definition."""
    return last_fail is not None and (last_pass is None or last_fail >= last_pass)


# The same rule on ``WorkflowPeriodRollup`` rows.
_CANDIDATE = Q(last_fail__isnull=False) & (Q(last_pass__isnull=True) | Q(last_fail__gte=F("last_pass")))


def judged_runs(service_ids: Collection[int] | None, window: d.Window) -> QuerySet[PipelineRun]:
    """Default-branch runs with a verdict finished in the window, of those services (None: every
    service): what pipeline reliability counts."""
    return PipelineRun.objects.filter(
        in_services(service_ids),
        is_default_branch=True,
        status__in=PASSED + FAILED,
        finished_at__gte=window.start,
        finished_at__lt=window.end,
    )


def per_workflow(scope: WorkflowScope, window: d.Window, now: datetime) -> PerWorkflow:
    """Per (service, workflow) of the window: runs, failures and duration percentiles, and whether
    its latest run before ``now`` may have failed.

    A window of the page's periods reads the ``WorkflowPeriodRollup`` rows of its last day: a few
    queries over one row per workflow, sorted and counted by the database. A service whose rows are
    not in step for that day (``coverage``), or hold a run stamped after ``now``, and any other
    window, is read from its runs (``from_runs``), with the same arithmetic."""
    period = stored_period(window, scope.profile)
    if period is None:
        return from_runs(scope, window, now, scope.filter_ids)
    days, day = period
    in_scope = in_services(scope.filter_ids)
    rows = WorkflowPeriodRollup.objects.filter(in_scope, days=days, day=day)
    not_covered = coverage.workflow_days_lacking(in_scope, day)
    ahead = rows.filter(Q(last_pass__gte=now) | Q(last_fail__gte=now)).values_list("service_id", flat=True)
    runs_of = sorted(set(not_covered.union(ahead)))
    if runs_of:
        rows = rows.exclude(service__any=runs_of)

    timed = rows.filter(p90__isnull=False)
    tenth = timed.order_by("-p90").values("p90")[SLOWEST - 1 : SLOWEST]
    # Every row as slow as the tenth slowest, to the millisecond: ties are ordered below, by what the database has not.
    slow = timed.filter(p90__gte=Coalesce(Subquery(tenth), Value(0.0)) - TIE_SECONDS).values_list(
        "service_id", "workflow", "runs", "failed", "median", "p90"
    )
    counts = rows.aggregate(workflows=Count("pk"), candidates=Count("pk", filter=_CANDIDATE))
    first = (
        rows.filter(_CANDIDATE)
        .order_by(F("last_pass").asc(nulls_first=True), "service_id", "workflow")
        .values_list("service_id", "workflow", "last_pass")[:MAX_FAILING]
    )
    # A service created since the scope was read (the organisation's has no filter) is left out.
    by_id = scope.by_id
    stats = [
        WorkflowStats(by_id[service_id], workflow, runs, failed, _timedelta(median), _timedelta(p90))
        for service_id, workflow, runs, failed, median, p90 in slow
        if service_id in by_id
    ]
    candidates = [
        Candidate(service_id, workflow, last_pass) for service_id, workflow, last_pass in first if service_id in by_id
    ]
    rolled = PerWorkflow(
        _slowest_first(stats), counts["workflows"], _candidates_first(candidates, now), counts["candidates"]
    )
    if not runs_of:
        return rolled
    return rolled.merge(from_runs(scope, window, now, runs_of), now)


def stored_period(window: d.Window, profile: d.Profile) -> tuple[int, date] | None:
    """(days, last day) when the window is one of the periods ``WorkflowPeriodRollup`` stores."""
    if not window.is_day_aligned(profile):
        return None
    first, end = d.bucket_day(window.start, profile), d.bucket_day(window.end, profile)
    days = (end - first).days
    return (days, end - timedelta(days=1)) if days in PERIODS else None


def from_runs(
    scope: WorkflowScope, window: d.Window, now: datetime, service_ids: Collection[int] | None
) -> PerWorkflow:
    """What ``per_workflow`` reads from rows, computed from the window's runs of those services (every
    service when None) by ``window_stats``, the arithmetic the rows are written with."""
    runs = load_runs(judged_runs(service_ids, window).order_by())
    stats, candidates = [], []
    for (service_key, workflow), values in window_stats(runs, window, scope.profile.median_kind, before=now).items():
        service = scope.by_id.get(int(service_key))
        if service is None:  # a service created since the scope was read
            continue
        stats.append(
            WorkflowStats(
                service,
                workflow,
                values["runs"],
                values["failed"],
                _timedelta(values["median"]),
                _timedelta(values["p90"]),
            )
        )
        if _is_candidate(values["last_pass"], values["last_fail"]):
            candidates.append(Candidate(service.id, workflow, values["last_pass"]))
    return PerWorkflow(_slowest_first(stats), len(stats), _candidates_first(candidates, now), len(candidates))

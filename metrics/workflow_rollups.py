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

- the **service refresh** (``metrics.refresh``) writes the service's rows from the runs it has
  loaded anyway, so they are in step with its runs as its day rollups are, and records the days
  it wrote in ``WorkflowRollupCoverage``;
- a **schedule** (hourly, ``sweep``) writes them for the services no refresh has reached since
  yesterday, so at midnight every service's rows of the new day are there. Each write deletes the
  service's rows of earlier days;
- a page for which a service's coverage lacks the day (the schedule stopped), or whose rows hold
  a run stamped after the page's ``now`` (a clock ahead: a row cannot tell what finished before
  ``now``), reads that service's runs of the window instead (``window_stats``): the same arithmetic
  on the same runs, so the figures do not depend on where they were read.

Percentiles are exact: each row is computed from its runs' durations, not merged from parts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.apps import apps as global_apps
from django.apps.registry import Apps
from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from metrics import definitions as d
from metrics import display

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
    """The default-branch runs of a queryset of ``PipelineRun`` (live or historical), as the
    definitions' records."""
    rows = runs.filter(is_default_branch=True).values_list(*d.PipelineRunRec.ROW_FIELDS, named=True)
    return [d.PipelineRunRec.from_row(row) for row in rows]


def write(
    service_id: int,
    runs: Iterable[d.PipelineRunRec],
    profile: d.Profile,
    *,
    today: date | None = None,
    apps: Apps = global_apps,
) -> int:
    """Write the service's rows of today and the ``AHEAD`` days after from ``runs`` (its runs: all
    of them, or at least those of the longest period up to the last day), record those days as in
    step, and delete its rows of other days (a page whose day is not recorded reads the runs).
    Rewrites only the rows that changed; returns how many rows it wrote or deleted. Run it in the
    transaction that holds the service's row lock, so two writers of one service take turns."""
    Rollup = apps.get_model("metrics", "WorkflowPeriodRollup")
    Coverage = apps.get_model("metrics", "WorkflowRollupCoverage")
    today = today or d.bucket_day(timezone.now(), profile)
    days = [today + timedelta(days=n) for n in range(AHEAD + 1)]
    rows = period_rows(runs, days, profile)
    before: dict[tuple, tuple[int, dict]] = {}
    for row in Rollup.objects.filter(service_id=service_id).values("pk", "workflow", "days", "day", *VALUE_FIELDS):
        before[(row.pop("workflow"), row.pop("days"), row.pop("day"))] = (row.pop("pk"), row)
    stale = {key for key, (_, values) in before.items() if rows.get(key) != values}
    new = [key for key, values in rows.items() if key not in before or before[key][1] != values]
    if stale:
        Rollup.objects.filter(pk__in=[before[key][0] for key in stale]).delete()
    Rollup.objects.bulk_create(
        [
            Rollup(service_id=service_id, workflow=workflow, days=length, day=day, **rows[(workflow, length, day)])
            for workflow, length, day in new
        ],
        batch_size=1000,
    )
    Coverage.objects.bulk_create(
        [Coverage(service_id=service_id, first_day=days[0], last_day=days[-1])],
        update_conflicts=True,
        unique_fields=["service"],
        update_fields=["first_day", "last_day"],
    )
    return len(new) + len(stale - set(new))


def sweep(apps: Apps = global_apps, *, today: date | None = None) -> str:
    """Write today's and tomorrow's rows of every service whose coverage lacks them (those no
    refresh reached since yesterday), one service at a time under its row lock. The hourly
    schedule runs it; the migration that brought the rows builds them with it. One query when
    every service is in step."""
    Service = apps.get_model("e360", "Service")
    PipelineRun = apps.get_model("metrics", "PipelineRun")
    Coverage = apps.get_model("metrics", "WorkflowRollupCoverage")
    # The definitions the refresh writes with (``refresh.profile_for``): the org zone, default percentiles.
    profile = d.Profile.default(time_zone=settings.TIME_ZONE)
    today = today or d.bucket_day(timezone.now(), profile)
    last = today + timedelta(days=AHEAD)
    start = d.local_midnight(today - timedelta(days=max(PERIODS) - 1), profile)
    end = d.local_midnight(last + timedelta(days=1), profile)
    covered = Coverage.objects.filter(first_day__lte=today, last_day__gte=last)
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
            written += write(service_id, load_runs(runs), profile, today=today, apps=apps)
    return f"Workflow rollups of {len(pending)} services written to {last}: {written} rows written or deleted"

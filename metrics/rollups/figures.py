"""DORA figures of a scope and window, read from the rollups that hold them.

``Figures`` is the one read path of the delivery figures (the delivery pages, the metrics API, the
pipelines page's tiles and the insights): it reads the ``TeamRollup`` rows of each team whose whole
subtree is in scope and the ``DailyRollup`` rows of the scope's other services (``Holding``), over
the window's days, so a request's cost grows with the window, never with the number of services or
the length of history. Of team rollups, the distributions of whole ISO weeks come from week rows
(``teams.read_days``). Only what rollups cannot hold is read from raw rows: the review queue (pull
requests open and unreviewed at the window's end) and the window's failed deployments still
unrecovered.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import Any, Self

from django.db.models import Count, F, Q

from metrics import definitions as d
from metrics.models import COUNT_FIELDS, LIST_FIELDS, Deployment, PullRequest, Source
from metrics.rollups import days as service_days
from metrics.rollups import teams
from metrics.rollups.coverage import Holding
from metrics.scope import in_services
from metrics.sql import JSONWithout


@dataclass(frozen=True)
class Days:
    """Rollup rows merged across services, per day: production, and service-wide (incidents, CI runs,
    pull requests)."""

    production: dict[date, dict]
    service_wide: dict[date, dict]

    def within(self, window: d.Window, profile: d.Profile) -> Days:
        days = window.calendar_days(profile)
        first, last = days[0], days[-1]
        return Days(
            {day: v for day, v in self.production.items() if first <= day <= last},
            {day: v for day, v in self.service_wide.items() if first <= day <= last},
        )


# Seconds (or sizes): exact values, or a histogram once a team rollup held too many to keep exactly.
Distribution = list[float] | d.Histogram


def _combined(first: Distribution, second: Distribution) -> Distribution:
    """Both together (``first`` may grow in place): exact while both are, else a histogram."""
    if isinstance(first, list) and isinstance(second, list):
        first.extend(second)
        return first
    histogram = first if isinstance(first, d.Histogram) else d.Histogram.of(first)
    if isinstance(second, d.Histogram):
        histogram.merge(second)
    else:
        histogram.add_all(second)
    return histogram


def _merge(target: dict, row: dict) -> None:
    """Add a rollup row's (or rows merged before) counts and distributions to ``target``."""
    for name in COUNT_FIELDS:
        target[name] = target.get(name, 0) + row.get(name, 0)
    merged = target.setdefault("distributions", {})
    for name, values in row["distributions"].items():
        merged[name] = _combined(merged.get(name, []), values)


def _add_day(days: dict[date, dict], day: date, row: dict) -> None:
    if day in days:
        _merge(days[day], row)
    else:
        days[day] = row  # the day's first row: its freshly decoded values can grow in place


# What ``compare_summaries`` reads of a previous window besides counts: its medians of these. They are also all a
# window's tiles show.
HEADLINE_DISTRIBUTIONS = ("lead_times", "recovery_times", "restore_times")
# What the delivery pages and the team dashboards show of a window's distributions: the tiles', and the lead time's
# stages per week. The rollups' others (pull request and pipeline figures) are left in the database: a group's are
# thousands of values a week, decoded for nothing.
DELIVERY_DISTRIBUTIONS = (*HEADLINE_DISTRIBUTIONS, "coding_times", "pickup_times", "review_times", "deploy_times")


def _read(
    holders: Holding, windows: Sequence[d.Window], profile: d.Profile, names: Sequence[str] | None = None
) -> Days:
    """The rows holding the scope (``Holding``) over the days the windows span, merged per day: team rows
    of the whole subtrees in scope (``teams.read_days``), day rows of its other services; of the
    distributions, only ``names`` when given."""
    first, last = _span_days(windows, profile)
    fields = _fields(names)
    merged = Days({}, {})
    if holders.rollup_team_ids:
        rows = teams.read_days(holders.rollup_team_ids, windows, first, last, profile, fields)
        _add_rows(merged, ((production, day, row) for _, production, day, row in rows))
    if holders.rollup_service_ids:
        _add_rows(merged, service_days.read_days(holders.rollup_service_ids, first, last, fields))
    return merged


def _read_teams(
    team_ids: Collection[int], windows: Sequence[d.Window], profile: d.Profile, names: Sequence[str] | None
) -> dict[int, Days]:
    """Each team's rows (the team with every team below it) over the days the windows span, merged per day and
    team: ``_read`` of many teams at once."""
    first, last = _span_days(windows, profile)
    rows_of: dict[int, list[tuple[bool, date, dict]]] = {team: [] for team in team_ids}
    for team, production, day, row in teams.read_days(team_ids, windows, first, last, profile, _fields(names)):
        rows_of[team].append((production, day, row))
    found = {}
    for team, rows in rows_of.items():
        found[team] = Days({}, {})
        _add_rows(found[team], rows)
    return found


def _span_days(windows: Sequence[d.Window], profile: d.Profile) -> tuple[date, date]:
    days = d.Window(min(w.start for w in windows), max(w.end for w in windows)).calendar_days(profile)
    return days[0], days[-1]


def _fields(names: Sequence[str] | None) -> dict[str, Any]:
    """What a read of rollup rows selects of their distributions, as ``shown``: all, or those of ``names``."""
    if names is None:
        return {"shown": F("distributions")}
    return {"shown": JSONWithout("distributions", [name for name in LIST_FIELDS if name not in names])}


def _add_rows(merged: Days, rows: Iterable[tuple[bool, date, dict]]) -> None:
    for production, day, row in rows:
        row["distributions"] = {
            name: d.Histogram.from_json(stored) if isinstance(stored, dict) else stored
            for name, stored in _distributions(row).items()
        }
        _add_day(merged.production if production else merged.service_wide, day, row)


def _distributions(row: dict) -> dict:
    """The row's distributions read (``_fields``), taken out of it (none when it was read for its counts alone)."""
    return row.pop("shown", None) or {}


def _sum(days: dict[date, dict], name: str) -> int:
    return sum(values.get(name, 0) for values in days.values())


def _distribution(days: dict[date, dict], name: str) -> Distribution:
    """The days' values of ``name``: exact while every day's are, else one histogram of them all."""
    parts = [part for values in days.values() if (part := values.get("distributions", {}).get(name)) is not None]
    exact = [value for part in parts if isinstance(part, list) for value in part]
    histograms = [part for part in parts if isinstance(part, d.Histogram)]
    if not histograms:
        return exact
    total = d.Histogram.total(histograms)
    total.add_all(exact)
    return total


def _stats(days: dict[date, dict], name: str, profile: d.Profile) -> d.DurationStats:
    values = _distribution(days, name)
    if isinstance(values, d.Histogram):
        return d.DurationStats.of_histogram(values, profile.median_kind)
    return d.DurationStats.of_seconds(values, profile.median_kind)


def _pipeline(wide: dict[date, dict], profile: d.Profile) -> d.PipelineReliability:
    runs, failures = _sum(wide, "pipeline_runs"), _sum(wide, "pipeline_failures")
    commits, flaky = _sum(wide, "pipeline_commits"), _sum(wide, "pipeline_flaky_commits")
    return d.PipelineReliability(
        runs=runs,
        failed=failures,
        failure_rate=failures / runs if runs else None,
        commits=commits,
        flaky_commits=flaky,
        flaky_rate=flaky / commits if commits else None,
        duration=_stats(wide, "pipeline_durations", profile),
    )


def _median(values: Distribution | tuple[()], kind: d.MedianKind) -> float | None:
    return values.percentile(0.5, kind) if isinstance(values, d.Histogram) else d.median(values, kind)


def last_events() -> dict[str, datetime]:
    """When each active source last sent us something (set on every accepted write; one query)."""
    sources = Source.objects.filter(is_active=True, last_event_at__isnull=False)
    return {name: at for name, at in sources.values_list("name", "last_event_at") if at is not None}


class Figures:
    """DORA figures of a scope over some windows, and maybe a previous window to compare with.

    Everything is read once, when first needed, over the span the windows cover:
    rollup rows, and how many failed deployments each window left unrecovered. Only
    the review queue at each window's end is read per window: the pull requests open
    and unreviewed at that moment. Of the ``compared`` window (usually ``previous_window``
    of one of them) only what ``compare_summaries`` reads is: the counts and the medians
    of ``HEADLINE_DISTRIBUTIONS``. Of the windows, every distribution is read unless
    ``distributions`` names the ones a page shows; a summary's statistics of the others
    are then empty.
    """

    def __init__(
        self,
        scope: Holding,
        windows: Sequence[d.Window],
        profile: d.Profile | None = None,
        *,
        now: datetime | None = None,
        compared: d.Window | None = None,
        distributions: Sequence[str] | None = None,
    ) -> None:
        """``scope`` says which rows hold the figures (``Holding``: ``Holders``, a page's ``Scope`` or ``Area``);
        ``profile`` overrides its profile (for the bands year)."""
        self.holders = scope
        self.service_ids = scope.filter_ids
        self.profile = profile or scope.profile
        self.windows = tuple(windows)
        self.compared = compared
        self.distributions = distributions
        self.span = d.Window(min(w.start for w in windows), max(w.end for w in windows))
        self.now = now or self.span.end

    @classmethod
    def of_teams(cls, holdings: Mapping[int, Holding], windows: Sequence[d.Window], **kwargs: Any) -> dict[int, Self]:
        """Figures of many teams over the same windows, their rollup rows read at once: three queries however
        many teams, where a ``Figures`` each reads three each. ``holdings``: per team id, the team with every team
        below it (``Holders.subtrees``), held by that team's rows alone. Reads of raw rows (the review queue, the
        failures left unrecovered) stay each team's own. No ``compared`` window."""
        found = {team: cls(holding, windows, **kwargs) for team, holding in holdings.items()}
        for team, holding in holdings.items():
            assert tuple(holding.rollup_team_ids) == (team,) and not holding.rollup_service_ids, "a whole subtree"
        if found:
            first = next(iter(found.values()))
            assert first.compared is None
            for team, days in _read_teams(list(found), first.windows, first.profile, first.distributions).items():
                found[team].days = days  # read already: the cached property holds it
        return found

    @cached_property
    def days(self) -> Days:
        days = _read(self.holders, self.windows, self.profile, self.distributions)
        if self.compared is not None:  # a window before the others: no day in common
            before = _read(self.holders, [self.compared], self.profile, HEADLINE_DISTRIBUTIONS)
            days.production.update(before.production)
            days.service_wide.update(before.service_wide)
        return days

    def waiting_for_review(self, at: datetime) -> int:
        """How many pull requests were waiting for a first review at ``at`` (``definitions.waiting_for_review``)."""
        prs = PullRequest.objects.filter(in_services(self.service_ids))
        return prs.waiting_for_review_count(at, self.profile.review_wait)

    @cached_property
    def unrecovered(self) -> dict[d.Window, int]:
        """Per window: its failed production deployments not recovered by the window's end (one query)."""
        failed = Deployment.objects.filter(in_services(self.service_ids), is_failed=True)
        counts = failed.finished_in(self.span.start, self.span.end).aggregate(
            **{
                f"w{n}": Count(
                    "finished_at",  # a column of the index, so the count reads no rows
                    filter=Q(finished_at__gte=w.start, finished_at__lt=w.end)
                    & (Q(recovered_at__isnull=True) | Q(recovered_at__gte=w.end)),
                )
                for n, w in enumerate(self.windows)
            }
        )
        return {w: counts[f"w{n}"] for n, w in enumerate(self.windows)}

    @cached_property
    def last_events(self) -> dict[str, datetime]:
        return last_events()

    def summary(self, window: d.Window, *, moving: bool = True) -> d.DoraSummary:
        """The same ``DoraSummary`` that ``definitions.dora_summary`` computes from raw rows.

        The ``compared`` window's holds what ``compare_summaries`` reads: the review queue
        is not read (``review.waiting`` is None), nor durations other than the headline ones
        (their stats are empty). ``moving=False`` leaves out what moves without a write to the
        rollups, for a summary kept per rollup version (``rollups.kept``): the review queue (None)
        and the sources' last events (none).
        """
        profile = self.profile
        days = self.days.within(window, profile)
        production, wide = days.production, days.service_wide
        deployments_by_day = {day: values.get("deployments", 0) for day, values in production.items()}
        df = d.deployment_frequency_from_days(
            deployments_by_day, window, profile, failed_attempts=_sum(production, "failed_attempts")
        )
        lt = d.LeadTime(
            changes=_sum(production, "changes_deployed"),
            lead_time=_stats(production, "lead_times", profile),
            coding=_stats(production, "coding_times", profile),
            pickup=_stats(production, "pickup_times", profile),
            review=_stats(production, "review_times", profile),
            deploy=_stats(production, "deploy_times", profile),
        )
        deployments, failed = _sum(production, "deployments"), _sum(production, "failed_deployments")
        cfr = d.ChangeFailureRate(
            failed=failed, deployments=deployments, value=failed / deployments if deployments else None
        )
        unrecovered = self.unrecovered.get(window)  # not read for the compared window
        rec = d.Recovery(
            failed_deployment_recovery=_stats(production, "recovery_times", profile),
            time_to_restore=_stats(wide, "restore_times", profile),
            unrecovered=unrecovered,
        )
        rework_count = _sum(production, "rework_deployments")
        rework = d.ReworkRate(
            rework=rework_count,
            deployments=deployments,
            value=rework_count / deployments if deployments else None,
            by_reason={},
        )
        pipeline = _pipeline(wide, profile)
        sizes = _distribution(wide, "pr_sizes")
        review = d.ReviewHealth(
            pickup=_stats(wide, "pr_pickup_times", profile),
            review=_stats(wide, "pr_review_times", profile),
            size_median=_median(sizes, profile.median_kind),
            sized=sizes.count if isinstance(sizes, d.Histogram) else len(sizes),
            waiting=None
            if window == self.compared or not moving
            else self.waiting_for_review(min(self.now, window.end)),
        )
        with_changes = _sum(production, "deployments_with_changes")
        incidents, incidents_linked = _sum(wide, "incidents"), _sum(wide, "incidents_linked")
        quality = d.DataQuality(
            deployments=deployments,
            deployments_with_changes=with_changes,
            linked_change_share=with_changes / deployments if deployments else None,
            link_rules={},
            changes=lt.changes,
            changes_without_lead_time=lt.changes - lt.lead_time.count,
            incidents=incidents,
            incidents_linked=incidents_linked,
            incident_link_share=incidents_linked / incidents if incidents else None,
            pipeline_runs=pipeline.runs,
            last_event_at=self.last_events if moving else {},
        )
        return d.DoraSummary(
            window=window,
            bands_year=profile.bands_year,
            deployment_frequency=df,
            lead_time=lt,
            change_failure_rate=cfr,
            recovery=rec,
            rework=rework,
            pipeline=pipeline,
            review=review,
            data_quality=quality,
            levels_by_year={year: d.levels(df, lt, cfr, rec, year) for year in (2023, 2021)},
        )

    def pipeline(self, window: d.Window) -> d.PipelineReliability:
        """The window's pipeline reliability, as ``summary`` gives it, from the service-wide rows alone: none of a
        summary's raw reads (the review queue, the failures left unrecovered, the sources' last events), and of the
        distributions only ``pipeline_durations`` (a reader of nothing else names it in ``distributions``)."""
        return _pipeline(self.days.within(window, self.profile).service_wide, self.profile)

    def weekly(self, window: d.Window) -> list[dict]:
        """Per ISO week touching the window: production deployments (ok and failed, and how many were
        rework), the median lead time and its components, in hours, of the changes deployed that week,
        and the median recovery time, in hours, of the failed deployments recovered that week."""
        days = self.days.within(window, self.profile).production
        weeks: dict[date, dict] = {}
        for day in window.calendar_days(self.profile):
            week = weeks.setdefault(day - timedelta(days=day.weekday()), {})
            if day in days:
                _merge(week, days[day])
        series = []
        for monday, values in sorted(weeks.items()):
            deployments, failed = values.get("deployments", 0), values.get("failed_deployments", 0)
            point: dict = {"week": monday.isoformat(), "deployments": deployments - failed, "failed": failed}
            point["rework"] = values.get("rework_deployments", 0)
            recovered = values.get("distributions", {}).get("recovery_times", ())
            point["recovered"] = recovered.count if isinstance(recovered, d.Histogram) else len(recovered)
            for name, key in _WEEKLY_DURATIONS:
                median = _median(values.get("distributions", {}).get(key, ()), self.profile.median_kind)
                point[name] = None if median is None else round(median / 3600, 2)
            series.append(point)
        return series


_WEEKLY_DURATIONS = (
    ("lead_time", "lead_times"),
    ("coding", "coding_times"),
    ("pickup", "pickup_times"),
    ("review", "review_times"),
    ("deploy", "deploy_times"),
    ("recovery", "recovery_times"),
)

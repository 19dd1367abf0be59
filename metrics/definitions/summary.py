"""Summaries: every figure for a scope and window, comparison with the previous window, and weekly series."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, cast

from metrics.definitions.bands import Levels, levels
from metrics.definitions.facts import derive_facts
from metrics.definitions.failures import ChangeFailureRate, Recovery, change_failure_rate, recovery
from metrics.definitions.frequency import DeploymentFrequency, deployment_frequency
from metrics.definitions.lead_times import ChangeLeadTime, LeadTime, lead_time
from metrics.definitions.pipeline import PipelineReliability, pipeline_reliability
from metrics.definitions.production import production_in_window
from metrics.definitions.profile import Profile, _profile
from metrics.definitions.quality import DataQuality, data_quality
from metrics.definitions.records import ChangeRec, DeploymentRec, IncidentRec, PipelineRunRec
from metrics.definitions.review import ReviewHealth, review_health
from metrics.definitions.rework import ReworkRate, rework_rate
from metrics.definitions.stats import duration_percentile
from metrics.definitions.vocabulary import BandsYear, Trend
from metrics.definitions.windows import Window, bucket_day, local_midnight

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable, Mapping


@dataclass(frozen=True)
class DoraSummary:
    """All five metrics, CI and review health, levels for both band years, and data quality."""

    window: Window
    bands_year: BandsYear
    deployment_frequency: DeploymentFrequency
    lead_time: LeadTime
    change_failure_rate: ChangeFailureRate
    recovery: Recovery
    rework: ReworkRate
    pipeline: PipelineReliability
    review: ReviewHealth
    data_quality: DataQuality
    levels_by_year: Mapping[int, Levels]

    @property
    def levels(self) -> Levels:
        """Levels for the profile's band year."""
        return self.levels_by_year[self.bands_year]


def _scoped[R: DeploymentRec | ChangeRec | IncidentRec | PipelineRunRec](
    records: Iterable[R], services: Collection[str] | None
) -> tuple[R, ...]:
    if services is None:
        return tuple(records)
    wanted = set(services)
    return tuple(r for r in records if r.service in wanted)


def dora_summary(
    deployments: Iterable[DeploymentRec],
    changes: Iterable[ChangeRec],
    incidents: Iterable[IncidentRec],
    window: Window,
    profile: Profile | None = None,
    *,
    runs: Iterable[PipelineRunRec] = (),
    commit_ranges: Mapping[tuple[str, str], Collection[str]] | None = None,
    services: Collection[str] | None = None,
    now: datetime | None = None,
    last_event_at: Mapping[str, datetime] | None = None,
) -> DoraSummary:
    """Every figure for a scope (``services``: a service, a team's services, or None for all)
    and a window. Pass all records, not only the window's: linking looks back before it.
    ``now`` (default: the window's end) is when the review queue is read."""
    p = _profile(profile)
    facts = derive_facts(
        _scoped(deployments, services),
        _scoped(changes, services),
        _scoped(incidents, services),
        p,
        commit_ranges=commit_ranges,
    )
    run_list = _scoped(runs, services)
    df = deployment_frequency(facts.deployments, window, p)
    lt = lead_time(facts.lead_times.values(), window, p)
    cfr = change_failure_rate(facts.deployments, facts.failures, window, p)
    rec = recovery(facts.failures, facts.incidents, window, p, deployments=facts.deployments)
    pipeline = pipeline_reliability(run_list, window, p)
    return DoraSummary(
        window=window,
        bands_year=p.bands_year,
        deployment_frequency=df,
        lead_time=lt,
        change_failure_rate=cfr,
        recovery=rec,
        rework=rework_rate(facts.deployments, facts.rework, window, p),
        pipeline=pipeline,
        review=review_health(facts.changes, window, now or window.end, p),
        data_quality=data_quality(facts, window, p, pipeline_runs=pipeline.runs, last_event_at=last_event_at),
        levels_by_year={year: levels(df, lt, cfr, rec, year) for year in (2023, 2021)},
    )


Number = float | timedelta


@dataclass(frozen=True)
class Delta:
    """A figure against the previous window: the difference, the relative change, and whether that is better."""

    current: Number | None
    previous: Number | None
    difference: Number | None
    relative: float | None
    trend: Trend | None


def compare(current: Number | None, previous: Number | None, *, higher_is_better: bool) -> Delta:
    """Compare two values of one figure; everything but the values is None when either is missing.
    ``relative`` is None when the previous value is zero."""
    if current is None or previous is None:
        return Delta(current, previous, None, None, None)
    # Both are floats or both timedeltas (one figure's two windows); mypy also sees the mixed pairs, hence the ignores.
    difference = current - previous  # type: ignore[operator]
    zero = timedelta(0) if isinstance(difference, timedelta) else 0
    relative = None if previous == zero else cast("float", difference / previous)  # type: ignore[operator]
    if difference == zero:
        trend = Trend.SAME
    else:
        trend = Trend.BETTER if (difference > zero) == higher_is_better else Trend.WORSE  # type: ignore[operator]
    return Delta(current, previous, difference, relative, trend)


def compare_summaries(current: DoraSummary, previous: DoraSummary) -> dict[str, Delta]:
    """The headline figures of two summaries (usually a window and ``previous_window`` of it)."""
    pairs: dict[str, tuple[Number | None, Number | None, bool]] = {
        "deployments_per_day": (
            current.deployment_frequency.deployments_per_day,
            previous.deployment_frequency.deployments_per_day,
            True,
        ),
        "deployment_days_per_week": (
            current.deployment_frequency.deployment_days_per_week,
            previous.deployment_frequency.deployment_days_per_week,
            True,
        ),
        "lead_time": (current.lead_time.median, previous.lead_time.median, False),
        "change_failure_rate": (current.change_failure_rate.value, previous.change_failure_rate.value, False),
        "failed_deployment_recovery": (current.recovery.median, previous.recovery.median, False),
        "time_to_restore": (
            current.recovery.time_to_restore.median,
            previous.recovery.time_to_restore.median,
            False,
        ),
        "rework_rate": (current.rework.value, previous.rework.value, False),
        "pipeline_failure_rate": (current.pipeline.failure_rate, previous.pipeline.failure_rate, False),
        "flaky_rate": (current.pipeline.flaky_rate, previous.pipeline.flaky_rate, False),
    }
    return {name: compare(cur, prev, higher_is_better=hib) for name, (cur, prev, hib) in pairs.items()}


@dataclass(frozen=True)
class WeekPoint:
    """One org-zone ISO week of a series; ``partial`` when the week is not wholly inside the window."""

    week_start: date
    iso_year: int
    iso_week: int
    partial: bool
    deployments: int
    deployment_days: int
    changes: int
    lead_time: timedelta | None
    coding: timedelta | None
    pickup: timedelta | None
    review: timedelta | None
    deploy: timedelta | None


def weekly_series(
    deployments: Iterable[DeploymentRec],
    lead_times: Iterable[ChangeLeadTime],
    window: Window,
    profile: Profile | None = None,
) -> list[WeekPoint]:
    """Per ISO week touching the window: production deployments and deployment days (by finish),
    and median lead time and components of the changes deployed that week. Only events inside
    the window count, so the weeks add up to the window's totals."""
    p = _profile(profile)
    mondays = sorted({day - timedelta(days=day.weekday()) for day in window.calendar_days(p)})
    deps_by_week: dict[date, list[date]] = {m: [] for m in mondays}
    for d in production_in_window(deployments, window, p):
        assert d.finished_at is not None
        day = bucket_day(d.finished_at, p)
        deps_by_week[day - timedelta(days=day.weekday())].append(day)
    lts_by_week: dict[date, list[ChangeLeadTime]] = {m: [] for m in mondays}
    for lt in lead_times:
        if window.contains(lt.deployed_at):
            assert lt.deployed_at is not None
            day = bucket_day(lt.deployed_at, p)
            lts_by_week[day - timedelta(days=day.weekday())].append(lt)

    kind = p.median_kind
    points = []
    for monday in mondays:
        iso_year, week, _ = monday.isocalendar()
        partial = local_midnight(monday, p) < window.start or local_midnight(monday + timedelta(days=7), p) > window.end
        lts = lts_by_week[monday]
        points.append(
            WeekPoint(
                week_start=monday,
                iso_year=iso_year,
                iso_week=week,
                partial=partial,
                deployments=len(deps_by_week[monday]),
                deployment_days=len(set(deps_by_week[monday])),
                changes=len(lts),
                lead_time=duration_percentile([x.lead_time for x in lts if x.lead_time is not None], 0.5, kind),
                coding=duration_percentile([x.coding for x in lts if x.coding is not None], 0.5, kind),
                pickup=duration_percentile([x.pickup for x in lts if x.pickup is not None], 0.5, kind),
                review=duration_percentile([x.review for x in lts if x.review is not None], 0.5, kind),
                deploy=duration_percentile([x.deploy for x in lts if x.deploy is not None], 0.5, kind),
            )
        )
    return points

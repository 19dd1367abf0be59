"""Deployment frequency over a window: deployments per day and deployment days per week or month."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

from e360.stats import median
from metrics.definitions.production import is_failed_attempt, production_in_window
from metrics.definitions.profile import Profile, _profile
from metrics.definitions.records import DeploymentRec
from metrics.definitions.windows import Window, bucket_day, whole_iso_weeks, whole_months

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping


DAYS_PER_MONTH = 365.25 / 12
DAYS_PER_SIX_MONTHS = 365.25 / 2


def deployments_by_day(
    deployments: Iterable[DeploymentRec], window: Window, profile: Profile | None = None
) -> dict[date, int]:
    """Production deployments finished in the window, per org-zone day (every day of the window present)."""
    p = _profile(profile)
    counts = dict.fromkeys(window.calendar_days(p), 0)
    for d in production_in_window(deployments, window, p):
        assert d.finished_at is not None
        counts[bucket_day(d.finished_at, p)] += 1
    return counts


@dataclass(frozen=True)
class DeploymentFrequency:
    """Deployment frequency over a window.

    ``deployments_per_day`` = production deployments ÷ days in the window.
    ``deployment_days_per_week`` = median over the whole ISO weeks inside the window of
    the number of days with a production deployment (``…_per_month`` likewise over whole
    calendar months). All None when there is no production deployment in the window.
    """

    deployments: int
    days: float
    deployment_days: int
    whole_weeks: int
    whole_months: int
    deployments_per_day: float | None
    deployment_days_per_week: float | None
    deployment_days_per_month: float | None
    failed_attempts: int

    def _rate(self, period_days: float) -> float | None:
        if not self.deployments or not self.days:
            return None
        return self.deployment_days / self.days * period_days

    @property
    def weekly_deployment_days(self) -> float | None:
        """Median deployment days per week, or the window's rate when it holds no whole week."""
        if self.deployment_days_per_week is not None:
            return self.deployment_days_per_week
        return self._rate(7)

    @property
    def monthly_deployment_days(self) -> float | None:
        """Median deployment days per month, or the window's rate when it holds no whole month."""
        if self.deployment_days_per_month is not None:
            return self.deployment_days_per_month
        return self._rate(DAYS_PER_MONTH)

    @property
    def six_monthly_deployment_days(self) -> float | None:
        """Deployment days per six months, at the window's rate."""
        return self._rate(DAYS_PER_SIX_MONTHS)


def deployment_frequency(
    deployments: Iterable[DeploymentRec], window: Window, profile: Profile | None = None
) -> DeploymentFrequency:
    """Production deployments finished in the window; failed attempts are counted apart."""
    p = _profile(profile)
    all_deployments = list(deployments)
    failed_attempts = sum(
        1 for d in all_deployments if is_failed_attempt(d, p) and window.contains(d.finished_at or d.started_at)
    )
    per_day: dict[date, int] = {}
    for d in production_in_window(all_deployments, window, p):
        assert d.finished_at is not None
        day = bucket_day(d.finished_at, p)
        per_day[day] = per_day.get(day, 0) + 1
    return deployment_frequency_from_days(per_day, window, p, failed_attempts=failed_attempts)


def deployment_frequency_from_days(
    per_day: Mapping[date, int], window: Window, profile: Profile | None = None, *, failed_attempts: int = 0
) -> DeploymentFrequency:
    """Deployment frequency from production deployments counted per org-zone day of the window
    (what daily rollups hold); ``deployment_frequency`` counts raw records into this."""
    p = _profile(profile)
    total = sum(per_day.values())
    days = {day for day, count in per_day.items() if count}
    weeks = whole_iso_weeks(window, p)
    months = whole_months(window, p)
    # Deployment days per whole week and month, counted in one pass over the days.
    per_week = dict.fromkeys(weeks, 0)
    per_month = dict.fromkeys(((m.year, m.month) for m in months), 0)
    for day in days:
        monday = day - timedelta(days=day.weekday())
        if monday in per_week:
            per_week[monday] += 1
        if (day.year, day.month) in per_month:
            per_month[day.year, day.month] += 1
    n_days = window.days(p)
    has_data = total > 0
    return DeploymentFrequency(
        deployments=total,
        days=n_days,
        deployment_days=len(days),
        whole_weeks=len(weeks),
        whole_months=len(months),
        deployments_per_day=total / n_days if has_data and n_days else None,
        deployment_days_per_week=median(list(per_week.values()), p.median_kind) if has_data else None,
        deployment_days_per_month=median(list(per_month.values()), p.median_kind) if has_data else None,
        failed_attempts=failed_attempts,
    )

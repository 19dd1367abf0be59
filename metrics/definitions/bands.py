"""DORA levels: the 2021 and 2023 bands each key metric is placed in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from metrics.definitions.failures import ChangeFailureRate, Recovery
from metrics.definitions.frequency import DeploymentFrequency
from metrics.definitions.lead_times import LeadTime
from metrics.definitions.vocabulary import BandsYear, Level

# 2023: docs/metrics.md#levels — the DORA 2023 report's bands (dora.dev, "Accelerate State of DevOps
# Report 2023") as DevLake applies them, except that e360 reads "on demand" as at least 5
# deployment days per week (DevLake asks for 7).
#
# 2021: the "Accelerate State of DevOps 2021" report (DORA / Google Cloud), table "Software
# delivery performance": DF elite on-demand (multiple deploys per day), high between once
# per week and once per month, medium between once per month and once every six months,
# low fewer than once every six months; lead time elite < 1 hour, high 1 day-1 week,
# medium 1-6 months, low > 6 months; time to restore elite < 1 hour, high < 1 day, medium
# 1 day-1 week, low > 6 months; CFR elite 0-15 %, high, medium and low all 16-30 %.
# The report's bands leave gaps (lead time 1 hour-1 day, 1 week-1 month; restore
# 1 week-6 months) and overlap (CFR); we close them as DevLake's 2021 dashboards do
# (devlake.apache.org, Metrics pages, "2021 DORA benchmarks"): a gap goes to the next
# lower band, CFR splits at 15/20/30 %, six months = 180 days.
# ``deployment days per month/six months`` are medians over whole calendar months, or the
# window's rate when it holds none.


def deployment_frequency_level(df: DeploymentFrequency, year: BandsYear = 2023) -> Level | None:
    """2023: elite ≥ 5 deployment days/week; high ≥ 1/week; medium ≥ 1/month; else low.
    2021: elite ≥ 5 deployment days/week (on demand); high ≥ 1/month; medium ≥ 1 per six months; else low."""
    week, month, six = df.weekly_deployment_days, df.monthly_deployment_days, df.six_monthly_deployment_days
    if week is None or month is None or six is None:
        return None
    if week >= 5:
        return Level.ELITE
    if year == 2023:
        if week >= 1:
            return Level.HIGH
        return Level.MEDIUM if month >= 1 else Level.LOW
    if month >= 1:
        return Level.HIGH
    return Level.MEDIUM if six >= 1 else Level.LOW


def lead_time_level(value: timedelta | None, year: BandsYear = 2023) -> Level | None:
    """2023: elite < 1 day; high < 7 days; medium < 30 days. 2021: elite < 1 hour; high < 7 days; medium < 180 days."""
    if value is None:
        return None
    elite = timedelta(days=1) if year == 2023 else timedelta(hours=1)
    medium = timedelta(days=30) if year == 2023 else timedelta(days=180)
    if value < elite:
        return Level.ELITE
    if value < timedelta(days=7):
        return Level.HIGH
    return Level.MEDIUM if value < medium else Level.LOW


def change_failure_rate_level(value: float | None, year: BandsYear = 2023) -> Level | None:
    """2023: elite ≤ 5 %; high ≤ 10 %; medium ≤ 15 %. 2021: elite ≤ 15 %; high ≤ 20 %; medium ≤ 30 %."""
    if value is None:
        return None
    elite, high, medium = (0.05, 0.10, 0.15) if year == 2023 else (0.15, 0.20, 0.30)
    if value <= elite:
        return Level.ELITE
    if value <= high:
        return Level.HIGH
    return Level.MEDIUM if value <= medium else Level.LOW


def recovery_level(value: timedelta | None, year: BandsYear = 2023) -> Level | None:
    """Both years: elite < 1 hour; high < 1 day; medium < 1 week; else low (FDRT, or time to restore in 2021)."""
    if value is None:
        return None
    if value < timedelta(hours=1):
        return Level.ELITE
    if value < timedelta(days=1):
        return Level.HIGH
    return Level.MEDIUM if value < timedelta(days=7) else Level.LOW


@dataclass(frozen=True)
class Levels:
    """The DORA level of each of the four keys for one year's bands (None = no data). Rework has none."""

    year: BandsYear
    deployment_frequency: Level | None
    lead_time: Level | None
    change_failure_rate: Level | None
    recovery: Level | None


def levels(
    df: DeploymentFrequency,
    lt: LeadTime,
    cfr: ChangeFailureRate,
    rec: Recovery,
    year: BandsYear = 2023,
) -> Levels:
    """Levels of the four keys (the recovery level uses FDRT)."""
    return Levels(
        year=year,
        deployment_frequency=deployment_frequency_level(df, year),
        lead_time=lead_time_level(lt.median, year),
        change_failure_rate=change_failure_rate_level(cfr.value, year),
        recovery=recovery_level(rec.median, year),
    )

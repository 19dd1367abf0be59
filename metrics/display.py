"""How delivery figures read on the pages: numbers with units, DORA levels, and the change
against the previous window, in words as well as arrows and colour.

Pure: standard library and ``metrics.definitions`` only, no Django. A missing figure
stays ``None`` all the way to the template, which says "no data", never 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from metrics import definitions as d

LEVEL_LABELS: dict[d.Level, str] = {
    d.Level.ELITE: "Elite",
    d.Level.HIGH: "High",
    d.Level.MEDIUM: "Medium",
    d.Level.LOW: "Low",
}
PERIODS: tuple[int, ...] = (30, 90, 180)
DEFAULT_PERIOD = 90


def period_days(value: str | None) -> int:
    """The period a request asks for (``?days=``), or the default when it names none we offer."""
    try:
        days = int(value or "")
    except ValueError:
        return DEFAULT_PERIOD
    return days if days in PERIODS else DEFAULT_PERIOD


@dataclass(frozen=True)
class Figure:
    """A value as shown: the number and its unit, kept apart so the unit can be set smaller."""

    number: str
    unit: str

    def __str__(self) -> str:
        return f"{self.number}{self.unit}" if self.unit == "%" else f"{self.number} {self.unit}"


def _number(value: float) -> str:
    """Two significant figures below 10 (``3.2``, ``0.45``), whole numbers above (``42``)."""
    if value >= 10 or value == int(value):
        return f"{value:,.0f}"
    text = f"{value:.2g}" if value < 1 else f"{value:.1f}"
    return text.removesuffix(".0")


def duration(value: timedelta | None) -> Figure | None:
    """Minutes under an hour, hours under two days, days beyond."""
    if value is None:
        return None
    seconds = value.total_seconds()
    if seconds < 3600:
        minutes = seconds / 60
        return Figure("<1" if 0 < minutes < 1 else _number(round(minutes)), "min")
    if seconds < 48 * 3600:
        return Figure(_number(seconds / 3600), "h")
    return Figure(_number(seconds / 86400), "days")


def short_duration(value: timedelta | None) -> str | None:
    figure = duration(value)
    return None if figure is None else str(figure)


def percent(value: float | None) -> Figure | None:
    if value is None:
        return None
    # One decimal below 20 %, where the change failure rate's bands (5, 10, 15 %) sit.
    pct = value * 100
    text = f"{pct:.0f}" if pct >= 20 else f"{pct:.1f}".removesuffix(".0")
    return Figure(text, "%")


def frequency(per_day: float | None) -> Figure | None:
    """Deployments per day, per week or per month, whichever gives a number of at least one."""
    if per_day is None:
        return None
    if per_day >= 1:
        return Figure(_number(per_day), "per day")
    if per_day * 7 >= 1:
        return Figure(_number(per_day * 7), "per week")
    return Figure(_number(per_day * d.DAYS_PER_MONTH), "per month")


@dataclass(frozen=True)
class Change:
    """A figure against the previous window: ``arrow`` for the eye, ``text`` for everyone."""

    trend: d.Trend | None
    arrow: str
    text: str

    @property
    def trend_label(self) -> str:
        labels = {d.Trend.BETTER: "better", d.Trend.WORSE: "worse", d.Trend.SAME: "no change"}
        return "" if self.trend is None else labels[self.trend]


def change(delta: d.Delta, *, points: bool = False) -> Change:
    """``points``: a rate whose change reads in percentage points (CFR 8 % → 12 % is +4 pts)."""
    if delta.trend is None or delta.difference is None:
        return Change(None, "", "no data in the previous period")
    if delta.trend == d.Trend.SAME:
        return Change(d.Trend.SAME, "→", "same as the previous period")
    difference = delta.difference
    up = difference > (timedelta(0) if isinstance(difference, timedelta) else 0)  # type: ignore[operator]
    arrow, verb = ("↑", "up") if up else ("↓", "down")
    if points:
        assert isinstance(difference, float | int)
        amount = f"{abs(difference) * 100:.1f} pts"
    elif delta.relative is not None and delta.relative >= 9:
        amount = f"{1 + delta.relative:,.0f}-fold"  # "up 645-fold" reads better than "up 64,350%"
    elif delta.relative is not None:
        amount = f"{abs(delta.relative) * 100:,.0f}%"
    elif isinstance(difference, timedelta):
        amount = short_duration(abs(difference)) or ""
    else:
        amount = _number(abs(float(difference)))
    return Change(delta.trend, arrow, f"{verb} {amount} on the previous period")


@dataclass(frozen=True)
class Tile:
    """One headline figure: value, DORA level (None when it has none or there is no data), change, sample."""

    key: str
    title: str
    figure: Figure | None
    level: d.Level | None
    has_bands: bool
    change: Change
    detail: str
    sample: str
    definition: str

    @property
    def level_label(self) -> str:
        return "" if self.level is None else LEVEL_LABELS[self.level]


def _plural(count: int, singular: str, plural: str | None = None) -> str:
    return f"{count:,} {singular if count == 1 else (plural or singular + 's')}"


def tiles(current: d.DoraSummary, previous: d.DoraSummary) -> list[Tile]:
    """The four keys and rework rate of a window, each against the previous window."""
    deltas = d.compare_summaries(current, previous)
    levels = current.levels
    df, lt, cfr = current.deployment_frequency, current.lead_time, current.change_failure_rate
    rec, rework = current.recovery, current.rework

    df_detail = (
        f"median {_number(df.weekly_deployment_days)} deployment days a week"
        if df.weekly_deployment_days is not None
        else ""
    )
    if df.failed_attempts:
        df_detail += ("; " if df_detail else "") + _plural(df.failed_attempts, "failed attempt") + " not counted"
    lt_parts = [
        f"{name} {short_duration(value)}" for name, value in (("p75", lt.lead_time.p75), ("p90", lt.lead_time.p90))
    ]
    restore = rec.time_to_restore
    rec_detail = []
    if restore.count:
        rec_detail.append(f"time to restore {short_duration(restore.median)} over {_plural(restore.count, 'incident')}")
    if rec.unrecovered:
        rec_detail.append(f"{_plural(rec.unrecovered, 'failed deployment')} not recovered yet")
    return [
        Tile(
            key="frequency",
            title="Deployment frequency",
            figure=frequency(df.deployments_per_day),
            level=levels.deployment_frequency,
            has_bands=True,
            change=change(deltas["deployments_per_day"]),
            detail=df_detail,
            sample=_plural(df.deployments, "production deployment"),
            definition="Successful production deployments per day; the level reads deployment days per week.",
        ),
        Tile(
            key="lead-time",
            title="Lead time for changes",
            figure=duration(lt.median),
            level=levels.lead_time,
            has_bands=True,
            change=change(deltas["lead_time"]),
            detail=" · ".join(lt_parts) if lt.median is not None else "",
            sample=_plural(lt.lead_time.count, "change") + " deployed",
            definition="Median time from a change's first commit to the production deployment that shipped it.",
        ),
        Tile(
            key="failure-rate",
            title="Change failure rate",
            figure=percent(cfr.value),
            level=levels.change_failure_rate,
            has_bands=True,
            change=change(deltas["change_failure_rate"], points=True),
            detail=f"{cfr.failed:,} of {_plural(cfr.deployments, 'deployment')} failed" if cfr.deployments else "",
            sample=_plural(cfr.deployments, "production deployment"),
            definition="Share of production deployments that caused an incident, were rolled back or hotfixed.",
        ),
        Tile(
            key="recovery",
            title="Failed deployment recovery",
            figure=duration(rec.median),
            level=levels.recovery,
            has_bands=True,
            change=change(deltas["failed_deployment_recovery"]),
            detail="; ".join(rec_detail),
            sample=_plural(rec.failed_deployment_recovery.count, "recovered failure"),
            definition="Median time from a failed deployment to its fix: incident resolved, rollback or hotfix.",
        ),
        Tile(
            key="rework",
            title="Deployment rework rate",
            figure=percent(rework.value),
            level=None,
            has_bands=False,
            change=change(deltas["rework_rate"], points=True),
            detail=f"{rework.rework:,} of {_plural(rework.deployments, 'deployment')} were rework"
            if rework.deployments
            else "",
            sample=_plural(rework.deployments, "production deployment"),
            definition="Share of production deployments that were unplanned fixes: rollbacks, hotfixes, "
            "deployments during an incident. DORA publishes no levels for it.",
        ),
    ]


@dataclass(frozen=True)
class ChangeTimes:
    """A change's lead time and its four components, formatted; None where a span is missing or negative."""

    lead_time: str | None
    coding: str | None
    pickup: str | None
    review: str | None
    deploy: str | None


def change_times(
    *,
    first_commit_at: datetime | None,
    opened_at: datetime | None,
    first_review_at: datetime | None,
    merged_at: datetime | None,
    deployed_at: datetime | None,
    profile: d.Profile,
) -> ChangeTimes:
    """docs/metrics.md#components: coding = opened - first commit; pickup = first review - opened;
    review = merged - first review; deploy = deployed - merged; lead time = deployed - first commit."""

    def fmt(start: datetime | None, end: datetime | None) -> str | None:
        return short_duration(d.span(start, end, profile))

    return ChangeTimes(
        lead_time=fmt(first_commit_at, deployed_at),
        coding=fmt(first_commit_at, opened_at),
        pickup=fmt(opened_at, first_review_at),
        review=fmt(first_review_at, merged_at),
        deploy=fmt(merged_at, deployed_at),
    )


def weekly_chart(series: list[dict[str, Any]], window: d.Window, profile: d.Profile) -> dict[str, Any]:
    """``rollups.Figures.weekly`` turned into what ``static/metrics/dora-charts.js`` draws:
    one label per week ("5 May", "28 Apr*" when the week is cut by the window's edges) and one
    list per dataset. Hours stay hours; the script picks days when the values are long."""
    first_day = d.bucket_day(window.start, profile)
    end_day = d.bucket_day(window.end, profile)
    labels, partial = [], []
    for point in series:
        monday = datetime.fromisoformat(point["week"]).date()
        cut = monday < first_day or monday + timedelta(days=7) > end_day
        partial.append(cut)
        labels.append(f"{monday.day} {monday:%b}" + ("*" if cut else ""))
    return {
        "labels": labels,
        "partial": partial,
        "deployments_ok": [p["deployments"] for p in series],
        "deployments_failed": [p["failed"] for p in series],
        "lead_time": [p["lead_time"] for p in series],
        "coding": [p["coding"] for p in series],
        "pickup": [p["pickup"] for p in series],
        "review": [p["review"] for p in series],
        "deploy": [p["deploy"] for p in series],
    }


@dataclass(frozen=True)
class Quality:
    """How far to trust the figures: sample sizes and the linking coverage, shares as text."""

    deployments: int
    changes: int
    changes_without_lead_time: int
    incidents: int
    linked_changes: str | None
    linked_incidents: str | None


def quality(dq: d.DataQuality) -> Quality:
    def share(part: int, whole: int, value: float | None) -> str | None:
        figure = percent(value)
        return None if figure is None else f"{figure} ({part:,} of {whole:,})"

    return Quality(
        deployments=dq.deployments,
        changes=dq.changes,
        changes_without_lead_time=dq.changes_without_lead_time,
        incidents=dq.incidents,
        linked_changes=share(dq.deployments_with_changes, dq.deployments, dq.linked_change_share),
        linked_incidents=share(dq.incidents_linked, dq.incidents, dq.incident_link_share),
    )

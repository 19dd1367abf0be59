"""The organisation's velocity gains over a quarter: which initiatives delivered, which did not, the hours they saved,
the points of sentiment their teams' surveys moved, and the review reminders' holdout — for whoever may see them.

- **Initiatives of the quarter**: those the viewer may see (``actions.initiatives.visible_initiatives``) running
  during it: started on or before its last day, and whose after window (the last team's start + ramp-up + window)
  ends on or after its first day. Each one's headline is its list headline (``initiative_report(...,
  headline_only=True)``: the first primary metric).
- **Verdict** of the first primary metric's estimate: the difference-in-differences when there is one, else the
  before/after median change (an association only, said so). *Delivered*: its interval wholly on the better side;
  *did not*: it includes no change, or is on the worse side; *too early or too little data*: not started, or no
  estimate.
- **Hours saved**, for a primary metric counted in hours with a difference-in-differences (never from a
  before/after alone, which is no more than an association): − the estimate (hours per item, lower is better) × the
  items the metric is counted over in the treated teams' after windows (so far, when they have not ended): merged
  pull requests for pickup, review and coding time, deployed changes for lead and deploy time, recovered failed
  deployments for recovery time — the metric's own sample (``insights.selectors.READERS``), read from the rollups,
  the treated teams of one window read at once (a team below another treated team is in that one's count already). The
  interval is scaled the same way. It assumes each item moved as the teams' weekly medians did: an order of
  magnitude, said so on the page.
- **Points of sentiment**: the survey side of the report (``initiative_report(..., survey=True)``: each treated team's
  survey dimension before and after, a group below k without a number), the change in % favourable points of the
  teams shown, and their mean.
- **Holdout**: ``actions.holdout.holdout_measure`` pooled over the visible policies with a holdout (set now, or that
  held a pull request out before),
  reading the first reminders due up to the quarter's end (none past now minus its horizon).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum

from django.core.cache import cache
from django.db.models import Q

from actions import estimates, holdout, initiatives, reminder_policies, threshold_metrics
from actions.initiative_reads import SurveySide
from actions.initiative_report import MetricReport, Report, initiative_report
from actions.models import Initiative, Reminder
from actions.models.initiatives import org_today
from e360.exports import spreadsheet_text
from e360.models import User
from e360.tree import TeamTree
from insights import selectors
from metrics import definitions as d
from metrics.scope import reading_profile

logger = logging.getLogger(__name__)

QUARTER = re.compile(r"^(\d{4})Q([1-4])$")
MIN_YEAR, MAX_YEAR = 2000, 2100

# What each hours metric is counted over (its reader's sample): the items whose hours the estimate moves, and what
# those hours are spent on.
ITEMS = {
    "pickup_time": ("pull request", "pull requests", "merged", "waiting for a first review"),
    "review_time": ("pull request", "pull requests", "merged", "in review"),
    "coding_time": ("pull request", "pull requests", "merged", "coding before review"),
    "lead_time": ("change", "changes", "deployed", "from first commit to production"),
    "deploy_time": ("change", "changes", "deployed", "from merge to production"),
    "recovery_time": ("failed deployment", "failed deployments", "recovered", "to recover"),
}


@dataclass(frozen=True, order=True)
class Quarter:
    year: int
    number: int

    @classmethod
    def parse(cls, text: str) -> Quarter | None:
        """``2026Q4`` (a ``q`` too), a year from ``MIN_YEAR`` to ``MAX_YEAR``; else None."""
        found = QUARTER.match(text.strip().upper())
        if found is None or not MIN_YEAR <= int(found[1]) <= MAX_YEAR:
            return None
        return cls(int(found[1]), int(found[2]))

    @classmethod
    def of(cls, day: date) -> Quarter:
        return cls(day.year, (day.month - 1) // 3 + 1)

    @property
    def first(self) -> date:
        return date(self.year, 3 * self.number - 2, 1)

    @property
    def end(self) -> date:
        """The day after its last."""
        return self.next.first

    @property
    def last(self) -> date:
        return self.end - timedelta(days=1)

    @property
    def next(self) -> Quarter:
        return Quarter(self.year + 1, 1) if self.number == 4 else Quarter(self.year, self.number + 1)

    @property
    def previous(self) -> Quarter:
        return Quarter(self.year - 1, 4) if self.number == 1 else Quarter(self.year, self.number - 1)

    @property
    def key(self) -> str:
        return f"{self.year}Q{self.number}"

    @property
    def label(self) -> str:
        return f"Q{self.number} {self.year}"

    def __str__(self) -> str:
        return self.key


class Verdict(StrEnum):
    DELIVERED = "delivered"
    NOT_DELIVERED = "did not deliver"
    TOO_EARLY = "too early or too little data"


def after_end(initiative: Initiative) -> date:
    """The day after the last team's after window (its start + ramp-up + window)."""
    starts = [target.start for target in initiative.targets_with_teams] or [initiative.starts_on]
    return max(starts) + timedelta(days=initiative.ramp_up_days + initiative.window_days)


def running_in(initiative: Initiative, quarter: Quarter) -> bool:
    return initiative.starts_on <= quarter.last and after_end(initiative) > quarter.first


@dataclass(frozen=True)
class HoursSaved:
    """− estimate × items: hours saved (negative: hours lost), with the interval scaled the same way."""

    per_item: float  # hours less per item (the estimate, sign turned so that saved is positive)
    per_item_low: float
    per_item_high: float
    items: int
    singular: str
    plural: str
    verb: str  # how an item is counted: "merged", "deployed", "recovered"
    so_far: bool  # some after window has not ended
    spent: str = ""  # what the hours are spent on: "waiting for a first review"

    @property
    def value(self) -> float:
        return self.per_item * self.items

    @property
    def low(self) -> float:
        return self.per_item_low * self.items

    @property
    def high(self) -> float:
        return self.per_item_high * self.items

    @property
    def words(self) -> str:
        """E.g. "9 h less waiting for a first review per pull request × 120 pull requests merged in the after window
        ≈ 1,080 h saved (95% interval 480 h to 1,680 h)"."""
        less = ("less" if self.per_item >= 0 else "more") + (f" {self.spent}" if self.spent else "")
        noun = self.singular if self.items == 1 else self.plural
        when = "in the after window so far" if self.so_far else "in the after window"
        interval = f"95% interval {_hours(self.low, grouped=True)} to {_hours(self.high, grouped=True)}"
        if self.low <= 0 <= self.high:
            interval += ", which includes none: no saving can be claimed"
        return (
            f"{_hours(abs(self.per_item))} {less} per {self.singular} × {self.items:,} {noun} {self.verb} {when} "
            f"≈ {_hours(self.value, grouped=True)} saved ({interval})"
        )


def points_text(value: float) -> str:
    """A change in % favourable points, signed: "+20 points", "−3 points"."""
    figure = round(value)
    sign = "+" if figure > 0 else "−" if figure < 0 else ""
    return f"{sign}{abs(figure)} point{'' if abs(figure) == 1 else 's'}"


def hours_text(value: float) -> str:
    return _hours(value, grouped=True)


def _hours(value: float, *, grouped: bool = False) -> str:
    figure = abs(value)
    text = f"{figure:,.0f}" if figure >= 10 or grouped else f"{figure:.1f}".removesuffix(".0")
    return f"{'−' if value < 0 and text.strip('0.,') else ''}{text} h"


def _change(side: SurveySide) -> float | None:
    """After − before in % favourable points; None unless both are shown."""
    return side.after - side.before if side.after is not None and side.before is not None else None


@dataclass(frozen=True)
class Sentiment:
    """The survey side: each treated team's % favourable before and after, and the shown teams' mean change."""

    sides: tuple[SurveySide, ...]

    @property
    def shown(self) -> tuple[SurveySide, ...]:
        return tuple(side for side in self.sides if side.shown)

    @property
    def lines(self) -> list[tuple[SurveySide, str | None]]:
        """Each side with its change in points written out (None: no number)."""
        return [(side, None if (change := _change(side)) is None else points_text(change)) for side in self.sides]

    @property
    def points(self) -> float | None:
        changes = [change for side in self.sides if (change := _change(side)) is not None]
        return math.fsum(changes) / len(changes) if changes else None

    @property
    def points_text(self) -> str | None:
        points = self.points
        return None if points is None else points_text(points)


@dataclass(frozen=True)
class Row:
    initiative: Initiative
    report: Report
    verdict: Verdict
    associated: bool  # the verdict rests on a before/after alone (no comparison teams)
    hours: HoursSaved | None
    sentiment: Sentiment

    @property
    def first(self) -> MetricReport | None:
        return self.report.metrics[0] if self.report.metrics else None

    @property
    def teams(self) -> str:
        return ", ".join(target.team.name for target in self.initiative.targets_with_teams)

    @property
    def guardrail(self) -> str:
        return guardrail_worsened(self.report)


def judged(metric: MetricReport | None) -> tuple[estimates.Estimate | None, bool]:
    """The estimate a verdict rests on: the difference-in-differences, else the before/after median change (then
    True: an association only)."""
    if metric is None:
        return None, False
    if metric.estimate is not None:
        return metric.estimate, False
    change = metric.before_after.median_change if metric.before_after is not None else None
    return change, change is not None


def verdict(report: Report) -> tuple[Verdict, bool]:
    """The first primary metric's verdict (module docstring), and whether it is a before/after alone."""
    first = report.metrics[0] if report.metrics else None
    estimate, associated = judged(first)
    if not report.started or first is None or estimate is None:
        return Verdict.TOO_EARLY, False
    better_side = estimate.high < 0 if first.better == estimates.Better.LOWER else estimate.low > 0
    # A gain paid for by its guardrail (the change failure rate rose while lead time fell) is no delivery.
    return (Verdict.DELIVERED if better_side and not guardrail_worsened(report) else Verdict.NOT_DELIVERED), associated


def guardrail_worsened(report: Report) -> str:
    """The guardrail's warning, when its change is wholly on its worse side ("" otherwise)."""
    first = report.metrics[0] if report.metrics else None
    found = [w for w in (first.warnings if first else ()) if w.code == estimates.Code.GUARDRAIL_WORSENED]
    return found[0].text if found else ""


def items_counted(report: Report, metric: MetricReport, *, now: datetime, tree: TeamTree) -> tuple[int, bool]:
    """The items ``metric`` is counted over in the treated teams' after windows up to today, and whether some
    window has not ended (module docstring). The teams of one window are read at once."""
    initiative = report.initiative
    profile = reading_profile()
    today = org_today(now)
    treated = {series.team.pk for series in report.reads.targets}
    by_window: dict[d.Window, list[int]] = {}
    so_far = False
    for series in report.reads.targets:
        if series.start is None or set(tree.ancestors(series.team.pk)) & treated:
            continue
        first = series.start + timedelta(days=initiative.ramp_up_days)
        end = first + timedelta(days=initiative.window_days)
        if end > today:
            so_far, end = True, today
        if end > first:
            by_window.setdefault(d.Window.from_days(first, end, profile), []).append(series.team.pk)
    total = 0
    for window, team_ids in by_window.items():
        for figures in threshold_metrics.team_figures(team_ids, [metric.key], [window], now, tree).values():
            _, sample = selectors.READERS[metric.key].read(figures.summary(window))
            total += sample
    return total, so_far


def hours_saved(report: Report, *, now: datetime, tree: TeamTree) -> HoursSaved | None:
    """Hours saved by the first primary metric, when it is in hours and has a difference-in-differences."""
    first = report.metrics[0] if report.metrics else None
    if first is None or first.metric.unit != "hours" or first.estimate is None or first.key not in ITEMS:
        return None
    estimate = first.estimate
    sign = -1.0 if first.better == estimates.Better.LOWER else 1.0
    low, high = sorted((sign * estimate.low, sign * estimate.high))
    items, so_far = items_counted(report, first, now=now, tree=tree)
    singular, plural, verb, spent = ITEMS[first.key]
    return HoursSaved(sign * estimate.value, low, high, items, singular, plural, verb, so_far, spent)


@dataclass(frozen=True)
class Gains:
    quarter: Quarter
    rows: tuple[Row, ...]
    holdout: holdout.Holdout | None
    policies: int  # visible policies with a holdout

    def grouped(self, verdict: Verdict) -> list[Row]:
        return [row for row in self.rows if row.verdict == verdict]

    @property
    def delivered(self) -> list[Row]:
        return self.grouped(Verdict.DELIVERED)

    @property
    def not_delivered(self) -> list[Row]:
        return self.grouped(Verdict.NOT_DELIVERED)

    @property
    def too_early(self) -> list[Row]:
        return self.grouped(Verdict.TOO_EARLY)

    @property
    def with_hours(self) -> list[Row]:
        return [row for row in self.rows if row.hours is not None]

    @property
    def delivered_hours(self) -> float | None:
        """The point estimates of the delivered initiatives' hours saved, added (their intervals do not add)."""
        hours = [row.hours.value for row in self.delivered if row.hours is not None]
        return math.fsum(hours) if hours else None

    @property
    def with_sentiment(self) -> list[Row]:
        return [row for row in self.rows if row.report.started and row.sentiment.sides]

    @property
    def empty(self) -> bool:
        return not self.rows and self.holdout is None


# --- Published rows -----------------------------------------------------------------------------------------------

# A report or a row is published for an hour: its estimates move when a week ends, or when late data reaches a past
# week; the hourly task publishes them again.
PUBLISHED_SECONDS = 3600
# Part of the key: a row stored by other code is never read back (bump it when ``Row`` or ``Report`` change).
PUBLISHED_VERSION = 1


def row_of(initiative: Initiative, *, now: datetime, tree: TeamTree) -> Row:
    """The initiative's headline row, computed: its report's first primary metric and guardrail (``headline_only``),
    the survey side, the verdict and the hours saved."""
    return _row(initiative_report(initiative, now=now, headline_only=True, survey=True, tree=tree), now=now, tree=tree)


def _row(report: Report, *, now: datetime, tree: TeamTree) -> Row:
    """The row of a report with the survey side (its first primary metric and guardrail are a headline's)."""
    judged, associated = verdict(report)
    saved = hours_saved(report, now=now, tree=tree) if report.started else None
    sentiment = Sentiment(report.survey if report.started else ())
    return Row(report.initiative, _kept(report), judged, associated, saved, sentiment)


def _kept(report: Report) -> Report:
    """What the list and the gains read of a report: not the candidates left out (hundreds at a large level)."""
    chosen = {team.pk for metric in (*report.metrics, report.guardrail) if metric for team in metric.comparison}
    reads = replace(report.reads, candidates=tuple(s for s in report.reads.candidates if s.team.pk in chosen))
    metrics = tuple(replace(metric, left_out=()) for metric in report.metrics)
    guardrail = replace(report.guardrail, left_out=()) if report.guardrail else None
    return replace(report, reads=reads, metrics=metrics, guardrail=guardrail)


def _published_key(kind: str, initiative: Initiative, now: datetime, tree: TeamTree | None = None) -> str:
    """The key of an initiative's published report or row: of its freezing once frozen; before, of its definitions
    (they may still change) on the tree's shape (its comparison candidates are the teams at its teams' level; the
    caller's tree, else one read now)."""
    if initiative.frozen_at is not None:
        version = initiative.frozen_at.isoformat()
    else:
        definitions = initiatives.definitions_of(initiative, initiative.targets_with_teams)
        text = f"{json.dumps(definitions, sort_keys=True)}|{(tree or TeamTree.load()).shape}"
        version = hashlib.sha256(text.encode()).hexdigest()
    return f"actions:initiative-{kind}:{PUBLISHED_VERSION}:{initiative.pk}:{version}:{org_today(now).isoformat()}"


def _as_now(report: Report, initiative: Initiative) -> Report:
    """A published report with the initiative as it is now (its name and owner may change; its definitions not)."""
    return replace(report, initiative=initiative, reads=replace(report.reads, initiative=initiative))


def published_row(initiative: Initiative, *, now: datetime, tree: TeamTree) -> Row:
    """``row_of`` as published (the cache, ``settings.CACHES``): computed at most once an hour and day for one
    freezing, or before the start for one definition (``publish_reports`` refreshes each one's every hour), read
    back by the list and the velocity gains with the initiative as it is now."""
    key = _published_key("row", initiative, now, tree)
    row = cache.get(key)
    if row is None:
        row = row_of(initiative, now=now, tree=tree)
        cache.set(key, row, PUBLISHED_SECONDS)
    return replace(row, initiative=initiative, report=_as_now(row.report, initiative))


def published_report(initiative: Initiative, *, now: datetime) -> Report:
    """The initiative's whole report (its page and its CSV), as published like its row: computed at most once an
    hour and day for one freezing, or before the start for one definition (``publish_reports`` refreshes each
    one's every hour), read back with the initiative as it is now."""
    key = _published_key("report", initiative, now)
    report = cache.get(key)
    if report is None:
        report = initiative_report(initiative, now=now)
        cache.set(key, report, PUBLISHED_SECONDS)
    return _as_now(report, initiative)


def publish_reports(*, now: datetime) -> tuple[int, int]:
    """Publish the report and the row of every planned initiative and of every started one whose after window has
    not ended a quarter ago (the hourly task): the pages then read them at most an hour old. A started
    one's row is its whole report's headline (its first primary metric and guardrail are a headline report's). One
    that fails is logged and left to be computed on a visit. Returns how many were published: planned, started."""
    tree = TeamTree.load()
    today = org_today(now)
    planned = started = 0
    for initiative in initiatives.with_teams(Initiative.objects.all()):
        frozen = initiative.frozen_at is not None
        if frozen and after_end(initiative) + timedelta(days=92) < today:
            continue
        if not frozen and initiative.starts_on <= today:
            continue  # its start has come: the hourly freezing task freezes it first
        try:
            report = initiative_report(initiative, now=now, tree=tree)
            # A planned one's headline is its baseline alone, without the candidates its report compares.
            row = _row(report, now=now, tree=tree) if frozen else row_of(initiative, now=now, tree=tree)
        except Exception:
            logger.exception("initiative %s: its report could not be published", initiative.pk)
            continue
        cache.set(_published_key("report", initiative, now, tree), report, PUBLISHED_SECONDS)
        cache.set(_published_key("row", initiative, now, tree), row, PUBLISHED_SECONDS)
        started += frozen
        planned += not frozen
    return planned, started


def quarter_end_instant(quarter: Quarter) -> datetime:
    return d.local_midnight(quarter.end, reading_profile())


def gains(user: User, quarter: Quarter, *, now: datetime) -> Gains:
    """The quarter's gains ``user`` may see (module docstring)."""
    tree = TeamTree.load()
    visible = initiatives.visible_initiatives(user).filter(starts_on__lte=quarter.last)
    found = initiatives.with_teams(visible.defer("frozen"))  # read again only to compute a row not published
    rows = [published_row(initiative, now=now, tree=tree) for initiative in found if running_in(initiative, quarter)]
    policy_ids = list(
        reminder_policies.visible_policies(user)
        .filter(Q(holdout_percent__gt=0) | Q(pk__in=Reminder.objects.held_out().values("policy_id")))
        .values_list("pk", flat=True)
    )
    measured = None
    if policy_ids:
        until = min(now, quarter_end_instant(quarter) + holdout.HORIZON)
        measured = holdout.holdout_measure(policy_ids, now=until)
    return Gains(quarter, tuple(rows), measured, len(policy_ids))


def quarter_of(now: datetime) -> Quarter:
    return Quarter.of(org_today(now))


# --- CSV --------------------------------------------------------------------------------------------------------

HEADER = (
    "record",
    "initiative",
    "teams",
    "metric",
    "estimate",
    "low",
    "high",
    "verdict",
    "hours_saved",
    "hours_saved_low",
    "hours_saved_high",
    "survey_points",
    "note",
)


def _figure(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}" if abs(value) < 1 else f"{value:.2f}"


def csv_rows(found: Gains) -> list[list[str]]:
    """One row per initiative (its first primary metric's estimate, verdict, hours saved, mean survey points) and
    one for the holdout (reminded − held out median pickup, hours)."""
    rows = []
    for row in found.rows:
        first = row.first
        estimate, _ = judged(first) if row.report.started else (None, False)
        hours = row.hours
        rows.append(
            [
                "initiative",
                spreadsheet_text(row.initiative.name),
                spreadsheet_text(row.teams),
                first.key if first is not None else "",
                _figure(estimate.value if estimate else None),
                _figure(estimate.low if estimate else None),
                _figure(estimate.high if estimate else None),
                str(row.verdict) + (" (associated: no comparison teams)" if row.associated else ""),
                _figure(hours.value if hours else None),
                _figure(hours.low if hours else None),
                _figure(hours.high if hours else None),
                _figure(row.sentiment.points),
                spreadsheet_text(row.report.headline),
            ]
        )
    if found.holdout is not None:
        change = found.holdout.comparison.median_change
        rows.append(
            [
                "holdout",
                "Review reminders' holdout",
                "",
                "pickup_time",
                _figure(change.value if change else None),
                _figure(change.low if change else None),
                _figure(change.high if change else None),
                "",
                "",
                "",
                "",
                "",
                found.holdout.words,
            ]
        )
    return rows

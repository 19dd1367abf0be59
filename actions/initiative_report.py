"""An initiative's report: its reads (``actions.initiative_reads``) put through the estimates (``actions.estimates``),
for its page, the list's headline and the CSV export.

Per metric (the primary ones, then the guardrail):

- the **comparison teams**, chosen by ``estimates.select_comparison`` from the candidates at the treated teams'
  depth: not in another initiative on the same dimension or metric running meanwhile, with a baseline (over the
  ``window_days`` before the start) within a factor 2 of the treated teams' mean frozen baseline, the 10 closest
  (fewer than five so close: the closest others make up five, with a warning);
- the **observations**: each team's weekly values (the weeks of ``initiative_reads``; a week without data is left
  out, never 0). So ``n`` counts team-weeks, and the before/after medians are medians of weekly values;
- the **difference-in-differences** (``estimates.diff_in_diff``; ``estimates.staggered`` when the teams start on
  different weeks: one estimate per cohort, and their aggregate), the **before/after** of the treated teams
  (bootstrap seeded with the initiative's id, so a page shows the same interval every time), the **warnings** and
  the **words** (``estimates.describe``, in the metric's unit).

**Reads**, a fixed number of queries however many teams the level holds: the treated teams' weeks and baselines
at once, every candidate's baseline at once (all the selection needs), then the weeks of the teams chosen for some
metric at once (``initiative_reads.with_weeks``).

Before the start nothing is estimated: the page shows the weeks so far and the baselines ("baseline only").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any

from actions import estimates, initiative_reads
from actions.initiative_reads import Reads, SurveySide, TeamSeries
from actions.models import Initiative
from actions.models.initiatives import WorseWhen, org_today
from actions.threshold_metrics import METRICS, Metric
from e360.models import Team
from e360.stats import whole
from e360.tree import TeamTree
from insights import engine
from insights.stats import MINUS

UNITS = {
    "hours": estimates.Unit.HOURS,
    "minutes": estimates.Unit.MINUTES,
    "%": estimates.Unit.PERCENT,
    "per week": estimates.Unit.PER_WEEK,
    "pull requests": estimates.Unit.PULL_REQUESTS,
    "lines": estimates.Unit.LINES,
}
COMPARISON_FACTOR = 2.0
MAX_COMPARISON = 10


class Phase(StrEnum):
    PLANNED = "planned"
    RUNNING = "running"
    ENDED = "ended"


PHASE_TEXT = {
    Phase.PLANNED: "Planned: starts later",
    Phase.RUNNING: "Running",
    Phase.ENDED: "Ended: its after window is over",
}


def phase(initiative: Initiative, last_start: date, today: date) -> Phase:
    if initiative.starts_on > today:
        return Phase.PLANNED
    end = last_start + timedelta(days=initiative.ramp_up_days + initiative.window_days)
    return Phase.RUNNING if today < end else Phase.ENDED


@dataclass(frozen=True)
class MetricReport:
    metric: Metric
    name: str  # lower case, as a sentence names it ("pickup time")
    guardrail: bool
    better: estimates.Better
    comparison: tuple[Team, ...]  # chosen, closest baseline first
    left_out: tuple[tuple[Team, str], ...]  # candidates not chosen, and why
    before_after: estimates.BeforeAfter | None  # None: not started
    did: estimates.DiD | estimates.Staggered | None
    words: str | None  # None: not started
    warnings: tuple[estimates.EstimateWarning, ...]
    open_prs: int | None  # None: not a pull-request metric
    chart: dict[str, Any]
    baselines: tuple[tuple[Team, float | None], ...]  # the treated teams' frozen (or, before the start, current)

    @property
    def key(self) -> str:
        return self.metric.key

    @property
    def estimate(self) -> estimates.Estimate | None:
        return self.did.estimate if self.did is not None else None

    @property
    def cohorts(self) -> tuple[estimates.Cohort, ...]:
        return self.did.cohorts if isinstance(self.did, estimates.Staggered) else ()

    @property
    def first_did(self) -> estimates.DiD | None:
        """The DiD whose placebo and trends the page shows: the only one, or the first cohort's."""
        if isinstance(self.did, estimates.Staggered):
            return self.did.cohorts[0].did if self.did.cohorts else None
        return self.did

    @property
    def placebo(self) -> estimates.Estimate | None:
        did = self.first_did
        return did.placebo if did is not None else None

    def text(self, value: float | None) -> str:
        """A figure with its unit, rounded as the estimates' words round: whole from 10 up, else one decimal."""
        if value is None:
            return "no value"
        decimal = Decimal(str(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
        figure = str(whole(value)) if abs(value) >= 10 else str(decimal).removesuffix(".0")
        figure = "0" if figure in ("-0", "-0.0") else figure.replace("-", MINUS)
        return f"{figure}%" if self.metric.unit == "%" else f"{figure} {self.metric.unit}"

    def interval(self, estimate: estimates.Estimate) -> str:
        return f"{estimate.confidence * 100:g}% interval {self.text(estimate.low)} to {self.text(estimate.high)}"

    @property
    def summary(self) -> str:
        """The estimate in words (no words: no treated team has started)."""
        return self.words if self.words is not None else f"{self.metric.label}: too little data to tell"

    @property
    def figure_rows(self) -> list[tuple[str, str, str]]:
        """The before/after figures as the page's table shows them: (what, value, interval)."""
        found = self.before_after
        if found is None or not found.enough:
            return []
        rows = []
        for label, estimate in (
            ("Median before", found.median_before),
            ("Median after", found.median_after),
            ("Median change", found.median_change),
            ("p75 before", found.p75_before),
            ("p75 after", found.p75_after),
            ("p75 change", found.p75_change),
        ):
            if estimate is not None:
                rows.append((label, self.text(estimate.value), self.interval(estimate)))
        return rows

    @property
    def placebo_text(self) -> str | None:
        """The placebo in a sentence; None when there is no DiD to check."""
        placebo = self.placebo
        if placebo is None:
            return None
        figures = f"{self.text(placebo.value)} ({self.interval(placebo)})"
        if placebo.excludes_zero:
            return (
                f"A placebo start in the middle of the before window shows a difference of {figures}: the groups "
                "were already drifting apart before the start."
            )
        return (
            f"A placebo start in the middle of the before window shows {figures}, an interval that includes no "
            "difference, as it should when nothing happened then."
        )

    def cohort_words(self, cohort: estimates.Cohort) -> str:
        return estimates.describe(self.name, unit=UNITS[self.metric.unit], did=cohort.did)

    @property
    def cohort_rows(self) -> list[tuple[date, tuple[int, ...], str]]:
        """Per cohort of a staggered start: its start, its teams' ids and its estimate in words."""
        return [(cohort.start, cohort.teams, self.cohort_words(cohort)) for cohort in self.cohorts]


@dataclass(frozen=True)
class Report:
    initiative: Initiative
    reads: Reads
    phase: Phase
    metrics: tuple[MetricReport, ...]  # the primary ones
    guardrail: MetricReport | None
    survey: tuple[SurveySide, ...]

    @property
    def started(self) -> bool:
        return self.phase != Phase.PLANNED

    @property
    def team_rows(self) -> list[tuple[TeamSeries, date, list[str]]]:
        """Each target team with its start as set and its baseline of each primary metric, written out."""
        rows = []
        for series in self.reads.targets:
            texts = [
                metric.text({team.pk: v for team, v in metric.baselines}.get(series.team.pk)) for metric in self.metrics
            ]
            rows.append((series, self.reads.declared_starts[series.team.pk], texts))
        return rows

    @property
    def phase_text(self) -> str:
        return PHASE_TEXT[self.phase]

    @property
    def headline(self) -> str:
        """The first primary metric's estimate in words (the list's column)."""
        if not self.started:
            return "Baseline only: it has not started"
        first = self.metrics[0] if self.metrics else None
        if first is None:
            return "Too little data to tell"
        return first.summary


def _baseline(initiative: Initiative, series: TeamSeries, key: str) -> float | None:
    frozen = (initiative.frozen or {}).get("baselines", {}).get(str(series.team.pk))
    if frozen is not None:
        return frozen["values"].get(key)
    return series.baseline.get(key)


def _mean(values: list[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def _line(series: list[TeamSeries], key: str, count: int) -> list[float | None]:
    """The mean of the teams' weekly values, week by week (None: no team has data that week)."""
    line = []
    for n in range(count):
        values = [value for s in series if (value := s.weekly[key][n]) is not None]
        line.append(None if not values else round(_mean(values) or 0.0, 4))
    return line


def _trend(did: estimates.DiD | None) -> dict[str, Any]:
    """The pre-period trends side by side: each group's weekly means before the start, minus the group's own
    before-window mean (parallel lines: the comparison's change stands for what would have happened)."""
    if did is None:
        return {"labels": [], "treated": [], "comparison": []}
    before = [point for point in did.trends if point.phase == "before"]
    out: dict[str, Any] = {"labels": [f"week {point.offset}".replace("-", "−") for point in before]}
    for group in ("treated", "comparison"):
        values = [getattr(point, group) for point in before]
        centre = _mean([v for v in values if v is not None])
        out[group] = [None if v is None or centre is None else round(v - centre, 4) for v in values]
    return out


@dataclass(frozen=True)
class Choice:
    """A metric's comparison teams (``estimates.select_comparison``), and the candidates left out with why."""

    selection: estimates.Selection | None  # None: the treated teams have no baseline
    chosen: tuple[int, ...]
    left_out: tuple[tuple[Team, str], ...]


def _choice(initiative: Initiative, reads: Reads, key: str) -> Choice:
    starts = {series.team.pk: series.start for series in reads.targets if series.start is not None}
    known = [v for series in reads.targets if (v := _baseline(initiative, series, key)) is not None]
    if not known:
        return Choice(
            None, (), tuple((s.team, "the treated teams have no baseline to compare with") for s in reads.candidates)
        )
    window, ramp = timedelta(days=initiative.window_days), timedelta(days=initiative.ramp_up_days)
    selection = estimates.select_comparison(
        [estimates.Candidate(s.team.pk, s.depth, s.start, s.baseline.get(key)) for s in reads.candidates],
        treated=set(starts),
        level=reads.level,
        baseline=max(_mean(known) or 0.0, 0.0),
        after_end=max(starts.values(), default=initiative.starts_on) + ramp + window,
        factor=COMPARISON_FACTOR,
        max_teams=MAX_COMPARISON,
    )
    by_id = {series.team.pk: series.team for series in reads.candidates}
    left_out = tuple((by_id[team], estimates.REASONS[reason]) for team, reason in selection.left_out)
    return Choice(selection, selection.chosen, left_out)


def _metric_report(
    initiative: Initiative,
    reads: Reads,
    key: str,
    choice: Choice,
    *,
    guardrail: bool,
    open_prs: dict[str, int],
    guardrail_warning: estimates.EstimateWarning | None = None,
) -> MetricReport:
    metric = METRICS[key]
    name = engine.METRICS[key].label
    better = estimates.Better.LOWER if metric.higher_is_worse else estimates.Better.HIGHER
    if guardrail and initiative.guardrail_worse_when:
        worse_rises = initiative.guardrail_worse_when == WorseWhen.RISES
        better = estimates.Better.LOWER if worse_rises else estimates.Better.HIGHER
    window, ramp = timedelta(days=initiative.window_days), timedelta(days=initiative.ramp_up_days)
    starts = {series.team.pk: series.start for series in reads.targets if series.start is not None}
    treated_baselines = {series.team.pk: _baseline(initiative, series, key) for series in reads.targets}
    known = [value for value in treated_baselines.values() if value is not None]
    by_id = {series.team.pk: series for series in (*reads.targets, *reads.candidates)}
    chosen = choice.chosen
    comparison = [by_id[team] for team in chosen]
    count = len(reads.weeks)
    labels = [f"{week.day} {week:%b}" for week in reads.weeks]
    chart: dict[str, Any] = {
        "key": key,
        "label": metric.label,
        "unit": metric.unit,
        "labels": labels,
        "treated": _line(list(reads.targets), key, count),
        "comparison": _line(comparison, key, count),
        "starts": [labels[reads.weeks.index(s)] for s in sorted(set(starts.values())) if s in reads.weeks],
    }
    report_baselines = tuple((series.team, treated_baselines[series.team.pk]) for series in reads.targets)
    if not reads.started or not starts:
        chart["trend"] = _trend(None)
        return MetricReport(
            metric,
            name,
            guardrail,
            better,
            tuple(s.team for s in comparison),
            choice.left_out,
            None,
            None,
            None,
            (),
            open_prs.get(key),
            chart,
            report_baselines,
        )
    observations = {
        team: [
            (week, value) for week, value in zip(reads.weeks, by_id[team].weekly[key], strict=True) if value is not None
        ]
        for team in [*starts, *chosen]
    }
    did: estimates.DiD | estimates.Staggered
    if len(set(starts.values())) > 1:
        did = estimates.staggered(
            observations,
            starts=starts,
            candidates={team: by_id[team].start for team in chosen},
            length=window,
            ramp=ramp,
        )
        first = did.cohorts[0].did if did.cohorts else None
    else:
        start = next(iter(starts.values()))
        did = first = estimates.diff_in_diff(
            observations,
            treated=list(starts),
            comparison=list(chosen),
            windows=estimates.Windows(start, window, ramp),
        )
    before_after = estimates.before_after(
        {team: observations[team] for team in starts}, starts=starts, length=window, ramp=ramp, seed=initiative.pk
    )
    everyone = known + [v for s in reads.candidates if (v := s.baseline.get(key)) is not None]
    regression = estimates.regression_to_mean(known, everyone, better=better) if not guardrail else None
    found = list(
        estimates.warnings_for(
            before_after=before_after,
            did=first,
            regression=regression,
            guardrails=[guardrail_warning],
            open_items=open_prs.get(key, 0),
            comparison=estimates.dissimilar_comparison(choice.selection, COMPARISON_FACTOR),
        )
    )
    if isinstance(did, estimates.Staggered):  # a later cohort's placebo may show drift the first's does not
        codes = {w.code for w in found}
        for cohort in did.cohorts[1:]:
            drift = estimates.pre_trends_differ(cohort.did.placebo)
            if drift is not None and drift.code not in codes:
                found.append(drift)
                codes.add(drift.code)
    chart["trend"] = _trend(first)
    words = estimates.describe(name, unit=UNITS[metric.unit], did=did, before_after=before_after)
    return MetricReport(
        metric,
        name,
        guardrail,
        better,
        tuple(s.team for s in comparison),
        choice.left_out,
        before_after,
        did,
        words,
        tuple(found),
        open_prs.get(key),
        chart,
        report_baselines,
    )


def initiative_report(
    initiative: Initiative,
    *,
    now: datetime,
    headline_only: bool = False,
    survey: bool | None = None,
    tree: TeamTree | None = None,
) -> Report:
    """The initiative's report (module docstring); ``headline_only``: the first primary metric and the guardrail (the
    list and the velocity gains); ``survey``: with the survey side (by default unless ``headline_only``).

    Its reads do not grow with the number of teams: the treated teams' weeks and baselines at once, the candidates'
    baselines at once, then the weeks of the comparison teams chosen for some metric at once."""
    keys = None
    if headline_only:
        keys = [
            *initiative.primary_metrics[:1],
            *([initiative.guardrail_metric] if initiative.guardrail_metric else []),
        ]
    today = org_today(now)
    # A headline before the start is "baseline only": no comparison to choose.
    started = initiative.starts_on <= today
    reads = initiative_reads.initiative_reads(
        initiative, now=now, keys=keys, tree=tree, candidates=started or not headline_only
    )
    choices = {key: _choice(initiative, reads, key) for key in reads.keys}
    reads = initiative_reads.with_weeks(reads, {team for choice in choices.values() for team in choice.chosen})
    starts = [series.start for series in reads.targets if series.start is not None]
    current = phase(initiative, max(starts, default=initiative.starts_on), today)
    open_prs = initiative_reads.open_at_cutoff(initiative, reads) if reads.started else {}
    guardrail = None
    warning = None
    key = initiative.guardrail_metric
    if key and key in reads.keys:
        guardrail = _metric_report(initiative, reads, key, choices[key], guardrail=True, open_prs={})
        change = guardrail.before_after.median_change if guardrail.before_after else None
        warning = estimates.guardrail_worsened(guardrail.name, change, better=guardrail.better)
    primary = tuple(
        _metric_report(
            initiative, reads, key, choices[key], guardrail=False, open_prs=open_prs, guardrail_warning=warning
        )
        for key in initiative.primary_metrics
        if key in reads.keys
    )
    with_survey = not headline_only if survey is None else survey
    sides = tuple(initiative_reads.survey_sides(initiative, now=now)) if with_survey else ()
    return Report(initiative, reads, current, primary, guardrail, sides)

"""An initiative's report as CSV rows (``actions.views.initiatives.initiative_csv``): one row per figure.

``record`` says what a row is: an estimate (``did``, ``did cohort``, ``placebo``, ``median before`` …), a team's
``baseline``, a team's value in a ``week``, or the ``survey`` side. Values are in the metric's ``unit``; an empty
value is no data (never 0). A survey score hidden by the anonymity rules has no value, only its note.
"""

from __future__ import annotations

from actions.estimates import Estimate
from actions.initiative_report import MetricReport, Report
from e360.exports import spreadsheet_text

HEADER = ["record", "metric", "unit", "group", "team", "week", "value", "low", "high", "n_before", "n_after", "note"]


def _number(value: float | None) -> str:
    return "" if value is None else str(round(value, 4))


def _estimate_row(record: str, metric: MetricReport, estimate: Estimate | None, **extra: str) -> list[str]:
    values = {"value": "", "low": "", "high": ""}
    if estimate is not None:
        values = {"value": _number(estimate.value), "low": _number(estimate.low), "high": _number(estimate.high)}
    return _row(record, metric, **values, **extra)


def _row(record: str, of: MetricReport | None, **values: str) -> list[str]:
    base = {"record": record, "metric": of.key if of else "", "unit": of.metric.unit if of else ""}
    base = {**base, **{name: value for name, value in values.items() if name in base and value}}
    return [base.get(column, values.get(column, "")) for column in HEADER]


def _metric_rows(report: Report, metric: MetricReport) -> list[list[str]]:
    group = "guardrail" if metric.guardrail else "primary"
    rows = [
        _row("baseline", metric, group="treated", team=spreadsheet_text(team.name), value=_number(value))
        for team, value in metric.baselines
    ]
    if metric.before_after is not None:
        before_after = metric.before_after
        counts = {"n_before": str(before_after.n_before), "n_after": str(before_after.n_after)}
        for record, estimate in (
            ("median before", before_after.median_before),
            ("median after", before_after.median_after),
            ("median change", before_after.median_change),
            ("p75 before", before_after.p75_before),
            ("p75 after", before_after.p75_after),
            ("p75 change", before_after.p75_change),
        ):
            rows.append(_estimate_row(record, metric, estimate, group="treated", **counts))
    if metric.did is not None:
        teams = "; ".join(spreadsheet_text(team.name) for team in metric.comparison)
        rows.append(_estimate_row("did", metric, metric.estimate, group=group, team=teams, note=metric.words or ""))
        rows.append(_estimate_row("placebo", metric, metric.placebo, group=group))
        for cohort in metric.cohorts:
            rows.append(
                _estimate_row(
                    "did cohort",
                    metric,
                    cohort.did.estimate,
                    group=cohort.start.isoformat(),
                    note=metric.cohort_words(cohort) or "",
                )
            )
    for warning in metric.warnings:
        rows.append(_row("warning", metric, group=warning.code, note=warning.text))
    weeks = report.reads.weeks
    named = {team.pk for team in metric.comparison}
    for role, group_series in (
        ("treated", list(report.reads.targets)),
        ("comparison", [series for series in report.reads.candidates if series.team.pk in named]),
    ):
        for series in group_series:
            for week, value in zip(weeks, series.weekly[metric.key], strict=True):
                rows.append(
                    _row(
                        "week",
                        metric,
                        group=role,
                        team=spreadsheet_text(series.team.name),
                        week=week.isoformat(),
                        value=_number(value),
                    )
                )
    return rows


def rows(report: Report) -> list[list[str]]:
    found: list[list[str]] = []
    for metric in (*report.metrics, *([report.guardrail] if report.guardrail else [])):
        found.extend(_metric_rows(report, metric))
    survey = f"survey.{report.initiative.survey_dimension or report.initiative.dimension}"
    for side in report.survey:
        for record, value, text in (
            ("survey before", side.before, side.before_text),
            ("survey after", side.after, side.after_text),
        ):
            found.append(
                _row(
                    record,
                    None,
                    metric=survey,
                    unit="%",
                    team=spreadsheet_text(side.team.name),
                    value=_number(value),
                    note=text,
                )
            )
    return found

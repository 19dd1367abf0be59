"""Survey results pages: the list of campaigns with results, a campaign's results, and their CSV export.

Every figure comes from ``surveys.results`` (which applies the anonymity rules): the page, the CSV and the API
render the same ``Results`` for the same viewer and team, so they agree by construction. A campaign none of whose
teams the viewer may see is a 404, like a campaign that does not exist.
"""

from __future__ import annotations

import csv
from typing import TYPE_CHECKING

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from e360.exports import spreadsheet_text
from e360.forms import TeamForm
from e360.htmx import html_join, htmx_page, page_or_partial, select_options
from e360.stats import whole
from e360.templatetags.team_tree import tree_indent
from surveys import results as selectors
from surveys.anonymity import Status
from surveys.models import Kind

if TYPE_CHECKING:
    from e360.htmx import HtmxHttpRequest
    from surveys.results import DimensionFigure, EnpsFigure, GroupResult, QuestionFigure, Results

# The page lists every team the viewer sees, up to PAGE_TEAMS; beyond (a large organisation), the picked group and
# two levels below it (the organisation: its groups). The CSV and the API list every team the viewer sees.
PAGE_TEAMS = 60
PAGE_LEVELS = 2
TEMPLATE = "surveys/results.html"
CSV_HEADER = [
    "group",
    "team",
    "figure",
    "key",
    "label",
    "status",
    "n",
    "invited",
    "responded",
    "participation_percent",
    "percent_favourable",
    "mean",
    "enps",
    "change_vs_previous_wave",
    "change_vs_org",
    "percentile_among_teams",
    "teams_compared",
    "distribution",
]


@login_required
@require_GET
def results_index(request: HtmxHttpRequest) -> HttpResponse:
    campaigns = selectors.campaigns_for_user(request.user)
    # The smallest k listed: true of each campaign ("at least 5" holds where k is 7), exact when all share it.
    k = min((c.k for c in campaigns), default=None)
    return render(request, "surveys/results_index.html", {"campaigns": campaigns, "k": k})


def _team(request: HtmxHttpRequest) -> str | None:
    """``?team=``: the group the page or the CSV focuses on (none: the organisation)."""
    return TeamForm.parse(request.GET)["team"] or None


# never_cache: the pages hold written answers, which no browser or proxy cache should keep.
@never_cache
@login_required
@htmx_page
def campaign_results(request: HtmxHttpRequest, campaign_id: int) -> HttpResponse:
    scope = selectors.campaign_for_user(request.user, campaign_id)
    team = _team(request)
    levels = PAGE_LEVELS if len(scope.visible) > PAGE_TEAMS else None
    results = selectors.campaign_results(scope, team=team, levels=levels, every_question=False)
    page_url = reverse("surveys:results", args=[campaign_id])
    query = f"?team={results.focus.group.slug}" if team else ""
    context = {
        "campaign": scope.campaign,
        "results": results,
        "charts": _charts(results),
        "team_options": select_options(((t.slug, t.label) for t in results.teams), results.focus.group.slug),
        "heatmap_rows": _heatmap_rows(results, page_url) if results.published else "",
        "page_url": page_url,
        "csv_url": reverse("surveys:results-csv", args=[campaign_id]) + query,
        "api_url": reverse("api-v1:campaign_results", args=[campaign_id]) + query,
    }
    return render(request, page_or_partial(request, TEMPLATE, "content"), context)


# --- The heatmap ----------------------------------------------------------------------------------------------------


def _heatmap_rows(results: Results, page_url: str) -> SafeString:
    """The heatmap's rows, made in Python (``html_join``): an organisation's 42 groups × 10 figures cost a template
    loop about 35 ms, a third of the page. Each group's name opens its results; a hidden figure says why."""
    since = "" if results.previous is None else f" points since wave {results.previous.wave}"
    rows = []
    for row in results.groups:
        url = page_url if row.group.is_org else f"{page_url}?team={row.group.slug}"
        cells: list[HeatCell] = [
            ("num", row.responses, "") if row.shown else ("heat heat--hidden", row.status_text, "")
        ]
        cells += [
            _heat_cell(cell, cell.percent_favourable, "%", f"heat heat--{cell.heat}", row.shown, since)
            for cell in row.dimensions
        ]
        if row.enps is not None:
            cells.append(_heat_cell(row.enps, row.enps.score, "", "num heat heat--enps", row.shown, since))
        focus = _FOCUS if row.group.id == results.focus.group.id else ""
        rows.append((focus, tree_indent(row.group.indent), url, url, row.group.name, html_join(_CELL, cells)))
    return html_join(_ROW, rows)


_ROW = (
    '<tr{}><th scope="row" class="heatmap__group"><span class="results__name {}"><a href="{}" hx-get="{}"'
    ' hx-target="#results-content" hx-swap="outerHTML" hx-push-url="true">{}</a></span></th>{}</tr>'
)
_CELL = '<td class="{}">{}{}</td>'
_FOCUS = mark_safe(' class="heatmap__focus"')
HeatCell = tuple[str, object, SafeString | str]  # a heatmap cell's classes, figure or status text, and change


def _heat_cell(
    figure: DimensionFigure | EnpsFigure, value: float | None, unit: str, classes: str, row_shown: bool, since: str
) -> HeatCell:
    """A shown figure, whole, with its change since the previous wave under it; or why it is hidden ("no data" in a
    shown row, else too few or protecting a small group)."""
    if not figure.shown or value is None:
        hidden = "heat--none" if figure.status == Status.NO_DATA and row_shown else "heat--hidden"
        return f"heat {hidden}", figure.status_text, ""
    if figure.change_wave is None:
        return classes, f"{whole(value)}{unit}", ""
    change = '<span class="heat__change">{}<span class="visually-hidden">{}</span></span>'
    return classes, f"{whole(value)}{unit}", html_join(change, [(figure.change_wave_text, since)])


def _charts(results: Results) -> list[dict]:
    """The focused group's distributions, one bar chart per question, for static/surveys/results.js."""
    if not results.published or not results.focus.shown:
        return []
    charts = []
    for figure in results.focus.questions:
        if not figure.shown:
            continue
        question = figure.question
        charts.append(
            {
                "id": f"chart-q{question.pk}",
                "horizontal": question.kind != Kind.ENPS,
                "labels": [bar.label for bar in figure.bars],
                "counts": [bar.count for bar in figure.bars],
                "tones": [bar.tone for bar in figure.bars],
            }
        )
    return charts


# --- CSV ------------------------------------------------------------------------------------------------------------


@never_cache
@login_required
@htmx_page
def campaign_results_csv(request: HtmxHttpRequest, campaign_id: int) -> HttpResponse:
    scope = selectors.campaign_for_user(request.user, campaign_id)
    team = _team(request)
    results = selectors.campaign_results(scope, team=team)
    name = f"survey-{campaign_id}-results" + (f"-{results.focus.group.slug}" if team else "") + ".csv"
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    writer = csv.writer(response)
    writer.writerow(CSV_HEADER)
    writer.writerows(csv_rows(results))
    return response


def _number(value: float | None, digits: int) -> str:
    return "" if value is None else str(round(value, digits))


def csv_rows(results: Results) -> list[list[str]]:
    """The aggregates of ``results`` as rows of ``CSV_HEADER``; a hidden figure's value columns hold its status text."""
    rows: list[list[str]] = []
    for group in results.groups:
        rows.extend(_group_rows(results, group))
    return rows


def _count(value: int | None) -> str:
    return "" if value is None else str(value)


def _row(group: GroupResult, figure: str, key: str, label: str, status: Status | None, **values: str) -> list[str]:
    base = {
        "group": spreadsheet_text(group.group.name),
        "team": group.group.slug,
        "figure": figure,
        "key": key,
        "label": spreadsheet_text(label),
        "status": status or "",
    }
    return [base.get(column, values.get(column, "")) for column in CSV_HEADER]


def _change(figure: DimensionFigure | EnpsFigure | QuestionFigure) -> str:
    """A change since the previous wave, or why it is hidden (to protect a small group: ``anonymity.wave_change``)."""
    return selectors.status_text(Status.SUPPRESSED, 0) if figure.change_wave_hidden else _number(figure.change_wave, 1)


def _hidden(status_text: str, *columns: str) -> dict[str, str]:
    return dict.fromkeys(columns, status_text)


def _group_rows(results: Results, group: GroupResult) -> list[list[str]]:
    rows = []
    p = group.participation
    if p.shown and p.participation is not None:
        part = p.participation
        rows.append(
            _row(
                group,
                "participation",
                "",
                "Participation",
                Status.SHOWN,
                invited=str(part.invited),
                responded=str(part.responded),
                participation_percent=_number(None if part.rate is None else 100 * part.rate, 1),
            )
        )
    else:
        text = p.status_text
        rows.append(
            _row(
                group,
                "participation",
                "",
                "Participation",
                p.status,
                **_hidden(text, "invited", "responded", "participation_percent"),
            )
        )
    if not results.published:
        return rows
    if group.shown:
        rows.append(_row(group, "responses", "", "Responses", Status.SHOWN, n=str(group.responses)))
    else:
        rows.append(_row(group, "responses", "", "Responses", group.status, n=group.status_text))
    for d in group.dimensions:
        if d.shown:
            values = {
                "percent_favourable": _number(d.percent_favourable, 1),
                "mean": _number(d.mean, 2),
                "change_vs_previous_wave": _change(d),
                "change_vs_org": _number(d.change_org, 1),
                "percentile_among_teams": _number(d.percentile, 1),
                "teams_compared": _count(d.peers),
            }
        else:
            values = _hidden(d.status_text, "percent_favourable", "mean")
        rows.append(_row(group, "dimension", d.key, d.label, d.status, **values))
    if group.enps is not None:
        e = group.enps
        if e.shown and e.enps is not None:
            values = {
                "n": str(e.enps.answered),
                "enps": _number(e.score, 1),
                "change_vs_previous_wave": _change(e),
                "change_vs_org": _number(e.change_org, 1),
                "percentile_among_teams": _number(e.percentile, 1),
                "teams_compared": _count(e.peers),
            }
        else:
            values = _hidden(e.status_text, "n", "enps")
        rows.append(_row(group, "enps", "", "eNPS", e.status, **values))
    for q in group.questions:
        if q.shown:
            values = {
                "n": str(q.answered),
                "percent_favourable": _number(q.percent_favourable, 1),
                "mean": _number(q.mean, 2),
                "enps": _number(None if q.enps is None else q.enps.score, 1),
                "change_vs_previous_wave": _change(q),
                "change_vs_org": _number(q.change_org, 1),
                "distribution": spreadsheet_text("; ".join(f"{bar.label}: {bar.count}" for bar in q.bars)),
            }
        else:
            values = _hidden(q.status_text, "n", "percent_favourable", "mean", "enps", "distribution")
        rows.append(_row(group, "question", q.question.key, q.question.text, q.status, **values))
    return rows

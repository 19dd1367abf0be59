"""The initiatives' pages: the list of those a user may see with each one's headline effect, one initiative's report
(its timelines, estimates, warnings, guardrail and survey side) and its CSV export, as published hourly
(``actions.gains.published_report``). An initiative is seen by whoever may see all its teams
(``actions.initiatives.visible_initiatives``); anyone else gets a 404."""

from __future__ import annotations

import csv

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from actions import gains, initiative_export, initiatives, thresholds
from e360.htmx import HtmxHttpRequest
from e360.tree import TeamTree
from metrics.views.lists import ListPage

# Each listed initiative's headline is its published row (``actions.gains.published_row``): a short page all the same.
PER_PAGE = 10


@login_required
@require_GET
def initiative_list(request: HtmxHttpRequest) -> HttpResponse:
    # The frozen figures are read again only to compute a row not published.
    rows = initiatives.with_teams(initiatives.visible_initiatives(request.user).defer("frozen"))
    page = Paginator(rows, PER_PAGE).get_page(request.GET.get("page"))
    now = timezone.now()
    tree = TeamTree.load()
    listed = [(initiative, gains.published_row(initiative, now=now, tree=tree).report) for initiative in page]
    managed = thresholds.managed_team_ids(request.user)
    may_add = managed is None or bool(managed)
    context = {"listed": listed, "pages": ListPage.of(page, request.GET, "page"), "may_add": may_add}
    return render(request, "actions/initiative_list.html", context)


@login_required
@require_GET
def initiative_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    initiative = initiatives.get_initiative_for_user(request.user, pk)
    report = gains.published_report(initiative, now=timezone.now())
    charts = [metric.chart for metric in report.metrics]
    managed = thresholds.managed_team_ids(request.user)
    may_edit = managed is None or {target.team_id for target in initiative.targets.all()} <= managed
    context = {"initiative": initiative, "report": report, "charts": charts, "may_edit": may_edit}
    return render(request, "actions/initiative_detail.html", context)


@login_required
@require_GET
def initiative_csv(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    initiative = initiatives.get_initiative_for_user(request.user, pk)
    report = gains.published_report(initiative, now=timezone.now())
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="initiative-{initiative.pk}.csv"'
    writer = csv.writer(response)
    writer.writerow(initiative_export.HEADER)
    writer.writerows(initiative_export.rows(report))
    return response

"""Bottleneck pages: the precomputed bottleneck ranking (``insights.selectors``) of a team or the organisation.

One template; the period picker's htmx requests get its ``content`` partial, and every URL also renders the whole
page (links work without JavaScript, pushed URLs reload to the same state). The organisation's page is for org
viewers only (``e360.access.require_org_viewer``); anyone else gets a 404, like a team they may not see.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse

from e360 import access
from e360.htmx import HtmxHttpRequest, htmx_page, page_or_partial
from insights import engine, selectors
from insights.forms import InsightsForm

TEMPLATE = "insights/bottlenecks.html"


@login_required
@htmx_page
def org_bottlenecks(request: HtmxHttpRequest) -> HttpResponse:
    access.require_org_viewer(request.user, "No organisation insights for you.")
    days = InsightsForm.parse(request.GET)["days"]
    result = selectors.bottlenecks(None, days, request.user)
    org_rows = [(item, result.hits.get(item.dimension, ())) for item in result.items]
    context = {
        "team": None,
        "result": result,
        "org_rows": org_rows,
        "dimensions": engine.DIMENSIONS,
        "grid_rows": selectors.grid_rows_html(result.grid),
    }
    return _render(request, context)


@login_required
@htmx_page
def team_bottlenecks(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    team = access.get_team_for_user(request.user, slug)
    days = InsightsForm.parse(request.GET)["days"]
    result = selectors.bottlenecks(team, days, request.user)
    sentiment = selectors.sentiment(team, request.user)
    rows = [(item, result.evidence_urls.get(item.dimension, [])) for item in result.items]
    context = {"team": team, "result": result, "rows": rows, "sentiment": sentiment}
    if selectors.correlates_below(team, request.user):
        context["correlations_url"] = reverse("insights:team-correlations", args=[team.slug])
    return _render(request, context)


def _render(request: HtmxHttpRequest, context: dict) -> HttpResponse:
    context["periods"] = selectors.STANDARD_DAYS
    return render(request, page_or_partial(request, TEMPLATE, "content"), context)

"""Correlation pages: the precomputed correlations (``insights.selectors``) between sentiment and delivery across
the organisation's teams, or across the teams below one.

One template; the period picker's and the pair links' htmx requests get its ``content`` partial, and every URL
also renders the whole page. The organisation's page is for org viewers only (``e360.access.require_org_viewer``);
a team's (across the teams below it) for whoever may see all of those teams (``e360.access.sees_subtree``, through
``insights.selectors.correlates_below``), and only for a team with sub-teams. Anyone else gets a 404, like a
team they may not see.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import render

from e360 import access
from e360.htmx import HtmxHttpRequest, htmx_page, page_or_partial
from e360.models import Team
from insights import selectors
from insights.forms import CorrelationsForm

TEMPLATE = "insights/correlations.html"


@login_required
@htmx_page
def correlations(request: HtmxHttpRequest) -> HttpResponse:
    access.require_org_viewer(request.user, "No organisation insights for you.")
    return _correlations(request, None)


@login_required
@htmx_page
def team_correlations(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    team = access.get_team_for_user(request.user, slug)
    if not selectors.correlates_below(team, request.user):
        raise Http404("No correlations across this team's sub-teams for you.")
    return _correlations(request, team)


def _correlations(request: HtmxHttpRequest, team: Team | None) -> HttpResponse:
    params = CorrelationsForm.parse(request.GET)
    result = selectors.correlations(params["days"], team)
    shown = selectors.pick_pair(result, params["pair"])
    context = {
        "team": team,
        "result": result,
        "shown": shown,
        "charts": _charts(shown),
        "periods": selectors.STANDARD_DAYS,
    }
    return render(request, page_or_partial(request, TEMPLATE, "content"), context)


def _charts(pair: selectors.Pair | None) -> list[dict]:
    """The picked pair's scatter, for static/insights/correlations.js: teams as points (only those whose sentiment
    is shown), % favourable across, the metric up; none below 8 teams."""
    if pair is None or not pair.correlation.enough:
        return []
    return [
        {
            "id": f"scatter-{pair.key}",
            "x": f"{pair.dimension_label} (% favourable)",
            "y": f"{pair.metric_label} ({pair.axis_unit})",
            "points": [{"x": round(p.score, 1), "y": round(p.axis_value, 2), "team": p.team} for p in pair.points],
        }
    ]

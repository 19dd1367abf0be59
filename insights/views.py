"""Bottleneck and correlation pages: the precomputed insights (``insights.selectors``) of a team or the organisation.

One template per page; the period picker's htmx requests get its ``content`` partial, and every URL also renders the
whole page (links work without JavaScript, pushed URLs reload to the same state). The organisation's pages are for
org viewers only (``e360.access.sees_everything``); a team's correlations (across the teams below it) for whoever
may see all of those teams. Anyone else gets a 404, like a team they may not see.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET

from e360 import access
from e360.models import Team
from e360.views import HtmxHttpRequest, is_partial
from insights import engine, selectors
from insights.services import pairs

BOTTLENECKS = "insights/bottlenecks.html"
CORRELATIONS = "insights/correlations.html"
DEFAULT_DAYS = 90
# Periods beyond ten years are not a question anyone asks of an hourly refresh; refuse them rather than guess.
MAX_DAYS = 3650


class BadPeriod(ValueError):
    pass


def _days(request: HtmxHttpRequest) -> int:
    """``?days=``: a whole number of days (a non-standard one is answered with the standard period covering it)."""
    value = request.GET.get("days")
    if value is None or value == "":
        return DEFAULT_DAYS
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= MAX_DAYS:
        raise BadPeriod(value)
    return int(value)


def _render(request: HtmxHttpRequest, template: str, context: dict) -> HttpResponse:
    context["periods"] = selectors.STANDARD_DAYS
    response = render(request, f"{template}#content" if is_partial(request) else template, context)
    # The same URL answers a page or its content partial: caches must tell them apart.
    patch_vary_headers(response, ["HX-Request"])
    return response


def _bad_period() -> HttpResponse:
    return HttpResponseBadRequest(f"days must be a whole number of days from 1 to {MAX_DAYS}.")


@login_required
@require_GET
def org_bottlenecks(request: HtmxHttpRequest) -> HttpResponse:
    if not access.sees_everything(request.user):
        raise Http404("No organisation insights for you.")
    try:
        days = _days(request)
    except BadPeriod:
        return _bad_period()
    result = selectors.bottlenecks(None, days, request.user)
    org_rows = [(item, result.hits.get(item.dimension, ())) for item in result.items]
    context = {"team": None, "result": result, "org_rows": org_rows, "dimensions": engine.DIMENSIONS}
    return _render(request, BOTTLENECKS, context)


@login_required
@require_GET
def team_bottlenecks(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    team = access.get_team_for_user(request.user, slug)
    try:
        days = _days(request)
    except BadPeriod:
        return _bad_period()
    result = selectors.bottlenecks(team, days, request.user)
    sentiment = selectors.sentiment(team, request.user)
    rows = [(item, result.evidence_urls.get(item.dimension, [])) for item in result.items]
    context = {"team": team, "result": result, "rows": rows, "sentiment": sentiment}
    if selectors.correlates_below(team, request.user):
        context["correlations_url"] = reverse("insights:team-correlations", args=[team.slug])
    return _render(request, BOTTLENECKS, context)


@login_required
@require_GET
def correlations(request: HtmxHttpRequest) -> HttpResponse:
    if not access.sees_everything(request.user):
        raise Http404("No organisation insights for you.")
    return _correlations(request, None)


@login_required
@require_GET
def team_correlations(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    return _correlations(request, access.get_team_for_user(request.user, slug))


def _correlations(request: HtmxHttpRequest, team: Team | None) -> HttpResponse:
    try:
        days = _days(request)
    except BadPeriod:
        return _bad_period()
    result = selectors.correlations(days, request.user, team)
    keys = [f"{dimension}--{spec.key}" for dimension, spec in pairs()]
    asked = request.GET.get("pair")
    if asked is not None and asked not in keys:
        return HttpResponseBadRequest("pair must be a dimension and a metric of the mapping, as the table links them.")
    shown = selectors.pick_pair(result, asked)
    context = {"team": team, "result": result, "shown": shown, "charts": _charts(shown)}
    return _render(request, CORRELATIONS, context)


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

"""The leader dashboards: the organisation's (``/dashboard/``, org viewers only) and a team's
(``/teams/<slug>/dashboard/``, whoever may see the team).

One template (``insights/dashboard.html``) serves both. The period picker, the custom period form and the
team picker are links and GET forms that work without JavaScript; with htmx they swap ``#dashboard`` (the
``swap`` partial) and push the URL, and every pushed URL renders the whole page in the same state.

Everything shown is read, never computed from raw rows: delivery figures from rollups
(``insights.dashboards``), survey figures from the published group scores and bottlenecks from the stored
results (``insights.selectors``). A request's query count is fixed; tests hold it.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.db.models import Case, When
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET
from django_htmx.http import reswap, retarget

from e360 import access
from e360.models import Membership, Team, User
from e360.tree import TeamTree
from e360.views import HtmxHttpRequest, is_partial
from insights import dashboards, selectors
from metrics.scope import team_scope

TEMPLATE = "insights/dashboard.html"
TARGET = "dashboard"  # the element id htmx swaps
# How many bottlenecks the dashboards list; the bottleneck page has them all.
TOP_BOTTLENECKS = 5


@login_required
@require_GET
def org_dashboard(request: HtmxHttpRequest) -> HttpResponse:
    """The organisation's dashboard for org viewers; anyone else's dashboard is their team's (the first they lead,
    else the first they belong to), with the period kept; 404 for someone in no team."""
    if access.sees_everything(request.user):
        return _dashboard(request, None)
    membership = (
        Membership.objects.filter(person__user=request.user)
        .select_related("team")
        .order_by(Case(When(role=Membership.Role.LEAD, then=0), default=1), "team__name")
        .first()
    )
    if membership is None:
        raise Http404("The organisation's dashboard is for org viewers, and you are in no team.")
    url = reverse("insights:team-dashboard", args=[membership.team.slug])
    return redirect(f"{url}?{request.GET.urlencode()}" if request.GET else url)


@login_required
@require_GET
def team_dashboard(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    team = access.get_team_for_user(request.user, slug)
    return _dashboard(request, team)


@login_required
@require_GET
def pick_team(request: HtmxHttpRequest) -> HttpResponse:
    """Where the team picker's GET form goes: the chosen dashboard (``team`` empty: the organisation's),
    with the period kept. htmx follows the redirect and pushes the dashboard's own URL."""
    slug = request.GET.get("team", "")
    if slug:
        url = reverse("insights:team-dashboard", args=[access.get_team_for_user(request.user, slug).slug])
    elif access.sees_everything(request.user):
        url = reverse("insights:dashboard")
    else:
        raise Http404("The organisation's dashboard is for org viewers.")
    kept = {name: request.GET[name] for name in ("days", "from", "to") if request.GET.get(name)}
    return redirect(f"{url}?{urlencode(kept)}" if kept else url)


@login_required
@require_GET
def org_summary(request: HtmxHttpRequest) -> HttpResponse:
    """The organisation at a glance for an org viewer's home page (``e360/home.html`` loads it with htmx, and
    links to the dashboard without JavaScript): the dashboard's delivery headline figures, sentiment and top
    bottlenecks for the default period, read as the dashboard reads them. 404 for anyone else."""
    if not access.sees_everything(request.user):
        raise Http404("The organisation's summary is for org viewers.")
    now = timezone.now()
    period = dashboards.period({}, now=now)
    context = {"is_org": True, **_figures(None, request.user, period, now)}
    return render(request, "insights/org_summary.html", context)


def _figures(team: Team | None, user: User, period: dashboards.Period, now: datetime) -> dict:
    """What a dashboard (``team`` None: the organisation's) shows for ``period``: the one read path of the
    dashboards and of the org viewer's home page."""
    context: dict = {"period": period}
    if team is None:
        figures = dashboards.org_figures(period, now=now)
    else:
        scope = team_scope(team, access.visible_team_ids(user), TeamTree.for_user(user))
        context["scope"] = scope
        context["delivery_url"] = reverse("metrics:team-delivery", args=[team.slug])
        figures = dashboards.scope_figures(scope, period, now=now)
        context["waves"] = selectors.sentiment_waves(team, user)
    context["delivery"] = dashboards.delivery(figures, period)
    context["sentiment"] = sentiment = selectors.sentiment(team, user)
    context["sentiment_rows"] = dashboards.sentiment_rows(sentiment)
    found = selectors.bottlenecks(team, period.days, user)
    context["bottlenecks"] = found
    context["top_bottlenecks"] = dashboards.top_bottlenecks(found, TOP_BOTTLENECKS)
    return context


def _dashboard(request: HtmxHttpRequest, team: Team | None) -> HttpResponse:
    user = request.user
    now = timezone.now()
    name = team.name if team is not None else "Organisation"
    context: dict = {
        "team": team,
        "is_org": team is None,
        "page_title": f"Dashboard · {name}",
        "sees_everything": access.sees_everything(user),
        "team_options": dashboards.team_picker_options(
            dashboards.team_options(user), team.slug if team is not None else None
        ),
        "periods": dashboards.PERIODS,
        "max_custom_days": dashboards.MAX_CUSTOM_DAYS,
        "pick_url": reverse("insights:dashboard-pick"),
        "custom_from": request.GET.get("from", ""),
        "custom_to": request.GET.get("to", ""),
    }
    status = 200
    try:
        period = dashboards.period(request.GET, now=now)
    except dashboards.PeriodError as error:
        context["period_error"] = str(error)
        status = 400
    else:
        context["custom_from"], context["custom_to"] = period.first_day.isoformat(), period.last_day.isoformat()
        context.update(_figures(team, user, period, now))
    template = f"{TEMPLATE}#swap" if is_partial(request) else TEMPLATE
    response = render(request, template, context, status=status)
    if status == 400 and is_partial(request):
        # The refusal is the page's own: swapped into the dashboard, not left unshown (static/e360/htmx-errors.js).
        retarget(response, f"#{TARGET}")
        reswap(response, "outerHTML")
    # The same URL answers a page or a fragment: caches must tell them apart.
    patch_vary_headers(response, ["HX-Request"])
    return response

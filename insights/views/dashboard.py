"""The leader dashboards: the organisation's (``/dashboard/``, org viewers only) and a team's
(``/teams/<slug>/dashboard/``, whoever may see the team).

One template (``insights/dashboard.html``) serves both. The period picker, the custom period form and the
team picker are links and GET forms that work without JavaScript; with htmx they swap ``#dashboard`` (the
``swap`` partial) and push the URL, and every pushed URL renders the whole page in the same state.

Everything shown is read, never computed from raw rows (``insights.selectors``): delivery figures from
rollups, survey figures from the published group scores and bottlenecks from the stored results. A request's
query count is fixed; tests hold it.
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
from django.views.decorators.http import require_GET

from e360 import access
from e360.forms import TeamForm
from e360.htmx import HtmxHttpRequest, bad_request, htmx_page, page_or_partial
from e360.models import Membership, Team, User
from e360.tree import TeamTree
from insights import selectors
from insights.forms import PeriodForm
from metrics.scope import team_scope
from metrics.selectors import Period

TEMPLATE = "insights/dashboard.html"
TARGET = "dashboard"  # the element id htmx swaps
# How many bottlenecks the dashboards list; the bottleneck page has them all.
TOP_BOTTLENECKS = 5


@login_required
@htmx_page
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
@htmx_page
def team_dashboard(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    team = access.get_team_for_user(request.user, slug)
    return _dashboard(request, team)


@login_required
@htmx_page
def pick_team(request: HtmxHttpRequest) -> HttpResponse:
    """Where the team picker's GET form goes: the chosen dashboard (``team`` empty: the organisation's),
    with the period kept. htmx follows the redirect and pushes the dashboard's own URL."""
    slug = TeamForm.parse(request.GET)["team"]
    if slug:
        url = reverse("insights:team-dashboard", args=[access.get_team_for_user(request.user, slug).slug])
    else:
        access.require_org_viewer(request.user, "The organisation's dashboard is for org viewers.")
        url = reverse("insights:dashboard")
    kept = {name: request.GET[name] for name in ("days", "from", "to") if request.GET.get(name)}
    return redirect(f"{url}?{urlencode(kept)}" if kept else url)


@login_required
@require_GET
def org_summary(request: HtmxHttpRequest) -> HttpResponse:
    """The organisation at a glance for an org viewer's home page (``e360/home.html`` loads it with htmx, and
    links to the dashboard without JavaScript): the dashboard's delivery headline figures, sentiment and top
    bottlenecks for the default period, read as the dashboard reads them. 404 for anyone else."""
    access.require_org_viewer(request.user, "The organisation's summary is for org viewers.")
    now = timezone.now()
    period = selectors.period({}, now=now)
    context = {"is_org": True, **_figures(None, request.user, period, now)}
    return render(request, "insights/org_summary.html", context)


def _figures(team: Team | None, user: User, period: Period, now: datetime) -> dict:
    """What a dashboard (``team`` None: the organisation's) shows for ``period``: the one read path of the
    dashboards and of the org viewer's home page."""
    context: dict = {"period": period}
    if team is None:
        context["delivery"] = selectors.org_delivery(period)
    else:
        scope = team_scope(team, access.visible_team_ids(user), TeamTree.for_user(user))
        context["scope"] = scope
        context["delivery_url"] = reverse("metrics:team-delivery", args=[team.slug])
        context["delivery"] = selectors.delivery(selectors.scope_figures(scope, period, now=now), period)
    context["sentiment"] = sentiment = selectors.sentiment(team, user)
    if team is not None:
        context["waves"] = selectors.sentiment_waves(team, user, sentiment)
    context["sentiment_rows"] = selectors.sentiment_rows(sentiment)
    found = selectors.bottlenecks(team, period.days, user)
    context["bottlenecks"] = found
    context["top_bottlenecks"] = selectors.top_bottlenecks(found, TOP_BOTTLENECKS)
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
        "team_options": selectors.team_picker(user, team.slug if team is not None else None),
        "periods": selectors.PERIODS,
        "max_custom_days": selectors.MAX_CUSTOM_DAYS,
        "pick_url": reverse("insights:dashboard-pick"),
    }
    template = page_or_partial(request, TEMPLATE, "swap")
    form = PeriodForm(request.GET, now=now)
    if not form.is_valid():
        # The refusal is the page's own: its custom period form says what is wrong (e360.htmx.bad_request).
        context.update(period_error=form.error, custom_from=form["start"].data or "", custom_to=form["end"].data or "")
        return bad_request(request, template, context, target=f"#{TARGET}")
    period = form.cleaned_data["period"]
    context["custom_from"], context["custom_to"] = period.first_day.isoformat(), period.last_day.isoformat()
    context.update(_figures(team, user, period, now))
    return render(request, template, context)

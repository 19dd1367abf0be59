"""Delivery pages: a service's or a team's DORA figures, weekly charts, data quality, and the
deployments, incidents and changes behind them.

One template (``metrics/delivery.html``) serves every view; htmx requests get one of its
partials: the period picker swaps ``#delivery-content``, a list's pagination swaps that
list, and the catalog pages load the ``summary`` tiles. Every URL also renders the whole
page, so links work without JavaScript and pushed URLs reload to the same state.

Figures come from rollups (``metrics.rollups``); lists read the window's raw
rows a page at a time, with their relations joined or prefetched, so a request runs
the same number of queries whatever the amount of data.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.lookups import IsNull
from django.http import HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse

from e360 import access
from e360.htmx import HtmxHttpRequest, htmx_page, is_partial, partial_target
from e360.tree import TeamTree
from metrics import definitions as d
from metrics import display, rollups, selectors
from metrics.forms import DeliveryForm
from metrics.models import Deployment, Incident, PullRequest, Source
from metrics.scope import Scope, service_scope, team_scope
from metrics.selectors import Period
from metrics.views.lists import CappedPaginator, ListPage

TEMPLATE = "metrics/delivery.html"
PAGE_SIZE = 10
# htmx targets (element ids) that the view answers with just their partial.
CONTENT = "delivery-content"
LISTS = ("deployments", "incidents", "changes")


@login_required
@htmx_page
def service_delivery(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    service = access.get_service_for_user(request.user, slug)
    return _delivery(request, service_scope(service))


@login_required
@htmx_page
def team_delivery(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    team = access.get_team_for_user(request.user, slug)
    return _delivery(request, team_scope(team, access.visible_team_ids(request.user), TeamTree.for_user(request.user)))


@login_required
@htmx_page
def service_delivery_summary(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """The headline tiles the service's catalog page loads; without htmx, the delivery page."""
    service = access.get_service_for_user(request.user, slug)
    return _summary(request, service_scope(service))


@login_required
@htmx_page
def team_delivery_summary(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    team = access.get_team_for_user(request.user, slug)
    return _summary(request, team_scope(team, access.visible_team_ids(request.user), TeamTree.for_user(request.user)))


def _period(days: int, scope: Scope) -> Period:
    window = selectors.default_window(scope.profile, days)
    calendar = window.calendar_days(scope.profile)
    return Period(days, window, d.previous_window(window, scope.profile), calendar[0], calendar[-1])


def _delivery_url(scope: Scope) -> str:
    name = "metrics:team-delivery" if scope.is_team else "metrics:service-delivery"
    return reverse(name, args=[scope.slug])


def _catalog_url(scope: Scope) -> str:
    obj = scope.team if scope.is_team else scope.service
    assert obj is not None
    return obj.get_absolute_url()


def _delivery(request: HtmxHttpRequest, scope: Scope) -> HttpResponse:
    params = DeliveryForm.parse(request.GET)
    period = _period(params["days"], scope)
    target = partial_target(request)
    context: dict = {
        "scope": scope,
        "period": period,
        "periods": display.PERIODS,
        "delivery_url": _delivery_url(scope),
        "catalog_url": _catalog_url(scope),
    }
    if target in LISTS:
        context[target] = _LIST_BUILDERS[target](request.GET, params[target], scope, period)
        return render(request, f"{TEMPLATE}#{target}", context)

    current, previous, weekly = _read(scope, period, rollups.DELIVERY_DISTRIBUTIONS, weekly=True)
    context.update(_figures(current, previous))
    context["weekly"] = weekly
    context["chart"] = chart = display.weekly_chart(weekly, period.window, scope.profile)
    context["weekly_rows"] = list(zip(chart["labels"], weekly, strict=True))
    context["has_deployments"] = any(p["deployments"] or p["failed"] for p in weekly)
    context["has_lead_times"] = any(p["lead_time"] is not None for p in weekly)
    context["sources"] = _sources(scope, period.window)
    for name in LISTS:
        context[name] = _LIST_BUILDERS[name](request.GET, params[name], scope, period)
    return render(request, f"{TEMPLATE}#content" if target == CONTENT else TEMPLATE, context)


def _summary(request: HtmxHttpRequest, scope: Scope) -> HttpResponse:
    if not is_partial(request):
        return redirect(_delivery_url(scope))
    period = _period(DeliveryForm.parse(request.GET)["days"], scope)
    current, previous, _ = _read(scope, period, rollups.HEADLINE_DISTRIBUTIONS, weekly=False)
    context = {"scope": scope, "period": period, "delivery_url": _delivery_url(scope), **_figures(current, previous)}
    return render(request, f"{TEMPLATE}#summary", context)


def _read(
    scope: Scope, period: Period, distributions: tuple[str, ...], *, weekly: bool
) -> tuple[d.DoraSummary, d.DoraSummary, list[dict]]:
    """The period's summary against the previous period's, of the distributions only those shown, and with ``weekly``
    its weeks: computed once per rollup version (``rollups.kept``), as every viewer of the scope is shown the same.
    Neither page shows the review queue or the sources' last events, which move without a write to the rollups, so
    the summaries leave them out (``moving=False``)."""

    def compute() -> tuple[d.DoraSummary, d.DoraSummary, list[dict]]:
        figures = rollups.Figures(scope, [period.window], compared=period.previous, distributions=distributions)
        return (
            figures.summary(period.window, moving=False),
            figures.summary(period.previous, moving=False),
            figures.weekly(period.window) if weekly else [],
        )

    # The profile (definitions, time zone, bands year) is part of what is kept: it may change without a write.
    return rollups.kept(scope, ("delivery", period, distributions, weekly, repr(scope.profile)), compute)


def _figures(current: d.DoraSummary, previous: d.DoraSummary) -> dict:
    """The window's summary against the previous window's, as tiles and a data-quality line."""
    return {
        "summary": current,
        "tiles": display.tiles(current, previous),
        "quality": display.quality(current.data_quality),
        "bands_year": current.bands_year,
    }


def _sources(scope: Scope, window: d.Window) -> list[Source]:
    """Active sources that sent this scope records of the window, with when each last sent anything.

    Each test reads an index over the window's days, never the whole history. A service's or a team's is an
    ``Exists`` over its services' index. The organisation's (no service filter) takes the source's first row of the
    window from the source's own index: an ``Exists`` there lets PostgreSQL guess that any source holds most rows
    and scan the table for one, which reads every row of a source that sent none (1.5 s at the large size).
    """
    start, end = window.start, window.end
    deployments = Deployment.objects.filter(scope.rows(), source=OuterRef("pk"), is_production=True)
    incidents = Incident.objects.filter(scope.rows(), source=OuterRef("pk"))
    changes = PullRequest.objects.filter(scope.rows(), source=OuterRef("pk"))
    found = (
        _found(deployments.finished_in(start, end), "finished_at", scope)
        | _found(incidents.filter(started_at__gte=start, started_at__lt=end), "started_at", scope)
        | _found(changes.deployed_in(start, end), "deployed_at", scope)
    )
    return list(
        Source.objects.filter(is_active=True).filter(found).order_by("name").only("name", "kind", "last_event_at")
    )


def _found(rows: QuerySet, time_field: str, scope: Scope) -> Q:
    """Some of ``rows`` exist (``_sources``): an ``Exists``, or for the organisation the first in time order."""
    if scope.filter_ids is not None:
        return Q(Exists(rows))
    return Q(IsNull(Subquery(rows.order_by(time_field).values(time_field)[:1]), False))


def _list_page(query: QueryDict, name: str, number: int, rows: QuerySet, scope: Scope) -> ListPage:
    """Page ``number`` of ``rows`` (past the end: the last), as the query parameter ``name`` holds it; a scope's
    rows counted unordered (``CappedPaginator``)."""
    paginator = CappedPaginator.for_page(rows, PAGE_SIZE, number, unordered=scope.filter_ids is not None)
    return ListPage.of(paginator.get_page(number), query, name)


def _deployments(query: QueryDict, number: int, scope: Scope, period: Period) -> ListPage:
    """Production deployments of the window (failed attempts too), newest first, with their changes."""
    changes = PullRequest.objects.only("id", "deployment_id", "number", "title", "url", "merged_at").order_by(
        "merged_at", "id"
    )
    deployments = (
        Deployment.objects.filter(scope.rows(), is_production=True)
        .finished_in(period.window.start, period.window.end)
        .select_related("service")
        .prefetch_related(Prefetch("linked_changes", queryset=changes))
        .order_by("-finished_at", "-id")
    )
    return _list_page(query, "deployments", number, deployments, scope)


def _incidents(query: QueryDict, number: int, scope: Scope, period: Period) -> ListPage:
    incidents = (
        Incident.objects.filter(scope.rows(), started_at__gte=period.window.start, started_at__lt=period.window.end)
        .select_related("service", "deployment")
        .order_by("-started_at", "-id")
    )
    listed = _list_page(query, "incidents", number, incidents, scope)
    for incident in listed:
        incident.time_to_restore = display.short_duration(d.span(incident.started_at, incident.resolved_at))
    return listed


def _changes(query: QueryDict, number: int, scope: Scope, period: Period) -> ListPage:
    """Changes deployed in the window (the lead time's sample), with their lead time and components."""
    changes = (
        PullRequest.objects.filter(scope.rows())
        .deployed_in(period.window.start, period.window.end)
        .select_related("service", "repository")
        .order_by("-deployed_at", "-id")
    )
    listed = _list_page(query, "changes", number, changes, scope)
    for pr in listed:
        pr.times = display.change_times(
            first_commit_at=pr.first_commit_at,
            opened_at=pr.opened_at,
            first_review_at=pr.first_review_at,
            merged_at=pr.merged_at,
            deployed_at=pr.deployed_at,
            profile=scope.profile,
        )
    return listed


_LIST_BUILDERS = {"deployments": _deployments, "incidents": _incidents, "changes": _changes}

"""Catalog pages: home, teams, services, people; and /healthz."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import DatabaseError, connection
from django.db.models import Count, Max, Prefetch, Q
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.log import log_response
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from e360 import access, demo
from e360.forms import CatalogSearchForm
from e360.htmx import HtmxHttpRequest, page_or_partial, refuses_bad_query, vary_on_htmx
from e360.models import Membership, Person, Service, WorkerHeartbeat
from e360.tree import TeamTree

PAGE_SIZE = 50


@login_required
def home(request: HtmxHttpRequest) -> HttpResponse:
    person = access.person_for(request.user)
    memberships = []
    services = Service.objects.none()
    if person is not None:
        memberships = list(
            person.memberships.select_related("team", "team__parent").annotate(
                member_count=Count("team__memberships", distinct=True)
            )
        )
        services = Service.objects.filter(owner__in=[m.team_id for m in memberships]).select_related("owner")
    context = {
        "person": person,
        "memberships": memberships,
        "services": services,
        "sees_everything": access.sees_everything(request.user),
        "totals": {
            "teams": access.visible_teams(request.user).count(),
            "services": access.visible_services(request.user).count(),
            "people": access.visible_people(request.user).count(),
        },
    }
    return render(request, "e360/home.html", context)


@login_required
def team_list(request: HtmxHttpRequest) -> HttpResponse:
    teams = list(
        access.visible_teams(request.user).annotate(
            member_count=Count("memberships", distinct=True), service_count=Count("services", distinct=True)
        )
    )
    # Show the visible teams as a tree: roots are teams whose parent is not visible.
    by_id = {team.id: team for team in teams}
    rows = [(by_id[team], depth) for team, depth in TeamTree.from_teams(teams).indented()]
    return render(request, "e360/team_list.html", {"rows": rows})


@login_required
def team_detail(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    team = access.get_team_for_user(request.user, slug)
    # Leads first: "lead" sorts before "member".
    memberships = team.memberships.select_related("person").order_by("role", "person__name")
    children = access.limit_to_visible(
        request.user, team.children.annotate(member_count=Count("memberships", distinct=True))
    )
    ancestors: list[tuple[str, str, bool]] = []  # the path from the top: (slug, name, whether the viewer sees it)
    if team.parent_id is not None:  # a root team has none: no read of the tree
        tree = TeamTree.for_user(request.user)
        ancestors = [(tree.slugs[a], tree.names[a], access.sees_team(request.user, a)) for a in tree.ancestors(team.id)]
    context = {
        "team": team,
        "ancestors": ancestors,
        "memberships": memberships,
        "children": children,
        "services": team.services.order_by("tier", "name"),
    }
    return render(request, "e360/team_detail.html", context)


@login_required
@vary_on_htmx
@refuses_bad_query
def service_list(request: HtmxHttpRequest) -> HttpResponse:
    params = CatalogSearchForm.parse(request.GET)
    query, tier = params["q"], params["tier"]
    services = access.visible_services(request.user).select_related("owner")
    if query:
        services = services.filter(
            Q(name__icontains=query) | Q(slug__icontains=query) | Q(owner__name__icontains=query)
        )
    if tier is not None:
        services = services.filter(tier=tier)
    context = {
        "page": Paginator(services, PAGE_SIZE).get_page(params["page"]),
        "q": query,
        "tier": "" if tier is None else str(tier),
        "tiers": Service.Tier.choices,
    }
    return render(request, page_or_partial(request, "e360/service_list.html", "results"), context)


@login_required
def service_detail(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    service = access.get_service_for_user(request.user, slug)
    leads = Person.objects.filter(memberships__team=service.owner, memberships__role=Membership.Role.LEAD)
    environments = [(pattern, any(ch in pattern for ch in "*?[")) for pattern in service.production_environments]
    context = {"service": service, "leads": leads, "environments": environments}
    return render(request, "e360/service_detail.html", context)


@login_required
@vary_on_htmx
@refuses_bad_query
def people_list(request: HtmxHttpRequest) -> HttpResponse:
    params = CatalogSearchForm.parse(request.GET)
    query = params["q"]
    people = (
        access.visible_people(request.user)
        .search(query)
        .prefetch_related(Prefetch("memberships", queryset=access.visible_memberships(request.user)))
    )
    context = {"page": Paginator(people, PAGE_SIZE).get_page(params["page"]), "q": query}
    return render(request, page_or_partial(request, "e360/people_list.html", "results"), context)


@login_required
def person_detail(request: HtmxHttpRequest, handle: str) -> HttpResponse:
    person = access.get_person_for_user(request.user, handle)
    memberships = access.visible_memberships(request.user).filter(person=person)
    return render(request, "e360/person_detail.html", {"person": person, "memberships": memberships})


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for load balancers and monitors: database and worker heartbeat."""
    status = 200
    body: dict[str, object] = {"status": "ok"}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        body["database"] = "ok"
        last_seen = WorkerHeartbeat.objects.aggregate(last=Max("last_seen"))["last"]
    except DatabaseError:
        body["database"] = "unreachable"
        last_seen = None
        status = 503
    max_age = timedelta(seconds=settings.WORKER_HEARTBEAT_MAX_AGE)
    if last_seen is None:
        body["worker"] = {"status": "no heartbeat yet", "last_heartbeat": None}
        status = 503
    else:
        age = timezone.now() - last_seen
        healthy = age <= max_age
        body["worker"] = {
            "status": "ok" if healthy else "stale",
            "last_heartbeat": last_seen.isoformat(),
            "age_seconds": round(age.total_seconds()),
        }
        if not healthy:
            status = 503
    if status != 200:
        body["status"] = "unhealthy"
    response = JsonResponse(body, status=status)
    if status == 503 and body["database"] == "ok" and last_seen is None:
        # Every start-up answers this until the worker's first heartbeat (within a minute): expected, so a
        # warning; Django would log any 503 as an error.
        log_response(
            "Service Unavailable: %s (no worker heartbeat yet)", request.path, response=response, level="warning"
        )
    return response


@require_POST
def demo_sign_in(request: HttpRequest, role: str) -> HttpResponse:
    """Sign in as the loaded demo's developer, team lead or organisation viewer, from the login page's
    buttons: DEBUG only (404 otherwise, and for anything but a demo person), POST with a CSRF token."""
    account = demo.demo_account(role) if settings.DEBUG else None
    if account is None:
        raise Http404("No such demo account.")
    user = demo.demo_account_user(account=account)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    return redirect("home")

"""Operational pages of a service, a team or the organisation: pull requests waiting for a first
review (``metrics/review_queue.html``) and pipeline reliability (``metrics/pipelines.html``).

They follow the delivery pages (``metrics.views``): access through ``e360.access`` (outsiders
get 404; the organisation's pages are for org viewers only), GET only, one template per page
whose partials answer htmx swaps, real links that push their URL, ``Vary: HX-Request``. Input
the pages do not offer (an unknown period, team, bucket, status or page) answers 400 with what
was wrong, and a page past the end 404.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.functional import cached_property
from django.views.decorators.http import require_GET

from e360 import access
from e360.models import Team
from e360.tree import TeamTree
from e360.views import HtmxHttpRequest, is_partial
from metrics import definitions as d
from metrics import display, operations, selectors
from metrics.definitions.review_queue import AgeBucket, bucket_of
from metrics.models import PipelineRun
from metrics.operations import Area
from metrics.scope import ServiceRef, service_scope, team_scope
from metrics.views import COUNT_AHEAD, CappedPaginator, ListPage, _render

REVIEWS_TEMPLATE = "metrics/review_queue.html"
PIPELINES_TEMPLATE = "metrics/pipelines.html"
PAGE_SIZE = 25
MAX_FILTER_LENGTH = 200  # a workflow name is at most this long (PipelineRun.workflow)


class BadInput(Exception):
    """A query parameter the page does not offer: the view answers 400 with this message."""


@login_required
@require_GET
def service_reviews(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    return _answer(request, _reviews, _service_area(request, slug))


@login_required
@require_GET
def team_reviews(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    return _answer(request, _reviews, _team_area(request, slug))


@login_required
@require_GET
def organisation_reviews(request: HtmxHttpRequest) -> HttpResponse:
    return _answer(request, _reviews, _organisation_area(request))


@login_required
@require_GET
def service_pipelines(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    return _answer(request, _pipelines, _service_area(request, slug))


@login_required
@require_GET
def team_pipelines(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    return _answer(request, _pipelines, _team_area(request, slug))


@login_required
@require_GET
def organisation_pipelines(request: HtmxHttpRequest) -> HttpResponse:
    return _answer(request, _pipelines, _organisation_area(request))


def _service_area(request: HtmxHttpRequest, slug: str) -> Area:
    return Area.of(service_scope(access.get_service_for_user(request.user, slug)))


def _team_area(request: HtmxHttpRequest, slug: str) -> Area:
    """The team and the sub-teams the viewer may see (a plain member: the team alone)."""
    team = access.get_team_for_user(request.user, slug)
    return Area.of(team_scope(team, access.visible_team_ids(request.user), TeamTree.for_user(request.user)))


def _organisation_area(request: HtmxHttpRequest) -> Area:
    """Every service, for org viewers; 404 to everyone else, as to outsiders of a team."""
    if not access.sees_everything(request.user):
        raise Http404("No such page.")
    return Area.organisation()


def _answer(
    request: HtmxHttpRequest, page: Callable[[HtmxHttpRequest, Area], HttpResponse], area: Area
) -> HttpResponse:
    try:
        return page(request, area)
    except BadInput as error:
        response = HttpResponseBadRequest(f"{error}\n", content_type="text/plain; charset=utf-8")
        patch_vary_headers(response, ["HX-Request", "HX-Target"])
        return response


# --- Links and input ------------------------------------------------------------------


def _page_urls(area: Area) -> dict[str, str]:
    """This area's pages: the two operational ones, and its catalog and delivery pages."""
    if area.is_organisation:
        return {"reviews": reverse("metrics:reviews"), "pipelines": reverse("metrics:pipelines")}
    kind = area.kind
    return {
        "reviews": reverse(f"metrics:{kind}-reviews", args=[area.slug]),
        "pipelines": reverse(f"metrics:{kind}-pipelines", args=[area.slug]),
        "delivery": reverse(f"metrics:{kind}-delivery", args=[area.slug]),
        "catalog": reverse(f"catalog:{kind}-detail", args=[area.slug]),
    }


def _target(request: HtmxHttpRequest) -> str | None:
    return request.htmx.target if is_partial(request) else None


def _page_number(request: HtmxHttpRequest) -> int:
    value = request.GET.get("page")
    if value is None:
        return 1
    # Nine digits at most: Python refuses to read a number of thousands (a 500, not a 400).
    if not (value.isascii() and value.isdigit() and len(value) <= 9) or int(value) < 1:
        raise BadInput(f"Unknown page “{value[:20]}”: pages are numbered from 1.")
    return int(value)


def _text(request: HtmxHttpRequest, name: str) -> str:
    """A text parameter that reaches a query: at most ``MAX_FILTER_LENGTH`` characters and no NUL
    (which PostgreSQL refuses in a string, a 500 rather than a 400)."""
    value = request.GET.get(name, "")
    if len(value) > MAX_FILTER_LENGTH or "\x00" in value:
        raise BadInput(f"A {name} is at most {MAX_FILTER_LENGTH} characters, none of them NUL.")
    return value


def _period(request: HtmxHttpRequest, area: Area) -> tuple[int, d.Window]:
    value = request.GET.get("days")
    if value is None:
        days = display.DEFAULT_PERIOD
    elif value in {str(days) for days in display.PERIODS}:
        days = int(value)
    else:
        choices = ", ".join(str(days) for days in display.PERIODS)
        raise BadInput(f"Unknown period “{value[:20]}”: choose {choices} days.")
    return days, selectors.default_window(area.profile, days)


class KnownCountPaginator(Paginator):
    """Pages of a list whose length the page has already counted (the review queue's totals)."""

    def __init__(self, object_list: QuerySet, per_page: int, count: int) -> None:
        super().__init__(object_list, per_page)
        self.known_count = count

    @cached_property
    def count(self) -> int:
        return self.known_count

    capped = False


def _list_page(request: HtmxHttpRequest, paginator: Paginator, number: int) -> ListPage:
    """Page ``number`` (a page past the end is 404), with links that keep the rest of the query."""
    if number > paginator.num_pages:
        raise Http404("No such page.")
    page = paginator.page(number)

    def link(n: int) -> str:
        query = request.GET.copy()
        query["page"] = str(n)
        return f"?{query.urlencode()}"

    return ListPage(
        page,
        link(page.previous_page_number()) if page.has_previous() else None,
        link(page.next_page_number()) if page.has_next() else None,
    )


# --- Review queue ---------------------------------------------------------------------

REVIEWS_CONTENT = "review-queue"
WAITING_LIST = "waiting"


@dataclass(frozen=True)
class QueueFilter:
    team: Team | None
    bucket: AgeBucket | None


def _queue_filter(request: HtmxHttpRequest, area: Area, queue: operations.ReviewQueue) -> QueueFilter:
    team = bucket = None
    if slug := _text(request, "team"):
        # A team of the area (one of its services' owners), even with nothing waiting.
        owners = {s.owner_id for s in area.services}
        team = Team.objects.filter(slug=slug, id__in=owners).only("id", "name", "slug").first()
        if team is None:
            raise BadInput(f"No team “{slug[:100]}” owns a service on this page.")
    if key := request.GET.get("age"):
        bucket = queue.bucket(key)
        if bucket is None:
            keys = ", ".join(b.key for b in queue.buckets)
            raise BadInput(f"Unknown age “{key[:20]}”: choose one of {keys}.")
    return QueueFilter(team, bucket)


# The counts table lists the teams with the most late pull requests first, this many unless all
# are asked for (?teams=all): an organisation has hundreds.
TEAM_ROWS = 20


@dataclass(frozen=True)
class CountCell:
    bucket: AgeBucket
    count: int
    url: str  # the list of those pull requests
    chosen: bool


@dataclass(frozen=True)
class CountRow:
    team: operations.TeamQueue | None  # None: the totals
    url: str
    chosen: bool
    cells: list[CountCell]
    total: int


def _query(request: HtmxHttpRequest, **changes: str | None) -> str:
    """This page's query string with some parameters set or (None) removed, like ``{% querystring %}``."""
    query = request.GET.copy()
    for key, value in changes.items():
        if value is None:
            query.pop(key, None)
        else:
            query[key] = value
    return f"?{query.urlencode()}"


def _count_rows(request: HtmxHttpRequest, queue: operations.ReviewQueue, chosen: QueueFilter) -> list[CountRow]:
    """The counts table's rows, each cell with the URL of its list (built here: a template tag per
    cell costs an organisation's page more than its queries)."""
    value = request.GET.get("teams")
    if value not in (None, "all"):
        raise BadInput(f"Unknown teams “{value[:20]}”: leave it out, or ask for all.")
    teams = list(queue.teams if value == "all" else queue.teams[:TEAM_ROWS])
    chosen_id = chosen.team.id if chosen.team else None
    if chosen_id is not None and all(t.team_id != chosen_id for t in teams):
        teams += [t for t in queue.teams if t.team_id == chosen_id]
    rows = []
    for team in [*teams, None]:
        slug = team.slug if team else None
        is_chosen = (team.team_id if team else None) == chosen_id
        counts = team.counts if team else queue.totals
        cells = [
            CountCell(
                bucket,
                count,
                _query(request, team=slug, age=bucket.key, page=None),
                is_chosen and chosen.bucket == bucket,
            )
            for bucket, count in zip(queue.buckets, counts, strict=True)
        ]
        url = _query(request, team=slug, age=None, page=None)
        rows.append(CountRow(team, url, is_chosen and chosen.bucket is None, cells, sum(counts)))
    return rows


def _reviews(request: HtmxHttpRequest, area: Area) -> HttpResponse:
    number = _page_number(request)
    queue = operations.review_queue(area, timezone.now())
    chosen = _queue_filter(request, area, queue)
    team_id = chosen.team.id if chosen.team else None
    prs = operations.waiting_pull_requests(area, queue, team_id=team_id, bucket=chosen.bucket)
    paginator = KnownCountPaginator(prs, PAGE_SIZE, queue.count(team_id, chosen.bucket))
    waiting = _list_page(request, paginator, number)
    rows = _count_rows(request, queue, chosen)
    teams = {t.team_id: t for t in queue.teams}
    for pr in waiting:
        pr.age = queue.now - pr.opened_at
        pr.service_ref = area.by_id.get(pr.service_id)
        pr.team = teams.get(pr.service_ref.owner_id) if pr.service_ref else None
        pr.bucket = bucket_of(pr.age, queue.buckets)
        pr.waited = display.short_duration(max(pr.age, timedelta(0)))
    context = {
        "area": area,
        "urls": _page_urls(area),
        "queue": queue,
        "chosen": chosen,
        "waiting": waiting,
        "team_rows": rows[:-1],
        "total_row": rows[-1],
        "all_teams_url": _query(request, teams="all"),
        "chart": {
            "labels": [b.label for b in queue.buckets],
            "counts": list(queue.totals),
            "late": [b.late for b in queue.buckets],
        },
        "review_wait": display.short_duration(queue.review_wait),
    }
    target = _target(request)
    if target == WAITING_LIST:
        return _render(request, f"{REVIEWS_TEMPLATE}#waiting", context)
    return _render(request, f"{REVIEWS_TEMPLATE}#content" if target == REVIEWS_CONTENT else REVIEWS_TEMPLATE, context)


# --- Pipelines ------------------------------------------------------------------------

PIPELINES_CONTENT = "pipelines-content"
RUNS_LIST = "runs"


@dataclass(frozen=True)
class RunFilter:
    service: ServiceRef | None
    workflow: str
    status: str

    @property
    def active(self) -> bool:
        return bool(self.service or self.workflow or self.status)


def _run_filter(request: HtmxHttpRequest, area: Area) -> RunFilter:
    service = None
    if slug := request.GET.get("service"):
        service = area.service_by_slug(slug)
        if service is None:
            raise BadInput(f"No service “{slug[:100]}” on this page.")
    workflow = _text(request, "workflow")
    status = request.GET.get("status", "")
    if status and status not in PipelineRun.Status.values:
        raise BadInput(f"Unknown status “{status[:20]}”: choose one of {', '.join(PipelineRun.Status.values)}.")
    return RunFilter(service, workflow, status)


def _runs(request: HtmxHttpRequest, area: Area, window: d.Window, chosen: RunFilter) -> ListPage:
    runs = operations.runs_list(
        area,
        window,
        service_id=chosen.service.id if chosen.service else None,
        workflow=chosen.workflow,
        status=chosen.status,
    )
    number = _page_number(request)
    listed = _list_page(request, CappedPaginator(runs, PAGE_SIZE, number * PAGE_SIZE + COUNT_AHEAD), number)
    for run in listed:
        run.service_ref = area.by_id.get(run.service_id)
        run.duration = display.short_duration(
            None if run.duration_seconds is None else timedelta(seconds=run.duration_seconds)
        )
    return listed


def _pipelines(request: HtmxHttpRequest, area: Area) -> HttpResponse:
    days, window = _period(request, area)
    chosen = _run_filter(request, area)
    days_shown = window.calendar_days(area.profile)
    context: dict = {
        "area": area,
        "urls": _page_urls(area),
        "days": days,
        "periods": display.PERIODS,
        "window": window,
        "first_day": days_shown[0],
        "last_day": days_shown[-1],
        "chosen": chosen,
        "runs": _runs(request, area, window, chosen),
    }
    target = _target(request)
    if target == RUNS_LIST:
        return _render(request, f"{PIPELINES_TEMPLATE}#runs", context)
    found = operations.pipelines(area, window, timezone.now())
    context["found"] = found
    context["reliability"] = _reliability(found.reliability)
    context["chart"] = {
        "labels": [w.label for w in found.weeks],
        "failure_rate": [_pct(w.failure_rate) for w in found.weeks],
        "flaky_rate": [_pct(w.flaky_rate) for w in found.weeks],
        "runs": [w.runs for w in found.weeks],
    }
    context["week_rows"] = [(w, display.percent(w.failure_rate), display.percent(w.flaky_rate)) for w in found.weeks]
    context["has_runs"] = any(w.runs for w in found.weeks)
    context["cut_weeks"] = any(w.cut for w in found.weeks)
    context["slowest"] = [
        (w, display.short_duration(w.median), display.short_duration(w.p90), display.percent(w.failure_rate))
        for w in found.slowest
    ]
    template = f"{PIPELINES_TEMPLATE}#content" if target == PIPELINES_CONTENT else PIPELINES_TEMPLATE
    return _render(request, template, context)


def _pct(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 1)


def _reliability(r: d.PipelineReliability) -> dict:
    return {
        "runs": r.runs,
        "failed": r.failed,
        "failure_rate": display.percent(r.failure_rate),
        "commits": r.commits,
        "flaky_commits": r.flaky_commits,
        "flaky_rate": display.percent(r.flaky_rate),
        "median": display.duration(r.duration.median),
        "p90": display.duration(r.duration.p90),
        "timed": r.duration.count,
    }

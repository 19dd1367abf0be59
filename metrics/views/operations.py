"""Operational pages of a service, a team or the organisation: pull requests waiting for a first
review (``metrics/review_queue.html``) and pipeline reliability (``metrics/pipelines.html``).

They follow the delivery pages (``metrics.views.delivery``): access through ``e360.access``
(outsiders get 404; the organisation's pages are for org viewers only), GET only, one template
per page whose partials answer htmx swaps, real links that push their URL, ``Vary: HX-Request``.
Input the pages do not offer (an unknown period, team, bucket, status or page: ``metrics.forms``)
answers 400 with what was wrong (``e360.htmx.refuses_bad_query``), and a page past the end 404.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import dateformat, timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from e360 import access
from e360.htmx import HtmxHttpRequest, html_join, htmx_page, partial_target
from e360.models import Team
from e360.tree import TeamTree
from metrics import definitions as d
from metrics import display, selectors
from metrics.definitions.review_queue import AgeBucket, bucket_of
from metrics.forms import PipelinesForm, ReviewsForm
from metrics.scope import ServiceRef, service_scope, team_scope
from metrics.selectors import Area
from metrics.views.lists import CappedPaginator, KnownCountPaginator, ListPage

REVIEWS_TEMPLATE = "metrics/review_queue.html"
PIPELINES_TEMPLATE = "metrics/pipelines.html"
PAGE_SIZE = 25


@login_required
@htmx_page
def service_reviews(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    return _reviews(request, _service_area(request, slug))


@login_required
@htmx_page
def team_reviews(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    return _reviews(request, _team_area(request, slug))


@login_required
@htmx_page
def organisation_reviews(request: HtmxHttpRequest) -> HttpResponse:
    return _reviews(request, _organisation_area(request))


@login_required
@htmx_page
def service_pipelines(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    return _pipelines(request, _service_area(request, slug))


@login_required
@htmx_page
def team_pipelines(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    return _pipelines(request, _team_area(request, slug))


@login_required
@htmx_page
def organisation_pipelines(request: HtmxHttpRequest) -> HttpResponse:
    return _pipelines(request, _organisation_area(request))


def _service_area(request: HtmxHttpRequest, slug: str) -> Area:
    return Area.of(service_scope(access.get_service_for_user(request.user, slug)))


def _team_area(request: HtmxHttpRequest, slug: str) -> Area:
    """The team and the sub-teams the viewer may see (a plain member: the team alone)."""
    team = access.get_team_for_user(request.user, slug)
    return Area.of(team_scope(team, access.visible_team_ids(request.user), TeamTree.for_user(request.user)))


def _organisation_area(request: HtmxHttpRequest) -> Area:
    """Every service, for org viewers; 404 to everyone else, as to outsiders of a team."""
    access.require_org_viewer(request.user, "No such page.")
    return Area.organisation()


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


def _list_page(request: HtmxHttpRequest, paginator: Paginator, number: int) -> ListPage:
    """Page ``number`` (a page past the end is 404), with links that keep the rest of the query."""
    if number > paginator.num_pages:
        raise Http404("No such page.")
    return ListPage.of(paginator.page(number), request.GET, "page")


# --- Review queue ---------------------------------------------------------------------

REVIEWS_CONTENT = "review-queue"
WAITING_LIST = "waiting"


@dataclass(frozen=True)
class QueueFilter:
    team: Team | None
    bucket: AgeBucket | None


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
    team: selectors.TeamQueue | None  # None: the totals
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


def _count_rows(
    request: HtmxHttpRequest, queue: selectors.ReviewQueue, chosen: QueueFilter, every_team: bool
) -> list[CountRow]:
    """The counts table's rows, each cell with the URL of its list (built here: a template tag per
    cell costs an organisation's page more than its queries)."""
    teams = list(queue.teams if every_team else queue.teams[:TEAM_ROWS])
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
    queue = selectors.review_queue(area, timezone.now())
    params = ReviewsForm.parse(request.GET, area=area, queue=queue)
    number = params["page"]
    chosen = QueueFilter(params["team"], params["age"])
    team_id = chosen.team.id if chosen.team else None
    prs = selectors.waiting_pull_requests(area, queue, team_id=team_id, bucket=chosen.bucket)
    paginator = KnownCountPaginator(prs, PAGE_SIZE, queue.count(team_id, chosen.bucket))
    waiting = _list_page(request, paginator, number)
    rows = _count_rows(request, queue, chosen, params["teams"])
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
        # The query naming the pull requests listed, whose "Remind reviewers now" (the actions app's) loads into
        # their cells; and the team whose late ones "Remind all" takes (the chosen one, or the team's own page's).
        "waiting_prs": urlencode([("pr", pr.pk) for pr in waiting]),
        "remind_team": chosen.team.slug if chosen.team else area.slug if area.kind == "team" else "",
    }
    target = partial_target(request)
    if target == WAITING_LIST:
        return render(request, f"{REVIEWS_TEMPLATE}#waiting", context)
    return render(request, f"{REVIEWS_TEMPLATE}#content" if target == REVIEWS_CONTENT else REVIEWS_TEMPLATE, context)


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


def _runs(request: HtmxHttpRequest, area: Area, window: d.Window, chosen: RunFilter, number: int) -> ListPage:
    runs = selectors.runs_list(
        area,
        window,
        service_id=chosen.service.id if chosen.service else None,
        workflow=chosen.workflow,
        status=chosen.status,
    )
    listed = _list_page(request, CappedPaginator.for_page(runs, PAGE_SIZE, number), number)
    for run in listed:
        run.service_ref = area.by_id.get(run.service_id)
        run.duration = display.short_duration(
            None if run.duration_seconds is None else timedelta(seconds=run.duration_seconds)
        )
    return listed


def _pipelines(request: HtmxHttpRequest, area: Area) -> HttpResponse:
    params = PipelinesForm.parse(request.GET, area=area)
    days = params["days"]
    window = selectors.default_window(area.profile, days)
    chosen = RunFilter(params["service"], params["workflow"], params["status"])
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
        "runs": _runs(request, area, window, chosen, params["page"]),
    }
    # The queries naming the failed runs shown, whose actions (the actions app's) load into their cells.
    context["failed_runs"] = urlencode([("run", run.pk) for run in context["runs"] if run.status == "failure"])
    target = partial_target(request)
    if target == RUNS_LIST:
        return render(request, f"{PIPELINES_TEMPLATE}#runs", context)
    found = selectors.pipelines(area, window, timezone.now())
    context["found"] = found
    context["failing_runs"] = urlencode([("run", item.last_run.pk) for item in found.failing])
    context["failing_rows"] = _failing_rows(request, area, found.failing)
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
    return render(request, template, context)


def _failing_rows(request: HtmxHttpRequest, area: Area, failing: Sequence[selectors.Failing]) -> SafeString:
    """The "Failing now" table's rows, made in Python (``html_join``): an organisation's lists 50, and as a template
    loop they cost more than the rest of the page. Each links to the workflow's runs, and to its latest run (or, with
    no URL, to the workflow's failed runs); its cell of actions is filled by the actions app's."""
    runs_link = '<a href="{0}#runs" hx-get="{0}" hx-target="#runs" hx-swap="outerHTML" hx-push-url="true">{1}</a>'
    rows = []
    for item in failing:
        run = item.last_run
        assert run.finished_at is not None  # a failing workflow's latest run has finished
        workflow_url = _query(request, service=item.service.slug, workflow=item.workflow, status=None, page=None)
        if run.url:
            attempt = f", attempt {run.attempt}" if run.attempt > 1 else ""
            latest = format_html('<a href="{}">Run{}</a>', run.url, attempt)
        else:
            failed_url = _query(request, service=item.service.slug, workflow=item.workflow, status="failure", page=None)
            latest = format_html(runs_link, failed_url, "Failed runs")
        rows.append(
            (
                format_html(runs_link, workflow_url, item.workflow),
                format_html('<div class="muted small">{}</div>', item.service.name) if area.kind != "service" else "",
                *_time(item.since),
                "" if item.passed_in_window else NO_RUN_PASSED,
                item.failed_runs,
                latest,
                *_time(run.finished_at),
                format_html(" · <code>{}</code>", run.sha[:7]) if run.sha else "",
                run.pk,
            )
        )
    return html_join(
        '<tr><th scope="row">{0}{1}</th><td class="nowrap"><time datetime="{2}">{3}</time>{4}</td>'
        '<td class="num">{5}</td><td>{6}<div class="muted small"><time datetime="{7}">{8}</time>{9}</div>'
        '<div id="failing-actions-{10}" class="run-actions" data-run-actions="{10}"></div></td></tr>',
        rows,
    )


NO_RUN_PASSED = format_html('<div class="muted small">{}</div>', "no run passed in this period")


def _time(at: datetime) -> tuple[str, str]:
    """A time as the page's ``<time>`` shows it, in the current time zone: ISO 8601, and "7 Dec, 16:05"."""
    local = timezone.localtime(at)
    return dateformat.format(local, "c"), dateformat.format(local, "j M, H:i")


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

"""The self-service actions of the pipelines page (``metrics/pipelines.html``): each failed run's actions, loaded
by htmx into the runs list in one request (``run_actions``: out-of-band swaps), the re-run's confirmation and its
result in place (``run_rerun``, through ``actions.views.confirm``), and the logs download (``run_logs``).

Every view fetches its runs through ``actions.selfservice`` (``run_for_user``: 404 for a run of a team the user may
not see).
"""

from __future__ import annotations

from http import HTTPStatus

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods

from actions import selfservice
from actions.forms import RunIdsForm
from actions.models import ActionKind
from actions.views.confirm import Cell, confirmed
from e360.htmx import HtmxHttpRequest, htmx_page, vary_on_htmx

TEMPLATE = "actions/run_action.html"
CELL = Cell(TEMPLATE, "run-actions")


@login_required
@htmx_page
def run_actions(request: HtmxHttpRequest) -> HttpResponse:
    """The actions of the runs named by ``?run=`` (those the user may see; the others are left out), as out-of-band
    swaps into their cells of the runs list."""
    ids = RunIdsForm.parse(request.GET)["run"]
    runs = selfservice.runs_for_user(request.user, ids)
    return render(request, f"{TEMPLATE}#batch", {"offers": selfservice.offers(request.user, runs)})


@login_required
@require_GET
@vary_on_htmx
def run_cell(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """One run's actions (what "Cancel" and "Back" swap back in)."""
    run = selfservice.run_for_user(request.user, pk)
    (offer,) = selfservice.offers(request.user, [run])
    return render(request, CELL.partial(request, "cell"), {"offer": offer, "run": run})


@login_required
@require_http_methods(["GET", "POST"])
@vary_on_htmx
def run_rerun(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """GET: the confirmation. POST with ``confirmed=yes``: re-run the run's failed jobs and say what came of it."""
    run = selfservice.run_for_user(request.user, pk)
    (offer,) = selfservice.offers(request.user, [run])
    return confirmed(
        request,
        CELL,
        {"offer": offer, "run": run, "kind": ActionKind.RERUN_FAILED_JOBS},
        unavailable=offer.reason or (offer.rerun if offer.superseded else ""),
        refused=offer.rerun,
        act=lambda: selfservice.rerun_failed_jobs(user=request.user, run=run),
    )


@login_required
@require_GET
def run_logs(request: HtmxHttpRequest, pk: int) -> HttpResponseBase:
    """The run's logs archive, streamed from GitHub's short-lived address (never stored): a download."""
    run = selfservice.run_for_user(request.user, pk)
    (offer,) = selfservice.offers(request.user, [run])
    context = {"offer": offer, "run": run, "kind": ActionKind.FETCH_LOGS}
    if offer.reason:
        context["outcome"] = selfservice.Outcome("refused", offer.reason)
        return render(request, TEMPLATE, context, status=HTTPStatus.CONFLICT)
    try:
        opened = selfservice.logs_open(user=request.user, run=run)
    except selfservice.NotOffered as why:
        context["outcome"] = selfservice.Outcome("refused", str(why))
        return render(request, TEMPLATE, context, status=HTTPStatus.CONFLICT)
    if isinstance(opened, selfservice.Outcome):
        context["outcome"] = opened
        status = (
            HTTPStatus.TOO_MANY_REQUESTS
            if opened.rate_limited
            else HTTPStatus.FORBIDDEN
            if opened.refused
            else HTTPStatus.BAD_GATEWAY
        )
        return render(request, TEMPLATE, context, status=status)
    # The response closes the download (and finishes its audit) when it ends or the browser goes away.
    response = StreamingHttpResponse(opened, content_type=opened.content_type)
    response["Content-Disposition"] = f'attachment; filename="{opened.filename}"'
    if opened.length.isdigit():
        response["Content-Length"] = opened.length
    response["Cache-Control"] = "no-store"
    response["X-Accel-Buffering"] = "no"  # nginx passes it on as it comes, with no temporary file on disk
    return response

"""The self-service actions of the pipelines page (``metrics/pipelines.html``): each failed run's actions, loaded
by htmx into the runs list in one request (``run_actions``: out-of-band swaps), the re-run's confirmation and its
result in place (``run_rerun``), and the logs download (``run_logs``).

Every view fetches its runs through ``actions.selfservice`` (``run_for_user``: 404 for a run of a team the user may
not see). The confirmation is a step rendered here (a GET, then a POST with ``confirmed``), not ``hx-confirm``: it
names what will happen, works without JavaScript, and needs no script the page's CSP would have to allow. Without
htmx the same views answer whole pages.
"""

from __future__ import annotations

from http import HTTPStatus

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import reswap, retarget

from actions import selfservice
from actions.forms import RunIdsForm
from actions.models import ActionKind
from e360.htmx import HtmxHttpRequest, htmx_page, is_partial, vary_on_htmx

TEMPLATE = "actions/run_action.html"


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
    return render(request, f"{TEMPLATE}#cell" if is_partial(request) else TEMPLATE, {"offer": offer, "run": run})


@login_required
@require_http_methods(["GET", "POST"])
@vary_on_htmx
def run_rerun(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """GET: the confirmation. POST with ``confirmed=yes``: re-run the run's failed jobs and say what came of it."""
    run = selfservice.run_for_user(request.user, pk)
    (offer,) = selfservice.offers(request.user, [run])
    context = {"offer": offer, "run": run, "kind": ActionKind.RERUN_FAILED_JOBS}
    if offer.reason or offer.superseded:
        return _answer(request, context, offer.reason or offer.rerun, HTTPStatus.CONFLICT)
    if request.method == "GET" or request.POST.get("confirmed") != "yes":
        if offer.rerun:  # not theirs to run: said before they confirm (a POST is refused and audited)
            return _answer(request, context, offer.rerun, HTTPStatus.FORBIDDEN)
        context["confirming"] = True
        return render(request, f"{TEMPLATE}#confirm" if is_partial(request) else TEMPLATE, context)
    try:
        outcome = selfservice.rerun_failed_jobs(user=request.user, run=run)
    except selfservice.NotOffered as why:  # changed since the page was read (a re-run came in)
        return _answer(request, context, str(why), HTTPStatus.CONFLICT)
    context["outcome"] = outcome
    if outcome.rate_limited:
        return _answer(request, context, outcome.message, HTTPStatus.TOO_MANY_REQUESTS)
    if outcome.refused:
        return _answer(request, context, outcome.message, HTTPStatus.FORBIDDEN)
    # GitHub's refusals are results too (the page says which, the audit keeps GitHub's answer): 200.
    return render(request, f"{TEMPLATE}#result" if is_partial(request) else TEMPLATE, context)


def _answer(request: HtmxHttpRequest, context: dict, message: str, status: int) -> HttpResponse:
    """A refusal in place of the run's actions (htmx swaps a 4xx that names its target: e360/htmx-errors.js).
    Cells are found by class, not id: a run can be on the page twice (the runs list, Failing now)."""
    context["outcome"] = selfservice.Outcome("refused", message)
    partial = is_partial(request)
    response = render(request, f"{TEMPLATE}#result" if partial else TEMPLATE, context, status=status)
    if partial:
        retarget(response, "closest .run-actions")  # the cell the request came from
        reswap(response, "innerHTML")
    return response


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

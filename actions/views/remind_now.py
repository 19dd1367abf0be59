"""“Remind reviewers now” on the review queue (``metrics/review_queue.html``), as the pipelines page's run actions
(``actions.views.selfservice``): each waiting pull request's cell, loaded by htmx in one request (``pr_actions``:
out-of-band swaps), the confirmation and its result in place (``pr_remind``); and "Remind all late pull requests"
of a team (``team_remind_cell``, ``team_remind``). The confirmation is a step rendered here (a GET, then a POST with
``confirmed``); without htmx the same views answer whole pages. Rules: ``actions.remind_now``.
"""

from __future__ import annotations

from http import HTTPStatus

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import reswap, retarget

from actions import remind_now
from actions.forms import PullIdsForm
from actions.selfservice import Outcome
from e360 import access
from e360.htmx import HtmxHttpRequest, htmx_page, is_partial, vary_on_htmx

TEMPLATE = "actions/remind_action.html"


@login_required
@htmx_page
def pr_actions(request: HtmxHttpRequest) -> HttpResponse:
    """The actions of the pull requests named by ``?pr=`` (those the user may see), as out-of-band swaps."""
    ids = PullIdsForm.parse(request.GET)["pr"]
    pulls = remind_now.pulls_for_user(request.user, ids)
    return render(request, f"{TEMPLATE}#batch", {"offers": remind_now.pull_offers(request.user, pulls)})


@login_required
@require_GET
@vary_on_htmx
def pr_cell(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """One pull request's action (what "Cancel" and "Back" swap back in)."""
    pull = remind_now.pull_for_user(request.user, pk)
    (offer,) = remind_now.pull_offers(request.user, [pull])
    context = {"offer": offer, "pull": pull}
    return render(request, f"{TEMPLATE}#cell" if is_partial(request) else TEMPLATE, context)


@login_required
@require_http_methods(["GET", "POST"])
@vary_on_htmx
def pr_remind(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """GET: the confirmation. POST with ``confirmed=yes``: remind the pull request's reviewers now."""
    pull = remind_now.pull_for_user(request.user, pk)
    (offer,) = remind_now.pull_offers(request.user, [pull])
    context = {"offer": offer, "pull": pull}
    if offer.reason:
        return _answer(request, context, offer.reason, HTTPStatus.CONFLICT)
    if request.method == "GET" or request.POST.get("confirmed") != "yes":
        if offer.refused:  # not theirs to do: said before they confirm (a POST is refused and audited)
            return _answer(request, context, offer.refused, HTTPStatus.FORBIDDEN)
        context["confirming"] = True
        return render(request, f"{TEMPLATE}#confirm" if is_partial(request) else TEMPLATE, context)
    try:
        outcome = remind_now.remind_pull_request(user=request.user, pull=pull)
    except remind_now.NotOffered as why:  # changed since the page was read (reviewed, policy changed)
        return _answer(request, context, str(why), HTTPStatus.CONFLICT)
    return _outcome(request, context, outcome)


@login_required
@require_GET
@vary_on_htmx
def team_remind_cell(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """The team's "Remind all late pull requests" (loaded into the review queue's list by htmx)."""
    team = access.get_team_for_user(request.user, slug)
    context = {"team_offer": remind_now.team_offer(request.user, team), "team": team}
    return render(request, f"{TEMPLATE}#team" if is_partial(request) else TEMPLATE, context)


@login_required
@require_http_methods(["GET", "POST"])
@vary_on_htmx
def team_remind(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """GET: the confirmation, naming how many are reminded and left out. POST with ``confirmed=yes``: remind them."""
    team = access.get_team_for_user(request.user, slug)
    team_offer = remind_now.team_offer(request.user, team)
    context = {"team_offer": team_offer, "team": team}
    if team_offer.reason:
        return _answer(request, context, team_offer.reason, HTTPStatus.CONFLICT)
    if request.method == "GET" or request.POST.get("confirmed") != "yes":
        if team_offer.refused:
            return _answer(request, context, team_offer.refused, HTTPStatus.FORBIDDEN)
        context["confirming"] = True
        return render(request, f"{TEMPLATE}#team-confirm" if is_partial(request) else TEMPLATE, context)
    try:
        outcome = remind_now.remind_team(user=request.user, team=team)
    except remind_now.NotOffered as why:
        return _answer(request, context, str(why), HTTPStatus.CONFLICT)
    return _outcome(request, context, outcome)


def _outcome(request: HtmxHttpRequest, context: dict, outcome: Outcome) -> HttpResponse:
    context["outcome"] = outcome
    if outcome.rate_limited:
        return _answer(request, context, outcome.message, HTTPStatus.TOO_MANY_REQUESTS)
    if outcome.refused:
        return _answer(request, context, outcome.message, HTTPStatus.FORBIDDEN)
    # A channel's refusal is a result too (the page says it, the reminders are marked failed): 200.
    return render(request, f"{TEMPLATE}#result" if is_partial(request) else TEMPLATE, context)


def _answer(request: HtmxHttpRequest, context: dict, message: str, status: int) -> HttpResponse:
    """A refusal in place of the action (htmx swaps a 4xx that names its target: e360/htmx-errors.js)."""
    context["outcome"] = Outcome("refused", message)
    partial = is_partial(request)
    response = render(request, f"{TEMPLATE}#result" if partial else TEMPLATE, context, status=status)
    if partial:
        retarget(response, "closest .remind-actions")  # the cell the request came from
        reswap(response, "innerHTML")
    return response

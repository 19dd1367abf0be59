"""“Remind reviewers now” on the review queue (``metrics/review_queue.html``), as the pipelines page's run actions
(``actions.views.selfservice``): each waiting pull request's cell, loaded by htmx in one request (``pr_actions``:
out-of-band swaps), the confirmation and its result in place (``pr_remind``); and "Remind all late pull requests"
of a team (``team_remind_cell``, ``team_remind``); both through ``actions.views.confirm``. Rules:
``actions.remind_now``.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods

from actions import remind_now
from actions.forms import PullIdsForm
from actions.views.confirm import Cell, confirmed
from e360 import access
from e360.htmx import HtmxHttpRequest, htmx_page, vary_on_htmx

TEMPLATE = "actions/remind_action.html"
CELL = Cell(TEMPLATE, "remind-actions")


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
    return render(request, CELL.partial(request, "cell"), context)


@login_required
@require_http_methods(["GET", "POST"])
@vary_on_htmx
def pr_remind(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """GET: the confirmation. POST with ``confirmed=yes``: remind the pull request's reviewers now."""
    pull = remind_now.pull_for_user(request.user, pk)
    (offer,) = remind_now.pull_offers(request.user, [pull])
    return confirmed(
        request,
        CELL,
        {"offer": offer, "pull": pull},
        unavailable=offer.reason,
        refused=offer.refused,
        act=lambda: remind_now.remind_pull_request(user=request.user, pull=pull),
    )


@login_required
@require_GET
@vary_on_htmx
def team_remind_cell(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """The team's "Remind all late pull requests" (loaded into the review queue's list by htmx)."""
    team = access.get_team_for_user(request.user, slug)
    context = {"team_offer": remind_now.team_offer(request.user, team), "team": team}
    return render(request, CELL.partial(request, "team"), context)


@login_required
@require_http_methods(["GET", "POST"])
@vary_on_htmx
def team_remind(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """GET: the confirmation, naming how many are reminded and left out. POST with ``confirmed=yes``: remind them."""
    team = access.get_team_for_user(request.user, slug)
    team_offer = remind_now.team_offer(request.user, team)
    return confirmed(
        request,
        CELL,
        {"team_offer": team_offer, "team": team},
        unavailable=team_offer.reason,
        refused=team_offer.refused,
        act=lambda: remind_now.remind_team(user=request.user, team=team),
        confirm="team-confirm",
    )

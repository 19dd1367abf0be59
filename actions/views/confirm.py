"""The one flow of a confirmed action in place (the pipelines page's run actions, the review queue's reminders):
refused before it is offered (409: not offered now; 403: not theirs), a confirmation step (a GET, then a POST with
``confirmed=yes``), then the action and what came of it (429 rate-limited, 403 refused, else 200: a channel's or
GitHub's refusal is a result too, which the page says and the audit keeps).

The confirmation is a step rendered here, not ``hx-confirm``: it names what will happen, works without JavaScript,
and needs no script the page's CSP would have to allow. Without htmx the same views answer whole pages.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus

from django.http import HttpResponse
from django.shortcuts import render
from django_htmx.http import reswap, retarget

from actions.selfservice import NotOffered, Outcome
from e360.htmx import HtmxHttpRequest, is_partial


@dataclass(frozen=True)
class Cell:
    """Where an action lives: its template and the class of the cell a refusal replaces (cells are found by class,
    not id: a target can be on the page twice)."""

    template: str
    css_class: str

    def partial(self, request: HtmxHttpRequest, name: str) -> str:
        return f"{self.template}#{name}" if is_partial(request) else self.template


def confirmed(
    request: HtmxHttpRequest,
    cell: Cell,
    context: dict,
    *,
    unavailable: str,
    refused: str,
    act: Callable[[], Outcome],
    confirm: str = "confirm",
) -> HttpResponse:
    """The flow for one action: ``unavailable`` (not offered now) and ``refused`` (not the user's) as the page's
    offer said them; ``act`` does it (``NotOffered`` when that changed since the page was read); ``confirm`` names
    the template's confirmation partial."""
    if unavailable:
        return refusal(request, cell, context, unavailable, HTTPStatus.CONFLICT)
    if request.method == "GET" or request.POST.get("confirmed") != "yes":
        if refused:  # not theirs to do: said before they confirm (a POST is refused and audited)
            return refusal(request, cell, context, refused, HTTPStatus.FORBIDDEN)
        context["confirming"] = True
        return render(request, cell.partial(request, confirm), context)
    try:
        outcome = act()
    except NotOffered as why:
        return refusal(request, cell, context, str(why), HTTPStatus.CONFLICT)
    context["outcome"] = outcome
    if outcome.rate_limited:
        return refusal(request, cell, context, outcome.message, HTTPStatus.TOO_MANY_REQUESTS)
    if outcome.refused:
        return refusal(request, cell, context, outcome.message, HTTPStatus.FORBIDDEN)
    return render(request, cell.partial(request, "result"), context)


def refusal(request: HtmxHttpRequest, cell: Cell, context: dict, message: str, status: int) -> HttpResponse:
    """A refusal in place of the action (htmx swaps a 4xx that names its target: e360/htmx-errors.js)."""
    context["outcome"] = Outcome("refused", message)
    response = render(request, cell.partial(request, "result"), context, status=status)
    if is_partial(request):
        retarget(response, f"closest .{cell.css_class}")  # the cell the request came from
        reswap(response, "innerHTML")
    return response

"""The actions a team's bottleneck page suggests on each dimension's card (``insights/bottlenecks.html`` loads them
by URL name, with htmx: out-of-band swaps into each card's ``data-suggestions``). Rules: ``actions.suggestions``."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render

from actions import suggestions
from e360 import access
from e360.htmx import HtmxHttpRequest, htmx_page, is_partial


@login_required
@htmx_page
def team_suggestions(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """The suggestions ``request.user`` may follow for the team (404 to outsiders; nothing to those who may none)."""
    team = access.get_team_for_user(request.user, slug)
    found = suggestions.for_team(request.user, team)
    template = "actions/suggestions.html#batch" if is_partial(request) else "actions/suggestions.html"
    return render(request, template, {"team": team, "found": found.items()})

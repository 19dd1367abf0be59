"""The automations' pages: the run log (``/actions/``: newest first, paged, filtered by automation and status) of
the automations a user may see, and one automation with its runs. A team's automation is seen by those who see
its owner team; an organisation-wide one by org viewers; anyone else gets a 404."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from actions.automations import visible_runs
from actions.models import Automation, AutomationRun
from e360 import access
from e360.htmx import HtmxHttpRequest
from e360.models import User
from metrics.views.lists import CappedPaginator, ListPage

PER_PAGE = 50


def visible_automations(user: User) -> QuerySet[Automation]:
    ids = access.visible_team_ids(user)
    automations = Automation.objects.all()
    return automations if ids is None else automations.filter(team_id__in=ids)


def _number(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and len(value) < 10 else None


def _log(request: HtmxHttpRequest, runs: QuerySet[AutomationRun], automation: Automation | None) -> dict[str, Any]:
    status = request.GET.get("status", "")
    if status in AutomationRun.Status.values:
        runs = runs.filter(status=status)
    else:
        status = ""
    number = _number(request.GET.get("page")) or 1
    paginator = CappedPaginator.for_page(runs.select_related("automation"), PER_PAGE, number)
    page = paginator.get_page(number)
    return {
        "runs": ListPage.of(page, request.GET, "page"),
        "capped": paginator.capped,
        "status": status,
        "statuses": AutomationRun.Status.choices,
        "automation": automation,
    }


@login_required
@require_GET
def run_log(request: HtmxHttpRequest) -> HttpResponse:
    automations = list(visible_automations(request.user).select_related("team", "channel"))
    runs = AutomationRun.objects.filter(visible_runs(access.visible_team_ids(request.user)))
    chosen = _number(request.GET.get("automation"))
    if chosen is not None:
        runs = runs.filter(automation_id=chosen)
    context = _log(request, runs, None)
    context.update(automations=automations, chosen=chosen)
    return render(request, "actions/automation_runs.html", context)


@login_required
@require_GET
def automation_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    automation = visible_automations(request.user).select_related("team", "channel", "threshold").filter(pk=pk).first()
    if automation is None:
        raise Http404("No such automation.")
    context = _log(request, automation.runs.all(), automation)
    return render(request, "actions/automation_detail.html", context)

"""An initiative started and edited in the portal: a team's lead (or an org viewer) from a bottleneck card's
suggestion (``actions.suggestions``), pre-filled by the link. Only the teams the user manages are offered; an
initiative is edited by whoever manages all its teams (others who may see it: 403; the rest: 404). After its start
the definitions are frozen: a change is refused with why (``forms.InitiativeStartForm``, the model's ``clean``)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from actions import initiatives, thresholds
from actions.forms import InitiativeStartForm
from actions.models import Initiative
from actions.models.initiatives import CreatedFrom
from e360.htmx import HtmxHttpRequest

TEMPLATE = "actions/initiative_form.html"


@login_required
@require_http_methods(["GET", "POST"])
def initiative_add(request: HtmxHttpRequest) -> HttpResponse:
    managed = thresholds.managed_team_ids(request.user)
    if managed is not None and not managed:
        raise Http404("Only team leads and org viewers start initiatives.")
    # A bottleneck card's link pre-fills the form (values shown only, checked when saved).
    initial: dict[str, object] = {
        name: request.GET.getlist(name) if name in ("target_teams", "primary_metrics") else request.GET[name]
        for name in InitiativeStartForm.PREFILLED
        if name in request.GET
    }
    if "dimension" in initial and "primary_metrics" not in initial:
        initial["primary_metrics"] = initiatives.mapped_metrics(str(initial["dimension"]))
    form = InitiativeStartForm(request.POST or None, user=request.user, initial=initial)
    if request.method == "POST" and form.is_valid():
        source = CreatedFrom.BOTTLENECK_CARD if request.POST.get("from") == "bottleneck" else CreatedFrom.ADMIN
        initiative = _save(request, form, source)
        messages.success(request, f"Initiative “{initiative.name}” saved.")
        return redirect(initiative)
    context = {"form": form, "initiative": None, "source": request.GET.get("from", request.POST.get("from", ""))}
    return render(request, TEMPLATE, context, status=400 if form.errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def initiative_edit(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    initiative = initiatives.visible_initiatives(request.user).filter(pk=pk).first()
    if initiative is None:
        raise Http404("No such initiative.")
    managed = thresholds.managed_team_ids(request.user)
    if managed is not None and not set(initiative.targets.values_list("team_id", flat=True)) <= managed:
        raise PermissionDenied("Only leads of all its teams change an initiative.")
    form = InitiativeStartForm(request.POST or None, instance=initiative, user=request.user)
    if request.method == "POST" and form.is_valid():
        _save(request, form, "")
        messages.success(request, f"Initiative “{initiative.name}” saved.")
        return redirect(initiative)
    context = {"form": form, "initiative": initiative, "frozen": initiative.stored_frozen_at() is not None}
    return render(request, TEMPLATE, context, status=400 if form.errors else 200)


def _save(request: HtmxHttpRequest, form: InitiativeStartForm, source: str) -> Initiative:
    with transaction.atomic():
        initiative = initiatives.initiative_save(
            initiative=form.save(commit=False),
            teams=list(form.cleaned_data["target_teams"]),
            by=request.user,
            created_from=source,
        )
        form.save_m2m()
    frozen = initiatives.initiative_freeze(initiative_id=initiative.pk)
    if frozen.definitions:
        messages.info(request, "Its start has come: its definitions and baselines are frozen.")
    return initiative

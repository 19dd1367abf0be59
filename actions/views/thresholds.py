"""The thresholds' pages: the list of those a user may see, the form (add, edit) with its backtest."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from actions import thresholds
from actions.forms import ThresholdForm
from actions.models import Threshold
from e360.htmx import HtmxHttpRequest, bad_request

TEMPLATE = "actions/threshold_form.html"


@login_required
@require_GET
def threshold_list(request: HtmxHttpRequest) -> HttpResponse:
    rows = thresholds.visible_thresholds(request.user).select_related("team", "service").order_by("name", "pk")
    managed = thresholds.managed_team_ids(request.user)
    listed = [(t, managed is None or (t.owner_team_id is not None and t.owner_team_id in managed)) for t in rows]
    return render(
        request,
        "actions/threshold_list.html",
        {"listed": listed, "may_add": managed is None or bool(managed)},
    )


def _may_add(request: HtmxHttpRequest) -> None:
    managed = thresholds.managed_team_ids(request.user)
    if managed is not None and not managed:
        raise Http404("Only team leads and org viewers set thresholds.")


@login_required
@require_http_methods(["GET", "POST"])
def threshold_add(request: HtmxHttpRequest) -> HttpResponse:
    _may_add(request)
    # A link may pre-fill the form (a bottleneck's suggestion: actions.suggestions), as the admin's add forms do:
    # values only shown, checked when saved; a team or a metric not offered is simply not selected.
    initial = {name: request.GET[name] for name in ThresholdForm.PREFILLED if name in request.GET}
    form = ThresholdForm(request.POST or None, user=request.user, initial=initial)
    if request.method == "POST" and form.is_valid():
        threshold = thresholds.threshold_save(threshold=form.save(commit=False), by=request.user)
        messages.success(request, f"Threshold “{threshold.name}” saved.")
        return redirect("actions:threshold-list")
    return render(request, TEMPLATE, {"form": form, "threshold": None}, status=400 if form.errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def threshold_edit(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    threshold = thresholds.get_threshold_for_user(request.user, pk, manage=True)
    form = ThresholdForm(request.POST or None, instance=threshold, user=request.user)
    if request.method == "POST" and form.is_valid():
        thresholds.threshold_save(threshold=form.save(commit=False), by=request.user)
        messages.success(request, f"Threshold “{threshold.name}” saved.")
        return redirect("actions:threshold-list")
    events = threshold.events.all()[:20]
    context = {"form": form, "threshold": threshold, "events": events}
    return render(request, TEMPLATE, context, status=400 if form.errors else 200)


@login_required
@require_POST
def threshold_backtest(request: HtmxHttpRequest) -> HttpResponse:
    """The form's backtest: the fields as they are being edited, checked by the same form (its errors otherwise)."""
    _may_add(request)
    instance = None
    if pk := request.POST.get("threshold"):
        instance = thresholds.get_threshold_for_user(request.user, _whole(pk), manage=True)
    form = ThresholdForm(request.POST, instance=instance, user=request.user)
    if not form.is_valid():
        # The form's errors in place of the backtest (HX-Retarget: htmx swaps this 400 there).
        return bad_request(request, f"{TEMPLATE}#backtest", {"form": form, "result": None}, target="#backtest")
    subject, rule = form.subject_and_rule()
    result = thresholds.backtest(subject, rule)
    return render(request, f"{TEMPLATE}#backtest", {"form": form, "result": result})


def _whole(text: str) -> int:
    if not text.isdigit():
        raise Http404("No such threshold.")
    return int(text)


@login_required
@require_POST
def threshold_delete(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    threshold: Threshold = thresholds.get_threshold_for_user(request.user, pk, manage=True)
    name = threshold.name
    threshold.delete()
    messages.success(request, f"Threshold “{name}” deleted.")
    return redirect("actions:threshold-list")

"""The review reminder policies' pages: the list of those a user may see, and the form (add, edit) for the leads of
their teams (``actions.reminder_policies``: who may see and manage which)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import IntegrityError, transaction
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from actions import holdout, reminder_policies
from actions.forms import ReminderPolicyForm
from actions.models import ReminderPolicy
from actions.thresholds import managed_team_ids
from e360.htmx import HtmxHttpRequest

TEMPLATE = "actions/reminder_policy_form.html"


@login_required
@require_GET
def policy_list(request: HtmxHttpRequest) -> HttpResponse:
    managed = managed_team_ids(request.user)
    rows = reminder_policies.listed(request.user)
    listed = [(policy, managed is None or policy.owner_team_id in managed) for policy in rows]
    context = {"listed": listed, "may_add": managed is None or bool(managed), "days": reminder_policies.RECENT_DAYS}
    return render(request, "actions/reminder_policy_list.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def policy_add(request: HtmxHttpRequest) -> HttpResponse:
    managed = managed_team_ids(request.user)
    if managed is not None and not managed:
        raise Http404("Only team leads and org viewers set up review reminders.")
    # A link may pre-fill the team (a bottleneck's suggestion, actions.suggestions): shown only, checked when saved;
    # a team not offered is simply not selected.
    initial = {name: request.GET[name] for name in ReminderPolicyForm.PREFILLED if name in request.GET}
    form = ReminderPolicyForm(request.POST or None, user=request.user, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                policy = form.save()
        except IntegrityError:  # another lead's policy for the same team or service, saved a moment before
            form.add_error(None, "This team or service got a review reminder policy meanwhile: change that one.")
        else:
            messages.success(request, f"{policy} saved.")
            return redirect("actions:reminder-list")
    return render(request, TEMPLATE, {"form": form, "policy": None}, status=400 if form.errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def policy_edit(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    policy = reminder_policies.get_policy_for_user(request.user, pk, manage=True)
    context = _edit_context(policy)  # as stored: a refused form leaves what was posted on its instance
    form = ReminderPolicyForm(request.POST or None, instance=policy, user=request.user)
    if request.method == "POST" and form.is_valid():
        policy = form.save()
        messages.success(request, f"{policy} saved.")
        return redirect("actions:reminder-list")
    return render(request, TEMPLATE, {**context, "form": form}, status=400 if form.errors else 200)


@login_required
@require_POST
def policy_delete(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Delete a policy that reminded nobody yet; one with reminders keeps them (the holdout's evidence): it is
    refused (409) with a word on turning it off instead."""
    policy = reminder_policies.get_policy_for_user(request.user, pk, manage=True)
    context = _edit_context(policy)
    if context["recorded"]:
        form = ReminderPolicyForm(instance=policy, user=request.user)
        return render(request, TEMPLATE, {**context, "form": form, "delete_refused": True}, status=409)
    name = str(policy)
    policy.delete()
    messages.success(request, f"{name} deleted.")
    return redirect("actions:reminder-list")


def _edit_context(policy: ReminderPolicy) -> dict[str, Any]:
    """The edit page's own: the policy's name, its reminders recorded (deleting it would delete them) and, with a
    holdout, what it measured."""
    recorded = policy.reminders.count()
    measured = holdout.holdout_measure([policy.pk]) if recorded and policy.reminders.held_out().exists() else None
    return {"policy": policy, "title": str(policy), "recorded": recorded, "holdout": measured}

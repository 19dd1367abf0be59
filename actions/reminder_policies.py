"""Review reminder policies in the portal: who may see and manage them, and what their list reads.

**Access**, as thresholds': a policy belongs to its team (a service's: the service's owner). Whoever may see that
team sees the policy; its leads, the leads above it and org viewers manage it (``thresholds.managed_team_ids``).
Anyone else gets 404 (``get_policy_for_user``); a member who sees it without managing it, 403 on its form.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone

from actions.models import Reminder, ReminderPolicy
from actions.models.reminders import ReminderPolicyQuerySet
from actions.thresholds import managed_team_ids
from e360.access import visible_team_ids
from e360.models import User

# The list counts the reminders of the last this many days.
RECENT_DAYS = 30


def visible_policies(user: User) -> ReminderPolicyQuerySet:
    """The policies ``user`` may see: those of the teams they see (and of those teams' services)."""
    return ReminderPolicy.objects.of_teams(visible_team_ids(user))


def manages(user: User, policy: ReminderPolicy) -> bool:
    ids = managed_team_ids(user)
    return ids is None or policy.owner_team_id in ids


def get_policy_for_user(user: User, pk: int, *, manage: bool = False) -> ReminderPolicy:
    """The policy, if ``user`` may see it (404 otherwise); with ``manage``, 403 unless they manage it."""
    policy = visible_policies(user).select_related("team", "service__owner", "channel").filter(pk=pk).first()
    if policy is None:
        raise Http404("No such reminder policy.")
    if manage and not manages(user, policy):
        raise PermissionDenied("Only the team's leads may change its review reminders.")
    return policy


def listed(user: User, *, now: datetime | None = None) -> ReminderPolicyQuerySet:
    """The policies ``user`` sees, by team or service name, each with ``sent`` (reminders sent) and ``held_out``
    (due but held out) over the last ``RECENT_DAYS`` days: one query however many policies and reminders."""
    since = (now or timezone.now()) - timedelta(days=RECENT_DAYS)
    return (
        visible_policies(user)
        .select_related("team", "service", "channel")
        .annotate(
            sent=Count("reminders", filter=Q(reminders__status=Reminder.Status.SENT, reminders__sent_at__gte=since)),
            held_out=Count("reminders", filter=Q(reminders__held_out=True, reminders__due_at__gte=since)),
        )
        .order_by(Coalesce("team__name", "service__name"), "pk")
    )

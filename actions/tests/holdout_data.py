"""Reminders of a policy with a holdout, for the holdout's tests and the velocity gains': a policy of Payments with
a 20% holdout, and first reminders due ten days back attended a chosen number of hours later."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from actions.models import Channel, Reminder, ReminderPolicy
from actions.tests.factories import ChannelFactory
from metrics.tests.factories import PullRequestFactory

NOW = timezone.now().replace(microsecond=0)
DUE = NOW - timedelta(days=10)


@pytest.fixture
def policy(team):
    outbox = ChannelFactory(kind=Channel.Kind.OUTBOX, name="Outbox")
    return ReminderPolicy.objects.create(team=team, channel=outbox, holdout_percent=20)


def remind(policy, service, *, hours, held_out=False, due=DUE, round=1, requested_by="", pull=None):
    """A reminder due at ``due`` of a pull request attended ``hours`` later (None: never)."""
    attended = None if hours is None else due + timedelta(hours=hours)
    pull = pull or PullRequestFactory(
        service=service, repository__service=service, opened_at=due - timedelta(days=1), first_review_at=attended
    )
    return Reminder.objects.create(
        policy=policy,
        pull_request=pull,
        round=round,
        held_out=held_out,
        status=Reminder.Status.HELD_OUT if held_out else Reminder.Status.SENT,
        due_at=due,
        waited=timedelta(hours=8),
        why="waited",
        commits=1,
        reviews=0,
        requested_by=requested_by,
    )

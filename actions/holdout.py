"""The review reminders' holdout, measured: were reminded pull requests picked up sooner than held-out ones?

A policy with a holdout (``ReminderPolicy.holdout_percent``) records every eligible pull request's first reminder
(round 1) at the moment it fell due (``Reminder.due_at``), and holds back a stable share of them by a hash that
depends on nothing about the pull request's content or time (``actions.reminders``): a randomised experiment. The
two arms are alike but for the reminder, so the difference in their pickup is the reminder's effect — with no
before/after or comparison-team assumption.

- **Outcome**: the hours from ``due_at`` to the pull request's attention (``attended_at``: its first review by
  someone else, merge or close — when it left the review queue), capped at ``HORIZON`` (7 days): one still
  waiting then counts as 7 days. Only first reminders due at least ``HORIZON`` ago are read, so every pull request
  was watched as long; a median or p75 below the cap is exact (at the cap it says "7 days or more").
- **Arms, as assigned** (intent to treat): held out, or not (whether the reminder then reached the channel or
  failed). Left out of both: pull requests someone reminded by hand ("Remind reviewers now",
  ``Reminder.requested_by``), which took them out of the experiment.
- **Compared** with ``estimates.compare`` (held out first, reminded second): median and p75 of each arm, the
  change (reminded − held out) with percentile bootstrap intervals, and n; below ``estimates.MIN_OBSERVATIONS``
  per arm, no number.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Exists, OuterRef
from django.utils import timezone

from actions import estimates
from actions.models import Reminder

HORIZON = timedelta(days=7)
SEED = 20260517  # the bootstrap's: the same rows always give the same interval
HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class Holdout:
    """What the holdout measured: ``comparison.before`` is the held-out arm, ``comparison.after`` the reminded."""

    comparison: estimates.BeforeAfter
    by_hand: int  # pull requests left out: reminded by hand
    since: datetime | None  # the first reminder read
    until: datetime  # reminders due up to then are read

    @property
    def words(self) -> str:
        """The effect on the median, as a leader reads it."""
        result = self.comparison
        if not result.enough or result.median_change is None:
            return (
                f"Too few pull requests to tell yet ({result.n_after} reminded, {result.n_before} held out; "
                f"{result.min_n} of each are needed)."
            )
        change = result.median_change
        cap = HORIZON / HOUR
        if result.median_before and result.median_before.value >= cap:
            return "Half the held-out pull requests waited a week or more: the median cannot say by how much."
        sooner = -change.value
        low, high = sorted((-change.low, -change.high))
        interval = f"95% interval {_hours(low)} to {_hours(high)}"
        if change.excludes_zero:
            verb = "sooner" if sooner > 0 else "later"
            return (
                f"Reminded pull requests were picked up {_hours(abs(sooner))} {verb} at the median than held-out "
                f"ones ({interval}; {result.n_after} reminded, {result.n_before} held out)."
            )
        return (
            f"No clear difference yet: reminded pull requests were picked up {_hours(sooner)} sooner at the median "
            f"({interval}, which includes no change; {result.n_after} reminded, {result.n_before} held out)."
        )


def _hours(value: float) -> str:
    return f"{value:.1f} h" if abs(value) < 10 else f"{value:.0f} h"


def holdout_measure(policy_ids: Iterable[int], *, now: datetime | None = None) -> Holdout:
    """The holdout of these policies, pooled (one query)."""
    until = (now or timezone.now()) - HORIZON
    by_hand = Reminder.objects.filter(
        policy_id=OuterRef("policy_id"), pull_request_id=OuterRef("pull_request_id")
    ).exclude(requested_by="")
    rows = (
        Reminder.objects.filter(policy_id__in=list(policy_ids), round=1, due_at__lte=until)
        .annotate(by_hand=Exists(by_hand))
        .values_list("held_out", "due_at", "pull_request__attended_at", "by_hand")
    )
    held: list[float] = []
    reminded: list[float] = []
    left_out = 0
    since: datetime | None = None
    cap = HORIZON / HOUR
    for held_out, due_at, attended_at, manual in rows:
        if manual:
            left_out += 1
            continue
        since = due_at if since is None else min(since, due_at)
        waited = cap if attended_at is None else max(0.0, min(cap, (attended_at - due_at) / HOUR))
        (held if held_out else reminded).append(waited)
    comparison = estimates.compare(held, reminded, seed=SEED)
    return Holdout(comparison, left_out, since, until)

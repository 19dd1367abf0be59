"""Thresholds: who may see and manage them, their writes, the scheduled evaluation and the backtest.

- **Access.** A threshold belongs to its scope's team (a service's: the service's owner); the organisation's to
  org viewers. Whoever may see that team sees the threshold; its leads (and the leads above it, and org viewers)
  manage it. Anyone else gets 404 (``get_threshold_for_user``).
- **Evaluation** (``threshold_evaluate``, every 15 minutes for every active threshold through
  ``actions.tasks.thresholds_evaluate``): the value now (``threshold_metrics.current``), one step of
  ``crossings.step`` from the stored state, and the state and any event written under the threshold's row lock, so
  a tick run twice, or two at once, fire once.
- **Backtest** (``backtest``): the same rule over the last 90 days' daily values, from a quiet state.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import date, datetime

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404
from django.utils import timezone

from actions import crossings, threshold_metrics
from actions.models import Threshold, ThresholdEvent
from actions.models.thresholds import ThresholdQuerySet
from actions.threshold_metrics import Subject
from e360.access import sees_everything, visible_team_ids
from e360.models import Membership, User
from e360.tree import TeamTree
from metrics import definitions as d
from metrics.scope import reading_profile

logger = logging.getLogger(__name__)

# --- Access -----------------------------------------------------------------------------------------------------


def visible_thresholds(user: User) -> ThresholdQuerySet:
    """The thresholds ``user`` may see: those of the teams they see; the organisation's for org viewers."""
    return Threshold.objects.of_teams(visible_team_ids(user))


def managed_team_ids(user: User) -> set[int] | None:
    """The teams whose thresholds ``user`` manages: those they lead and every team below; None: all (org viewers)."""
    if sees_everything(user):
        return None
    if not user.is_authenticated:
        return set()
    led = Membership.objects.filter(person__user=user, person__is_active=True, role=Membership.Role.LEAD).values_list(
        "team_id", flat=True
    )
    led_ids = set(led)
    return TeamTree.for_user(user).subtree(led_ids) if led_ids else set()


def manages(user: User, threshold: Threshold) -> bool:
    ids = managed_team_ids(user)
    if ids is None:
        return True
    owner = threshold.owner_team_id
    return owner is not None and owner in ids


def get_threshold_for_user(user: User, pk: int, *, manage: bool = False) -> Threshold:
    """The threshold, if ``user`` may see it (404 otherwise); with ``manage``, 403 unless they manage it."""
    threshold = visible_thresholds(user).select_related("team", "service__owner").filter(pk=pk).first()
    if threshold is None:
        raise Http404("No such threshold.")
    if manage and not manages(user, threshold):
        raise PermissionDenied("Only the team's leads may change its thresholds.")
    return threshold


# --- Writes -----------------------------------------------------------------------------------------------------

# Changing any of these makes it another rule: its state starts again (the cooldown still counts from the last
# crossing, so an edit cannot make it fire at once again).
RULE_FIELDS = ("metric", "scope", "team_id", "service_id", "comparison", "value", "window_days")


@transaction.atomic
def threshold_save(*, threshold: Threshold, by: User | None) -> Threshold:
    """Create or update a threshold the form has cleaned; a changed rule forgets its firing state."""
    if threshold.pk is None:
        threshold.created_by = by
    else:
        before = Threshold.objects.select_for_update().get(pk=threshold.pk)
        if any(getattr(before, name) != getattr(threshold, name) for name in RULE_FIELDS):
            threshold.is_firing = False
            threshold.firing_since = None
            threshold.last_value = None
            threshold.last_evaluated_at = None
        else:  # the evaluation owns the state: keep what it wrote since the form was read
            for name in ("is_firing", "firing_since", "last_value", "last_evaluated_at"):
                setattr(threshold, name, getattr(before, name))
        threshold.crossed_at, threshold.crossings = before.crossed_at, before.crossings
    threshold.save()
    return threshold


# --- Evaluation ---------------------------------------------------------------------------------------------------


def threshold_evaluate(
    threshold: Threshold, *, now: datetime | None = None, tree: TeamTree | None = None
) -> ThresholdEvent | None:
    """Read the value now, take one step of the rule, write the state and the event it makes (if any).

    The value is read before the lock (reading can take a while); the step runs on the state read under it. A
    threshold changed or evaluated at the same moment since keeps what that wrote.
    """
    now = now or timezone.now()
    reading = threshold_metrics.current(threshold.subject(), now, tree)
    with transaction.atomic():
        locked = Threshold.objects.select_for_update().filter(pk=threshold.pk, is_active=True).first()
        if locked is None or (locked.last_evaluated_at is not None and locked.last_evaluated_at >= now):
            return None
        if any(getattr(locked, name) != getattr(threshold, name) for name in RULE_FIELDS):
            return None  # edited since it was read: the next tick evaluates the new rule
        state, change = crossings.step(locked.rule, locked.state, crossings.Point(now, reading.value))
        locked.is_firing, locked.crossed_at = state.firing, state.crossed_at
        locked.last_value, locked.last_evaluated_at = reading.value, now
        event = None
        if change is not None:
            if change.kind == crossings.Kind.CROSSED:
                locked.crossings += 1
                locked.firing_since = change.at
            else:
                locked.firing_since = None
            event = ThresholdEvent.objects.create(
                threshold=locked,
                key=f"threshold-{locked.pk}-{locked.crossings}-{change.kind}",
                kind=change.kind,
                at=change.at,
                value=change.value,
                comparison=locked.comparison,
                limit=locked.value,
                window_start=reading.window.start if reading.window else None,
                window_end=reading.window.end if reading.window else None,
            )
        Threshold.objects.filter(pk=locked.pk).update(
            is_firing=locked.is_firing,
            firing_since=locked.firing_since,
            crossed_at=locked.crossed_at,
            crossings=locked.crossings,
            last_value=locked.last_value,
            last_evaluated_at=now,
        )
    return event


@dataclass(frozen=True)
class Tick:
    evaluated: int
    events: int
    failed: int
    seconds: float


def thresholds_evaluate(*, now: datetime | None = None) -> Tick:
    """Evaluate every active threshold once (the scheduled tick). One that fails is logged and skipped: it never
    keeps the others from being evaluated."""
    now = now or timezone.now()
    started = time.perf_counter()
    tree = TeamTree.load()
    evaluated = events = failed = 0
    for threshold in Threshold.objects.active().select_related("team", "service").order_by("pk"):
        try:
            event = threshold_evaluate(threshold, now=now, tree=tree)
        except Exception:
            logger.exception("threshold %s could not be evaluated", threshold.pk)
            failed += 1
            continue
        evaluated += 1
        events += event is not None
    return Tick(evaluated, events, failed, time.perf_counter() - started)


# --- Backtest -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Day:
    day: date
    value: float | None
    breaches: bool
    fired: bool
    recovered: bool


@dataclass(frozen=True)
class Backtest:
    subject: Subject
    rule: crossings.Rule
    days: tuple[Day, ...]

    @property
    def fired(self) -> tuple[Day, ...]:
        return tuple(day for day in self.days if day.fired)

    @property
    def breaching_days(self) -> int:
        return sum(day.breaches for day in self.days)

    @property
    def without_value(self) -> int:
        return sum(day.value is None for day in self.days)

    @property
    def verdict(self) -> str:
        """A word on the setting: silent (never fired), noisy (more than one firing a week) or neither."""
        fired = len(self.fired)
        if fired == 0:
            return "silent"
        return "noisy" if fired > len(self.days) / 7 else "ok"

    def chart(self) -> dict:
        """What the page's script draws: the daily values, the threshold's line, the days it fired."""
        return {
            "labels": [f"{day.day.day} {day.day:%b}" for day in self.days],
            "values": [None if day.value is None else round(day.value, 4) for day in self.days],
            "limit": self.rule.value,
            "fired": [day.fired for day in self.days],
            "unit": self.subject.metric.unit,
            "label": self.subject.metric.label,
        }


def backtest(subject: Subject, rule: crossings.Rule, *, now: datetime | None = None) -> Backtest:
    """What the rule would have done over the last 90 days, sampled at the end of each day."""
    readings = threshold_metrics.daily(subject, threshold_metrics.BACKTEST_DAYS, now)
    _, changes = crossings.run(rule, (crossings.Point(r.at, r.value) for r in readings))
    by_at = {change.at: change.kind for change in changes}
    profile = reading_profile()
    return Backtest(
        subject,
        rule,
        tuple(
            Day(
                day=d.bucket_day(r.at, profile),
                value=r.value,
                breaches=rule.breaches(r.value),
                fired=by_at.get(r.at) == crossings.Kind.CROSSED,
                recovered=by_at.get(r.at) == crossings.Kind.RECOVERED,
            )
            for r in readings
        ),
    )

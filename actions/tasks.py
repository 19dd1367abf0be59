"""django-q2 entry points of the actions app. Tasks are thin and idempotent."""

from __future__ import annotations


def reminders_tick() -> str:
    """Every 15 minutes: record the review reminders due now (``actions.reminders``); reruns record nothing twice."""
    from actions.reminders import reminders_tick as tick

    return tick()

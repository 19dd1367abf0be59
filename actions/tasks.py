"""django-q2 entry points of the actions app. Tasks are thin and idempotent."""

from __future__ import annotations


def reminders_tick() -> str:
    """Every 15 minutes: record the PR review reminders due now (``actions.reminders``); a rerun records nothing twice."""
    from actions.reminders import reminders_tick as tick

    return tick()

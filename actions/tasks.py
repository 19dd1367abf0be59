"""django-q2 entry points of the actions app. Tasks are thin and idempotent."""

from __future__ import annotations


def reminders_tick() -> str:
    """Every 15 minutes: record the review reminders due now, then send those due through their
    policy's channel (``actions.reminders``); reruns record nothing twice and send nothing twice."""
    from actions.reminders import reminders_send
    from actions.reminders import reminders_tick as tick

    summary = tick()
    sent, failed = reminders_send()
    return f"{summary}; {sent} sent, {failed} failed"

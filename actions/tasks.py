"""django-q2 entry points of the actions app. Tasks are thin and idempotent."""

from __future__ import annotations

from django.utils import timezone

from actions import thresholds


def reminders_tick() -> str:
    """Every 15 minutes: record the review reminders due now, then send those due through their
    policy's channel (``actions.reminders``); reruns record nothing twice and send nothing twice."""
    from actions.reminders import reminders_send
    from actions.reminders import reminders_tick as tick

    summary = tick()
    sent, failed = reminders_send()
    return f"{summary}; {sent} sent, {failed} failed"


def thresholds_evaluate() -> str:
    """The scheduled tick: evaluate every active threshold once (``actions.thresholds.thresholds_evaluate``)."""
    tick = thresholds.thresholds_evaluate()
    return f"{tick.evaluated} thresholds evaluated, {tick.events} events, {tick.failed} failed in {tick.seconds:.1f} s"


def automations_tick() -> str:
    """Every minute: record a run for each new trigger occurrence of the active automations, then execute the due
    runs, each at most once (``actions.automations``)."""
    from actions.automations import automations_tick as tick

    return tick()


def initiatives_freeze_due() -> str:
    """Every hour: freeze the definitions of the initiatives whose start has come, and the baseline of each team
    whose own start has (``actions.initiatives``); run twice, or late, it freezes nothing twice."""
    from actions.initiatives import initiatives_freeze_due as freeze

    frozen, baselines, failed = freeze()
    return f"{frozen} initiatives frozen, {baselines} team baselines frozen, {failed} failed"


def initiatives_publish() -> str:
    """Every hour: publish each initiative's report and headline row (planned, or started and not ended a quarter
    ago; ``actions.gains.publish_reports``), so its page, the initiatives list and the velocity gains read them at
    most an hour old instead of estimating on each visit."""
    from actions.gains import publish_reports

    planned, started = publish_reports(now=timezone.now())
    return f"{started} started and {planned} planned initiatives' reports published"

"""django-q2 entry points of the actions app. Tasks are idempotent."""

from __future__ import annotations

from actions import thresholds

# --- thresholds ---


def thresholds_evaluate() -> str:
    """The scheduled tick: evaluate every active threshold once (``actions.thresholds.thresholds_evaluate``)."""
    tick = thresholds.thresholds_evaluate()
    return f"{tick.evaluated} thresholds evaluated, {tick.events} events, {tick.failed} failed in {tick.seconds:.1f} s"

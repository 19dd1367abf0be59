"""django-q2 entry points for the insights: an hourly schedule recomputes the precomputed results.

``refresh`` (the schedule's function, declared in ``insights.apps``) queues one ``refresh_period`` per standard period,
so that each stays within the worker's timeout and one failing period does not hold the others back. Each is
idempotent: it recomputes the period from rollups and published survey figures and replaces its stored results in
one transaction, so a worker killed mid-task leaves the previous results and the retry computes them again.
"""

from __future__ import annotations

from django_q.tasks import async_task

from e360.broker import LONG_TASK
from insights import services
from insights.selectors import STANDARD_DAYS


def refresh() -> str:
    """Queue the refresh of every standard period."""
    for days in STANDARD_DAYS:
        async_task("insights.tasks.refresh_period", days, group="insights-refresh", timeout=LONG_TASK)
    return f"queued the insights refresh of {', '.join(map(str, STANDARD_DAYS))} days"


def refresh_period(days: int) -> str:
    if days not in STANDARD_DAYS:
        return f"{days} days is not a standard period: nothing computed"
    period = services.insights_refresh(days=days)
    return f"insights over {days} days: {period.teams} teams in {period.seconds:.1f} s"

"""django-q2 entry points for the insights: an hourly schedule recomputes the precomputed results.

``refresh`` (the schedule's function, declared in ``insights.apps``) queues the first standard period's
``refresh_period``, and each queues the next when it ends, failed or not: each stays within the worker's timeout, one
failing period does not hold the others back, and the refresh holds one worker at a time, leaving the others to the
deliveries and refreshes that make dashboards fresh (``make bench``'s freshness rows). Each is idempotent: it
recomputes the period from rollups and published survey figures and replaces its stored results in one transaction,
so a worker killed mid-task leaves the previous results and the retry computes them again.
"""

from __future__ import annotations

from django_q.tasks import async_task

from e360.broker import LONG_TASK
from insights import services
from insights.selectors import STANDARD_DAYS


def refresh() -> str:
    """Queue the refresh of the standard periods, one after another."""
    _queue(STANDARD_DAYS[0])
    return f"queued the insights refresh of {', '.join(map(str, STANDARD_DAYS))} days, one after another"


def _queue(days: int) -> None:
    async_task("insights.tasks.refresh_period", days, group="insights-refresh", timeout=LONG_TASK)


def refresh_period(days: int) -> str:
    if days not in STANDARD_DAYS:
        return f"{days} days is not a standard period: nothing computed"
    try:
        period = services.insights_refresh(days=days)
    finally:
        later = STANDARD_DAYS[STANDARD_DAYS.index(days) + 1 :]
        if later:
            _queue(later[0])
    return f"insights over {days} days: {period.teams} teams in {period.seconds:.1f} s"

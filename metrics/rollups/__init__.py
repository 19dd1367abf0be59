"""Rollups: the rows pages and the metrics API read instead of raw history, written and read here only.

Reading: a reader asks for a figure of a scope and a window, and this package decides which rows
hold it, and when they are not in step, reads raw rows instead:

- ``Figures(scope, windows, …)``: the DORA, pipeline and review figures of a scope (``Holding``:
  a page's ``Scope``, ``selectors.Area``, or ``Holders.services(…)``/``Holders.organisation()``),
  from the team rows of the whole subtrees in scope (week rows for whole weeks) and the day rows of
  its other services (``figures``);
- ``per_workflow(scope, window, now)``: the pipelines page's per-workflow figures, from the stored
  periods where they are in step with the runs, else from the runs (``workflows``).

Writing: the service refresh calls ``service_write`` with a service's records and derived facts; it
rewrites the service's day rows (``days``) and workflow rows (``workflows``) and adds the change to
the teams that count the service (``teams``, ``coverage``). Schedules call ``teams.sync`` (a catalog
change) and ``workflows.sweep`` (the coming day's workflow rows); ``teams.rebuild`` recomputes every
team after a rebuild of every service.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from e360.memo import keep
from e360.models import Service
from metrics import definitions as d
from metrics.rollups import coverage, days, teams, workflows
from metrics.rollups.coverage import Holders, Holding
from metrics.rollups.figures import DELIVERY_DISTRIBUTIONS, HEADLINE_DISTRIBUTIONS, Days, Figures, last_events
from metrics.rollups.workflows import Candidate, PerWorkflow, WorkflowStats, judged_runs, per_workflow

__all__ = [
    "DELIVERY_DISTRIBUTIONS",
    "HEADLINE_DISTRIBUTIONS",
    "Candidate",
    "Days",
    "Figures",
    "Holders",
    "Holding",
    "PerWorkflow",
    "WorkflowStats",
    "judged_runs",
    "kept",
    "last_events",
    "per_workflow",
    "service_write",
    "version",
]


def version(holding: Holding) -> tuple[str, ...] | None:
    """What figures of ``holding`` computed from rollups may be kept under: the ``TeamRollupVersion`` tokens of its
    team rows, read before them (one query). None when they may not be kept: some of its figures come from day
    rows of services, or none of its teams has rows yet.

    Of what a ``Figures`` reads besides, the failed deployments left unrecovered change only with a service
    refresh, which writes the rollups too; the review queue at ``now`` moves with the clock and ``last_events``
    with every accepted write, so a reader that shows them reads them again."""
    if holding.rollup_service_ids:
        return None
    return teams.versions(holding.rollup_team_ids)


def kept[T](holding: Holding, key: Hashable, compute: Callable[[], T]) -> T:
    """``compute()``: what a reader makes of ``holding``'s rollups alone (``key``: what else it depends on, such as
    the windows and the distributions read), computed once per rollup version in this process (``version``, read
    before the rows). A write to the rollups gives their teams new tokens, so the next request computes it again and
    a deployment shows as soon as its refresh commits; a holding that may not be kept is computed every time.

    Every viewer of the organisation's dashboard, or of a team's delivery page, is shown the same figures until a
    write changes them: at the large size the organisation's delivery page spent about 45 ms computing them (90
    days, in process) and none finding them again. What moves without a write (the review queue with the clock, the
    sources' last events with every delivery) a reader keeps out of what it keeps and reads per request."""
    found_version = version(holding)
    if found_version is None:
        return compute()
    full_key = (tuple(sorted(holding.rollup_team_ids)), found_version, key)
    found = _kept.get(full_key)
    if found is None:
        found = compute()
        keep(_kept, full_key, found, KEPT)
    return found


# What ``kept`` keeps in a process: each page's figures for a few periods of the scopes read most.
KEPT = 64
_kept: dict[Hashable, Any] = {}


def service_write(
    service: Service, records: days.Records, facts: d.DeliveryFacts, profile: d.Profile, *, update_teams: bool = True
) -> int:
    """Write a service's rollups from all its records and their facts; returns the rows written.

    Its day rows and its workflow rows (from the same runs, so in step with the day rows), and,
    unless ``update_teams`` is False (a rebuild of every service recomputes the teams once at the
    end), the change in its day rows added to every team that counts it. Run it in the transaction
    that holds the service's row lock.
    """
    rows = days.service_rows(records, facts, profile)
    written, before = days.write(service.id, rows)
    written += workflows.write(service.id, records.run_recs, profile)
    if update_teams:
        team_ids, counted = coverage.counting_teams(service.id, service.owner_id)
        teams.apply_delta(teams.service_delta(before if counted else {}, rows), team_ids)
    return written

"""Which rollup rows hold a scope's figures, and which rows are in step with the raw rows.

- **Holders.** A scope's delivery figures are the sum of the ``TeamRollup`` rows of the teams
  whose whole subtree it covers and the ``DailyRollup`` rows of its other services
  (``Holders``; ``metrics.scope`` decides the split from what the viewer may see). The
  organisation is the root teams' rows: every service has an owner.
- **Teams counting a service.** ``RolledUpService`` records which teams' rows count each
  service (its owner and the owner's ancestors when last synced); ``teams.sync`` compares it with
  the catalog to find the teams to recompute.
- **Workflow days in step.** ``WorkflowRollupCoverage`` records the days whose
  ``WorkflowPeriodRollup`` rows of a service were written from its runs; a read of a day a
  service's coverage lacks reads that service's runs instead (``workflows.per_workflow``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from django.db.models import Q, QuerySet

from e360.models import Service, Team
from e360.tree import TeamTree
from metrics import definitions as d
from metrics.models import RolledUpService, WorkflowRollupCoverage
from metrics.scope import reading_profile

# --- Holders --------------------------------------------------------------------------------------


class Holding(Protocol):
    """A scope as a figure's reader gives it: ``Holders``, ``metrics.scope.Scope``, ``metrics.selectors.Area``."""

    @property
    def filter_ids(self) -> Collection[int] | None: ...
    @property
    def rollup_team_ids(self) -> Collection[int]: ...
    @property
    def rollup_service_ids(self) -> Collection[int]: ...
    @property
    def profile(self) -> d.Profile: ...


@dataclass(frozen=True)
class Holders:
    """What a figure of a scope reads: ``filter_ids``, the services whose raw rows it reads (None: every
    service, no filter), and the rollups that hold them, the ``rollup_team_ids`` teams' (whole subtrees)
    and the ``rollup_service_ids`` services' own (``Holding``; a page's ``Scope`` is one too)."""

    filter_ids: Collection[int] | None
    rollup_team_ids: Collection[int]
    rollup_service_ids: Collection[int]
    profile: d.Profile

    @classmethod
    def services(cls, service_ids: Collection[int], profile: d.Profile | None = None) -> Holders:
        """Those services, read from their own (exact) rollups."""
        return cls(service_ids, (), service_ids, profile or reading_profile())

    @classmethod
    def subtrees(cls, team_ids: Collection[int], tree: TeamTree) -> dict[int, Holders]:
        """Each team with every team below it (``metrics.scope.team_scope`` of a viewer who sees them all): its own
        team rows, and its services for the raw rows (None: every service); one query for all."""
        subtrees = {team: tree.subtree([team]) for team in team_ids}
        owned: dict[int, list[int]] = {}
        owners = set().union(*subtrees.values()) if subtrees else set()
        for service, owner in Service.objects.filter(owner__any=owners).values_list("id", "owner_id"):
            owned.setdefault(owner, []).append(service)
        profile = reading_profile()
        everyone = len(tree)
        return {
            # Every team's: no service filter on the raw rows, as for the organisation.
            team: cls(
                None
                if len(subtree) == everyone
                else tuple(sorted(s for owner in subtree for s in owned.get(owner, ()))),
                (team,),
                (),
                profile,
            )
            for team, subtree in subtrees.items()
        }

    @classmethod
    def organisation(cls) -> Holders:
        """Every service: the root teams' rollups hold them all, and raw rows are read without a filter."""
        roots = tuple(Team.objects.filter(parent__isnull=True).order_by("id").values_list("id", flat=True))
        return cls(None, roots, (), reading_profile())


# --- Teams counting a service ---------------------------------------------------------------------


def counting_teams(service_id: int, owner_id: int) -> tuple[list[int], bool]:
    """The teams that count a service in their rollups, and whether they count its rows so far.

    A service never counted before is recorded with its owner's lineage; its rows
    so far are not in those teams' rows. Called by the service refresh while it
    holds the service's row lock.
    """
    recorded = RolledUpService.objects.filter(service_id=service_id).values_list("team_ids", flat=True).first()
    if recorded is not None:
        return recorded, True
    teams = list(TeamTree.load().chain(owner_id))
    RolledUpService.objects.create(service_id=service_id, team_ids=teams)
    return teams, False


# --- Workflow days in step ------------------------------------------------------------------------


def workflow_days_written(service_id: int, days: Sequence[date]) -> None:
    """Record the service's workflow rows of ``days`` (consecutive) as in step with its runs."""
    WorkflowRollupCoverage.objects.bulk_create(
        [WorkflowRollupCoverage(service_id=service_id, first_day=days[0], last_day=days[-1])],
        update_conflicts=True,
        unique_fields=["service"],
        update_fields=["first_day", "last_day"],
    )


def workflow_days_covering(first: date, last: date) -> QuerySet:
    """The coverage rows of the services whose workflow rows of ``first`` … ``last`` are in step."""
    return WorkflowRollupCoverage.objects.filter(first_day__lte=first, last_day__gte=last)


def workflow_days_lacking(rows: Q, day: date) -> QuerySet:
    """The ids of the services (of ``rows``, a filter on ``service``) whose workflow rows of ``day``
    are not in step: a read of that day reads their runs."""
    return (
        WorkflowRollupCoverage.objects.filter(rows)
        .exclude(first_day__lte=day, last_day__gte=day)
        .values_list("service_id", flat=True)
    )

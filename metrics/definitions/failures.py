"""Failed production deployments (incident, rollback, hotfix), change failure rate and recovery time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from typing import TYPE_CHECKING

from metrics.definitions.linking import IncidentLink, _chains, rollback_ids
from metrics.definitions.production import production_deployments, production_in_window
from metrics.definitions.profile import Profile, _profile
from metrics.definitions.records import DeploymentRec, IncidentRec
from metrics.definitions.stats import DurationStats, ratio, span
from metrics.definitions.vocabulary import CAUSE_HOTFIX, CAUSE_INCIDENT, CAUSE_ROLLBACK
from metrics.definitions.windows import Window

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping


@dataclass(frozen=True)
class DeploymentFailure:
    """A failed production deployment: why, and when it recovered (None while not recovered).

    ``fixed_by`` is the rollback or hotfix deployment that followed it, if any.
    """

    deployment_id: str
    causes: tuple[str, ...]
    incident_ids: tuple[str, ...]
    fixed_by: str | None
    recovered_at: datetime | None
    recovery_time: timedelta | None


def failed_deployments(
    deployments: Iterable[DeploymentRec],
    incidents: Iterable[IncidentRec],
    incident_links: Mapping[str, IncidentLink],
    profile: Profile | None = None,
) -> dict[str, DeploymentFailure]:
    """The failed production deployments, each counted once whatever the number of causes.

    A production deployment failed when (1) an incident is linked to it; (2) the next
    production deployment of the same service, repository and environment is a rollback
    (flagged, or redeploying an older sha); or (3) that next deployment is a hotfix and
    finished within W of it (no cap when W is None).

    Recovery (FDRT) is the earliest of: the resolution of its linked incidents (the
    latest of them, once all are resolved) and the rollback/hotfix deployment's finish.
    """
    p = _profile(profile)
    prod = production_deployments(deployments, p)
    prod_ids = {d.id for d in prod}
    incidents_by_id = {i.id: i for i in incidents}
    incidents_of: dict[str, list[IncidentRec]] = {}
    for link in incident_links.values():
        if link.deployment_id in prod_ids and link.incident_id in incidents_by_id:
            incidents_of.setdefault(link.deployment_id, []).append(incidents_by_id[link.incident_id])

    rollbacks = rollback_ids(prod)
    fixes: dict[str, tuple[str, DeploymentRec]] = {}  # failed id → (cause, fixing deployment)
    for chain in _chains(prod).values():
        for prev, nxt in pairwise(chain):
            if nxt.id in rollbacks:
                fixes[prev.id] = (CAUSE_ROLLBACK, nxt)
            elif p.is_hotfix(nxt):
                assert nxt.finished_at is not None and prev.finished_at is not None
                w = p.incident_link_window
                if w is None or nxt.finished_at - prev.finished_at <= w:
                    fixes[prev.id] = (CAUSE_HOTFIX, nxt)

    result: dict[str, DeploymentFailure] = {}
    for d in prod:
        linked = sorted(incidents_of.get(d.id, []), key=lambda i: (i.started_at, i.id))
        fix = fixes.get(d.id)
        if not linked and fix is None:
            continue
        causes: list[str] = []
        candidates: list[datetime] = []
        if linked:
            causes.append(CAUSE_INCIDENT)
            if all(i.resolved_at is not None for i in linked):
                candidates.append(max(i.resolved_at for i in linked if i.resolved_at is not None))
        if fix is not None:
            causes.append(fix[0])
            assert fix[1].finished_at is not None
            candidates.append(fix[1].finished_at)
        recovered_at = min(candidates) if candidates else None
        result[d.id] = DeploymentFailure(
            deployment_id=d.id,
            causes=tuple(causes),
            incident_ids=tuple(i.id for i in linked),
            fixed_by=fix[1].id if fix else None,
            recovered_at=recovered_at,
            recovery_time=span(d.finished_at, recovered_at, p),
        )
    return result


@dataclass(frozen=True)
class ChangeFailureRate:
    """Failed production deployments ÷ production deployments, both by deployment time in the window."""

    failed: int
    deployments: int
    value: float | None


def change_failure_rate(
    deployments: Iterable[DeploymentRec],
    failures: Mapping[str, DeploymentFailure],
    window: Window,
    profile: Profile | None = None,
) -> ChangeFailureRate:
    """Counted per deployment, never per incident: three incidents on one deployment are one failure."""
    prod = production_in_window(deployments, window, _profile(profile))
    failed = sum(1 for d in prod if d.id in failures)
    return ChangeFailureRate(failed=failed, deployments=len(prod), value=ratio(failed, len(prod)))


@dataclass(frozen=True)
class Recovery:
    """FDRT (failed deployment recovery time, the level's input) and classic time to restore.

    ``unrecovered`` counts failed deployments of the window not recovered by its end.
    """

    failed_deployment_recovery: DurationStats
    time_to_restore: DurationStats
    unrecovered: int | None  # None: not read (a compared window's, which nothing shows)

    @property
    def median(self) -> timedelta | None:
        return self.failed_deployment_recovery.median


def recovery(
    failures: Mapping[str, DeploymentFailure],
    incidents: Iterable[IncidentRec],
    window: Window,
    profile: Profile | None = None,
    *,
    deployments: Iterable[DeploymentRec] = (),
) -> Recovery:
    """FDRT: median over failed deployments whose recovery falls in the window.
    Time to restore: median of resolved - started over incidents resolved in the window.
    ``deployments`` (optional) lets ``unrecovered`` count failures of the window still open at its end.
    """
    p = _profile(profile)
    fdrt = [f.recovery_time for f in failures.values() if window.contains(f.recovered_at)]
    restore = [span(i.started_at, i.resolved_at, p) for i in incidents if window.contains(i.resolved_at)]
    in_window = {d.id for d in production_in_window(deployments, window, p)}
    unrecovered = sum(
        1
        for f in failures.values()
        if f.deployment_id in in_window and (f.recovered_at is None or f.recovered_at >= window.end)
    )
    return Recovery(
        failed_deployment_recovery=DurationStats.of(fdrt, p.median_kind),
        time_to_restore=DurationStats.of(restore, p.median_kind),
        unrecovered=unrecovered,
    )

"""Rework: production deployments that were unplanned fixes (rollback, hotfix, open incident), and their rate."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from metrics.definitions.linking import rollback_ids
from metrics.definitions.production import production_deployments, production_in_window
from metrics.definitions.profile import Profile, _profile
from metrics.definitions.records import DeploymentRec, IncidentRec
from metrics.definitions.stats import ratio
from metrics.definitions.vocabulary import REWORK_HOTFIX, REWORK_INCIDENT_OPEN, REWORK_ROLLBACK
from metrics.definitions.windows import Window

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping


def rework_deployments(
    deployments: Iterable[DeploymentRec],
    incidents: Iterable[IncidentRec],
    profile: Profile | None = None,
) -> dict[str, tuple[str, ...]]:
    """Production deployments that are unplanned fixes for a production problem, with the reasons:

    ``rollback`` (flagged, or redeploying an older sha of the same service, repository and
    environment), ``hotfix`` (flag, or ref/title matching the hotfix pattern) and
    ``incident_open`` (finished while an incident of the same service was open: started
    before the deployment finished, not resolved before it).
    """
    p = _profile(profile)
    prod = production_deployments(deployments, p)
    incidents_by_group: dict[str, list[IncidentRec]] = {}
    for i in incidents:
        incidents_by_group.setdefault(p.group_of(i.service), []).append(i)

    rollbacks = rollback_ids(prod)
    result: dict[str, tuple[str, ...]] = {}
    for d in prod:
        assert d.finished_at is not None
        reasons = []
        if d.id in rollbacks:
            reasons.append(REWORK_ROLLBACK)
        if p.is_hotfix(d):
            reasons.append(REWORK_HOTFIX)
        finished = d.finished_at
        if any(
            i.started_at < finished and (i.resolved_at is None or finished <= i.resolved_at)
            for i in incidents_by_group.get(p.group_of(d.service), [])
        ):
            reasons.append(REWORK_INCIDENT_OPEN)
        if reasons:
            result[d.id] = tuple(reasons)
    return result


@dataclass(frozen=True)
class ReworkRate:
    """Share of production deployments that were rework. DORA publishes no bands: no level."""

    rework: int
    deployments: int
    value: float | None
    by_reason: Mapping[str, int]


def rework_rate(
    deployments: Iterable[DeploymentRec],
    rework: Mapping[str, tuple[str, ...]],
    window: Window,
    profile: Profile | None = None,
) -> ReworkRate:
    """Rework deployments ÷ production deployments finished in the window; a deployment counts once."""
    prod = production_in_window(deployments, window, _profile(profile))
    reworked = [d for d in prod if d.id in rework]
    by_reason = dict.fromkeys((REWORK_ROLLBACK, REWORK_HOTFIX, REWORK_INCIDENT_OPEN), 0)
    for d in reworked:
        for reason in rework[d.id]:
            by_reason[reason] = by_reason.get(reason, 0) + 1
    return ReworkRate(
        rework=len(reworked), deployments=len(prod), value=ratio(len(reworked), len(prod)), by_reason=by_reason
    )

"""Delivery facts: every linking rule run once over all the records, ready to persist or measure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from metrics.definitions.failures import DeploymentFailure, failed_deployments
from metrics.definitions.lead_times import ChangeLeadTime, change_lead_times
from metrics.definitions.linking import (
    ChangeLinks,
    IncidentLink,
    link_changes,
    link_incidents,
    previous_success_deployments,
)
from metrics.definitions.profile import Profile, _profile
from metrics.definitions.records import ChangeRec, DeploymentRec, IncidentRec
from metrics.definitions.rework import rework_deployments

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable, Mapping


@dataclass(frozen=True)
class DeliveryFacts:
    """Everything linking derives from the records: what the Django side persists."""

    deployments: tuple[DeploymentRec, ...]
    changes: tuple[ChangeRec, ...]
    incidents: tuple[IncidentRec, ...]
    previous: Mapping[str, str | None]
    change_links: ChangeLinks
    lead_times: Mapping[str, ChangeLeadTime]
    incident_links: Mapping[str, IncidentLink]
    failures: Mapping[str, DeploymentFailure]
    rework: Mapping[str, tuple[str, ...]]


def derive_facts(
    deployments: Iterable[DeploymentRec],
    changes: Iterable[ChangeRec],
    incidents: Iterable[IncidentRec],
    profile: Profile | None = None,
    *,
    commit_ranges: Mapping[tuple[str, str], Collection[str]] | None = None,
) -> DeliveryFacts:
    """Run every linking rule once over all the records (not only a window's: a change
    deployed in the window may have been merged long before it)."""
    p = _profile(profile)
    deps, chs, incs = tuple(deployments), tuple(changes), tuple(incidents)
    links = link_changes(deps, chs, commit_ranges, p)
    incident_links = link_incidents(incs, deps, p, changes=chs, change_links=links)
    return DeliveryFacts(
        deployments=deps,
        changes=chs,
        incidents=incs,
        previous=previous_success_deployments(deps),
        change_links=links,
        lead_times=change_lead_times(chs, links, deps, p),
        incident_links=incident_links,
        failures=failed_deployments(deps, incs, incident_links, p),
        rework=rework_deployments(deps, incs, p),
    )

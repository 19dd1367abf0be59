"""Data quality: sample sizes and linking coverage, to say how far the figures can be trusted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from metrics.definitions.facts import DeliveryFacts
from metrics.definitions.production import production_in_window
from metrics.definitions.profile import Profile, _profile
from metrics.definitions.stats import ratio
from metrics.definitions.vocabulary import LINK_COMMIT_RANGE, LINK_MERGED_BETWEEN, LINK_NONE, LINK_SENT
from metrics.definitions.windows import Window

if TYPE_CHECKING:
    from collections.abc import Mapping


@dataclass(frozen=True)
class DataQuality:
    """How far to trust the figures: sample sizes and linking coverage (shares None without data)."""

    deployments: int
    deployments_with_changes: int
    linked_change_share: float | None
    link_rules: Mapping[int, int]
    changes: int
    changes_without_lead_time: int
    incidents: int
    incidents_linked: int
    incident_link_share: float | None
    pipeline_runs: int
    last_event_at: Mapping[str, datetime]


def data_quality(
    facts: DeliveryFacts,
    window: Window,
    profile: Profile | None = None,
    *,
    pipeline_runs: int = 0,
    last_event_at: Mapping[str, datetime] | None = None,
) -> DataQuality:
    """Sample sizes (production deployments, changes deployed, incidents started in the window),
    the share of deployments with linked changes (and by which rule), the share of incidents
    linked to a deployment, and the last ingested event per source (passed through)."""
    p = _profile(profile)
    prod = production_in_window(facts.deployments, window, p)
    link_rules = dict.fromkeys((LINK_NONE, LINK_SENT, LINK_COMMIT_RANGE, LINK_MERGED_BETWEEN), 0)
    with_changes = 0
    for d in prod:
        link = facts.change_links.deployments.get(d.id)
        link_rules[link.rule if link is not None else LINK_NONE] += 1
        with_changes += bool(link is not None and link.change_ids)
    deployed = [lt for lt in facts.lead_times.values() if window.contains(lt.deployed_at)]
    incidents = [i for i in facts.incidents if window.contains(i.started_at)]
    linked = sum(1 for i in incidents if i.id in facts.incident_links)
    return DataQuality(
        deployments=len(prod),
        deployments_with_changes=with_changes,
        linked_change_share=ratio(with_changes, len(prod)),
        link_rules=link_rules,
        changes=len(deployed),
        changes_without_lead_time=sum(1 for lt in deployed if lt.lead_time is None),
        incidents=len(incidents),
        incidents_linked=linked,
        incident_link_share=ratio(linked, len(incidents)),
        pipeline_runs=pipeline_runs,
        last_event_at=dict(last_event_at or {}),
    )

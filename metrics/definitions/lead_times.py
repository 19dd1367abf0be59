"""Lead time for changes: per change (with its coding, pickup, review and deploy
components), and over the changes deployed in a window."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from metrics.definitions.linking import ChangeLinks
from metrics.definitions.profile import Profile, _profile
from metrics.definitions.records import ChangeRec, DeploymentRec
from metrics.definitions.stats import DurationStats, span
from metrics.definitions.vocabulary import LeadTimeFormula
from metrics.definitions.windows import Window

if TYPE_CHECKING:
    from collections.abc import Iterable


@dataclass(frozen=True)
class ChangeLeadTime:
    """One change's lead time and its components (each None when negative or unknown).

    coding = opened - first commit; pickup = first non-author review - opened;
    review = merged - first review; deploy = deployed - merged. Direct pushes have
    no coding, pickup or review: their lead time is all deploy time.
    """

    change_id: str
    service: str
    deployment_id: str | None
    deployed_at: datetime | None
    lead_time: timedelta | None
    coding: timedelta | None
    pickup: timedelta | None
    review: timedelta | None
    deploy: timedelta | None


def change_lead_times(
    changes: Iterable[ChangeRec],
    links: ChangeLinks,
    deployments: Iterable[DeploymentRec],
    profile: Profile | None = None,
) -> dict[str, ChangeLeadTime]:
    """Lead time of every merged change (unmerged pull requests are not changes yet).

    ``deployed_at`` is the finish of the first production deployment containing the change.
    Lead time = deployed_at - first commit (None until deployed). Under the
    ``devlake_cycle`` formula it is DevLake's cycle time instead: coding + (merged -
    opened) + deploy, a missing part counting as 0, present even before deployment.
    """
    p = _profile(profile)
    finished = {d.id: d.finished_at for d in deployments}
    result: dict[str, ChangeLeadTime] = {}
    for c in changes:
        if c.merged_at is None:
            continue
        deployment_id = links.deployed_by.get(c.id)
        deployed_at = finished.get(deployment_id) if deployment_id else None
        if c.is_direct_push:
            coding = pickup = review = None
        else:
            coding = span(c.first_commit_at, c.opened_at, p)
            pickup = span(c.opened_at, c.first_review_at, p)
            review = span(c.first_review_at, c.merged_at, p)
        deploy = span(c.merged_at, deployed_at, p)
        if p.lead_time_formula == LeadTimeFormula.DEVLAKE_CYCLE:
            parts = (coding, span(c.opened_at, c.merged_at, p), deploy)
            lead: timedelta | None = sum((part for part in parts if part is not None), timedelta(0))
        else:
            lead = span(c.first_commit_at, deployed_at, p)
        result[c.id] = ChangeLeadTime(
            change_id=c.id,
            service=c.service,
            deployment_id=deployment_id,
            deployed_at=deployed_at,
            lead_time=lead,
            coding=coding,
            pickup=pickup,
            review=review,
            deploy=deploy,
        )
    return result


@dataclass(frozen=True)
class LeadTime:
    """Lead time for changes deployed in the window: the figure and its four components."""

    changes: int
    lead_time: DurationStats
    coding: DurationStats
    pickup: DurationStats
    review: DurationStats
    deploy: DurationStats

    @property
    def median(self) -> timedelta | None:
        return self.lead_time.median


def lead_time(lead_times: Iterable[ChangeLeadTime], window: Window, profile: Profile | None = None) -> LeadTime:
    """Median (p75, p90) lead time and components over the changes whose ``deployed_at`` is in the window."""
    p = _profile(profile)
    deployed = [lt for lt in lead_times if window.contains(lt.deployed_at)]
    kind = p.median_kind
    return LeadTime(
        changes=len(deployed),
        lead_time=DurationStats.of((lt.lead_time for lt in deployed), kind),
        coding=DurationStats.of((lt.coding for lt in deployed), kind),
        pickup=DurationStats.of((lt.pickup for lt in deployed), kind),
        review=DurationStats.of((lt.review for lt in deployed), kind),
        deploy=DurationStats.of((lt.deploy for lt in deployed), kind),
    )

"""Linking: previous successful deployments, the changes each production deployment
contains, and the deployment each incident is blamed on."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from metrics.definitions.production import production_deployments
from metrics.definitions.profile import Profile, _profile
from metrics.definitions.records import ChangeRec, DeploymentRec, IncidentRec
from metrics.definitions.vocabulary import (
    INCIDENT_EXPLICIT,
    INCIDENT_WINDOW,
    LINK_COMMIT_RANGE,
    LINK_MERGED_BETWEEN,
    LINK_NONE,
    LINK_SENT,
    is_success,
)

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable, Mapping, Sequence


_HEX_SHA = re.compile(r"[0-9a-f]{7,64}")

ChainKey = tuple[str, str | None, str]


def _chain_key(d: DeploymentRec) -> ChainKey:
    return (d.service, d.repository, d.environment)


def _chains(deployments: Iterable[DeploymentRec]) -> dict[ChainKey, list[DeploymentRec]]:
    chains: dict[ChainKey, list[DeploymentRec]] = {}
    for d in deployments:
        chains.setdefault(_chain_key(d), []).append(d)
    for chain in chains.values():
        chain.sort(key=lambda d: (d.finished_at, d.started_at or d.finished_at, d.id))
    return chains


def previous_success_deployments(deployments: Iterable[DeploymentRec]) -> dict[str, str | None]:
    """For each successful, finished deployment: the id of the previous successful deployment
    (by finish time) of the same service, repository and environment, or None for the first.

    Deployments without an environment are not chained (DevLake's
    ``prev_success_deployment_commit_id``). Any environment, not only production.
    """
    chained = (d for d in deployments if is_success(d.status) and d.finished_at is not None and d.environment)
    previous: dict[str, str | None] = {}
    for chain in _chains(chained).values():
        prev_id: str | None = None
        for d in chain:
            previous[d.id] = prev_id
            prev_id = d.id
    return previous


def rollback_ids(prod: Iterable[DeploymentRec]) -> set[str]:
    """Production deployments that are rollbacks: flagged as one, or redeploying a sha that an
    earlier deployment of the same service, repository and environment had replaced."""
    rollbacks: set[str] = set()
    for chain in _chains(prod).values():
        replaced: set[str] = set()  # shas deployed before the current deployment's predecessor
        for prev, d in zip([None, *chain], chain, strict=False):
            if d.is_rollback or (prev is not None and d.sha and prev.sha and d.sha != prev.sha and d.sha in replaced):
                rollbacks.add(d.id)
            if prev is not None and prev.sha:
                replaced.add(prev.sha)
    return rollbacks


def _ships_nothing_new(d: DeploymentRec, prev: DeploymentRec | None, rollbacks: Collection[str], p: Profile) -> bool:
    """A deployment that brings no newly merged change: a rollback (older code), one whose sent
    change list is empty (the sender says it ships no change), or a redeploy of the previous sha."""
    return (
        d.id in rollbacks
        or (LINK_SENT in p.change_link_rules and d.changes is not None and not d.changes)
        or (prev is not None and bool(d.sha) and d.sha == prev.sha)
    )


def _merged_since(prod: Iterable[DeploymentRec], rollbacks: Collection[str], p: Profile) -> dict[str, DeploymentRec]:
    """Where rule 3 starts for each deployment that may use it: the latest earlier deployment of its
    chain that shipped something new. Deployments that ship nothing new neither use rule 3 nor
    start it, so the changes merged before them wait for the next deployment that ships code."""
    since: dict[str, DeploymentRec] = {}
    for chain in _chains(prod).values():
        prev: DeploymentRec | None = None
        shipped: DeploymentRec | None = None
        for d in chain:
            if not _ships_nothing_new(d, prev, rollbacks, p):
                if shipped is not None:
                    since[d.id] = shipped
                shipped = d
            prev = d
    return since


@dataclass(frozen=True)
class DeploymentChanges:
    """The changes a production deployment contains and the rule that found them (0 = none)."""

    deployment_id: str
    rule: int
    change_ids: tuple[str, ...]


@dataclass(frozen=True)
class ChangeLinks:
    """Per production deployment, its changes; per change, the first production deployment containing it."""

    deployments: Mapping[str, DeploymentChanges]
    deployed_by: Mapping[str, str]


def _sha_matches(named: str, sha: str | None) -> bool:
    """Exact match, or a short hex sha (≥ 7 characters) naming a longer one."""
    if not named or not sha:
        return False
    if named == sha:
        return True
    a, b = named.lower(), sha.lower()
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return bool(_HEX_SHA.fullmatch(short) and _HEX_SHA.fullmatch(long_) and long_.startswith(short))


class _GroupChanges:
    """The changes of one linking group, indexed by id and sha, and sorted by merge time."""

    def __init__(self, changes: list[ChangeRec]) -> None:
        self.by_id = {c.id: c for c in changes}
        self.by_merge_sha: dict[str, list[ChangeRec]] = {}
        self.by_sha: dict[str, list[ChangeRec]] = {}
        for c in changes:
            if c.merge_sha:
                self.by_merge_sha.setdefault(c.merge_sha, []).append(c)
            for sha in {s.lower() for s in (c.merge_sha, *c.commit_shas) if s}:
                self.by_sha.setdefault(sha, []).append(c)
        self.merged = sorted((c for c in changes if c.merged_at is not None), key=lambda c: (c.merged_at, c.id))
        self.merged_times = [c.merged_at for c in self.merged if c.merged_at is not None]  # all of them

    def named(self, sent: Iterable[str]) -> list[ChangeRec]:
        """Changes a sent list names: by id, or by any of their shas (a short hex sha may name a long one)."""
        found: dict[str, ChangeRec] = {}
        for name in sent:
            if name in self.by_id:
                found[name] = self.by_id[name]
            key = name.lower()
            matches = self.by_sha.get(key)
            if matches is None and _HEX_SHA.fullmatch(key):
                matches = [c for sha, cs in self.by_sha.items() if _sha_matches(key, sha) for c in cs]
            for c in matches or ():
                found[c.id] = c
        return sorted(found.values(), key=lambda c: c.id)

    def in_range(self, shas: Collection[str]) -> list[ChangeRec]:
        """Changes whose merge commit is one of ``shas``."""
        found = {c.id: c for sha in shas for c in self.by_merge_sha.get(sha, ())}
        return sorted(found.values(), key=lambda c: c.id)

    def merged_between(self, after: datetime, before: datetime) -> list[ChangeRec]:
        """Changes merged in ``[after, before)``."""
        return self.merged[_bisect_left(self.merged_times, after) : _bisect_left(self.merged_times, before)]


def _bisect_left(items: Sequence[datetime], value: datetime) -> int:
    lo, hi = 0, len(items)
    while lo < hi:
        mid = (lo + hi) // 2
        if items[mid] < value:
            lo = mid + 1
        else:
            hi = mid
    return lo


def link_changes(
    deployments: Iterable[DeploymentRec],
    changes: Iterable[ChangeRec],
    commit_ranges: Mapping[tuple[str, str], Collection[str]] | None = None,
    profile: Profile | None = None,
) -> ChangeLinks:
    """Which changes each production deployment contains, in order of preference:

    1. the change list sent with the deployment (``changes``: PR ids or commit shas). A
       list sent empty says the deployment ships no change (rule 1, nothing linked); only an
       absent list (None) leaves the deployment to rules 2 and 3;
    2. the commit range between the previous successful production deployment's sha
       (same service, repository and environment) and this one's: ``commit_ranges``
       maps ``(old_sha, new_sha)`` to the shas between them; a change is in it when its
       merge sha is. Redeploying the same sha contains nothing;
    3. fallback: changes of the service (and repository, when the deployment names one)
       merged into the default branch at or after the previous deployment *that shipped
       something new* finished, and before this one started. A deployment ships nothing new
       when it is a rollback (flagged, or redeploying an older sha: it brings back older
       code), its sent list is empty, or it redeploys the previous sha. Such a deployment
       gets nothing from rule 3, and the changes merged before it are left to the next
       deployment that ships something new.

    The first deployment of a chain has no previous one and links only rule 1; so does a
    deployment preceded only by deployments that shipped nothing new, for rule 3. Changes are
    matched within the deployment's group (its service, unless ``Profile.service_groups``
    says otherwise). A change is *deployed by* the first production deployment (by finish
    time) that contains it.
    """
    p = _profile(profile)
    ranges = commit_ranges or {}
    prod = production_deployments(deployments, p)
    by_id = {d.id: d for d in prod}
    previous = previous_success_deployments(prod)
    since = _merged_since(prod, rollback_ids(prod), p)

    grouped: dict[str, list[ChangeRec]] = {}
    for c in changes:
        grouped.setdefault(p.group_of(c.service), []).append(c)
    indexed = {group: _GroupChanges(members) for group, members in grouped.items()}
    empty = _GroupChanges([])

    result: dict[str, DeploymentChanges] = {}
    deployed_by: dict[str, str] = {}
    for d in prod:
        candidates = indexed.get(p.group_of(d.service), empty)
        prev = by_id.get(previous.get(d.id) or "")
        rule, contained = _changes_of(d, prev, since.get(d.id), candidates, ranges, p)
        result[d.id] = DeploymentChanges(d.id, rule, tuple(c.id for c in contained))
        for c in contained:
            deployed_by.setdefault(c.id, d.id)  # deployments are in finish order: the first one wins
    return ChangeLinks(deployments=result, deployed_by=deployed_by)


def _changes_of(
    d: DeploymentRec,
    prev: DeploymentRec | None,
    since: DeploymentRec | None,
    candidates: _GroupChanges,
    ranges: Mapping[tuple[str, str], Collection[str]],
    p: Profile,
) -> tuple[int, list[ChangeRec]]:
    """``prev``: the previous deployment of the chain; ``since``: where rule 3 starts (None: it does not apply)."""
    rules = p.change_link_rules
    if LINK_SENT in rules and d.changes is not None:
        return LINK_SENT, candidates.named(d.changes)
    if prev is None:
        return LINK_NONE, []
    if LINK_COMMIT_RANGE in rules and d.sha and prev.sha:
        if d.sha == prev.sha:
            return LINK_COMMIT_RANGE, []
        shas = ranges.get((prev.sha, d.sha))
        if shas is not None:
            return LINK_COMMIT_RANGE, candidates.in_range(shas)
    if LINK_MERGED_BETWEEN in rules and since is not None:
        after = since.finished_at
        before = d.started_at or d.finished_at
        assert after is not None and before is not None
        merged = [
            c
            for c in candidates.merged_between(after, before)
            if c.base_branch_is_default and (d.repository is None or c.repository == d.repository)
        ]
        return LINK_MERGED_BETWEEN, merged
    return LINK_NONE, []


@dataclass(frozen=True)
class IncidentLink:
    """The deployment blamed for an incident, and how: ``explicit`` (named) or ``window`` (the rule)."""

    incident_id: str
    deployment_id: str
    rule: str


def link_incidents(
    incidents: Iterable[IncidentRec],
    deployments: Iterable[DeploymentRec],
    profile: Profile | None = None,
    *,
    changes: Iterable[ChangeRec] = (),
    change_links: ChangeLinks | None = None,
) -> dict[str, IncidentLink]:
    """Link each incident to the deployment that caused it; unlinked incidents are absent.

    1. Explicit: ``caused_by`` naming a known deployment; else ``root_cause_sha``
       naming the sha of a production deployment, or a change's commit (then its deploying
       deployment) — the earliest such deployment.
    2. Window rule: the latest production deployment of the incident's service (group) that
       finished strictly before the incident started, if it finished at most W
       (``incident_link_window``) before; W = None applies no cap (DevLake).
    """
    p = _profile(profile)
    all_deployments = list(deployments)
    known = {d.id for d in all_deployments}
    prod = production_deployments(all_deployments, p)
    by_group: dict[str, list[DeploymentRec]] = {}
    for d in prod:
        by_group.setdefault(p.group_of(d.service), []).append(d)
    change_list = list(changes)

    links: dict[str, IncidentLink] = {}
    for incident in incidents:
        explicit = _explicit_deployment(incident, known, prod, change_list, change_links)
        if explicit is not None:
            links[incident.id] = IncidentLink(incident.id, explicit, INCIDENT_EXPLICIT)
            continue
        latest = None
        for d in by_group.get(p.group_of(incident.service), []):
            assert d.finished_at is not None
            if d.finished_at >= incident.started_at:
                break
            latest = d
        if latest is None or latest.finished_at is None:
            continue
        window = p.incident_link_window
        if window is None or incident.started_at - latest.finished_at <= window:
            links[incident.id] = IncidentLink(incident.id, latest.id, INCIDENT_WINDOW)
    return links


def _explicit_deployment(
    incident: IncidentRec,
    known: set[str],
    prod: list[DeploymentRec],
    changes: list[ChangeRec],
    change_links: ChangeLinks | None,
) -> str | None:
    if incident.caused_by and incident.caused_by in known:
        return incident.caused_by
    sha = (incident.root_cause_sha or "").strip()
    if not sha:
        return None
    for d in prod:  # finish order: the first deployment of that sha introduced it
        if _sha_matches(sha, d.sha):
            return d.id
    if change_links is not None:
        order = {d.id: i for i, d in enumerate(prod)}
        deploying = [
            change_links.deployed_by[c.id]
            for c in changes
            if c.id in change_links.deployed_by and any(_sha_matches(sha, s) for s in (c.merge_sha, *c.commit_shas))
        ]
        if deploying:
            return min(deploying, key=lambda i: order.get(i, len(order)))
    return None

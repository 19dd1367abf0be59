"""Commit ranges between deployments from the pushes a repository received (linking rule 2).

Standard library only, like ``metrics.definitions``, whose ``link_changes`` takes what
``commit_ranges`` returns. A push moves a branch from ``before`` to ``after`` and carries
the commits in between; pushes chain, one's ``before`` being an earlier one's ``after``.
The range of a deployment is found by walking that chain back from its sha to the
previous successful production deployment's sha, collecting the commits on the way.

When the walk cannot get there — a push is missing, the branch was created or
force-pushed from somewhere else, or the chain is longer than ``MAX_PUSHES`` — the
pair gets no range, and linking falls back to rule 3 (pull requests merged between
the two deployments).
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

from metrics import definitions as d

if TYPE_CHECKING:
    from collections.abc import Iterable

# Walking further back than this many pushes for one deployment means the data is not what
# we think (or the service deploys once a year): no range, rather than an unbounded walk.
MAX_PUSHES = 1000

_HEX_SHA = re.compile(r"[0-9a-f]{7,64}")
# GitHub's "before" of a push that created the branch (and "after" of one that deleted it).
_NULL_SHA = re.compile(r"0+")


@dataclass(frozen=True, slots=True)
class PushRec:
    """A push of ``repository``: the branch moved from ``before`` to ``after``; ``commits`` are the
    shas of the commits pushed (the fields of ``metrics.models.Push``)."""

    repository: str
    before: str
    after: str
    commits: tuple[str, ...] = ()
    default_branch: bool = True


class _Pushes:
    """Pushes of one repository (or of all, for deployments that name none), indexed by ``after``."""

    def __init__(self, pushes: Iterable[PushRec]) -> None:
        self.by_after: dict[str, list[PushRec]] = {}
        # Default-branch pushes first: where a sha was pushed to several branches, the walk tries
        # the default branch's history before the others.
        for push in sorted(pushes, key=lambda p: not p.default_branch):
            if not _NULL_SHA.fullmatch(push.after):
                self.by_after.setdefault(push.after.lower(), []).append(push)
        self.afters = sorted(self.by_after)

    def head(self, sha: str) -> str | None:
        """The full sha of a push's ``after`` that ``sha`` names (exactly, or as a unique short hex sha)."""
        key = sha.lower()
        if key in self.by_after:
            return key
        if not _HEX_SHA.fullmatch(key):
            return None
        start = bisect_left(self.afters, key)
        matches = [after for after in self.afters[start : start + 2] if after.startswith(key)]
        return matches[0] if len(matches) == 1 else None

    def commits_between(self, old: str, new: str) -> set[str] | None:
        """The commits pushed on the way from ``old`` to ``new`` (``new`` included), or None when
        no chain of at most ``MAX_PUSHES`` pushes leads back from ``new`` to ``old``."""
        start = self.head(new)
        if start is None:
            return None
        old_key = old.lower()
        old_is_hex = bool(_HEX_SHA.fullmatch(old_key))
        # Breadth first over the pushes whose "after" is the sha reached, remembering the push
        # that led to each "before", so the shortest chain back is the one collected.
        came_by: dict[str, PushRec | None] = {start: None}
        queue = deque([start])
        walked = 0
        while queue:
            sha = queue.popleft()
            if sha == old_key or (old_is_hex and sha.startswith(old_key)):
                return _collect(came_by, sha)
            for push in self.by_after.get(sha, ()):
                walked += 1
                if walked > MAX_PUSHES:
                    return None
                before = push.before.lower()
                if before not in came_by and not _NULL_SHA.fullmatch(before):
                    came_by[before] = push
                    queue.append(before)
        return None


def _collect(came_by: dict[str, PushRec | None], sha: str) -> set[str]:
    shas: set[str] = set()
    while (push := came_by[sha]) is not None:
        shas.update(push.commits)
        shas.add(push.after)
        sha = push.after.lower()
    return shas


def commit_ranges(
    deployments: Iterable[d.DeploymentRec],
    pushes: Iterable[PushRec],
    profile: d.Profile | None = None,
) -> dict[tuple[str, str], set[str]]:
    """``{(previous sha, sha): commits}`` for each production deployment whose previous successful
    production deployment (same service, repository and environment, as ``link_changes`` pairs
    them) has another sha and is reachable through ``pushes`` of the deployment's repository
    (of any repository when the deployment names none). Pushes to any branch count."""
    prod = d.production_deployments(deployments, profile)
    by_id = {dep.id: dep for dep in prod}
    grouped: dict[str | None, list[PushRec]] = {None: []}
    for push in pushes:
        grouped[None].append(push)
        grouped.setdefault(push.repository, []).append(push)
    by_repo = {repo: _Pushes(members) for repo, members in grouped.items()}
    empty = _Pushes(())

    ranges: dict[tuple[str, str], set[str]] = {}
    for dep_id, prev_id in d.previous_success_deployments(prod).items():
        dep, prev = by_id[dep_id], by_id.get(prev_id or "")
        if prev is None or not dep.sha or not prev.sha or dep.sha == prev.sha or (prev.sha, dep.sha) in ranges:
            continue  # the first deployment, the same sha again (contains nothing), or a pair already walked
        shas = by_repo.get(dep.repository, empty).commits_between(prev.sha, dep.sha)
        if shas is not None:
            ranges[(prev.sha, dep.sha)] = shas
    return ranges

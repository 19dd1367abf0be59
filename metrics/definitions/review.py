"""Code review health: pickup and review times, pull request size, and the queue waiting for a review."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from metrics.definitions.profile import Profile, _profile
from metrics.definitions.records import ChangeRec
from metrics.definitions.stats import DurationStats, median, span
from metrics.definitions.windows import Window

if TYPE_CHECKING:
    from collections.abc import Iterable


@dataclass(frozen=True)
class ReviewHealth:
    """Code review over pull requests merged in the window, and the queue waiting for a first review at ``now``."""

    pickup: DurationStats
    review: DurationStats
    size_median: float | None
    sized: int
    waiting: tuple[str, ...]

    @property
    def waiting_count(self) -> int:
        return len(self.waiting)


def review_health(
    changes: Iterable[ChangeRec], window: Window, now: datetime, profile: Profile | None = None
) -> ReviewHealth:
    """Median pickup and review time and median size (lines changed) of the pull requests merged
    in the window (direct pushes have no review); pull requests open at ``now`` and waiting for
    a first review longer than ``Profile.review_wait`` (24 h), oldest first."""
    p = _profile(profile)
    prs = [c for c in changes if not c.is_direct_push]
    merged = [c for c in prs if window.contains(c.merged_at)]
    waiting = sorted(
        (
            c
            for c in prs
            if c.opened_at is not None
            and c.opened_at <= now - p.review_wait
            and (c.merged_at is None or c.merged_at > now)
            and (c.closed_at is None or c.closed_at > now)
            and (c.first_review_at is None or c.first_review_at > now)
        ),
        key=lambda c: (c.opened_at, c.id),
    )
    sizes = [c.size for c in merged if c.size is not None]
    return ReviewHealth(
        pickup=DurationStats.of((span(c.opened_at, c.first_review_at, p) for c in merged), p.median_kind),
        review=DurationStats.of((span(c.first_review_at, c.merged_at, p) for c in merged), p.median_kind),
        size_median=median(sizes, p.median_kind),
        sized=len(sizes),
        waiting=tuple(c.id for c in waiting),
    )

"""Code review health: pickup and review times, pull request size, and the queue waiting for a review."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from e360.stats import median
from metrics.definitions.profile import Profile, _profile
from metrics.definitions.records import ChangeRec
from metrics.definitions.stats import DurationStats, span
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
    waiting: int | None  # how many; None: not read (a previous window's queue, which nothing shows)


def review_health(
    changes: Iterable[ChangeRec], window: Window, now: datetime, profile: Profile | None = None
) -> ReviewHealth:
    """Median pickup and review time and median size (lines changed) of the pull requests merged
    in the window (direct pushes have no review); pull requests open at ``now`` and waiting for
    a first review longer than ``Profile.review_wait`` (24 h), oldest first.

    Unknown sizes are left out of the median (``sized`` counts the known ones): with none
    known the median is None ("no data"), not 0."""
    p = _profile(profile)
    changes = list(changes)
    merged = [c for c in changes if not c.is_direct_push and window.contains(c.merged_at)]
    sizes = [c.size for c in merged if c.size is not None]
    return ReviewHealth(
        pickup=DurationStats.of((pickup_time(c, p) for c in merged), p.median_kind),
        review=DurationStats.of((review_time(c, p) for c in merged), p.median_kind),
        size_median=median(sizes, p.median_kind),
        sized=len(sizes),
        waiting=len(waiting_for_review(changes, now, p)),
    )


def pickup_time(change: ChangeRec, profile: Profile | None = None) -> timedelta | None:
    """Opened to the first review or comment by someone other than the author."""
    return span(change.opened_at, change.first_review_at, _profile(profile))


def review_time(change: ChangeRec, profile: Profile | None = None) -> timedelta | None:
    """The first non-author review to the merge."""
    return span(change.first_review_at, change.merged_at, _profile(profile))


def waiting_for_review(changes: Iterable[ChangeRec], now: datetime, profile: Profile | None = None) -> tuple[str, ...]:
    """Pull requests open at ``now`` and waiting for a first review longer than
    ``Profile.review_wait`` (24 h), oldest first (direct pushes have no review)."""
    p = _profile(profile)
    waiting = sorted(
        (
            c
            for c in changes
            if not c.is_direct_push
            and c.opened_at is not None
            and c.opened_at <= now - p.review_wait
            and (c.merged_at is None or c.merged_at > now)
            and (c.closed_at is None or c.closed_at > now)
            and (c.first_review_at is None or c.first_review_at > now)
        ),
        key=lambda c: (c.opened_at, c.id),
    )
    return tuple(c.id for c in waiting)

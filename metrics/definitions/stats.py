"""Statistics of durations: percentiles of durations, duration stats, spans between instants, and ratios.

The percentiles are ``e360.stats``'s, by the profile's ``MedianKind``: interpolated (PostgreSQL
``percentile_cont``) or DevLake's lower.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from e360.stats import Method, percentile, percentile_of_sorted
from metrics.definitions.profile import Profile, _profile
from metrics.definitions.vocabulary import MedianKind

if TYPE_CHECKING:
    from collections.abc import Iterable

    from e360.stats import SortedValues
    from metrics.definitions.histogram import Histogram


def duration_percentile(
    values: Iterable[timedelta], q: float, kind: MedianKind = Method.INTERPOLATED
) -> timedelta | None:
    """``percentile`` over durations."""
    result = percentile([v.total_seconds() for v in values], q, kind)
    return None if result is None else timedelta(seconds=result)


@dataclass(frozen=True)
class DurationStats:
    """Sample size and median, p75, p90 of a set of durations (all None when the sample is empty)."""

    count: int
    median: timedelta | None
    p75: timedelta | None
    p90: timedelta | None

    @classmethod
    def of(cls, values: Iterable[timedelta | None], kind: MedianKind = Method.INTERPOLATED) -> DurationStats:
        return cls.of_seconds([v.total_seconds() for v in values if v is not None], kind)

    @classmethod
    def of_seconds(cls, seconds: Iterable[float], kind: MedianKind = Method.INTERPOLATED) -> DurationStats:
        """The same from durations in seconds (sorted once, however many percentiles)."""
        return cls.of_sorted_seconds(sorted(seconds), kind)

    @classmethod
    def of_histogram(cls, histogram: Histogram, kind: MedianKind = Method.INTERPOLATED) -> DurationStats:
        """The same from a histogram of seconds: percentiles within ``histogram.ALPHA`` (1%)."""
        return cls.of_sorted_seconds(histogram.ascending(), kind)

    @classmethod
    def of_sorted_seconds(cls, xs: SortedValues, kind: MedianKind = Method.INTERPOLATED) -> DurationStats:
        """The same from durations in seconds in ascending order, read by index (a sorted list, a histogram's view)."""

        def at(q: float) -> timedelta | None:
            result = percentile_of_sorted(xs, q, kind)
            return None if result is None else timedelta(seconds=result)

        return cls(count=len(xs), median=at(0.5), p75=at(0.75), p90=at(0.9))


def span(start: datetime | None, end: datetime | None, profile: Profile | None = None) -> timedelta | None:
    """``end - start``; None when either is missing or the span is negative (clocks and rebases lie).

    Under ``devlake_compatible`` the span is rounded up to whole minutes first, and is
    None only when that rounded value is negative (so -30 s gives 0 min, as in DevLake).
    """
    if start is None or end is None:
        return None
    delta = end.astimezone(UTC) - start.astimezone(UTC)
    if _profile(profile).devlake_compatible:
        minutes = math.ceil(delta.total_seconds() / 60)
        return None if minutes < 0 else timedelta(minutes=minutes)
    return None if delta < timedelta(0) else delta


def ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None

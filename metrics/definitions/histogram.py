"""Log-bucketed histograms of non-negative values: percentiles within 1% of the exact value.

docs/metrics.md#percentiles allows an approximation of percentiles "where documented and tested to
stay within 1% relative error of the exact value". A ``Histogram`` keeps a count
per bucket ``i`` covering ``(GAMMA^(i-1), GAMMA^i]`` with ``GAMMA = (1 + ALPHA) /
(1 - ALPHA)``, and reads every value of a bucket as ``2 GAMMA^i / (GAMMA + 1)``,
which is within ``ALPHA`` of any value in it (the idea of DDSketch, Masson et al.,
VLDB 2019). Zero has a count
of its own. Merging two histograms adds counts, so any set of days and services
combines in a size bounded by the range of values, not by their number: one
second to one year takes at most ~870 buckets.

Percentiles follow ``e360.stats.percentile`` (both ``MedianKind`` rules) over the
bucket values, each read by its rank off the running totals, not listed. Each rank's
value is within ``ALPHA`` of the exact one and the interpolation weights are
non-negative, so the result is within ``ALPHA`` too.
"""

from __future__ import annotations

import bisect
import itertools
import math
import operator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from e360 import stats
from metrics.definitions.vocabulary import MedianKind

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

ALPHA = 0.01  # relative accuracy of every value read back, so of every percentile
GAMMA = (1 + ALPHA) / (1 - ALPHA)
_LOG_GAMMA = math.log(GAMMA)


def bucket(value: float) -> int:
    """The bucket of a positive value."""
    return math.ceil(math.log(value) / _LOG_GAMMA)


def bucket_value(index: int) -> float:
    """What every value of the bucket is read as (within ``ALPHA`` of each of them)."""
    return 2 * GAMMA**index / (GAMMA + 1)


@dataclass
class Histogram:
    """Counts of consecutive buckets from ``offset`` (``counts[i]`` is bucket ``offset + i``) and of zeros.

    Dense, so that reading one from JSON is taking its list and merging two is adding lists
    element by element. Kept trimmed: the first and last counts are not zero (an empty
    histogram has no counts), so equal histograms compare equal.
    """

    offset: int = 0
    counts: list[int] = field(default_factory=list)
    zeros: int = 0

    @classmethod
    def of(cls, values: Iterable[float]) -> Histogram:
        histogram = cls()
        histogram.add_all(values)
        return histogram

    @classmethod
    def total(cls, histograms: Iterable[Histogram]) -> Histogram:
        """All of them merged: one list the width of their buckets, each added to it once."""
        histograms = list(histograms)
        spans = [(h.offset, h.offset + len(h.counts)) for h in histograms if h.counts]
        total = cls(zeros=sum(h.zeros for h in histograms))
        if spans:
            low, high = min(start for start, _ in spans), max(end for _, end in spans)
            counts = [0] * (high - low)
            for h in histograms:
                start = h.offset - low
                end = start + len(h.counts)
                counts[start:end] = map(operator.add, counts[start:end], h.counts)
            total.offset, total.counts = low, counts
            total._trim()
        return total

    def copy(self) -> Histogram:
        return Histogram(self.offset, self.counts.copy(), self.zeros)

    def add(self, value: float, count: int = 1) -> None:
        if value < 0 or math.isnan(value):
            raise ValueError(f"a histogram holds non-negative values, not {value}")
        if value == 0:
            self.zeros += count
            return
        index = bucket(value)
        position = index - self.offset
        if count > 0 and self.counts and 0 <= position < len(self.counts):
            self.counts[position] += count  # inside the buckets held, and the ends stay non-zero
        else:
            self._add_counts(index, [count])

    def add_all(self, values: Iterable[float]) -> None:
        """Add each value once: counted per bucket first, then added as one dense list."""
        buckets: dict[int, int] = {}
        for value in values:
            if value < 0 or math.isnan(value):
                raise ValueError(f"a histogram holds non-negative values, not {value}")
            if value == 0:
                self.zeros += 1
            else:
                index = bucket(value)
                buckets[index] = buckets.get(index, 0) + 1
        if buckets:
            low = min(buckets)
            counts = [0] * (max(buckets) - low + 1)
            for index, count in buckets.items():
                counts[index - low] = count
            self._add_counts(low, counts)

    def merge(self, other: Histogram, times: int = 1) -> None:
        """Add another histogram's counts, ``times`` over (-1 takes them out).

        Counts may go negative on the way, so that changes (new values less old ones) add up.
        """
        if other.counts:
            self._add_counts(other.offset, other.counts if times == 1 else [times * c for c in other.counts])
        self.zeros += times * other.zeros

    def _add_counts(self, offset: int, counts: list[int]) -> None:
        if not self.counts:
            self.offset, self.counts = offset, list(counts)
        else:
            if offset < self.offset:
                self.counts[:0] = [0] * (self.offset - offset)
                self.offset = offset
            if (missing := offset + len(counts) - self.offset - len(self.counts)) > 0:
                self.counts.extend([0] * missing)
            start = offset - self.offset
            end = start + len(counts)
            self.counts[start:end] = map(operator.add, self.counts[start:end], counts)
        self._trim()

    def _trim(self) -> None:
        counts = self.counts
        while counts and not counts[-1]:
            counts.pop()
        first = next((i for i, count in enumerate(counts) if count), len(counts))
        if first:
            del counts[:first]
            self.offset += first
        if not counts:
            self.offset = 0

    def __bool__(self) -> bool:
        return bool(self.zeros or self.counts)

    @property
    def count(self) -> int:
        return self.zeros + sum(self.counts)

    def percentile(self, q: float, kind: MedianKind = stats.Method.INTERPOLATED) -> float | None:
        """``e360.stats.percentile`` of the values, each read as its bucket's value; None when empty."""
        return stats.percentile_of_sorted(self.ascending(), q, kind)

    def ascending(self) -> _Ascending:
        """The values in ascending order, each read as its bucket's value, by rank: for several percentiles."""
        return _Ascending(self)

    def to_json(self) -> dict[str, object]:
        """``{"o": offset, "c": [counts…], "z": zeros}`` (zeros only when there are some), for a JSON column."""
        return {"o": self.offset, "c": self.counts} | ({"z": self.zeros} if self.zeros else {})

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Histogram:
        return cls(data["o"], list(data["c"]), data.get("z", 0))


class _Ascending:
    """A histogram's values in ascending order, each read as its bucket's value, by rank (0-based) without listing
    them: the running totals of the counts say which bucket holds a rank."""

    def __init__(self, histogram: Histogram) -> None:
        self.zeros, self.offset = histogram.zeros, histogram.offset
        self.running = list(itertools.accumulate(histogram.counts, initial=histogram.zeros))

    def __len__(self) -> int:
        return self.running[-1]

    def __getitem__(self, rank: int) -> float:
        if not 0 <= rank < len(self):
            raise IndexError(rank)
        if rank < self.zeros:
            return 0.0
        position = bisect.bisect_right(self.running, rank)  # the first bucket whose running total passes rank
        return bucket_value(self.offset + position - 1)

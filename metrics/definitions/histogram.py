"""Log-bucketed histograms of non-negative values: percentiles within 1% of the exact value.

METRICS.md allows an approximation of percentiles "where documented and tested to
stay within 1% relative error of the exact value". A ``Histogram`` keeps a count
per bucket ``i`` covering ``(GAMMA^(i-1), GAMMA^i]`` with ``GAMMA = (1 + ALPHA) /
(1 - ALPHA)``, and reads every value of a bucket as ``2 GAMMA^i / (GAMMA + 1)``,
which is within ``ALPHA`` of any value in it (the idea of DDSketch, Masson et al.,
VLDB 2019). Zero has a count
of its own. Merging two histograms adds counts, so any set of days and services
combines in a size bounded by the range of values, not by their number: one
second to one year takes at most ~870 buckets.

Percentiles follow ``stats.percentile`` (both ``MedianKind`` rules) over the
bucket values. Each rank's value is within ``ALPHA`` of the exact one and the
interpolation weights are non-negative, so the result is within ``ALPHA`` too.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

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
    """Counts per bucket (``counts``) and of zeros (``zeros``); negative values are refused."""

    counts: Counter[int] = field(default_factory=Counter)
    zeros: int = 0

    @classmethod
    def of(cls, values: Iterable[float]) -> Histogram:
        histogram = cls()
        for value in values:
            histogram.add(value)
        return histogram

    def add(self, value: float, count: int = 1) -> None:
        if value < 0 or math.isnan(value):
            raise ValueError(f"a histogram holds non-negative values, not {value}")
        if value == 0:
            self.zeros += count
        else:
            self.counts[bucket(value)] += count

    def merge(self, other: Histogram, times: int = 1) -> None:
        """Add another histogram's counts, ``times`` over (-1 takes them out); empty buckets are dropped.

        Counts may go negative on the way, so that changes (new values less old ones) add up.
        """
        for index, count in other.counts.items():
            if total := self.counts[index] + times * count:
                self.counts[index] = total
            else:
                del self.counts[index]
        self.zeros += times * other.zeros

    def __bool__(self) -> bool:
        return bool(self.zeros or any(self.counts.values()))

    @property
    def count(self) -> int:
        return self.zeros + sum(self.counts.values())

    def percentile(self, q: float, kind: MedianKind = "interpolated") -> float | None:
        """``stats.percentile`` of the values, each read as its bucket's value; None when empty."""
        if not 0 <= q <= 1 or math.isnan(q):
            raise ValueError(f"q must be within [0, 1], got {q}")
        n = self.count
        if n == 0:
            return None
        if kind == "interpolated":
            position = q * (n - 1)
            low = math.floor(position)
            high = min(low + 1, n - 1)
            low_value, high_value = self._at(low), self._at(high)
            return low_value + (high_value - low_value) * (position - low)
        if kind == "lower":
            # max(x) with (values strictly smaller) / (n - 1) <= q: the last bucket whose first rank qualifies.
            if n == 1:
                return self._at(0)
            best, below = 0.0, 0
            for value, count in self._ascending():
                if below / (n - 1) > q:
                    break
                best, below = value, below + count
            return best
        raise ValueError(f"unknown percentile kind {kind!r}")

    def _ascending(self) -> Iterable[tuple[float, int]]:
        if self.zeros:
            yield 0.0, self.zeros
        for index in sorted(self.counts):
            yield bucket_value(index), self.counts[index]

    def _at(self, rank: int) -> float:
        """The value of the ``rank``-th smallest (0-based)."""
        seen = 0
        for value, count in self._ascending():
            seen += count
            if rank < seen:
                return value
        raise IndexError(rank)

    def to_json(self) -> dict[str, int]:
        """``{"z": zeros, "<bucket>": count, …}``, for a JSON column."""
        data = {str(index): count for index, count in self.counts.items() if count}
        if self.zeros:
            data["z"] = self.zeros
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, int]) -> Histogram:
        zeros = int(data.get("z", 0))
        return cls(Counter({int(key): int(count) for key, count in data.items() if key != "z"}), zeros)

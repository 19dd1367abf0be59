"""The statistics toolkit every app uses: percentiles, average ranks and percentile ranks (pure: no Django, no SciPy).

It lives in the project package so that metrics, surveys, insights and the benchmarks may all import it (they import
from ``e360``, never from each other). Plain Python, and numpy where a whole batch is ranked at once.

Percentiles (:func:`percentile`, :func:`percentile_of_sorted`, :func:`median`)
    The q-quantile (0 ≤ q ≤ 1) of n values x₀ ≤ … ≤ xₙ₋₁ by one of three methods. Each exists on purpose, and each
    is computed in exactly one way, because figures depend on its arithmetic to the last bit:

    ``interpolated`` (the default; docs/metrics.md#percentiles, the rule for every DORA percentile)
        PostgreSQL's ``percentile_cont``: at position p = q·(n − 1), x⌊p⌋ + (x⌈p⌉ − x⌊p⌋)·(p − ⌊p⌋), evaluated in
        that order as PostgreSQL evaluates it, and kept within [x⌊p⌋, x⌈p⌉] should float rounding leave it. The
        median of 1, 2, 3, 4 is 2.5 and its p90 3.7. numpy.percentile's default ("linear") is the same quantity;
        for fractions ≥ ½ numpy computes it from the upper end and may differ in the last bit.
    ``lower`` (the DevLake-compatible profile)
        DevLake's ``max(x) where percent_rank() <= q``, percent_rank being (values strictly smaller) / (n − 1) — 0
        for a single value — compared in floating point as the SQL compares it. Always a value of the sample: the
        median of an even count is the lower middle value. It is xₛ for the largest s with s/(n − 1) ≤ q, found
        without a pass over the values. numpy.percentile's "lower" (x at ⌊q·(n − 1)⌋) is the same except where
        q·(n − 1) and s/(n − 1) round differently (q = 0.29 with n = 101 gives x₂₈ there, x₂₉ here).
    ``midpoint``
        x_p when p is whole, else the mean of the two closest values, (x⌊p⌋ + x⌈p⌉) / 2 (numpy's "midpoint"). Its
        median is the textbook one, bit for bit ``statistics.median``. The insights engine's median of badness
        percentiles uses it: the interpolated median of x and y, x + (y − x)/2, differs from (x + y)/2 in the last
        bit for about one pair in seven of such percentiles, and a median read as 74.99999999999999 instead of 75
        would turn a data signal off (and a 12.5 read as 12.499999999999998 would show 12 instead of 13).

    :func:`percentile_of_sorted` reads values already in ascending order by index only, two or three reads per call:
    sort once for several quantiles of one sample, or pass a sequence that computes its values (a histogram's).

Average ranks (:func:`average_ranks`, :class:`Ranking`)
    The values ranked 1..n in ascending order; tied values share the mean of the ranks they span (three equal values
    at ranks 2, 3 and 4 all get 3). This is SciPy's ``rankdata(method="average")``, the ranks Spearman's ρ needs.
    :class:`Ranking` holds the sorted order and the runs of ties of the values, and ranks any number of
    multisets of them at once (the bootstrap's resamples: value i drawn cᵢ times), each in O(n) without sorting
    again; :func:`average_ranks` is its one-multiset case (every value once).

Percentile rank (:func:`percentile_rank`)
    Where a value stands among others, from 0 (before all of them) to 100 (after all of them): ``100 × (others before
    it + ½ × others equal to it) / len(others)``, in ascending order, or descending with ``reverse=True``. Ties
    count half, so a value level with everyone is at 50, never at either end. SciPy's ``percentileofscore(others,
    value, kind="mean")``. Surveys rank a team's score among its peers with it, the insights engine a team's metric.

Whole figures (:func:`whole`)
    Every percentage and score the pages show as a whole number is rounded half away from zero on its decimal text
    (12.5 reads 13, −12.5 reads −13), as Django's ``floatformat`` rounds, so the same figure never reads 12% in one
    place and 13% in another (Python's own ``round`` and ``"%.0f"`` round half to even and would). Templates may use
    ``floatformat``; Python-written text (sentences, table rows made in Python) uses :func:`whole`, about 2 µs a
    figure where ``floatformat`` takes 12.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from numpy.typing import NDArray

    Counts = NDArray[np.intp]


class Method(StrEnum):
    """How a percentile is picked from the values (module docstring)."""

    INTERPOLATED = "interpolated"
    LOWER = "lower"
    MIDPOINT = "midpoint"


METHODS: tuple[Method, ...] = tuple(Method)


class SortedValues(Protocol):
    """Values in ascending order, read by index: a sorted list, a sorted numpy array, a histogram's view."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int, /) -> float: ...


# --- percentiles


def percentile_of_sorted(xs: SortedValues, q: float, method: Method = Method.INTERPOLATED) -> float | None:
    """The q-quantile (0 ≤ q ≤ 1) of values in ascending order by ``method`` (module docstring); None when there are
    none. A value of the sample is returned as it is (an int stays an int)."""
    if not 0 <= q <= 1 or math.isnan(q):
        raise ValueError(f"q must be within [0, 1], got {q}")
    if method not in METHODS:
        raise ValueError(f"unknown percentile kind {method!r}")
    n = len(xs)
    if n == 0:
        return None
    if n == 1:
        return xs[0]
    last = n - 1
    if method == Method.LOWER:
        # The largest s with s / (n - 1) <= q, by the very comparison the SQL makes (the product's rounding may differ).
        s = min(last, math.floor(q * last))
        while s < last and (s + 1) / last <= q:
            s += 1
        while s > 0 and s / last > q:
            s -= 1
        return xs[s]
    position = q * last
    low = math.floor(position)
    high = min(low + 1, last)
    low_value, high_value = xs[low], xs[high]
    if method == Method.MIDPOINT:
        return low_value if position == low else (low_value + high_value) / 2
    value = low_value + (high_value - low_value) * (position - low)
    return min(max(value, low_value), high_value)  # float rounding must not leave the bracket


def percentile(values: Iterable[float], q: float, method: Method = Method.INTERPOLATED) -> float | None:
    """The q-quantile (0 ≤ q ≤ 1) of the values by ``method`` (module docstring); None when there are none."""
    return percentile_of_sorted(sorted(values), q, method)


def median(values: Iterable[float], method: Method = Method.INTERPOLATED) -> float | None:
    """The median (``percentile`` at ½); None when there are no values."""
    return percentile(values, 0.5, method)


# --- ranks


def require_finite(values: Iterable[float], what: str) -> None:
    """Raise ValueError unless every value is a finite number (not None, a bool, NaN or an infinity)."""
    for value in values:
        if value is None or isinstance(value, bool) or math.isnan(value) or math.isinf(value):
            raise ValueError(f"{what} must be finite numbers, got {value!r}")


def _tie_runs(sorted_values: Sequence[float]) -> list[int]:
    """Where each run of equal values starts in an already sorted sequence."""
    return [i for i in range(len(sorted_values)) if i == 0 or sorted_values[i] != sorted_values[i - 1]]


class Ranking:
    """Values prepared once to be ranked in any number of multisets of them, all at once, each in O(n).

    A multiset is a row of ``counts``: ``counts[r, i]`` copies of value i. Walking the values in sorted order, a run
    of tied values with G copies in all, after C copies of smaller values, covers ranks C+1..C+G, so each of its
    copies gets the average rank C + (G + 1)/2. Twice that, ``2C + G + 1``, is an integer, which keeps the
    arithmetic exact.
    """

    def __init__(self, values: Sequence[float]) -> None:
        require_finite(values, "values")
        self.order: Counts = np.argsort(np.asarray(values, dtype=float), kind="stable")
        self.starts: Counts = np.array(_tie_runs([values[i] for i in self.order]), dtype=np.intp)
        run_in_order = np.zeros(len(values), dtype=np.intp)
        run_in_order[self.starts[1:]] = 1
        self.run_of: Counts = np.empty(len(values), dtype=np.intp)
        self.run_of[self.order] = np.cumsum(run_in_order)

    def doubled_ranks(self, counts: Counts) -> tuple[Counts, Counts]:
        """Per row of ``counts`` (one multiset), twice the average rank of each value (by original index), and the
        row's Σ(G³ − G) over runs of ties (the tie correction of rank variances)."""
        run_counts = np.add.reduceat(counts[:, self.order], self.starts, axis=1)
        run_ranks = 2 * np.cumsum(run_counts, axis=1) - run_counts + 1
        ties = (run_counts**3 - run_counts).sum(axis=1)
        return run_ranks[:, self.run_of], ties


def average_ranks(values: Sequence[float]) -> list[float]:
    """Ranks 1..n of ``values`` (ascending), tied values sharing the mean of the ranks they span."""
    if len(values) == 0:
        return []
    doubled, _ = Ranking(values).doubled_ranks(np.ones((1, len(values)), dtype=np.intp))
    ranks: list[float] = (doubled[0] / 2).tolist()
    return ranks


def percentile_rank(value: float, others: Sequence[float], *, reverse: bool = False) -> float | None:
    """Where ``value`` stands among ``others``, 0-100: ``100 × (others before it + ½ × others equal to it) /
    len(others)``, "before" meaning smaller (larger with ``reverse``). None when there are no others."""
    require_finite([value], "value")
    require_finite(others, "others")
    if not others:
        return None
    equal = sum(1 for other in others if other == value)
    before = sum(1 for other in others if (other > value if reverse else other < value))
    return 100 * (before + equal / 2) / len(others)


# --- whole figures


def whole(value: float) -> int:
    """``value`` rounded half away from zero on its decimal text, as ``floatformat`` rounds (module docstring)."""
    return int(Decimal(str(value)).quantize(Decimal(1), rounding=ROUND_HALF_UP))

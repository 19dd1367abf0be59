"""The statistics toolkit against its definitions, numpy, the standard library and SciPy (SciPy only in tests)."""

from __future__ import annotations

import math
import statistics
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats

from e360.stats import (
    METHODS,
    Method,
    Ranking,
    average_ranks,
    median,
    percentile,
    percentile_of_sorted,
    percentile_rank,
    whole,
)

FAST = settings(max_examples=300, deadline=None)
floats = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False)
# Small integer ranges make ties common, which is where ranks and the lower rule go wrong.
samples = st.one_of(
    st.lists(floats, min_size=1, max_size=60), st.lists(st.integers(min_value=-5, max_value=5), min_size=1, max_size=60)
)
quantiles = st.one_of(st.floats(min_value=0, max_value=1), st.sampled_from([0, 0.25, 0.29, 0.5, 0.75, 0.9, 0.95, 1]))
methods = st.sampled_from(METHODS)
# The quantiles the product asks for: medians, p75, p90, the benches' p95, the bootstrap's 2.5 and 97.5.
PRODUCT_QUANTILES = [0.025, 0.5, 0.75, 0.9, 0.95, 0.975]


def devlake_lower(xs: list[float], q: float) -> float:
    """DevLake's SQL read literally: max(x) where percent_rank() <= q, percent_rank = (values smaller) / (n - 1)."""
    n = len(xs)
    return max(x for x in xs if (sum(1 for y in xs if y < x) / (n - 1) if n > 1 else 0) <= q)


class TestPercentile:
    def test_it_interpolates_as_percentile_cont(self):
        assert percentile([4, 1, 3, 2], 0.5) == 2.5
        assert percentile([1, 2, 3, 4], 0.9) == pytest.approx(3.7)
        assert percentile([1, 2, 3, 4], 0) == 1
        assert percentile([1, 2, 3, 4], 1) == 4

    def test_the_lower_median_of_an_even_count_is_the_lower_middle_value(self):
        assert percentile([4, 1, 3, 2], 0.5, Method.LOWER) == 2
        assert percentile([10, 20, 30, 40, 50], 0.9, Method.LOWER) == 40

    def test_the_midpoint_median_is_the_mean_of_the_middle_two(self):
        assert median([4, 1, 3, 2], Method.MIDPOINT) == 2.5
        assert median([5, 1, 3], Method.MIDPOINT) == 3

    def test_nothing_has_no_percentile(self):
        for method in METHODS:
            assert percentile([], 0.5, method) is None
            assert median([], method) is None

    def test_a_single_value_is_every_percentile_as_it_is(self):
        for method in METHODS:
            assert percentile([7], 0.3, method) == 7
            assert isinstance(percentile([7], 0.3, method), int)

    @pytest.mark.parametrize("q", [-0.1, 1.1, math.nan])
    def test_it_rejects_q_outside_zero_to_one(self, q):
        with pytest.raises(ValueError, match="q must be within"):
            percentile([1, 2], q)

    def test_it_rejects_an_unknown_method(self):
        with pytest.raises(ValueError, match="unknown percentile kind"):
            percentile([1, 2], 0.5, "nearest")  # type: ignore[arg-type]

    @FAST
    @given(samples, quantiles, quantiles, methods)
    def test_it_is_within_the_sample_and_monotone_in_q(self, xs, q1, q2, method):
        low, high = sorted((q1, q2))
        assert min(xs) <= percentile(xs, low, method) <= percentile(xs, high, method) <= max(xs)

    @FAST
    @given(samples, quantiles, methods)
    def test_it_does_not_depend_on_the_order_of_the_values(self, xs, q, method):
        assert percentile(xs, q, method) == percentile(list(reversed(xs)), q, method)

    @FAST
    @given(samples, quantiles)
    def test_the_interpolated_one_is_numpys_linear(self, xs, q):
        ours = percentile(xs, q)
        theirs = float(np.quantile(np.asarray(xs, dtype=float), q, method="linear"))
        assert ours == pytest.approx(theirs, rel=1e-12, abs=1e-6)

    @FAST
    @given(samples, quantiles)
    def test_the_lower_one_is_devlakes_sql_read_literally(self, xs, q):
        assert percentile(xs, q, Method.LOWER) == devlake_lower(xs, q)

    @FAST
    @given(samples, st.sampled_from(PRODUCT_QUANTILES))
    def test_the_lower_one_is_numpys_lower_at_the_products_quantiles(self, xs, q):
        assert percentile(xs, q, Method.LOWER) == np.percentile(xs, 100 * q, method="lower")

    def test_the_lower_one_compares_as_the_sql_does_where_numpy_rounds_differently(self):
        # 0.29 × 100 is 28.999999999999996 in floating point, but 29 / 100 <= 0.29.
        xs = list(range(101))
        assert percentile(xs, 0.29, Method.LOWER) == 29
        assert np.percentile(xs, 29, method="lower") == 28

    @FAST
    @given(samples, quantiles)
    def test_the_lower_one_is_always_a_value_of_the_sample(self, xs, q):
        assert percentile(xs, q, Method.LOWER) in xs

    @FAST
    @given(samples, quantiles)
    def test_the_midpoint_one_is_numpys_midpoint(self, xs, q):
        ours = percentile(xs, q, Method.MIDPOINT)
        # np.quantile takes q as it is: np.percentile divides 100 × q by 100 again, which can move a whole position
        # (q = 1/3 of four values is position 1, but 0.9999999999999998 after the round trip).
        theirs = float(np.quantile(np.asarray(xs, dtype=float), q, method="midpoint"))
        assert ours == pytest.approx(theirs, rel=1e-12, abs=1e-6)

    @FAST
    @given(samples)
    def test_the_midpoint_median_is_statistics_median_bit_for_bit(self, xs):
        assert median(xs, Method.MIDPOINT) == statistics.median(xs)
        assert type(median(xs, Method.MIDPOINT)) is type(statistics.median(xs))

    @FAST
    @given(st.lists(st.integers(min_value=-(10**6), max_value=10**6), min_size=1, max_size=50))
    def test_the_interpolated_median_of_integers_is_the_textbook_median(self, xs):
        assert median(xs) == statistics.median(xs)

    @FAST
    @given(st.lists(st.integers(min_value=-1000, max_value=1000), min_size=1, max_size=40), quantiles)
    def test_the_interpolated_one_is_within_rounding_of_the_exact_rational(self, xs, q):
        ordered = sorted(xs)
        position = Fraction(q) * (len(xs) - 1)
        low = math.floor(position)
        high = min(low + 1, len(xs) - 1)
        exact = ordered[low] + (ordered[high] - ordered[low]) * (position - low)
        assert percentile(xs, q) == pytest.approx(float(exact), rel=1e-12, abs=1e-9)

    @FAST
    @given(samples, quantiles, methods)
    def test_sorted_values_are_read_by_index_only(self, xs, q, method):
        class Indexed:
            """A sorted sequence that only answers len() and [i], as a histogram's view does."""

            def __init__(self, values: list[float]) -> None:
                self.values = sorted(values)

            def __len__(self) -> int:
                return len(self.values)

            def __getitem__(self, index: int) -> float:
                return self.values[index]

        assert percentile_of_sorted(Indexed(xs), q, method) == percentile(xs, q, method)
        assert percentile_of_sorted(np.sort(np.asarray(xs, dtype=float)), q, method) == pytest.approx(
            percentile([float(x) for x in xs], q, method)
        )


class TestAverageRanks:
    def test_tied_values_share_the_mean_of_their_ranks(self):
        assert average_ranks([10, 20, 20, 20, 5]) == [2.0, 4.0, 4.0, 4.0, 1.0]
        assert average_ranks([]) == []
        assert average_ranks([3.5]) == [1.0]

    @FAST
    @given(st.lists(st.one_of(st.integers(min_value=-5, max_value=5), floats), max_size=40))
    def test_it_matches_scipy_rankdata(self, values):
        ours = average_ranks(values)
        assert ours == scipy_stats.rankdata(values, method="average").tolist()
        assert all(type(rank) is float for rank in ours)

    @pytest.mark.parametrize("bad", [math.nan, math.inf, None, True])
    def test_it_rejects_what_is_not_a_finite_number(self, bad):
        with pytest.raises(ValueError, match="finite"):
            average_ranks([1.0, bad])

    @FAST
    @given(
        st.lists(st.integers(min_value=-3, max_value=3), min_size=1, max_size=12).flatmap(
            lambda values: st.tuples(
                st.just(values),
                st.lists(
                    st.lists(st.integers(min_value=0, max_value=3), min_size=len(values), max_size=len(values)),
                    min_size=1,
                    max_size=4,
                ),
            )
        )
    )
    def test_a_ranking_ranks_multisets_as_rankdata_ranks_the_repeated_values(self, data):
        values, rows = data
        counts = np.array(rows, dtype=np.intp)
        doubled, ties = Ranking(values).doubled_ranks(counts)
        for row, row_ranks, row_ties in zip(rows, doubled, ties, strict=True):
            repeated = [v for v, c in zip(values, row, strict=True) for _ in range(c)]
            expected = dict(zip(repeated, scipy_stats.rankdata(repeated, method="average").tolist(), strict=True))
            for value, count, rank in zip(values, row, row_ranks, strict=True):
                if count:
                    assert rank / 2 == expected[value]
            groups = [repeated.count(v) for v in set(repeated)]
            assert row_ties == sum(g**3 - g for g in groups)


class TestPercentileRank:
    def test_it_counts_the_others_before_and_half_the_equal_ones(self):
        assert percentile_rank(90.0, [10.0, 50.0, 80.0]) == 100.0
        assert percentile_rank(5.0, [10.0, 50.0, 80.0]) == 0.0
        assert percentile_rank(50.0, [10.0, 50.0, 50.0, 80.0]) == 50.0
        assert percentile_rank(10, [5, 10, 20, 30]) == pytest.approx(37.5)

    def test_reversed_it_counts_the_larger_ones(self):
        assert percentile_rank(5, [10, 20, 25], reverse=True) == 100
        assert percentile_rank(30, [10, 20, 25], reverse=True) == 0
        assert percentile_rank(10, [10, 10, 10], reverse=True) == 50

    def test_with_no_others_there_is_none(self):
        assert percentile_rank(50.0, []) is None

    def test_it_rejects_what_is_not_a_finite_number(self):
        with pytest.raises(ValueError, match="finite"):
            percentile_rank(math.nan, [1.0])
        with pytest.raises(ValueError, match="finite"):
            percentile_rank(1.0, [math.inf])

    @FAST
    @given(floats, st.lists(st.one_of(st.integers(min_value=-5, max_value=5), floats), min_size=1, max_size=30))
    def test_it_is_scipys_percentileofscore_mean_and_reverses_to_100_minus_it(self, value, others):
        theirs = scipy_stats.percentileofscore(others, value, kind="mean")
        assert percentile_rank(value, others) == pytest.approx(theirs)
        assert percentile_rank(value, others, reverse=True) == pytest.approx(100 - theirs)

    @FAST
    @given(st.integers(min_value=-5, max_value=5), st.lists(st.integers(min_value=-5, max_value=5), min_size=1))
    def test_it_stays_within_0_and_100_and_grows_with_the_value(self, value, others):
        rank = percentile_rank(value, others)
        assert 0 <= rank <= 100
        assert percentile_rank(value + 1, others) >= rank
        assert percentile_rank(value + 1, others, reverse=True) <= percentile_rank(value, others, reverse=True)


def test_it_imports_neither_django_nor_scipy():
    code = "import sys, e360.stats; print(sorted({'django', 'scipy'} & set(sys.modules)))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "[]\n"


class TestWhole:
    @pytest.mark.parametrize(
        ("value", "expected"), [(12.5, 13), (13.5, 14), (0.5, 1), (-2.5, -3), (12.4999, 12), (2.675, 3), (0.0, 0)]
    )
    def test_it_rounds_half_away_from_zero(self, value, expected):
        assert whole(value) == expected

    @settings(max_examples=300)
    # Percentages as the pages hold them: a few decimals (ratios of counts), halves included.
    @given(st.integers(-100_000, 100_000).map(lambda n: n / 1000) | st.integers(-200, 200).map(lambda n: n / 2))
    def test_it_agrees_with_the_templates_floatformat(self, value):
        from django.template.defaultfilters import floatformat

        assert whole(value) == int(floatformat(value, 0))

"""Histogram percentiles stay within 1% of the exact ones (docs/metrics.md#percentiles allows no more)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from e360.stats import percentile
from metrics.definitions import MEDIAN_KINDS
from metrics.definitions import histogram as h

durations = st.lists(
    st.one_of(st.just(0.0), st.floats(min_value=0.001, max_value=1e9, allow_nan=False, allow_infinity=False)),
    max_size=300,
)
quantiles = st.floats(min_value=0, max_value=1)
kinds = st.sampled_from(MEDIAN_KINDS)


@given(durations, quantiles, kinds)
def test_every_percentile_is_within_one_percent_of_the_exact_one(values, q, kind):
    exact = percentile(values, q, kind)
    approximate = h.Histogram.of(values).percentile(q, kind)
    if exact is None:
        assert approximate is None
    else:
        assert abs(approximate - exact) <= h.ALPHA * exact + 1e-9


@given(durations, durations, quantiles)
def test_merging_is_the_histogram_of_all_values(first, second, q):
    merged = h.Histogram.of(first)
    merged.merge(h.Histogram.of(second))
    together = h.Histogram.of(first + second)
    assert merged == together
    assert merged.percentile(q) == together.percentile(q)


@given(st.lists(durations, max_size=5))
def test_the_total_of_histograms_is_the_histogram_of_all_their_values(parts):
    total = h.Histogram.total(h.Histogram.of(part) for part in parts)
    assert total == h.Histogram.of([value for part in parts for value in part])


@given(durations)
def test_it_survives_a_json_column(values):
    histogram = h.Histogram.of(values)
    restored = h.Histogram.from_json(histogram.to_json())
    assert restored == histogram


def test_a_year_of_seconds_takes_fewer_than_900_buckets():
    assert h.bucket(365 * 24 * 3600) - h.bucket(1) < 900


def test_it_refuses_negative_values():
    with pytest.raises(ValueError, match="non-negative"):
        h.Histogram.of([-1.0])


def test_an_empty_histogram_has_no_percentile():
    assert h.Histogram().percentile(0.5) is None


@given(durations, durations)
def test_merging_minus_one_times_takes_values_out(kept, removed):
    histogram = h.Histogram.of(kept + removed)
    histogram.merge(h.Histogram.of(removed), times=-1)
    alone = h.Histogram.of(kept)
    assert histogram == alone
    assert bool(histogram) == bool(kept)


def test_it_is_kept_trimmed_so_equal_histograms_compare_equal():
    histogram = h.Histogram.of([1.0, 50.0, 2000.0])
    histogram.merge(h.Histogram.of([1.0, 2000.0]), times=-1)
    assert histogram == h.Histogram.of([50.0])
    assert histogram.to_json() == {"o": h.bucket(50.0), "c": [1]}

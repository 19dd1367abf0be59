"""The insights statistics against SciPy (a test-only dependency: the product never imports it). The ranks and
percentile ranks under them are ``e360.stats``', tested in e360/tests/test_stats.py."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats

from insights import stats
from insights.stats import (
    Correlation,
    bootstrap_interval,
    correlate,
    spearman,
    within_team_change,
)

# Small integer ranges make ties common, which is where rank statistics go wrong.
tied_values = st.integers(min_value=-5, max_value=5)
any_values = st.one_of(tied_values, st.floats(min_value=-1e6, max_value=1e6, allow_nan=False))


@st.composite
def paired_data(draw, min_size: int = 2, max_size: int = 60):
    n = draw(st.integers(min_value=min_size, max_value=max_size))
    xs = draw(st.lists(any_values, min_size=n, max_size=n))
    ys = draw(st.lists(any_values, min_size=n, max_size=n))
    return xs, ys


def _scipy_spearman(x, y, axis=-1):
    """Spearman's ρ over the last axis, vectorised: what scipy.stats.bootstrap resamples with."""
    rx = scipy_stats.rankdata(x, axis=axis)
    ry = scipy_stats.rankdata(y, axis=axis)
    rx = rx - rx.mean(axis=axis, keepdims=True)
    ry = ry - ry.mean(axis=axis, keepdims=True)
    return (rx * ry).sum(axis=axis) / np.sqrt((rx * rx).sum(axis=axis) * (ry * ry).sum(axis=axis))


def _naive_bootstrap(xs, ys, *, seed, resamples, confidence=0.95):
    """The documented procedure spelled out the slow way: same draws, ρ of each resample by sorting."""
    rhos = []
    for drawn in np.random.default_rng(seed).integers(0, len(xs), size=(resamples, len(xs))):
        rho = spearman([xs[i] for i in drawn], [ys[i] for i in drawn])
        if rho is not None:
            rhos.append(rho)
    if resamples - len(rhos) > stats.MAX_SKIPPED_SHARE * resamples:
        return None
    tail = (1 - confidence) / 2
    return tuple(float(q) for q in np.percentile(rhos, [100 * tail, 100 * (1 - tail)]))


def _correlated(n: int, *, seed: int, slope: float, noise: float, x_rounding: int = 0):
    """n teams with y = slope × x + noise; integer values (x to tens with x_rounding=-1), so with ties."""
    rng = random.Random(seed)
    xs = [round(rng.uniform(20, 95), x_rounding) for _ in range(n)]
    ys = [round(slope * x + rng.gauss(0, noise)) for x in xs]
    return xs, ys


# Fixed data sets for the comparison with scipy.stats.bootstrap: moderate, negative with heavy ties, and none.
BOOTSTRAP_CASES = {
    "moderate": _correlated(30, seed=1, slope=0.5, noise=12),
    "negative_tied": _correlated(14, seed=2, slope=-0.2, noise=5, x_rounding=-1),
    "none": _correlated(60, seed=3, slope=0.0, noise=10),
}


class TestSpearman:
    @settings(max_examples=300)
    @given(paired_data())
    def test_it_matches_scipy_spearmanr_with_ties(self, data):
        xs, ys = data
        ours = spearman(xs, ys)
        if len(set(xs)) == 1 or len(set(ys)) == 1:
            assert ours is None
            return
        expected = scipy_stats.spearmanr(xs, ys).statistic
        assert ours == pytest.approx(expected, abs=1e-9)

    def test_it_is_undefined_below_two_teams(self):
        assert spearman([], []) is None
        assert spearman([1.0], [2.0]) is None

    def test_it_is_undefined_when_a_side_is_constant(self):
        assert spearman([1, 2, 3, 4], [7, 7, 7, 7]) is None
        assert spearman([5, 5, 5], [1, 2, 3]) is None

    def test_it_is_one_for_any_monotonic_relation(self):
        xs = [1, 2, 3, 4, 5, 6]
        assert spearman(xs, [x**3 for x in xs]) == 1.0
        assert spearman(xs, [-math.exp(x) for x in xs]) == -1.0

    def test_it_refuses_unpaired_data(self):
        with pytest.raises(ValueError, match="pair up"):
            spearman([1, 2, 3], [1, 2])


class TestBootstrapInterval:
    @pytest.mark.parametrize("case", sorted(BOOTSTRAP_CASES))
    def test_it_agrees_with_scipy_bootstrap(self, case):
        """Both are Monte Carlo estimates of the same percentiles, with different random generators, so they agree
        only up to simulation error. The standard error of an estimated 2.5% quantile is about
        √(q(1 − q)/B) / f(quantile), f the bootstrap density there (about φ(1.96)/sd for a roughly normal one). With
        B = 4,000 (ours) and 40,000 (SciPy's) and these data sets' bootstrap spreads (sd 0.07–0.13), that is about
        0.002–0.006 for the two combined; the small, heavily tied set has a lumpy, skewed distribution, where it is
        larger. Over seeds 0–3 and 11 the largest difference seen was 0.022, so 0.04 leaves
        room without being loose: the interval widths are 0.28–0.52, and a shifted or mis-scaled interval fails.
        Both generators are seeded: the test is deterministic, not flaky.
        """
        xs, ys = BOOTSTRAP_CASES[case]
        ours = bootstrap_interval(xs, ys, seed=11, resamples=4000)
        theirs = scipy_stats.bootstrap(
            (np.array(xs, dtype=float), np.array(ys, dtype=float)),
            _scipy_spearman,
            paired=True,
            vectorized=True,
            method="percentile",
            n_resamples=40_000,
            confidence_level=0.95,
            rng=np.random.default_rng(11),
        ).confidence_interval
        assert ours is not None
        assert ours[0] == pytest.approx(theirs.low, abs=0.04)
        assert ours[1] == pytest.approx(theirs.high, abs=0.04)
        assert ours[0] <= spearman(xs, ys) <= ours[1]

    @pytest.mark.parametrize("case", sorted(BOOTSTRAP_CASES))
    def test_its_fast_ranking_equals_the_slow_procedure(self, case):
        # The O(n)-per-resample path must be the documented procedure exactly, draw for draw.
        xs, ys = BOOTSTRAP_CASES[case]
        ours = bootstrap_interval(xs, ys, seed=5, resamples=500)
        assert ours == pytest.approx(_naive_bootstrap(xs, ys, seed=5, resamples=500), abs=1e-12)

    def test_it_is_deterministic_for_a_seed(self):
        xs, ys = BOOTSTRAP_CASES["moderate"]
        first = bootstrap_interval(xs, ys, seed=42)
        assert bootstrap_interval(xs, ys, seed=42) == first
        assert bootstrap_interval(xs, ys, seed=43) != first

    def test_it_skips_resamples_with_a_constant_side(self):
        # 3 of 12 teams differ on x: a resample misses all three with probability (9/12)^12 ≈ 3%, under the 10%
        # allowance, so the interval is that of the other resamples.
        xs = [0] * 9 + [1] * 3
        ys = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8]
        interval = bootstrap_interval(xs, ys, seed=9, resamples=2000)
        assert interval is not None
        assert interval == pytest.approx(_naive_bootstrap(xs, ys, seed=9, resamples=2000), abs=1e-12)

    def test_it_gives_no_interval_when_too_many_resamples_are_skipped(self):
        # One team of 8 differs: (7/8)^8 ≈ 34% of resamples have a constant x. ρ itself is 14/√588 ≈ 0.58.
        xs = [0] * 7 + [1]
        ys = [1, 2, 3, 4, 5, 6, 7, 8]
        assert spearman(xs, ys) is not None
        assert bootstrap_interval(xs, ys, seed=1) is None
        assert correlate(xs, ys, seed=1).text == "ρ = 0.58 (no 95% CI: too many resamples had one side constant), n = 8"

    def test_it_gives_no_interval_for_undefined_data(self):
        assert bootstrap_interval([1.0], [2.0], seed=1) is None
        assert bootstrap_interval([1, 2, 3, 4], [5, 5, 5, 5], seed=1) is None

    def test_it_honours_the_confidence_level(self):
        xs, ys = BOOTSTRAP_CASES["moderate"]
        low95, high95 = bootstrap_interval(xs, ys, seed=3, confidence=0.95)
        low80, high80 = bootstrap_interval(xs, ys, seed=3, confidence=0.80)
        assert low95 < low80 < high80 < high95


class TestCorrelate:
    def test_it_says_too_few_teams_and_gives_no_number(self):
        xs, ys = _correlated(7, seed=1, slope=1, noise=1)
        result = correlate(xs, ys, seed=1)
        assert (result.n, result.rho, result.low, result.high) == (7, None, None, None)
        assert not result.enough
        assert not result.excludes_zero
        assert result.text == "too few teams to tell (n = 7, need 8)"
        assert not any(ch.isdigit() for ch in result.text.replace("n = 7", "").replace("need 8", ""))

    def test_it_gives_a_number_from_eight_teams(self):
        xs, ys = _correlated(8, seed=1, slope=1, noise=1)
        result = correlate(xs, ys, seed=1)
        assert result.enough
        assert result.rho == spearman(xs, ys)
        assert result.low is not None
        assert result.low <= result.rho <= result.high

    def test_its_text_uses_a_real_minus_sign(self):
        result = Correlation(n=40, rho=-0.42, low=-0.61, high=-0.2)
        assert result.text == "ρ = −0.42 (95% CI −0.61 to −0.20), n = 40"
        assert "-" not in result.text

    def test_its_text_never_shows_minus_zero(self):
        assert Correlation(n=9, rho=-0.001, low=-0.3, high=0.004).text == "ρ = 0.00 (95% CI −0.30 to 0.00), n = 9"

    def test_it_says_when_a_side_is_constant(self):
        result = correlate(list(range(10)), [4] * 10, seed=1)
        assert result.rho is None
        assert result.text == "no correlation to tell: one side is the same for every team (n = 10)"

    def test_a_strong_association_excludes_zero(self):
        xs, ys = _correlated(40, seed=4, slope=1, noise=5)
        result = correlate(xs, ys, seed=4)
        assert result.rho > 0.8
        assert result.excludes_zero

    def test_no_association_does_not_exclude_zero(self):
        xs, ys = BOOTSTRAP_CASES["none"]
        result = correlate(xs, ys, seed=4)
        assert result.low < 0 < result.high
        assert not result.excludes_zero

    @pytest.mark.parametrize(
        ("low", "high", "expected"),
        [(0.1, 0.5, True), (-0.5, -0.1, True), (-0.1, 0.5, False), (0.0, 0.5, False), (-0.5, 0.0, False)],
    )
    def test_excludes_zero_needs_both_ends_strictly_on_one_side(self, low, high, expected):
        assert Correlation(n=20, rho=(low + high) / 2, low=low, high=high).excludes_zero is expected

    def test_a_result_below_the_minimum_cannot_carry_a_number(self):
        with pytest.raises(ValueError, match="no number"):
            Correlation(n=5, rho=0.3, low=None, high=None)

    def test_the_minimum_is_adjustable(self):
        result = correlate([1, 2, 3, 4, 5], [2, 1, 4, 3, 5], seed=1, min_n=12)
        assert result.text == "too few teams to tell (n = 5, need 12)"


class TestWithinTeamChange:
    def test_it_correlates_the_changes_of_comparable_teams(self):
        # Teams whose failure rate fell (Δ < 0) came to feel better (Δ score > 0): a negative ρ for a ↓ metric.
        pairs = [(12, -8.0), (5, -3.0), (-4, 2.0), (0, 0.5), (9, -6.0), (-10, 7.0), (3, -1.0), (-2, 1.5), (7, -2.5)]
        result = within_team_change([*pairs, (None, 3.0), (4, None)], seed=2)
        assert result.n == 9
        assert result.rho == spearman([dx for dx, _ in pairs], [dy for _, dy in pairs])
        assert result.rho < -0.9
        assert result.excludes_zero

    def test_it_needs_eight_comparable_teams(self):
        pairs = [(1, 2), (2, 3), (3, 1), (4, 5), (5, 4), (6, 7), (7, 6), (None, 8), (9, None)]
        result = within_team_change(pairs, seed=2)
        assert result.text == "too few teams to tell (n = 7, need 8)"
        assert result.rho is None

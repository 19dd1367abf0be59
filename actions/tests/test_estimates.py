"""The initiative estimates (actions/estimates.py) against statsmodels and SciPy (test-only dependencies), and on
generated data with effects of known size. No database: the module is pure."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats

from actions import estimates
from actions.estimates import (
    BeforeAfter,
    Better,
    Candidate,
    Code,
    Estimate,
    Reason,
    Unit,
    Windows,
    before_after,
    describe,
    diff_in_diff,
    dissimilar_comparison,
    guardrail_worsened,
    no_comparison,
    open_at_cutoff,
    pre_trends_differ,
    regression_to_mean,
    select_comparison,
    staggered,
    t_quantile,
    too_little_data,
    warnings_for,
)
from e360.stats import percentile_of_sorted

START = date(2026, 3, 2)  # a Monday
WEEK = timedelta(weeks=1)
# Eight weeks before, a two-week ramp-up, eight weeks after.
WINDOWS = Windows(START, length=8 * WEEK, ramp=2 * WEEK)
WEEKS = np.arange(-8, 10)  # the weeks the windows cover, counted from the start


def panel(
    rng: np.random.Generator,
    *,
    treated: int,
    comparison: int,
    effect: float,
    trend: float = 0.4,
    noise: float = 3.0,
    team_sd: float = 6.0,
    start_week: np.ndarray | None = None,
    weeks: np.ndarray = WEEKS,
) -> dict[int, list[tuple[date, float]]]:
    """Weekly values: a team fixed effect, a common trend, the planted effect on treated teams from their own
    start + ramp-up (half of it during the ramp-up, which the windows skip), and noise. Teams 0..treated-1 are
    treated; ``start_week`` (per treated team, weeks after START) staggers them."""
    teams = treated + comparison
    level = rng.normal(20, team_sd, size=teams)[:, None]
    starts = np.zeros(teams) if start_week is None else np.concatenate([start_week, np.full(comparison, 10**6)])
    since = weeks[None, :] - starts[:, None]
    is_treated = (np.arange(teams) < treated)[:, None]
    planted = np.where(is_treated & (since >= 2), effect, 0.0) + np.where(
        is_treated & (since >= 0) & (since < 2), effect / 2, 0.0
    )
    values = level + trend * weeks[None, :] + planted + rng.normal(0, noise, size=(teams, len(weeks)))
    days = [START + int(w) * WEEK for w in weeks]
    return {team: list(zip(days, values[team].tolist(), strict=True)) for team in range(teams)}


def ols_table(did):
    """The team-period means as OLS rows: team, treated, post, y."""
    rows = []
    for side, changes in ((1, did.treated), (0, did.comparison)):
        for c in changes:
            rows += [(c.team, side, 0, c.before), (c.team, side, 1, c.after)]
    return np.array(rows, dtype=float)


def ols_fit(did, **cov_kwds):
    table = ols_table(did)
    treated, post = table[:, 1], table[:, 2]
    design = np.column_stack([np.ones(len(table)), treated, post, treated * post])
    groups = table[:, 0].astype(int)
    return sm.OLS(table[:, 3], design).fit(cov_type="cluster", cov_kwds={"groups": groups, **cov_kwds}, use_t=True)


class TestWindows:
    def test_before_and_after_are_equal_and_the_ramp_up_is_in_neither(self):
        assert WINDOWS.side(START - 8 * WEEK) == "before"
        assert WINDOWS.side(START - timedelta(days=1)) == "before"
        assert WINDOWS.side(START) is None  # ramp-up
        assert WINDOWS.side(START + 2 * WEEK - timedelta(days=1)) is None
        assert WINDOWS.side(START + 2 * WEEK) == "after"
        assert WINDOWS.side(START + 10 * WEEK - timedelta(days=1)) == "after"
        assert WINDOWS.side(START + 10 * WEEK) is None
        assert WINDOWS.side(START - 8 * WEEK - timedelta(days=1)) is None

    def test_the_placebo_splits_the_before_window(self):
        fake = WINDOWS.placebo()
        assert (fake.before_start, fake.start, fake.after_end) == (START - 8 * WEEK, START - 4 * WEEK, START)
        assert fake.ramp == timedelta(0)
        odd = Windows(START, timedelta(days=7)).placebo()  # dates: whole days, the first day in neither half
        assert (odd.before_start, odd.start, odd.after_end) == (
            START - timedelta(days=6),
            START - timedelta(days=3),
            START,
        )
        instant = datetime(2026, 3, 2, tzinfo=UTC)
        exact = Windows(instant, timedelta(days=7)).placebo()
        assert exact.start == instant - timedelta(days=3.5)

    def test_it_refuses_bad_windows(self):
        with pytest.raises(ValueError, match="positive"):
            Windows(START, timedelta(0))
        with pytest.raises(ValueError, match="negative"):
            Windows(START, WEEK, -WEEK)
        with pytest.raises(ValueError, match="whole days"):
            Windows(START, timedelta(hours=36))


class TestStudentT:
    @pytest.mark.parametrize("df", [1, 1.5, 2, 3.7, 10, 29.4, 200, 1e5])
    @pytest.mark.parametrize("p", [0.5, 0.9, 0.95, 0.975, 0.995, 0.9995])
    def test_the_quantile_matches_scipy(self, p, df):
        assert t_quantile(p, df) == pytest.approx(scipy_stats.t.ppf(p, df), rel=1e-9, abs=1e-12)

    def test_it_refuses_a_lower_quantile(self):
        with pytest.raises(ValueError, match=r"0\.5 <= p < 1"):
            t_quantile(0.3, 5)


# --- before/after


def skewed(seed: int, n: int, scale: float) -> list[float]:
    return np.random.default_rng(seed).lognormal(np.log(scale), 0.8, size=n).round(1).tolist()


def spread(values: list[float], start: date, *, before: bool) -> list[tuple[date, float]]:
    """Values laid one a day in the before window (or after window) of START."""
    first = start - 8 * WEEK if before else start + 2 * WEEK
    return [(first + timedelta(days=i % 56), v) for i, v in enumerate(values)]


class TestBeforeAfter:
    before_values = skewed(1, 150, 20.0)
    after_values = skewed(2, 120, 12.0)
    observations = {1: spread(before_values, START, before=True) + spread(after_values, START, before=False)}

    def run(self, **kwargs) -> BeforeAfter:
        defaults = {"length": 8 * WEEK, "ramp": 2 * WEEK, "seed": 7}
        return before_after(self.observations, {1: START}, **(defaults | kwargs))

    def test_figures_are_the_interpolated_median_and_p75_of_each_side(self):
        result = self.run()
        assert (result.n_before, result.n_after) == (150, 120)
        assert result.median_before.value == pytest.approx(np.median(self.before_values), abs=1e-12)
        assert result.p75_after.value == pytest.approx(np.percentile(self.after_values, 75), abs=1e-12)
        assert result.median_change.value == pytest.approx(
            np.median(self.after_values) - np.median(self.before_values), abs=1e-12
        )

    @pytest.mark.parametrize(("name", "q"), [("median", 50), ("p75", 75)])
    def test_the_change_interval_agrees_with_scipy_bootstrap(self, name, q):
        """Different random draws: the ends agree within 10% of the interval's width (Monte Carlo error with 5,000
        resamples is a few per cent of it)."""
        ours = getattr(self.run(resamples=5000), f"{name}_change")

        def change(after, before, axis=-1):
            return np.percentile(after, q, axis=axis) - np.percentile(before, q, axis=axis)

        theirs = scipy_stats.bootstrap(
            (self.after_values, self.before_values), change, method="percentile", n_resamples=5000, rng=3
        ).confidence_interval
        width = theirs.high - theirs.low
        assert abs(ours.low - theirs.low) < 0.1 * width
        assert abs(ours.high - theirs.high) < 0.1 * width
        assert ours.low < ours.value < ours.high

    def test_it_follows_the_documented_draws(self):
        """The procedure spelled out: blocks of BLOCK resamples, before side then after side, per block."""
        resamples = 300
        result = self.run(resamples=resamples)
        rng = np.random.default_rng(7)
        before, after = np.array(self.before_values), np.array(self.after_values)
        changes = []
        for first in range(0, resamples, estimates.BLOCK):
            rows = min(estimates.BLOCK, resamples - first)
            b = before[rng.integers(0, len(before), size=(rows, len(before)))]
            a = after[rng.integers(0, len(after), size=(rows, len(after)))]
            changes += (np.median(a, axis=1) - np.median(b, axis=1)).tolist()
        assert (result.median_change.low, result.median_change.high) == pytest.approx(
            tuple(np.percentile(changes, [2.5, 97.5])), abs=1e-9
        )

    def test_the_same_seed_gives_the_same_interval(self):
        assert self.run(resamples=200) == self.run(resamples=200)
        assert self.run(resamples=200, seed=8) != self.run(resamples=200)

    def test_the_ramp_up_and_other_teams_are_left_out(self):
        observations = dict(self.observations)
        observations[1] = [*observations[1], (START + WEEK, 1000.0), (START - 9 * WEEK, 1000.0)]
        observations[2] = [(START + 3 * WEEK, 1000.0)]  # not treated
        result = before_after(observations, {1: START}, length=8 * WEEK, ramp=2 * WEEK, seed=7, resamples=100)
        assert (result.n_before, result.n_after) == (150, 120)

    def test_staggered_teams_use_their_own_windows(self):
        later = START + 3 * WEEK
        observations = {
            1: [(START - WEEK, 10.0), (START + 3 * WEEK, 4.0)],
            2: [(later - WEEK, 20.0), (later + 3 * WEEK, 8.0)],
        }
        result = before_after(
            observations, {1: START, 2: later}, length=8 * WEEK, ramp=2 * WEEK, seed=1, min_n=2, resamples=50
        )
        assert (result.n_before, result.n_after) == (2, 2)
        assert result.median_before.value == 15.0
        assert result.median_after.value == 6.0

    def test_below_the_minimum_on_a_side_there_is_no_number(self):
        observations = {1: spread(self.before_values, START, before=True) + spread([5.0] * 9, START, before=False)}
        result = before_after(observations, {1: START}, length=8 * WEEK, ramp=2 * WEEK, seed=1)
        assert (result.n_before, result.n_after, result.enough) == (150, 9, False)
        assert result.median_change is None and result.median_before is None

    def test_it_refuses_non_finite_values(self):
        with pytest.raises(ValueError, match="finite"):
            before_after({1: [(START, float("nan"))]}, {1: START}, length=WEEK, seed=1)


# --- difference-in-differences


class TestDiffInDiffAgainstStatsmodels:
    observations = panel(np.random.default_rng(11), treated=5, comparison=7, effect=-5.0)
    did = diff_in_diff(observations, treated=range(5), comparison=range(5, 12), windows=WINDOWS)

    def test_the_estimate_is_ols_interaction_coefficient(self):
        assert self.did.estimate.value == pytest.approx(ols_fit(self.did).params[3], abs=1e-9)

    def test_it_is_the_2x2_difference_of_cell_means(self):
        table = ols_table(self.did)

        def cell(t, p):
            return table[(table[:, 1] == t) & (table[:, 2] == p), 3].mean()

        expected = (cell(1, 1) - cell(1, 0)) - (cell(0, 1) - cell(0, 0))
        assert self.did.estimate.value == pytest.approx(expected, abs=1e-12)

    def test_the_interval_is_welch_on_the_teams_changes(self):
        """CR2 on this design is Welch's: SciPy's Welch t interval, to 1e-9."""
        result = scipy_stats.ttest_ind(
            [c.change for c in self.did.treated], [c.change for c in self.did.comparison], equal_var=False
        )
        interval = result.confidence_interval(0.95)
        assert (self.did.estimate.low, self.did.estimate.high) == pytest.approx((interval.low, interval.high), abs=1e-9)
        assert self.did.df == pytest.approx(result.df, rel=1e-12)

    def test_the_interval_is_close_to_statsmodels_cluster_robust_one(self):
        """statsmodels' CR1 (G/(G−1)·(N−1)/(N−K) correction, t with G − 1 df) differs from CR2 only in small-sample
        factors: the standard errors within 5%, the ends within 10% of the half-width."""
        fit = ols_fit(self.did)
        assert self.did.se == pytest.approx(fit.bse[3], rel=0.05)
        low, high = fit.conf_int()[3]
        half = (high - low) / 2
        assert abs(self.did.estimate.low - low) < 0.1 * half
        assert abs(self.did.estimate.high - high) < 0.1 * half

    def test_with_equal_groups_cr2_is_statsmodels_cr0_scaled_by_n_over_n_minus_1(self):
        observations = panel(np.random.default_rng(12), treated=6, comparison=6, effect=2.0)
        did = diff_in_diff(observations, treated=range(6), comparison=range(6, 12), windows=WINDOWS)
        cr0 = ols_fit(did, use_correction=False).bse[3]
        assert did.se == pytest.approx(cr0 * np.sqrt(6 / 5), rel=1e-9)

    def test_a_single_treated_team_takes_the_comparison_teams_variance(self):
        did = diff_in_diff(self.observations, treated=[0], comparison=range(5, 12), windows=WINDOWS)
        changes = np.array([c.change for c in did.comparison])
        assert did.se == pytest.approx(np.sqrt(changes.var(ddof=1) * (1 + 1 / 7)), rel=1e-12)
        assert did.df == pytest.approx(6)
        assert did.estimate.value == pytest.approx(did.treated[0].change - changes.mean(), abs=1e-12)


def simulate(runs: int, *, effect: float, treated: int = 6, comparison: int = 10, seed: int = 0):
    rng = np.random.default_rng(seed)
    results = []
    for _ in range(runs):
        observations = panel(rng, treated=treated, comparison=comparison, effect=effect)
        results.append(
            diff_in_diff(
                observations, treated=range(treated), comparison=range(treated, treated + comparison), windows=WINDOWS
            )
        )
    return results


def covers(estimate: Estimate, value: float) -> bool:
    return estimate.low <= value <= estimate.high


class TestPlantedEffects:
    """200 generated data sets each: team fixed effects, a common trend, noise, and an effect of known size."""

    def test_the_interval_covers_the_planted_effect_about_95_percent_of_the_time(self):
        results = simulate(200, effect=-4.0, seed=1)
        coverage = np.mean([covers(r.estimate, -4.0) for r in results])
        assert 0.88 <= coverage <= 0.99
        # and the estimator is unbiased: the mean estimate is close to the effect (se of the mean ≈ 0.08)
        assert np.mean([r.estimate.value for r in results]) == pytest.approx(-4.0, abs=0.3)

    def test_the_placebo_covers_zero_about_95_percent_of_the_time(self):
        results = simulate(200, effect=-4.0, seed=2)
        coverage = np.mean([covers(r.placebo, 0.0) for r in results])
        assert 0.88 <= coverage <= 0.99

    def test_no_effect_is_rarely_called_significant(self):
        results = simulate(200, effect=0.0, seed=3)
        assert np.mean([r.estimate.excludes_zero for r in results]) <= 0.10

    def test_a_single_treated_team_covers_too(self):
        results = simulate(200, effect=3.0, treated=1, comparison=8, seed=4)
        assert 0.88 <= np.mean([covers(r.estimate, 3.0) for r in results]) <= 0.99

    def test_a_planted_pre_trend_difference_shows_in_the_placebo(self):
        rng = np.random.default_rng(5)
        observations = panel(rng, treated=6, comparison=10, effect=0.0, noise=1.0)
        for team in range(6):  # the treated teams drift down by 1 a week, before and after alike
            observations[team] = [(day, v - (day - START).days / 7) for day, v in observations[team]]
        did = diff_in_diff(observations, treated=range(6), comparison=range(6, 16), windows=WINDOWS)
        assert did.placebo.excludes_zero and did.placebo.value < 0
        assert pre_trends_differ(did.placebo).code == Code.PRE_TRENDS_DIFFER


class TestDiffInDiff:
    observations = panel(np.random.default_rng(21), treated=3, comparison=5, effect=-6.0)

    def test_trends_are_per_week_means_of_team_means_over_both_windows(self):
        did = diff_in_diff(self.observations, treated=range(3), comparison=range(3, 8), windows=WINDOWS)
        assert [p.offset for p in did.trends] == list(range(-8, 10))
        assert [p.phase for p in did.trends] == ["before"] * 8 + ["ramp"] * 2 + ["after"] * 8
        first = did.trends[0]
        assert first.treated == pytest.approx(np.mean([self.observations[t][0][1] for t in range(3)]))
        assert first.comparison == pytest.approx(np.mean([self.observations[t][0][1] for t in range(3, 8)]))
        assert (first.treated_teams, first.comparison_teams) == (3, 5)

    def test_teams_without_data_on_both_sides_are_left_out(self):
        observations = dict(self.observations)
        observations[7] = [(d, v) for d, v in observations[7] if d < START]  # nothing after
        did = diff_in_diff(observations, treated=range(3), comparison=[*range(3, 8), 99], windows=WINDOWS)
        assert did.left_out == (7, 99)
        assert did.n_comparison == 4

    def test_fewer_than_two_comparison_teams_give_no_estimate(self):
        did = diff_in_diff(self.observations, treated=range(3), comparison=[3], windows=WINDOWS)
        assert did.estimate is None and not did.enough
        assert did.n_treated == 3 and did.treated_change is not None
        assert len(did.trends) == 18

    def test_it_refuses_a_team_on_both_sides(self):
        with pytest.raises(ValueError, match="both"):
            diff_in_diff(self.observations, treated=[0, 1], comparison=[1, 2], windows=WINDOWS)

    def test_datetimes_work_as_dates_do(self):
        instant = datetime(2026, 3, 2, tzinfo=UTC)
        observations = {
            team: [(datetime.combine(d, datetime.min.time(), UTC) + timedelta(hours=9), v) for d, v in series]
            for team, series in self.observations.items()
        }
        windows = Windows(instant, 8 * WEEK, 2 * WEEK)
        ours = diff_in_diff(observations, treated=range(3), comparison=range(3, 8), windows=windows)
        by_date = diff_in_diff(self.observations, treated=range(3), comparison=range(3, 8), windows=WINDOWS)
        assert ours.estimate == by_date.estimate


small_panels = st.builds(
    lambda seed, treated, comparison: (
        panel(np.random.default_rng(seed), treated=treated, comparison=comparison, effect=2.0),
        treated,
        comparison,
    ),
    st.integers(0, 10**6),
    st.integers(2, 5),
    st.integers(2, 6),
)


class TestDiffInDiffProperties:
    @settings(max_examples=60, deadline=None)
    @given(small_panels, st.floats(-1e3, 1e3))
    def test_adding_a_constant_to_every_value_changes_nothing(self, data, constant):
        observations, t, c = data
        shifted = {team: [(d, v + constant) for d, v in series] for team, series in observations.items()}
        a = diff_in_diff(observations, treated=range(t), comparison=range(t, t + c), windows=WINDOWS).estimate
        b = diff_in_diff(shifted, treated=range(t), comparison=range(t, t + c), windows=WINDOWS).estimate
        assert (b.value, b.low, b.high) == pytest.approx((a.value, a.low, a.high), abs=1e-8)

    @settings(max_examples=60, deadline=None)
    @given(small_panels)
    def test_swapping_treated_and_comparison_swaps_the_sign(self, data):
        observations, t, c = data
        a = diff_in_diff(observations, treated=range(t), comparison=range(t, t + c), windows=WINDOWS).estimate
        b = diff_in_diff(observations, treated=range(t, t + c), comparison=range(t), windows=WINDOWS).estimate
        assert (b.value, b.low, b.high) == pytest.approx((-a.value, -a.high, -a.low), abs=1e-9)

    @settings(max_examples=60, deadline=None)
    @given(small_panels, st.floats(0.01, 100))
    def test_scaling_every_value_scales_the_estimate(self, data, factor):
        observations, t, c = data
        scaled = {team: [(d, v * factor) for d, v in series] for team, series in observations.items()}
        a = diff_in_diff(observations, treated=range(t), comparison=range(t, t + c), windows=WINDOWS).estimate
        b = diff_in_diff(scaled, treated=range(t), comparison=range(t, t + c), windows=WINDOWS).estimate
        assert (b.value, b.low, b.high) == pytest.approx(
            (a.value * factor, a.low * factor, a.high * factor), rel=1e-9, abs=1e-9
        )


# --- staggered starts

LONG_WEEKS = np.arange(-8, 40)


class TestStaggered:
    """Three cohorts (weeks 0, 4 and 20 after START) of two teams with their own planted effects, eight never-treated
    teams; 10-week after windows end at weeks 10, 14 and 30."""

    effects = {0: -6.0, 4: -2.0, 20: 4.0}
    start_week = np.array([0, 0, 4, 4, 20, 20])

    def observations(self, rng, noise=1.0):
        data = panel(
            rng, treated=6, comparison=8, effect=0.0, noise=noise, start_week=self.start_week, weeks=LONG_WEEKS
        )
        for team, week in enumerate(self.start_week):  # each cohort its own effect
            data[team] = [
                (d, v + (self.effects[week] if (d - START).days // 7 - week >= 2 else 0.0)) for d, v in data[team]
            ]
        return data

    def run(self, observations):
        starts = {team: START + int(w) * WEEK for team, w in enumerate(self.start_week)}
        candidates = dict.fromkeys(range(6, 14))
        return staggered(observations, starts=starts, candidates=candidates, length=8 * WEEK, ramp=2 * WEEK)

    def test_each_cohort_recovers_its_own_effect(self):
        result = self.run(self.observations(np.random.default_rng(31)))
        assert [c.start for c in result.cohorts] == [START, START + 4 * WEEK, START + 20 * WEEK]
        for cohort, effect in zip(result.cohorts, self.effects.values(), strict=True):
            assert covers(cohort.did.estimate, effect)
            assert cohort.did.estimate.value == pytest.approx(effect, abs=1.5)

    def test_already_treated_teams_are_never_controls_and_later_ones_only_when_not_started(self):
        result = self.run(self.observations(np.random.default_rng(32)))
        first, second, third = (tuple(c.team for c in cohort.did.comparison) for cohort in result.cohorts)
        assert first == (6, 7, 8, 9, 10, 11, 12, 13, 4, 5)  # week 20 starts after week 10's end: a control
        assert second == (6, 7, 8, 9, 10, 11, 12, 13, 4, 5)  # and after week 14's
        assert third == (6, 7, 8, 9, 10, 11, 12, 13)  # the earlier cohorts are treated by then
        assert 2 not in first  # week 4 starts before week 0's after window ends

    def test_the_aggregate_weighs_cohorts_by_size(self):
        result = self.run(self.observations(np.random.default_rng(33)))
        assert result.weights == {c.start: pytest.approx(1 / 3) for c in result.cohorts}
        expected = sum(result.weights[c.start] * c.did.estimate.value for c in result.cohorts)
        assert result.estimate.value == pytest.approx(expected, abs=1e-12)
        assert covers(result.estimate, np.mean(list(self.effects.values())))

    def test_one_cohort_is_its_own_aggregate(self):
        observations = panel(np.random.default_rng(34), treated=3, comparison=6, effect=-3.0)
        result = staggered(
            observations,
            starts=dict.fromkeys(range(3), START),
            candidates=dict.fromkeys(range(3, 9)),
            length=8 * WEEK,
            ramp=2 * WEEK,
        )
        (cohort,) = result.cohorts
        assert result.estimate == cohort.did.estimate
        assert (result.se, result.df) == (cohort.did.se, cohort.did.df)

    def test_the_aggregate_interval_covers_with_shared_controls(self):
        """The cohorts share the never-treated teams: their covariance is in the aggregate's standard error."""
        rng = np.random.default_rng(35)
        truth = np.mean(list(self.effects.values()))
        hits = [covers(self.run(self.observations(rng, noise=3.0)).estimate, truth) for _ in range(200)]
        assert 0.88 <= np.mean(hits) <= 0.99

    def test_a_cohort_without_comparison_is_kept_but_not_aggregated(self):
        observations = panel(np.random.default_rng(36), treated=2, comparison=2, effect=-3.0, weeks=LONG_WEEKS)
        result = staggered(
            observations,
            starts={0: START, 1: START + 20 * WEEK},
            candidates={2: None, 3: START + 12 * WEEK},  # team 3 starts (elsewhere) after the first cohort only
            length=8 * WEEK,
            ramp=2 * WEEK,
        )
        first, second = result.cohorts
        assert [c.team for c in first.did.comparison] == [2, 3, 1]
        assert second.did.estimate is None and [c.team for c in second.did.comparison] == [2]
        assert result.weights == {START: 1.0}
        assert result.estimate == first.did.estimate


# --- comparison selection


class TestSelectComparison:
    after_end = START + 10 * WEEK
    candidates = (
        Candidate(1, level=2, start=START, baseline=30.0),  # treated
        Candidate(2, level=1, start=None, baseline=30.0),  # parent level
        Candidate(3, level=2, start=START + 4 * WEEK, baseline=30.0),  # starts within the after window
        Candidate(4, level=2, start=START + 10 * WEEK, baseline=28.0),  # starts right after it: fine
        Candidate(5, level=2, start=None, baseline=None),
        Candidate(6, level=2, start=None, baseline=80.0),  # more than twice
        Candidate(7, level=2, start=None, baseline=14.0),  # less than half
        Candidate(8, level=2, start=None, baseline=40.0),
        Candidate(9, level=2, start=None, baseline=20.0),
        Candidate(10, level=2, start=None, baseline=50.0),
    )

    def select(self, **kwargs):
        defaults = {"treated": {1}, "level": 2, "baseline": 30.0, "after_end": self.after_end, "max_teams": 3}
        return select_comparison(self.candidates, **(defaults | kwargs))

    def test_it_keeps_the_closest_similar_teams_of_the_level_not_started(self):
        selection = self.select()
        assert selection.chosen == (4, 8, 9)  # |log 28/30| < |log 40/30| < |log 20/30| < |log 50/30|
        assert dict(selection.left_out) == {
            1: Reason.TREATED,
            2: Reason.OTHER_LEVEL,
            3: Reason.STARTED,
            5: Reason.NO_BASELINE,
            6: Reason.DISSIMILAR,
            7: Reason.DISSIMILAR,
            10: Reason.FURTHER,
        }
        assert selection.why(3) == "it starts before the end of the after window"
        assert selection.why(4) is None

    def test_a_wider_factor_and_more_teams_admit_more(self):
        assert self.select(factor=3.0, max_teams=10).chosen == (4, 8, 9, 10, 7, 6)

    def test_a_zero_baseline_matches_only_zero(self):
        candidates = [Candidate(1, 0, None, 0.0), Candidate(2, 0, None, 0.5), Candidate(3, 0, None, 0.0)]
        selection = select_comparison(candidates, treated=(), level=0, baseline=0.0, after_end=START)
        assert selection.chosen == (1, 3)

    @settings(max_examples=200, deadline=None)
    @given(
        st.lists(
            st.builds(
                Candidate,
                team=st.integers(0, 30),
                level=st.sampled_from([1, 2]),
                start=st.one_of(st.none(), st.integers(-20, 20).map(lambda w: START + w * WEEK)),
                baseline=st.one_of(st.none(), st.floats(0, 100)),
            ),
            max_size=25,
            unique_by=lambda c: c.team,
        ),
        st.floats(0, 100),
        st.integers(1, 6),
    )
    def test_every_candidate_is_chosen_or_left_out_with_its_reason(self, candidates, baseline, max_teams):
        selection = select_comparison(
            candidates, treated={0, 1}, level=2, baseline=baseline, after_end=self.after_end, max_teams=max_teams
        )
        assert sorted([*selection.chosen, *(team for team, _ in selection.left_out)]) == sorted(
            c.team for c in candidates
        )
        assert len(selection.chosen) <= max_teams
        by_team = {c.team: c for c in candidates}
        similar = [team for team in selection.chosen if baseline / 2 <= by_team[team].baseline <= baseline * 2]
        for team in selection.chosen:
            chosen = by_team[team]
            assert team not in {0, 1} and chosen.level == 2
            assert chosen.start is None or chosen.start >= self.after_end
            assert chosen.baseline is not None
        if selection.widened:  # too few similar: the closest others made up the number, no more
            assert len(similar) < min(5, max_teams) and len(selection.chosen) <= min(5, max_teams)
        else:
            assert similar == list(selection.chosen)
        if any(reason == Reason.FURTHER for _, reason in selection.left_out):
            assert len(selection.chosen) == max_teams

    def test_too_few_similar_teams_are_made_up_by_the_closest_others_with_a_warning(self):
        candidates = [Candidate(1, 0, None, 40.0), Candidate(2, 0, None, 9.0), Candidate(3, 0, None, 6.0)]
        selection = select_comparison(candidates, treated=(), level=0, baseline=45.0, after_end=START, min_teams=2)
        assert selection.chosen == (1, 2) and selection.widened
        assert selection.left_out == ((3, Reason.DISSIMILAR),)
        warning = dissimilar_comparison(selection, 2.0)
        assert warning is not None and warning.code == "dissimilar_comparison"
        alone = select_comparison(candidates[:1], treated=(), level=0, baseline=40.0, after_end=START, min_teams=2)
        assert alone.chosen == (1,) and not alone.widened  # nobody else to make up the number: no DiD, no warning
        assert dissimilar_comparison(alone, 2.0) is None

    def test_it_refuses_bad_rules(self):
        with pytest.raises(ValueError, match="factor"):
            self.select(factor=0.5)
        with pytest.raises(ValueError, match="finite"):
            self.select(baseline=float("inf"))


# --- warnings


class TestWarnings:
    everyone = [10.0, 12.0, 14.0, 16.0, 18.0, 20.0, 30.0, 40.0]

    def test_regression_to_the_mean_when_every_treated_team_was_among_the_worst(self):
        warning = regression_to_mean([30.0, 40.0], self.everyone, better=Better.LOWER)
        assert warning.code == Code.REGRESSION_TO_MEAN
        assert "worst quarter of 8 teams" in warning.text
        assert regression_to_mean([30.0, 18.0], self.everyone, better=Better.LOWER) is None
        assert regression_to_mean([10.0], self.everyone, better=Better.HIGHER).code == Code.REGRESSION_TO_MEAN
        assert regression_to_mean([40.0], [10.0, 12.0, 40.0], better=Better.LOWER) is None  # fewer than 4 teams

    def test_too_little_data_and_no_comparison(self):
        assert too_little_data(9, 40).code == Code.TOO_LITTLE_DATA
        assert too_little_data(10, 10) is None
        assert "1 comparison team with data" in no_comparison(1).text
        assert no_comparison(2) is None

    def test_a_guardrail_worsened_only_when_its_interval_is_wholly_on_the_worse_side(self):
        assert guardrail_worsened("change failure rate", Estimate(3, 1, 5), better=Better.LOWER).code == (
            Code.GUARDRAIL_WORSENED
        )
        assert guardrail_worsened("change failure rate", Estimate(3, -1, 5), better=Better.LOWER) is None
        assert guardrail_worsened("deployment frequency", Estimate(-3, -5, -1), better=Better.HIGHER) is not None
        assert guardrail_worsened("deployment frequency", Estimate(3, 1, 5), better=Better.HIGHER) is None
        assert guardrail_worsened("x", None, better=Better.LOWER) is None

    def test_open_items_at_the_cut_off(self):
        assert open_at_cutoff(4).text.startswith("4 pull requests still open at the cut-off are not")
        assert open_at_cutoff(1).text.startswith("1 pull request still open at the cut-off is not")
        assert open_at_cutoff(0) is None

    def test_they_come_together_in_order(self):
        ba = BeforeAfter(n_before=5, n_after=30, min_n=10)
        did = diff_in_diff(
            panel(np.random.default_rng(41), treated=2, comparison=1, effect=0.0),
            treated=[0, 1],
            comparison=[2],
            windows=WINDOWS,
        )
        found = warnings_for(
            before_after=ba,
            did=did,
            regression=regression_to_mean([40.0], self.everyone, better=Better.LOWER),
            guardrails=[guardrail_worsened("change failure rate", Estimate(3, 1, 5), better=Better.LOWER)],
            open_items=2,
        )
        assert [w.code for w in found] == [
            Code.REGRESSION_TO_MEAN,
            Code.TOO_LITTLE_DATA,
            Code.NO_COMPARISON,
            Code.GUARDRAIL_WORSENED,
            Code.OPEN_AT_CUTOFF,
        ]
        assert warnings_for(before_after=BeforeAfter(n_before=50, n_after=50, min_n=10), did=None) == (
            no_comparison(0),
        )


# --- words


def did_with(estimate: Estimate | None):
    """A real DiD whose estimate is replaced, to hold the words to chosen figures."""
    did = diff_in_diff(
        panel(np.random.default_rng(51), treated=2, comparison=3, effect=0.0),
        treated=[0, 1],
        comparison=[2, 3, 4],
        windows=WINDOWS,
    )
    return dataclasses.replace(did, estimate=estimate)


class TestDescribe:
    def test_a_did_reads_as_a_change_more_than_in_comparable_teams(self):
        did = did_with(Estimate(-9.2, -14.4, -4.1))
        assert describe("pickup time", unit=Unit.HOURS, did=did) == (
            "Pickup time fell by 9 h (95% interval 4–14 h) more than in comparable teams"
        )

    def test_small_figures_keep_one_decimal(self):
        did = did_with(Estimate(2.25, 0.5, 4.0))
        assert describe("change failure rate", unit=Unit.PERCENT, did=did) == (
            "Change failure rate rose by 2.3 points (95% interval 0.5–4 points) more than in comparable teams"
        )

    def test_an_interval_across_zero_says_so(self):
        did = did_with(Estimate(-3.0, -7.5, 1.5))
        assert describe("deployments", unit=Unit.PER_WEEK, did=did) == (
            "Deployments fell by 3 per week (95% interval: from a fall of 7.5 per week to a rise of 1.5 per week, "
            "which includes no change) more than in comparable teams"
        )

    def test_without_comparison_it_is_only_associated(self):
        ba = BeforeAfter(150, 120, 10, median_change=Estimate(-9.0, -14.0, -4.0))
        assert describe("pickup time", unit=Unit.HOURS, did=did_with(None), before_after=ba) == (
            "The start was associated with a fall of 9 h in median pickup time (95% interval 4–14 h)"
        )
        assert describe("pickup time", unit=Unit.HOURS, before_after=ba).startswith("The start was associated")

    def test_a_staggered_aggregate_reads_as_a_did(self):
        observations = panel(np.random.default_rng(52), treated=2, comparison=4, effect=-20.0, noise=1.0)
        result = staggered(
            observations,
            starts=dict.fromkeys(range(2), START),
            candidates=dict.fromkeys(range(2, 6)),
            length=8 * WEEK,
            ramp=2 * WEEK,
        )
        assert describe("pickup time", unit=Unit.HOURS, did=result).startswith("Pickup time fell by 2")

    def test_too_little_data_to_tell(self):
        ba = BeforeAfter(4, 12, 10)
        assert describe("pickup time", unit=Unit.HOURS, before_after=ba) == (
            "Pickup time: too little data to tell (4 before, 12 after; 10 needed on each side)"
        )
        assert describe("pickup time", unit=Unit.HOURS) == "Pickup time: too little data to tell"

    def test_rounding_is_half_away_from_zero_and_no_change_reads_so(self):
        assert describe("pickup time", unit=Unit.HOURS, did=did_with(Estimate(-12.5, -20.0, -5.0))).startswith(
            "Pickup time fell by 13 h"
        )
        assert describe("pickup time", unit=Unit.HOURS, did=did_with(Estimate(0.02, -1.0, 1.0))) == (
            "Pickup time moved as in comparable teams (95% interval: from a fall of 1 h to a rise of 1 h, "
            "which includes no change)"
        )

    @pytest.mark.parametrize(
        ("unit", "estimate", "words"),
        [
            (Unit.MINUTES, Estimate(-12.4, -20.0, -4.6), "fell by 12 min (95% interval 5–20 min)"),
            (
                Unit.PULL_REQUESTS,
                Estimate(-1.04, -2.0, -0.5),
                "fell by 1 pull request (95% interval 0.5–2 pull requests)",
            ),
            (Unit.PULL_REQUESTS, Estimate(3.0, 1.0, 5.2), "rose by 3 pull requests (95% interval 1–5.2 pull requests)"),
            (Unit.LINES, Estimate(40.0, 12.0, 68.0), "rose by 40 lines (95% interval 12–68 lines)"),
            (Unit.LINES, Estimate(1.0, 0.2, 1.8), "rose by 1 line (95% interval 0.2–1.8 lines)"),
            (Unit.PERCENT, Estimate(-1.0, -1.5, -0.5), "fell by 1 point (95% interval 0.5–1.5 points)"),
        ],
    )
    def test_each_unit_has_its_words_singular_after_exactly_one(self, unit, estimate, words):
        assert describe("the metric", unit=unit, did=did_with(estimate)) == (
            f"The metric {words} more than in comparable teams"
        )

    @pytest.mark.parametrize(
        ("unit", "words"),
        [
            (Unit.MINUTES, "rose by 2 min (95% interval: from a fall of 1 min to a rise of 3.5 min"),
            (
                Unit.PULL_REQUESTS,
                "rose by 2 pull requests (95% interval: from a fall of 1 pull request to a rise of 3.5 pull requests",
            ),
            (Unit.LINES, "rose by 2 lines (95% interval: from a fall of 1 line to a rise of 3.5 lines"),
        ],
    )
    def test_an_interval_across_zero_in_the_new_units_says_so(self, unit, words):
        assert describe("the metric", unit=unit, did=did_with(Estimate(2.0, -1.0, 3.5))) == (
            f"The metric {words}, which includes no change) more than in comparable teams"
        )

    @pytest.mark.parametrize(
        ("unit", "metric", "change", "words"),
        [
            (
                Unit.MINUTES,
                "pipeline p50 duration",
                Estimate(-12.0, -20.0, -4.0),
                "a fall of 12 min in median pipeline p50 duration (95% interval 4–20 min)",
            ),
            (
                Unit.PULL_REQUESTS,
                "PRs waiting > 24 h",
                Estimate(1.0, 0.2, 1.6),
                "a rise of 1 pull request in median PRs waiting > 24 h (95% interval 0.2–1.6 pull requests)",
            ),
            (
                Unit.LINES,
                "PR size",
                Estimate(-40.0, -68.0, -12.0),
                "a fall of 40 lines in median PR size (95% interval 12–68 lines)",
            ),
        ],
    )
    def test_without_comparison_the_new_units_are_only_associated(self, unit, metric, change, words):
        ba = BeforeAfter(150, 120, 10, median_change=change)
        assert describe(metric, unit=unit, did=did_with(None), before_after=ba) == (
            f"The start was associated with {words}"
        )

    def test_no_change_in_a_count_reads_so(self):
        assert describe("PR size", unit=Unit.LINES, did=did_with(Estimate(0.04, -3.0, 2.0))) == (
            "PR size moved as in comparable teams (95% interval: from a fall of 3 lines to a rise of 2 lines, "
            "which includes no change)"
        )
        ba = BeforeAfter(150, 120, 10, median_change=Estimate(-0.02, -1.0, 1.0))
        assert describe("PRs waiting > 24 h", unit=Unit.PULL_REQUESTS, before_after=ba) == (
            "Median PRs waiting > 24 h did not change after the start (95% interval: from a fall of 1 pull request "
            "to a rise of 1 pull request, which includes no change)"
        )


def test_it_imports_neither_django_nor_scipy_nor_statsmodels():
    code = "import sys, actions.estimates; print(sorted({'django', 'scipy', 'statsmodels'} & set(sys.modules)))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "[]\n"


@pytest.mark.parametrize("q", [0.0, 0.25, 0.5, 0.75, 0.9, 1.0])
@pytest.mark.parametrize("n", [1, 2, 7, 40])
def test_the_resamples_quantiles_are_percentile_of_sorted_s_to_the_bit(n, q):
    rng = np.random.default_rng(n)
    rows = np.sort(rng.gamma(2.0, 3.0, (25, n)), axis=1)
    rows[::3] = np.round(rows[::3])  # ties
    expected = [percentile_of_sorted(row, q) for row in rows]
    assert estimates._quantile_of_rows(rows, q).tolist() == expected

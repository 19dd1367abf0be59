"""The estimates behind an initiative: did the metric move, and by more than in comparable teams? (Pure: no Django.)

Inputs are plain data, so the initiative pages, the exports and the tests call the same functions:

- **observations** per team: ``(when, value)`` pairs in time — each merged pull request's pickup time in hours with
  its merge instant, or a team's weekly values with the week's first day. ``when`` and the start dates are all
  dates or all datetimes (aware ones in one time zone), never a mix. Teams are named by id (the Team's key).
- each treated team's **start**; comparison teams' starts are None (not started) or a later date;
- a **window** length, the same before and after, and a **ramp-up** skipped after the start;
- for warnings, which direction is **better** for the metric.

Everything is deterministic: the one random procedure, the before/after bootstrap, takes a seed.

Windows (:class:`Windows`)
    For a start s, window length L and ramp-up R: *before* is [s − L, s), *after* is [s + R, s + R + L) — equal
    lengths, half-open, the ramp-up [s, s + R) in neither: the weeks in which an initiative is still being rolled
    out would dilute the after side. A team with a staggered start has its own windows.

Before/after (:func:`before_after`)
    The treated teams' observations pooled, each placed by its own team's windows. Median and p75 of each side are
    ``e360.stats``' interpolated percentiles (PostgreSQL's ``percentile_cont``, as the delivery pages compute them);
    the changes are after − before. Each level and each change has a **percentile bootstrap** interval:
    ``resamples`` times, draw n_before values with replacement from the before side and, independently, n_after
    from the after side, compute the figure of the resample, and take the (1 − confidence)/2 and
    (1 + confidence)/2 interpolated percentiles of those figures. The draws come from
    ``numpy.random.default_rng(seed)``, ``BLOCK`` resamples at a time (before side, then after side, per block), so
    the same data and seed give the same interval. Below ``min_n`` observations on either side there is no number
    at all, only the counts. Limit: resampling records treats them as independent; records of one team or one week
    move together, so with few teams the interval is too narrow for a claim about teams in general — which is what
    the difference-in-differences is for.

Difference-in-differences (:func:`diff_in_diff`)
    Each team with at least ``min_team_n`` observations on both sides of the cohort's windows contributes its
    *team-period means* ȳ_before and ȳ_after and its change d = ȳ_after − ȳ_before. Every team weighs the same (a
    team with many pull requests does not outvote one with few; the treatment is given to teams). The estimate is

        DiD = mean of the treated teams' d − mean of the comparison teams' d,

    exactly the 2×2 DiD of the four cell means, and exactly the interaction coefficient of the OLS regression
    ``y ~ treated + post + treated:post`` on the team-period means (the model is saturated: its fitted values are
    the cell means). Read it as: how much more the treated teams' metric moved than the comparison teams' did over
    the same calendar weeks, which removes a trend or a seasonal dip shared by both. It compares means, where the
    before/after compares medians: for a skewed per-record metric (pickup time), pass each team's weekly medians
    as its observations, so that one pull request left for a month does not move a team's mean.

    Its **interval** is a cluster-robust one, teams as clusters, with the CR2 small-sample correction (Bell and
    McCaffrey): on this design CR2's variance is exactly s²_T/n_T + s²_C/n_C, the sample variances of the teams'
    changes — Welch's — and the interval is ``DiD ± t · se`` with Welch–Satterthwaite degrees of freedom,
    df = (v_T + v_C)² / (v_T²/(n_T − 1) + v_C²/(n_C − 1)), v = s²/n (Student's t quantile computed here, by
    Newton's method on the incomplete beta function). Why not the usual CR1 standard error (statsmodels' and
    Stata's default) or a cluster bootstrap: an initiative has a handful of teams, and with few clusters both give
    intervals that are too narrow (Cameron and Miller, 2015) — a bootstrap of 3 treated teams sees at most 3
    distinct values; CR2 with t on Welch's df is the standard small-sample fix (Imbens and Kolesár, 2016), and it
    covers at its nominal rate on the planted-effect tests. Collapsing each team to one
    change also makes the interval immune to the serial correlation of weekly values (Bertrand, Duflo and
    Mullainathan, 2004). With a single treated team its change's variance cannot be measured, so it is taken to be
    the comparison teams' (``se² = s²_C · (1 + 1/n_C)``, df = n_C − 1): is the team's change outside what
    comparable teams' changes look like? With fewer than ``MIN_COMPARISON`` (2) comparison teams there is no DiD:
    the page can only say "associated with".

    **Trends** (:class:`TrendPoint`): per ``period`` (a week by default) from the start of the before window to the
    end of the after window, counted from the start, the mean over teams of each team's mean in that period, for
    the treated and the comparison teams in the estimate (those with data on both sides), so a page draws them side
    by side and a reader judges whether they ran parallel before the start (what the DiD assumes). A period's
    phase is that of its first instant.

    **Placebo**: the same estimate with a fake start in the middle of the before window, on windows of half its
    length and no ramp-up: [s − L, s − L/2) against [s − L/2, s) (with dates, L/2 is ⌊L/2⌋ whole days), on the
    teams of the estimate. Nothing happened then, so its interval should
    cover 0; when it does not, the groups were already drifting apart and the DiD is suspect.

Staggered starts (:func:`staggered`)
    Teams that share a start date form a cohort. Each cohort is estimated on its own, against the candidates not
    started by the end of *its* after window (a start that is None or on or after that instant; treated teams of
    later cohorts qualify by the same rule) — never against teams already treated, whose own change would be
    subtracted. The aggregate is the cohorts' DiDs weighted by their number of treated teams (those with data), and
    the per-cohort results are kept. Its interval is the same CR2 estimator on the stacked cohorts: each team's
    contributions to every cohort it is in are summed before squaring, so a comparison team shared by two cohorts
    is counted with its covariance; its degrees of freedom are Welch–Satterthwaite's over the groups (exact for one
    cohort, an approximation when cohorts share teams).

Comparison selection (:func:`select_comparison`)
    From candidate teams, keep those (in this order of reasons for leaving one out): not treated; at the same
    level (a key the caller passes: depth in the tree, or kind); not started before the end of the after window;
    with a baseline; with a baseline within a factor of the treated teams' (b/f ≤ c ≤ b·f, so the same for b = 0
    only c = 0); then the ``max_teams`` closest on the ratio scale (|log c/b|), ties in the candidates' order. When
    fewer than ``min_teams`` (``COMPARISON_TARGET``, 5: with fewer, one treated team's interval is too wide to tell
    anything) are that similar, the closest of the others at the same level make up the number, and the selection
    says it was widened: a warning says the estimate then rests on parallel trends across different levels (the
    pre-period chart and the placebo are the reader's check).
    Returns the chosen ids and, for each other candidate, why it was left out.

Warnings (:class:`EstimateWarning`, :func:`warnings_for`)
    A code and a sentence each: regression to the mean (every treated team in the worst quarter of all teams'
    baselines), too little data (fewer than ``min_n`` observations on a side), no comparison (fewer than 2
    comparison teams: "associated with" only), a placebo that excludes 0 (pre-trends differ), a guardrail that
    worsened (its interval wholly on the worse side), open items at the cut-off (not in the after window's figures).

Words (:func:`describe`)
    "Pickup time fell by 9 h (95% interval 4–14 h) more than in comparable teams" with a DiD; "The start was
    associated with a fall of 9 h in median pickup time (95% interval 4–14 h)" without; "too little data to tell"
    otherwise. Figures in one sentence share their rounding: whole units when the largest is at least 10, else one
    decimal, rounded half away from zero (``e360.stats.whole``'s rule). A figure takes its unit (:class:`Unit`):
    "h", "min", points for a change in percent, "per week", pull requests or lines — singular after exactly 1
    ("1 pull request", "1 line", "1 point"), plural after any other figure and in a range ("0.5–3 pull requests").
"""

from __future__ import annotations

import math
from collections.abc import Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from statistics import NormalDist

import numpy as np

from e360.stats import percentile_of_sorted, percentile_rank, require_finite, whole
from insights.stats import MINUS

MIN_OBSERVATIONS = 10  # per side of before/after: the insights' minimum sample for a metric
MIN_COMPARISON = 2  # comparison teams for a DiD: one has no variance to compare with
# Comparison teams the selection makes up when fewer are similar: with one treated team the interval's degrees of
# freedom are the comparison teams' less one, and below 5 teams Student's t (12.7 for 2, 4.3 for 3) leaves an
# interval too wide to tell anything.
COMPARISON_TARGET = 5
DEFAULT_RESAMPLES = 2000
DEFAULT_CONFIDENCE = 0.95
BLOCK = 256  # bootstrap resamples drawn at a time: memory stays at BLOCK × n values
WORST_QUARTER = 75.0  # badness percentile rank from which a team is in the worst quarter
MIN_TEAMS_FOR_QUARTILES = 4

type TeamId = int
type Series = Sequence[tuple[date, float]]


class Better(StrEnum):
    """Which direction is better for a metric."""

    LOWER = "lower"
    HIGHER = "higher"


class Unit(StrEnum):
    """How a metric's figures read: hours ("9 h"), minutes ("12 min"), percentages (levels "12%", changes in
    points), a rate per week, or a count of pull requests or of lines ("1 pull request", "40 lines")."""

    HOURS = "hours"
    MINUTES = "minutes"
    PERCENT = "percent"
    PER_WEEK = "per_week"
    PULL_REQUESTS = "pull_requests"
    LINES = "lines"


@dataclass(frozen=True)
class Windows:
    """The before window [start − length, start) and the after window [start + ramp, start + ramp + length)."""

    start: date
    length: timedelta
    ramp: timedelta = timedelta(0)

    def __post_init__(self) -> None:
        if not isinstance(self.start, datetime) and (self.length % timedelta(days=1) or self.ramp % timedelta(days=1)):
            raise ValueError("with a date start, the window and the ramp-up are whole days")
        if self.length <= timedelta(0):
            raise ValueError(f"the window length must be positive, got {self.length}")
        if self.ramp < timedelta(0):
            raise ValueError(f"the ramp-up cannot be negative, got {self.ramp}")

    @property
    def before_start(self) -> date:
        return self.start - self.length

    @property
    def after_start(self) -> date:
        return self.start + self.ramp

    @property
    def after_end(self) -> date:
        return self.start + self.ramp + self.length

    def side(self, when: date) -> str | None:
        """Which window ``when`` is in: "before", "after", or None (outside both, or in the ramp-up)."""
        if self.before_start <= when < self.start:
            return "before"
        if self.after_start <= when < self.after_end:
            return "after"
        return None

    def placebo(self) -> Windows:
        """The fake start in the middle of the before window, half-length windows, no ramp-up (with a date start,
        ⌊length / 2⌋ whole days, so an odd window's first day is in neither half)."""
        half = self.length / 2 if isinstance(self.start, datetime) else timedelta(days=self.length.days // 2)
        return Windows(start=self.start - half, length=half)


@dataclass(frozen=True)
class Estimate:
    """A figure with its ``confidence`` interval."""

    value: float
    low: float
    high: float
    confidence: float = DEFAULT_CONFIDENCE

    @property
    def excludes_zero(self) -> bool:
        """Both ends strictly on the same side of 0."""
        return self.low > 0 or self.high < 0


def _check_confidence(confidence: float) -> None:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence!r}")


def _check_series(observations: Mapping[TeamId, Series]) -> None:
    for team, series in observations.items():
        require_finite([value for _, value in series], f"team {team}'s values")


# --- before/after


@dataclass(frozen=True)
class BeforeAfter:
    """Median and p75 on each side of the treated teams' windows, their changes (after − before), and n per side.

    Below ``min_n`` observations on either side every figure is None: there is no number to show.
    """

    n_before: int
    n_after: int
    min_n: int
    median_before: Estimate | None = None
    median_after: Estimate | None = None
    median_change: Estimate | None = None
    p75_before: Estimate | None = None
    p75_after: Estimate | None = None
    p75_change: Estimate | None = None

    def __post_init__(self) -> None:
        figures = (self.median_before, self.median_after, self.median_change, self.p75_before, self.p75_after)
        if not self.enough and any(figure is not None for figure in (*figures, self.p75_change)):
            raise ValueError(f"with n = {self.n_before} and {self.n_after} (< {self.min_n}) there is no number to show")

    @property
    def enough(self) -> bool:
        return self.n_before >= self.min_n and self.n_after >= self.min_n


def _sides(observations: Mapping[TeamId, Series], windows: Mapping[TeamId, Windows]) -> tuple[list[float], list[float]]:
    before: list[float] = []
    after: list[float] = []
    for team, team_windows in windows.items():
        for when, value in observations.get(team, ()):
            side = team_windows.side(when)
            if side == "before":
                before.append(value)
            elif side == "after":
                after.append(value)
    return before, after


def _bootstrap_quantiles(
    before: np.ndarray, after: np.ndarray, quantiles: Sequence[float], *, seed: int, resamples: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per resample (rows) and quantile (columns), the quantile of the before and of the after resample."""
    rng = np.random.default_rng(seed)
    out_before = np.empty((resamples, len(quantiles)))
    out_after = np.empty((resamples, len(quantiles)))
    for first in range(0, resamples, BLOCK):
        rows = min(BLOCK, resamples - first)
        for values, out in ((before, out_before), (after, out_after)):
            drawn = np.sort(values[rng.integers(0, len(values), size=(rows, len(values)))], axis=1)
            for j, q in enumerate(quantiles):
                out[first : first + rows, j] = _quantile_of_rows(drawn, q)
    return out_before, out_after


def _quantile_of_rows(rows: np.ndarray, q: float) -> np.ndarray:
    """``percentile_of_sorted(row, q)`` (interpolated) of every row (each in ascending order) at once: the same
    arithmetic, element by element."""
    last = rows.shape[1] - 1
    position = q * last
    low = math.floor(position)
    high = min(low + 1, last)
    low_values, high_values = rows[:, low], rows[:, high]
    values = low_values + (high_values - low_values) * (position - low)
    clipped: np.ndarray = np.minimum(np.maximum(values, low_values), high_values)
    return clipped


def _percentile_interval(figures: np.ndarray, confidence: float) -> tuple[float, float]:
    ordered = np.sort(figures)
    tail = (1 - confidence) / 2
    low, high = percentile_of_sorted(ordered, tail), percentile_of_sorted(ordered, 1 - tail)
    assert low is not None and high is not None  # at least one resample
    return float(low), float(high)


def before_after(
    observations: Mapping[TeamId, Series],
    starts: Mapping[TeamId, date],
    *,
    length: timedelta,
    ramp: timedelta = timedelta(0),
    seed: int,
    min_n: int = MIN_OBSERVATIONS,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
) -> BeforeAfter:
    """Median and p75 before and after each treated team's start, with percentile bootstrap intervals and n.

    ``starts`` names the treated teams and their starts (module docstring: Windows, Before/after).
    """
    _check_series(observations)
    windows = {team: Windows(start, length, ramp) for team, start in starts.items()}
    before, after = _sides(observations, windows)
    return compare(before, after, seed=seed, min_n=min_n, resamples=resamples, confidence=confidence)


def compare(
    before: Sequence[float],
    after: Sequence[float],
    *,
    seed: int,
    min_n: int = MIN_OBSERVATIONS,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
) -> BeforeAfter:
    """Two samples compared as ``before_after`` compares its sides: median and p75 of each, the changes (``after`` −
    ``before``) with percentile bootstrap intervals, and n. Also for two groups at one time (the review reminders'
    held-out and reminded pull requests: ``actions.holdout``)."""
    require_finite([*before, *after], "the values")
    _check_confidence(confidence)
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, got {resamples!r}")
    result = BeforeAfter(n_before=len(before), n_after=len(after), min_n=max(min_n, 1))
    if not result.enough:
        return result
    quantiles = (0.5, 0.75)
    boot_before, boot_after = _bootstrap_quantiles(
        np.asarray(before, dtype=float), np.asarray(after, dtype=float), quantiles, seed=seed, resamples=resamples
    )
    sorted_before, sorted_after = sorted(before), sorted(after)
    figures: list[Estimate] = []  # median before, after, change; p75 before, after, change
    for j, q in enumerate(quantiles):
        b = float(percentile_of_sorted(sorted_before, q) or 0.0)
        a = float(percentile_of_sorted(sorted_after, q) or 0.0)
        for value, boot in (
            (b, boot_before[:, j]),
            (a, boot_after[:, j]),
            (a - b, boot_after[:, j] - boot_before[:, j]),
        ):
            low, high = _percentile_interval(boot, confidence)
            figures.append(Estimate(value, low, high, confidence))
    return BeforeAfter(len(before), len(after), result.min_n, *figures)


# --- Student's t (the interval's critical value). SciPy is a test-only dependency: importing scipy.special costs
# about a second per process, for one function; this one is checked against SciPy's to 1e-9 (tests).


def _continued_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of the regularised incomplete beta function (modified Lentz's method)."""
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 1000):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            h *= c * d
        if abs(c * d - 1.0) < 1e-15:
            break
    return h


def _incomplete_beta(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b), 0 ≤ x ≤ 1."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1) / (a + b + 2):
        return math.exp(log_front) * _continued_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _continued_fraction(b, a, 1 - x) / b


def t_upper_tail(t: float, df: float) -> float:
    """P(T > t) for Student's t with ``df`` (> 0, not necessarily whole) degrees of freedom, t ≥ 0."""
    return 0.5 * _incomplete_beta(df / 2, 0.5, df / (df + t * t))


def t_quantile(p: float, df: float) -> float:
    """The p-quantile of Student's t with ``df`` degrees of freedom, ½ ≤ p < 1.

    Newton's method on the upper tail from the normal quantile, which lies below it: the tail is convex and
    decreasing for t ≥ 0, so every step stays below the root and the steps converge to it from there.
    """
    if not 0.5 <= p < 1 or not df > 0:
        raise ValueError(f"need 0.5 <= p < 1 and df > 0, got p={p!r}, df={df!r}")
    if p == 0.5:
        return 0.0
    log_scale = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    t = NormalDist().inv_cdf(p)
    for _ in range(500):
        density = math.exp(log_scale - (df + 1) / 2 * math.log1p(t * t / df))
        step = (t_upper_tail(t, df) - (1 - p)) / density
        t += max(step, 0.0)  # never below the root: a rounding-error negative step is no step
        if step <= 1e-15 * t:
            break
    return t


# --- difference-in-differences


@dataclass(frozen=True)
class Change:
    """A team's means before and after, and its change (after − before), with how many observations each rests on."""

    team: TeamId
    before: float
    after: float
    n_before: int
    n_after: int

    @property
    def change(self) -> float:
        return self.after - self.before


@dataclass(frozen=True)
class TrendPoint:
    """One period of the trends: its offset from the start (in periods), phase, and each group's mean of team means."""

    offset: int
    phase: str  # "before", "ramp" or "after"
    treated: float | None
    comparison: float | None
    treated_teams: int
    comparison_teams: int


@dataclass(frozen=True)
class DiD:
    """A difference-in-differences for teams sharing one start (module docstring), or why there is none.

    ``estimate`` is None with fewer than ``MIN_COMPARISON`` comparison teams or no treated team with data; the
    teams' changes, the counts and the trends are there either way.
    """

    windows: Windows
    treated: tuple[Change, ...]
    comparison: tuple[Change, ...]
    left_out: tuple[TeamId, ...]  # named teams without min_team_n observations on both sides
    trends: tuple[TrendPoint, ...]
    estimate: Estimate | None
    se: float | None
    df: float | None
    placebo: Estimate | None

    @property
    def n_treated(self) -> int:
        return len(self.treated)

    @property
    def n_comparison(self) -> int:
        return len(self.comparison)

    @property
    def treated_change(self) -> float | None:
        return _mean([c.change for c in self.treated])

    @property
    def comparison_change(self) -> float | None:
        return _mean([c.change for c in self.comparison])

    @property
    def n_before(self) -> int:
        """Observations of the treated teams counted before (the comparison teams' are in ``comparison``)."""
        return sum(c.n_before for c in self.treated)

    @property
    def n_after(self) -> int:
        return sum(c.n_after for c in self.treated)

    @property
    def enough(self) -> bool:
        return self.estimate is not None


def _mean(values: Sequence[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def _changes(
    observations: Mapping[TeamId, Series], teams: Iterable[TeamId], windows: Windows, min_team_n: int
) -> tuple[list[Change], list[TeamId]]:
    changes: list[Change] = []
    left_out: list[TeamId] = []
    for team in teams:
        before, after = _sides(observations, {team: windows})
        if len(before) < min_team_n or len(after) < min_team_n:
            left_out.append(team)
            continue
        changes.append(
            Change(team, math.fsum(before) / len(before), math.fsum(after) / len(after), len(before), len(after))
        )
    return changes, left_out


@dataclass(frozen=True)
class _Group:
    """One mean in a linear combination of group means: ``sign`` × mean of the teams' changes."""

    coefficient: float
    changes: dict[TeamId, float]
    # For a single team, whose variance is not measured: the group whose variance stands in for it.
    stand_in: dict[TeamId, float] | None = None


def _linear_estimate(groups: Sequence[_Group], confidence: float) -> tuple[Estimate, float, float]:
    """Σ coefficient × mean of the group, its CR2 (teams as clusters) standard error and Welch–Satterthwaite df."""
    value = math.fsum(g.coefficient * math.fsum(g.changes.values()) / len(g.changes) for g in groups)
    influence: dict[TeamId, float] = {}
    extra = 0.0  # single teams' stand-in variances, independent of everything else
    # Welch–Satterthwaite's parts, one per measured variance: v_k and df_k. A single team's stand-in variance is
    # the same measurement as its stand-in group's, so it adds to that group's part rather than making its own.
    parts: dict[int, list[float]] = {}
    for g in groups:
        n = len(g.changes)
        if n >= 2:
            mean = math.fsum(g.changes.values()) / n
            scale = math.sqrt(n / (n - 1)) / n  # CR2: a residual over sqrt(1 − leverage), leverage 1/n in its cell
            for team, d in g.changes.items():
                influence[team] = influence.get(team, 0.0) + g.coefficient * (d - mean) * scale
            variance = math.fsum((d - mean) ** 2 for d in g.changes.values()) / (n - 1)
            parts.setdefault(id(g.changes), [0.0, n - 1])[0] += g.coefficient**2 * variance / n
        else:
            assert g.stand_in is not None and len(g.stand_in) >= 2
            m = len(g.stand_in)
            mean = math.fsum(g.stand_in.values()) / m
            variance = math.fsum((d - mean) ** 2 for d in g.stand_in.values()) / (m - 1)
            extra += g.coefficient**2 * variance
            parts.setdefault(id(g.stand_in), [0.0, m - 1])[0] += g.coefficient**2 * variance
    se = math.sqrt(math.fsum(u * u for u in influence.values()) + extra)
    total = math.fsum(v for v, _ in parts.values())
    denominator = math.fsum(v * v / df for v, df in parts.values())
    df = total * total / denominator if denominator > 0 else math.inf
    half = 0.0 if se == 0 else t_quantile((1 + confidence) / 2, df) * se
    return Estimate(value, value - half, value + half, confidence), se, df


def _did_groups(treated: Sequence[Change], comparison: Sequence[Change], weight: float = 1.0) -> tuple[_Group, _Group]:
    control = {c.team: c.change for c in comparison}
    stand_in = control if len(treated) == 1 else None
    return _Group(weight, {c.team: c.change for c in treated}, stand_in), _Group(-weight, control)


def _trends(
    observations: Mapping[TeamId, Series],
    treated: Sequence[TeamId],
    comparison: Sequence[TeamId],
    windows: Windows,
    period: timedelta,
) -> tuple[TrendPoint, ...]:
    first = math.floor((windows.before_start - windows.start) / period)
    last = math.ceil((windows.after_end - windows.start) / period) - 1
    per_group: list[dict[int, list[float]]] = []
    for teams in (treated, comparison):
        team_means: dict[int, list[float]] = {}
        for team in teams:
            bins: dict[int, list[float]] = {}
            for when, value in observations.get(team, ()):
                if windows.before_start <= when < windows.after_end:
                    bins.setdefault(math.floor((when - windows.start) / period), []).append(value)
            for offset, values in bins.items():
                team_means.setdefault(offset, []).append(math.fsum(values) / len(values))
        per_group.append(team_means)
    points = []
    for offset in range(first, last + 1):
        begins = windows.start + offset * period
        phase = "before" if begins < windows.start else "ramp" if begins < windows.after_start else "after"
        t, c = per_group[0].get(offset, []), per_group[1].get(offset, [])
        points.append(TrendPoint(offset, phase, _mean(t), _mean(c), len(t), len(c)))
    return tuple(points)


def _check_options(confidence: float, min_team_n: int) -> None:
    _check_confidence(confidence)
    if min_team_n < 1:
        raise ValueError(f"min_team_n must be at least 1, got {min_team_n!r}")


def diff_in_diff(
    observations: Mapping[TeamId, Series],
    *,
    treated: Sequence[TeamId],
    comparison: Sequence[TeamId],
    windows: Windows,
    period: timedelta = timedelta(days=7),
    min_team_n: int = 1,
    confidence: float = DEFAULT_CONFIDENCE,
) -> DiD:
    """The DiD of the treated teams (one start, ``windows``) against the comparison teams, its interval, the
    trends and the placebo (module docstring). A team named on both sides is refused."""
    _check_series(observations)
    _check_options(confidence, min_team_n)
    if set(treated) & set(comparison):
        raise ValueError(f"teams both treated and comparison: {sorted(set(treated) & set(comparison))}")
    treated_changes, treated_out = _changes(observations, treated, windows, min_team_n)
    comparison_changes, comparison_out = _changes(observations, comparison, windows, min_team_n)
    estimate = se = df = placebo = None
    if treated_changes and len(comparison_changes) >= MIN_COMPARISON:
        estimate, se, df = _linear_estimate(_did_groups(treated_changes, comparison_changes), confidence)
        fake = windows.placebo()
        placebo_treated, _ = _changes(observations, [c.team for c in treated_changes], fake, min_team_n)
        placebo_comparison, _ = _changes(observations, [c.team for c in comparison_changes], fake, min_team_n)
        if placebo_treated and len(placebo_comparison) >= MIN_COMPARISON:
            placebo, _, _ = _linear_estimate(_did_groups(placebo_treated, placebo_comparison), confidence)
    return DiD(
        windows=windows,
        treated=tuple(treated_changes),
        comparison=tuple(comparison_changes),
        left_out=tuple(treated_out + comparison_out),
        trends=_trends(
            observations, [c.team for c in treated_changes], [c.team for c in comparison_changes], windows, period
        ),
        estimate=estimate,
        se=se,
        df=df,
        placebo=placebo,
    )


# --- staggered starts


@dataclass(frozen=True)
class Cohort:
    """Teams sharing a start, the comparison teams not started by the end of its after window, and its DiD."""

    start: date
    teams: tuple[TeamId, ...]
    did: DiD


@dataclass(frozen=True)
class Staggered:
    """Per-cohort DiDs and their aggregate weighted by cohort size (None when no cohort has a DiD)."""

    cohorts: tuple[Cohort, ...]
    estimate: Estimate | None
    se: float | None
    df: float | None
    weights: dict[date, float]  # cohort start → its weight in the aggregate (cohorts with a DiD only)


def staggered(
    observations: Mapping[TeamId, Series],
    *,
    starts: Mapping[TeamId, date],
    candidates: Mapping[TeamId, date | None],
    length: timedelta,
    ramp: timedelta = timedelta(0),
    period: timedelta = timedelta(days=7),
    min_team_n: int = 1,
    confidence: float = DEFAULT_CONFIDENCE,
) -> Staggered:
    """One DiD per cohort of ``starts`` against the ``candidates`` (and later cohorts' teams) not started by the
    end of its after window, and their aggregate weighted by cohort size (module docstring)."""
    _check_options(confidence, min_team_n)
    pool: dict[TeamId, date | None] = {team: start for team, start in candidates.items() if team not in starts}
    pool.update(starts)
    cohorts: list[Cohort] = []
    for start in sorted(set(starts.values())):
        teams = [team for team, s in starts.items() if s == start]
        windows = Windows(start, length, ramp)
        controls = [team for team, s in pool.items() if s is None or s >= windows.after_end]
        did = diff_in_diff(
            observations,
            treated=teams,
            comparison=controls,
            windows=windows,
            period=period,
            min_team_n=min_team_n,
            confidence=confidence,
        )
        cohorts.append(Cohort(start, tuple(teams), did))
    estimable = [c for c in cohorts if c.did.enough]
    if not estimable:
        return Staggered(tuple(cohorts), None, None, None, {})
    size = sum(c.did.n_treated for c in estimable)
    weights = {c.start: c.did.n_treated / size for c in estimable}
    groups = [g for c in estimable for g in _did_groups(c.did.treated, c.did.comparison, weights[c.start])]
    estimate, se, df = _linear_estimate(groups, confidence)
    return Staggered(tuple(cohorts), estimate, se, df, weights)


# --- comparison selection


@dataclass(frozen=True)
class Candidate:
    """A team that might serve as comparison: its level key, its start (None: not started) and baseline value."""

    team: TeamId
    level: Hashable
    start: date | None
    baseline: float | None


class Reason(StrEnum):
    TREATED = "treated"
    OTHER_LEVEL = "other_level"
    STARTED = "started"
    NO_BASELINE = "no_baseline"
    DISSIMILAR = "dissimilar"
    FURTHER = "further"


REASONS = {
    Reason.TREATED: "it is one of the treated teams",
    Reason.OTHER_LEVEL: "it is at another level",
    Reason.STARTED: "it starts before the end of the after window",
    Reason.NO_BASELINE: "it has no baseline value",
    Reason.DISSIMILAR: "its baseline is not within the factor of the treated teams'",
    Reason.FURTHER: "closer teams filled the comparison group",
}


@dataclass(frozen=True)
class Selection:
    """The chosen comparison teams (closest baseline first) and each other candidate with why it was left out."""

    chosen: tuple[TeamId, ...]
    left_out: tuple[tuple[TeamId, Reason], ...]
    widened: bool = False  # fewer than the minimum were similar: the closest others were taken (a warning)

    def why(self, team: TeamId) -> str | None:
        """The sentence for a left-out team, None for a chosen (or unknown) one."""
        for other, reason in self.left_out:
            if other == team:
                return REASONS[reason]
        return None


def _distance(baseline: float, target: float) -> float:
    if baseline == target:
        return 0.0
    if baseline == 0 or target == 0:  # within no factor of the other
        return math.inf
    return abs(math.log(baseline) - math.log(target))  # not log(b / t): the division may underflow to 0


def select_comparison(
    candidates: Iterable[Candidate],
    *,
    treated: Collection[TeamId],
    level: Hashable,
    baseline: float,
    after_end: date,
    factor: float = 2.0,
    max_teams: int = 10,
    min_teams: int = COMPARISON_TARGET,
) -> Selection:
    """The comparison teams by rule (module docstring): same level, not started before ``after_end``, a baseline
    within ``factor`` of the treated teams' ``baseline`` (≥ 0), the ``max_teams`` closest on the ratio scale; with
    fewer than ``min_teams`` so similar, the closest others at the same level make up ``min_teams`` (``widened``)."""
    require_finite([baseline], "baseline")
    if baseline < 0 or factor < 1 or max_teams < 1:
        raise ValueError(f"need baseline >= 0, factor >= 1, max_teams >= 1; got {baseline}, {factor}, {max_teams}")
    left_out: list[tuple[TeamId, Reason]] = []
    similar: list[tuple[float, int, TeamId]] = []
    by_team: dict[TeamId, float] = {}
    for index, candidate in enumerate(candidates):
        value = candidate.baseline
        if candidate.team in treated:
            reason = Reason.TREATED
        elif candidate.level != level:
            reason = Reason.OTHER_LEVEL
        elif candidate.start is not None and candidate.start < after_end:
            reason = Reason.STARTED
        elif value is None or math.isnan(value) or math.isinf(value):
            reason = Reason.NO_BASELINE
        elif not baseline / factor <= value <= baseline * factor:
            reason = Reason.DISSIMILAR
            by_team[candidate.team] = value
        else:
            similar.append((_distance(value, baseline), index, candidate.team))
            continue
        left_out.append((candidate.team, reason))
    similar.sort()
    widened = False
    if len(similar) < min(min_teams, max_teams):
        # Too few similar teams for a comparison: the closest others at the same level, as few as needed, and a
        # warning (``widened``) that the estimate then rests more on parallel trends than on similar levels.
        others = sorted(
            (distance, index, team)
            for index, (team, reason) in enumerate(left_out)
            if reason == Reason.DISSIMILAR and math.isfinite(distance := _distance(by_team[team], baseline))
        )[: min(min_teams, max_teams) - len(similar)]
        if others:
            widened = True
            taken = {team for _, _, team in others}
            left_out = [(team, reason) for team, reason in left_out if team not in taken]
            similar = sorted(similar + others)
    left_out += [(team, Reason.FURTHER) for _, _, team in similar[max_teams:]]
    return Selection(tuple(team for _, _, team in similar[:max_teams]), tuple(left_out), widened)


# --- warnings


class Code(StrEnum):
    REGRESSION_TO_MEAN = "regression_to_mean"
    TOO_LITTLE_DATA = "too_little_data"
    NO_COMPARISON = "no_comparison"
    PRE_TRENDS_DIFFER = "pre_trends_differ"
    GUARDRAIL_WORSENED = "guardrail_worsened"
    OPEN_AT_CUTOFF = "open_at_cutoff"
    DISSIMILAR_COMPARISON = "dissimilar_comparison"


@dataclass(frozen=True)
class EstimateWarning:
    """A caveat the page states beside the estimate: a stable code and a sentence."""

    code: Code
    text: str


def regression_to_mean(
    treated: Sequence[float], everyone: Sequence[float], *, better: Better
) -> EstimateWarning | None:
    """When every treated team's baseline is in the worst quarter of ``everyone``'s (all the teams' baselines, the
    treated included; at least 4): badness percentile rank ≥ 75, ``e360.stats.percentile_rank``, ties half."""
    require_finite(treated, "treated baselines")
    require_finite(everyone, "baselines")
    if not treated or len(everyone) < MIN_TEAMS_FOR_QUARTILES:
        return None
    # Badness: the share of teams better than this one. Lower is better → better means smaller → ascending rank.
    ranks = [percentile_rank(value, everyone, reverse=better == Better.HIGHER) or 0.0 for value in treated]
    if min(ranks) < WORST_QUARTER:
        return None
    teams = "The team was" if len(treated) == 1 else f"All {len(treated)} teams were"
    return EstimateWarning(
        Code.REGRESSION_TO_MEAN,
        f"{teams} in the worst quarter of {len(everyone)} teams at baseline: a bad period tends to be followed by a "
        "more ordinary one anyway (regression to the mean), so part of any improvement may not be the initiative's.",
    )


def too_little_data(n_before: int, n_after: int, *, min_n: int = MIN_OBSERVATIONS) -> EstimateWarning | None:
    """When either side has fewer than ``min_n`` observations."""
    if n_before >= min_n and n_after >= min_n:
        return None
    return EstimateWarning(
        Code.TOO_LITTLE_DATA,
        f"Too little data to tell: {n_before} before and {n_after} after, {min_n} needed on each side.",
    )


def no_comparison(n_comparison: int) -> EstimateWarning | None:
    """When fewer than ``MIN_COMPARISON`` comparison teams have data on both sides: no DiD."""
    if n_comparison >= MIN_COMPARISON:
        return None
    return EstimateWarning(
        Code.NO_COMPARISON,
        f"{n_comparison} comparison team{'s' if n_comparison != 1 else ''} with data ({MIN_COMPARISON} needed): "
        "without comparable teams the change is only associated with the initiative; a trend or a seasonal dip "
        "shared by every team would look the same.",
    )


def pre_trends_differ(placebo: Estimate | None) -> EstimateWarning | None:
    """When the placebo's interval excludes 0."""
    if placebo is None or not placebo.excludes_zero:
        return None
    return EstimateWarning(
        Code.PRE_TRENDS_DIFFER,
        "Before the start the treated and comparison teams were already drifting apart (a placebo start in the "
        "before window shows a difference): the estimate may mix the initiative with that drift.",
    )


def guardrail_worsened(metric: str, change: Estimate | None, *, better: Better) -> EstimateWarning | None:
    """When the guardrail's change interval is wholly on the worse side of 0."""
    if change is None:
        return None
    worse = change.low > 0 if better == Better.LOWER else change.high < 0
    if not worse:
        return None
    return EstimateWarning(
        Code.GUARDRAIL_WORSENED,
        f"Guardrail: {metric} worsened (its {change.confidence * 100:g}% interval is wholly on the worse side).",
    )


def open_at_cutoff(count: int) -> EstimateWarning | None:
    """When ``count`` pull requests still open are not in the after window's figures."""
    if count <= 0:
        return None
    these, they = ("1 pull request", "it ends") if count == 1 else (f"{count} pull requests", "they end")
    return EstimateWarning(
        Code.OPEN_AT_CUTOFF,
        f"{these} still open at the cut-off {'is' if count == 1 else 'are'} not in the after window's figures; if "
        f"{they} up slow, the after side is better than it will be.",
    )


def dissimilar_comparison(selection: Selection | None, factor: float) -> EstimateWarning | None:
    """The comparison group was widened beyond the similar baselines (``select_comparison``)."""
    if selection is None or not selection.widened:
        return None
    return EstimateWarning(
        Code.DISSIMILAR_COMPARISON,
        f"Fewer than {COMPARISON_TARGET} teams at this level have a baseline within a factor {factor:g} of the treated "
        "teams': the closest others were compared with too. Their levels differ, so the estimate rests on their "
        "trends running parallel before the start — check the pre-period chart and the placebo.",
    )


def warnings_for(
    *,
    before_after: BeforeAfter,
    did: DiD | None = None,
    regression: EstimateWarning | None = None,
    guardrails: Sequence[EstimateWarning | None] = (),
    open_items: int = 0,
    comparison: EstimateWarning | None = None,
) -> tuple[EstimateWarning, ...]:
    """Every warning that applies to one metric's estimate, in the order a page lists them."""
    found = [
        regression,
        too_little_data(before_after.n_before, before_after.n_after, min_n=before_after.min_n),
        no_comparison(did.n_comparison if did is not None else 0),
        comparison,
        pre_trends_differ(did.placebo if did is not None else None),
        *guardrails,
        open_at_cutoff(open_items),
    ]
    return tuple(w for w in found if w is not None)


# --- words


def _decimals(*values: float) -> int:
    return 0 if max(abs(v) for v in values) >= 10 else 1


def _figure(value: float, decimals: int) -> str:
    if decimals == 0:
        text = str(whole(value))
    else:
        text = str(Decimal(str(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))
        if text.endswith(".0"):
            text = text[:-2]
    text = "0" if text in ("-0", "-0.0") else text
    return MINUS + text[1:] if text.startswith("-") else text


# Each unit's word after a figure: (after exactly 1, after any other figure). A change in percent is in points.
_UNIT_WORDS = {
    Unit.HOURS: ("h", "h"),
    Unit.MINUTES: ("min", "min"),
    Unit.PERCENT: ("point", "points"),
    Unit.PER_WEEK: ("per week", "per week"),
    Unit.PULL_REQUESTS: ("pull request", "pull requests"),
    Unit.LINES: ("line", "lines"),
}


def _with_unit(text: str, unit: Unit) -> str:
    one, other = _UNIT_WORDS[unit]
    return f"{text} {one if text == '1' else other}"


def _range(low: str, high: str, unit: Unit) -> str:
    return f"{low}–{high} {_UNIT_WORDS[unit][1]}"


def _interval_words(estimate: Estimate, unit: Unit, decimals: int) -> str:
    level = f"{estimate.confidence * 100:g}% interval"
    if estimate.low >= 0 or estimate.high <= 0:  # one side of 0: magnitudes, smaller first
        ends = sorted((abs(estimate.low), abs(estimate.high)))
        return f"{level} {_range(_figure(ends[0], decimals), _figure(ends[1], decimals), unit)}"
    low = _with_unit(_figure(abs(estimate.low), decimals), unit)
    high = _with_unit(_figure(estimate.high, decimals), unit)
    return f"{level}: from a fall of {low} to a rise of {high}, which includes no change"


def describe(
    metric: str, *, unit: Unit, did: DiD | Staggered | None = None, before_after: BeforeAfter | None = None
) -> str:
    """The estimate in a leader's words (module docstring): the DiD when there is one, else the before/after
    median change as an association, else "too little data to tell"."""
    name = metric[:1].upper() + metric[1:]
    estimate = did.estimate if did is not None else None
    if estimate is not None:
        decimals = _decimals(estimate.value, estimate.low, estimate.high)
        verb = "fell" if estimate.value < 0 else "rose"
        size = _with_unit(_figure(abs(estimate.value), decimals), unit)
        if _figure(abs(estimate.value), decimals) == "0":
            return f"{name} moved as in comparable teams ({_interval_words(estimate, unit, decimals)})"
        return f"{name} {verb} by {size} ({_interval_words(estimate, unit, decimals)}) more than in comparable teams"
    change = before_after.median_change if before_after is not None else None
    if before_after is None or change is None:
        if before_after is None:
            return f"{name}: too little data to tell"
        return (
            f"{name}: too little data to tell ({before_after.n_before} before, {before_after.n_after} after; "
            f"{before_after.min_n} needed on each side)"
        )
    decimals = _decimals(change.value, change.low, change.high)
    size = _with_unit(_figure(abs(change.value), decimals), unit)
    interval = _interval_words(change, unit, decimals)
    if _figure(abs(change.value), decimals) == "0":
        return f"Median {metric} did not change after the start ({interval})"
    noun = "a fall" if change.value < 0 else "a rise"
    return f"The start was associated with {noun} of {size} in median {metric} ({interval})"

"""The statistics behind the insights pages, in Python and numpy (no SciPy, no Django).

Everything here is deterministic: the bootstrap takes a seed, so the same data and seed give the same interval on
every page load, in every export and in every test.

Definitions
===========

Spearman's ρ (:func:`spearman`)
    Pearson's correlation of the two sides' average ranks (``e360.stats.average_ranks``: ties share the mean of the
    ranks they span, as SciPy's ``rankdata(method="average")``), which is the tie-corrected form of Spearman's ρ (the
    textbook shortcut ``1 - 6Σd²/(n³-n)`` is only exact without ties). It measures whether teams that are higher on
    one side tend to be higher on the other, in any monotonic way, and is insensitive to outliers and units. It is
    undefined (None) with fewer than 2 teams or when either side is constant: a constant has no order to compare.

Bootstrap interval (:func:`bootstrap_interval`)
    A percentile bootstrap: ``resamples`` times, draw n teams with replacement from the n teams (a team's two values
    stay together), compute ρ of the resample, and report the (1 - confidence)/2 and (1 + confidence)/2 percentiles
    of those ρ (``e360.stats``'s interpolated ones: linear interpolation, as ``numpy.percentile`` and PostgreSQL's
    ``percentile_cont``) — for 95%, the 2.5th and 97.5th. A resample in which one side is constant has no ρ and is
    skipped; the interval is then that of the resamples that have one. When more than ``MAX_SKIPPED_SHARE`` (10%) of
    the resamples are skipped, the skipped ones are no longer a rounding error and the interval is None rather than a
    biased one. Resample r draws the teams of row r of ``numpy.random.default_rng(seed).integers(0, n, size=(resamples,
    n))``. The ranks of all resamples are read at once off each side's sorted order (``e360.stats.Ranking``).

Correlation (:func:`correlate`)
    ρ with its bootstrap interval and n. Below ``MIN_TEAMS`` (8) teams there is no number at all — not ρ, not an
    interval — and the text says "too few teams to tell (n = 5, need 8)": with so few teams any ρ is mostly noise,
    and a number on a dashboard is read as a finding. The interval "excludes zero" when both ends are on the same side
    of 0: the association is then unlikely to be resampling noise (which is not the same as causation).

Within-team change (:func:`within_team_change`)
    Between two consecutive waves, each team's change in dimension score (points) and its change in a metric over the
    same two periods, correlated with the same rules as above (n ≥ 8 teams, bootstrap interval). Level correlations
    compare different teams, which differ in many ways; changes compare each team with itself, so a positive ρ for a
    higher-is-better metric (negative for a lower-is-better one) says that teams whose metric improved also came to
    feel better about it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from e360.stats import Ranking, average_ranks, percentile_of_sorted, require_finite

if TYPE_CHECKING:
    from collections.abc import Sequence

MIN_TEAMS = 8
DEFAULT_RESAMPLES = 2000
DEFAULT_CONFIDENCE = 0.95
# Above this share of skipped (constant-side) resamples the interval would describe a different population of
# resamples than the one asked about, so it is withheld.
MAX_SKIPPED_SHARE = 0.10
MINUS = "\N{MINUS SIGN}"


def _check_pairs(xs: Sequence[float], ys: Sequence[float]) -> int:
    if len(xs) != len(ys):
        raise ValueError(f"xs and ys must pair up, got {len(xs)} and {len(ys)} values")
    require_finite(xs, "xs")
    require_finite(ys, "ys")
    return len(xs)


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Spearman's ρ: Pearson's correlation of the average ranks. None with n < 2 or a constant side."""
    n = _check_pairs(xs, ys)
    if n < 2:
        return None
    rx = average_ranks(xs)
    ry = average_ranks(ys)
    mean = (n + 1) / 2  # the mean of average ranks is always (n + 1) / 2, ties or not
    dx = [r - mean for r in rx]
    dy = [r - mean for r in ry]
    sxx = sum(d * d for d in dx)
    syy = sum(d * d for d in dy)
    if sxx == 0 or syy == 0:
        return None
    sxy = sum(a * b for a, b in zip(dx, dy, strict=True))
    # Ranks and their deviations are multiples of 1/2, so these sums are exact; only the last division rounds.
    return max(-1.0, min(1.0, sxy / math.sqrt(sxx * syy)))


def resample_counts(n: int, *, seed: int, resamples: int) -> np.ndarray:
    """How many times each of n teams is drawn in each resample (one row per resample): row r counts the teams of
    row r of ``numpy.random.default_rng(seed).integers(0, n, size=(resamples, n))``."""
    drawn = np.random.default_rng(seed).integers(0, n, size=(resamples, n))
    flat = (drawn + n * np.arange(resamples)[:, None]).ravel()
    return np.bincount(flat, minlength=resamples * n).reshape(resamples, n)


def bootstrap_interval(
    xs: Sequence[float],
    ys: Sequence[float],
    *,
    seed: int,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
) -> tuple[float, float] | None:
    """The percentile bootstrap ``confidence`` interval of Spearman's ρ, resampling teams (pairs) with replacement.

    Resamples where ρ is undefined (one side constant in the resample) are skipped; when more than
    ``MAX_SKIPPED_SHARE`` of them are, the interval is None (so it is with n < 2 or a side constant in the data).
    The same data and seed always give the same interval.

    Cost: O(n log n) once, then O(n) per resample, all resamples at once in numpy — the ranks of a resample are read
    off the data's sorted order with running counts instead of sorting again (``e360.stats.Ranking``).
    """
    n = _check_pairs(xs, ys)
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence!r}")
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, got {resamples!r}")
    if n < 2:
        return None
    counts = resample_counts(n, seed=seed, resamples=resamples)
    rx, ties_x = Ranking(xs).doubled_ranks(counts)
    ry, ties_y = Ranking(ys).doubled_ranks(counts)
    # With doubled ranks R = 2r: 4·n·cov = Σ c·Rx·Ry − n(n+1)², and 12·n·var = n³ − n − Σ(G³ − G) (the usual tie
    # correction), so ρ = 3·(Σ c·Rx·Ry − n(n+1)²) / √(12n·var_x · 12n·var_y), in integers up to the last step
    # (int64 holds them: Σ c·Rx·Ry ≤ 4n⁴, below 2⁶³ for any number of teams an organisation has).
    sxx = n**3 - n - ties_x
    syy = n**3 - n - ties_y
    defined = (sxx != 0) & (syy != 0)
    if resamples - int(defined.sum()) > MAX_SKIPPED_SHARE * resamples:
        return None
    sxy = (counts * rx * ry).sum(axis=1)[defined] - n * (n + 1) ** 2
    rhos = np.sort(np.clip(3 * sxy / (np.sqrt(sxx[defined]) * np.sqrt(syy[defined])), -1.0, 1.0))
    tail = (1 - confidence) / 2
    low, high = percentile_of_sorted(rhos, tail), percentile_of_sorted(rhos, 1 - tail)
    if low is None or high is None:  # not with at most 10% of the resamples skipped, and at least one resample
        return None
    return float(low), float(high)


def _number(value: float) -> str:
    """Two decimals with a real minus sign, and no "−0.00"."""
    text = f"{value:.2f}"
    if text.startswith("-"):
        return "0.00" if text == "-0.00" else MINUS + text[1:]
    return text


@dataclass(frozen=True)
class Correlation:
    """ρ, its interval and n, or — below ``min_n`` teams — only n.

    Store n, rho, low, high, min_n and confidence to rebuild it; ``enough``, ``excludes_zero`` and ``text`` follow.
    """

    n: int
    rho: float | None
    low: float | None
    high: float | None
    min_n: int = MIN_TEAMS
    confidence: float = DEFAULT_CONFIDENCE

    def __post_init__(self) -> None:
        if self.n < self.min_n and (self.rho is not None or self.low is not None or self.high is not None):
            raise ValueError(f"with n = {self.n} < {self.min_n} there is no number to show")
        if (self.low is None) != (self.high is None):
            raise ValueError("an interval has both ends or none")

    @property
    def enough(self) -> bool:
        return self.n >= self.min_n

    @property
    def excludes_zero(self) -> bool:
        """Both ends of the interval strictly on the same side of 0 (False without an interval)."""
        if self.low is None or self.high is None:
            return False
        return self.low > 0 or self.high < 0

    @property
    def text(self) -> str:
        """One line for people: "ρ = −0.42 (95% CI −0.61 to −0.20), n = 40", or why there is no number."""
        if not self.enough:
            return f"too few teams to tell (n = {self.n}, need {self.min_n})"
        if self.rho is None:
            return f"no correlation to tell: one side is the same for every team (n = {self.n})"
        level = f"{self.confidence * 100:g}%"
        if self.low is None or self.high is None:
            return f"ρ = {_number(self.rho)} (no {level} CI: too many resamples had one side constant), n = {self.n}"
        return f"ρ = {_number(self.rho)} ({level} CI {_number(self.low)} to {_number(self.high)}), n = {self.n}"


def correlate(
    xs: Sequence[float],
    ys: Sequence[float],
    *,
    seed: int,
    min_n: int = MIN_TEAMS,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
) -> Correlation:
    """Spearman's ρ of the teams' (x, y) pairs with its bootstrap interval; no number at all below ``min_n`` teams."""
    n = _check_pairs(xs, ys)
    if n < min_n:
        return Correlation(n=n, rho=None, low=None, high=None, min_n=min_n, confidence=confidence)
    rho = spearman(xs, ys)
    interval = None
    if rho is not None:
        interval = bootstrap_interval(xs, ys, seed=seed, resamples=resamples, confidence=confidence)
    low, high = interval if interval is not None else (None, None)
    return Correlation(n=n, rho=rho, low=low, high=high, min_n=min_n, confidence=confidence)


def within_team_change(
    pairs: Sequence[tuple[float | None, float | None]],
    *,
    seed: int,
    min_n: int = MIN_TEAMS,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
) -> Correlation:
    """Correlate, across teams, each team's change in dimension score with its change in a metric between two waves.

    ``pairs`` holds one (Δ dimension score, Δ metric) per team. A team with either change None (not comparable: a
    score hidden in one wave, no data in one period) is left out and not counted in n.
    """
    complete = [(dx, dy) for dx, dy in pairs if dx is not None and dy is not None]
    return correlate(
        [dx for dx, _ in complete],
        [dy for _, dy in complete],
        seed=seed,
        min_n=min_n,
        resamples=resamples,
        confidence=confidence,
    )

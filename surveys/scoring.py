"""Survey scores (docs/surveys.md#question-types and #scores): likert items, dimensions, eNPS, choices, participation.

Pure functions over plain answer values, with no Django imports, so that results pages, exports, the API and tasks
all compute a score the same way. Nothing here rounds: rounding is a presentation concern, and rounding before
averaging (a dimension is a mean of item percentages) would compound the error.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable, Mapping, Sequence

FAVOURABLE = (4, 5)
LIKERT_RANGE = range(1, 6)
ENPS_RANGE = range(11)
PROMOTERS = (9, 10)
PASSIVES = (7, 8)

# Participation: below TARGET a team is nudged; below FLAG_BELOW its scores are flagged as unreliable,
# because scores from few respondents mislead.
TARGET = 0.75
FLAG_BELOW = 0.60


def _check_int(value: int, allowed: range, what: str) -> None:
    # bool is an int subclass, and 4.0 == 4: both would slip through a plain range check.
    if isinstance(value, bool) or not isinstance(value, int) or value not in allowed:
        raise ValueError(f"{what} answer must be an integer in {allowed.start}..{allowed.stop - 1}, got {value!r}")


def likert_score(value: int, *, reverse: bool) -> int:
    """The answer on the scale where higher is better: a reverse-coded item (agreeing is bad) is inverted (6 - x)."""
    _check_int(value, LIKERT_RANGE, "likert")
    return 6 - value if reverse else value


@dataclass(frozen=True)
class ItemScore:
    """One likert item's result: % favourable is primary, the mean (1-5, reverse-corrected) is shown beside it.

    Both are None when nobody answered: 0 % would claim a result that does not exist.
    """

    answered: int
    favourable: int
    percent_favourable: float | None
    mean: float | None


def item_score(values: Iterable[int], *, reverse: bool) -> ItemScore:
    """Score one likert item. Skips are absent from ``values``, so they count neither way.

    A team split between 1s and 5s and a team of all 3s have the same mean but not the same % favourable, which is
    why the percentage leads.
    """
    return item_score_counts(Counter(values), reverse=reverse)


def item_score_counts(counts: Mapping[int, int], *, reverse: bool) -> ItemScore:
    """``item_score`` of answers given as how many gave each value (what a GROUP BY in the database returns)."""
    answered = favourable = total = 0
    for value, n in counts.items():
        score = likert_score(value, reverse=reverse)
        answered += n
        total += score * n
        favourable += n if score in FAVOURABLE else 0
    if not answered:
        return ItemScore(answered=0, favourable=0, percent_favourable=None, mean=None)
    return ItemScore(
        answered=answered,
        favourable=favourable,
        percent_favourable=100 * favourable / answered,
        mean=total / answered,
    )


def dimension_score(items: Iterable[ItemScore]) -> float | None:
    """Mean of the items' % favourable; unanswered items are left out rather than counted as 0 %."""
    percents = [item.percent_favourable for item in items if item.percent_favourable is not None]
    return sum(percents) / len(percents) if percents else None


@dataclass(frozen=True)
class Enps:
    """Employee Net Promoter Score: % promoters (9-10) - % detractors (0-6), within -100..100; None if no answers."""

    answered: int
    promoters: int
    passives: int
    detractors: int
    score: float | None


def enps(values: Iterable[int]) -> Enps:
    """The eNPS of 0-10 answers (skips absent). Passives (7-8) count in the denominator only."""
    return enps_counts(Counter(values))


def enps_counts(counts: Mapping[int, int]) -> Enps:
    """``enps`` of answers given as how many gave each value."""
    promoters = passives = answered = 0
    for value, n in counts.items():
        _check_int(value, ENPS_RANGE, "eNPS")
        answered += n
        promoters += n if value in PROMOTERS else 0
        passives += n if value in PASSIVES else 0
    detractors = answered - promoters - passives
    score = 100 * (promoters - detractors) / answered if answered else None
    return Enps(answered=answered, promoters=promoters, passives=passives, detractors=detractors, score=score)


def choice_distribution(answers: Iterable[Collection[str]], options: Sequence[str]) -> dict[str, float]:
    """Percent of respondents choosing each option, in option order.

    Each answer is the collection of options one respondent chose (one element for a single choice question), so
    for a multi choice question the percentages may add up to more than 100. An empty answer is a skip: it is not a
    respondent of the question. Empty when nobody answered, since there is then no distribution to show. An unknown
    option raises, because silently dropping it would misstate the percentages.
    """
    if len(set(options)) != len(options):
        raise ValueError("options must be distinct")
    known = set(options)
    counts = dict.fromkeys(options, 0)
    respondents = 0
    for answer in answers:
        chosen = set(answer)  # choosing an option twice is still one respondent choosing it
        if unknown := chosen - known:
            raise ValueError(f"unknown option(s): {sorted(unknown)}")
        if not chosen:
            continue
        respondents += 1
        for option in chosen:
            counts[option] += 1
    if not respondents:
        return {}
    return {option: 100 * count / respondents for option, count in counts.items()}


@dataclass(frozen=True)
class Participation:
    """Responded ÷ invited (0-1, None with no invitees), with the target and flag thresholds applied."""

    invited: int
    responded: int
    rate: float | None
    below_target: bool
    flagged: bool


def participation(invited: int, responded: int) -> Participation:
    """A team's participation; ``flagged`` marks scores resting on too few respondents to trust."""
    if invited < 0 or responded < 0:
        raise ValueError("counts cannot be negative")
    if responded > invited:
        raise ValueError(f"{responded} responses from {invited} invitations")
    rate = responded / invited if invited else None
    return Participation(
        invited=invited,
        responded=responded,
        rate=rate,
        below_target=rate is not None and rate < TARGET,
        flagged=rate is not None and rate < FLAG_BELOW,
    )


def change_points(current: float | None, previous: float | None) -> float | None:
    """Points of change (e.g. 62 % → 70 % is +8 points, not +13 %); None when either side is missing."""
    if current is None or previous is None:
        return None
    return current - previous

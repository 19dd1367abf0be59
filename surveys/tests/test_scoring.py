"""Survey scores: likert items and dimensions, eNPS, choice distributions, participation and comparisons."""

from __future__ import annotations

import math
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from e360.stats import percentile_rank
from surveys.scoring import (
    FAVOURABLE,
    Enps,
    ItemScore,
    Participation,
    change_points,
    choice_distribution,
    dimension_score,
    enps,
    enps_counts,
    item_score,
    item_score_counts,
    likert_score,
    participation,
)

FAST = settings(max_examples=200, deadline=None)
likert_values = st.lists(st.integers(min_value=1, max_value=5), max_size=40)
enps_values = st.lists(st.integers(min_value=0, max_value=10), max_size=40)
OPTIONS = ["github", "gitlab", "jenkins", "circleci"]


# --- likert_score


def test_favourable_answers_are_agree_and_strongly_agree():
    assert FAVOURABLE == (4, 5)


@pytest.mark.parametrize("value", [1, 2, 3, 4, 5])
def test_it_keeps_a_plain_answer(value):
    assert likert_score(value, reverse=False) == value


@pytest.mark.parametrize(("value", "expected"), [(1, 5), (2, 4), (3, 3), (4, 2), (5, 1)])
def test_it_inverts_a_reverse_coded_answer(value, expected):
    assert likert_score(value, reverse=True) == expected


@pytest.mark.parametrize("value", [0, 6, -1, 10])
@pytest.mark.parametrize("reverse", [False, True])
def test_it_rejects_a_likert_answer_outside_1_to_5(value, reverse):
    with pytest.raises(ValueError, match="likert"):
        likert_score(value, reverse=reverse)


@pytest.mark.parametrize("value", [3.0, 4.5, True, "3", None])
def test_it_rejects_a_likert_answer_that_is_not_an_integer(value):
    with pytest.raises(ValueError, match="likert"):
        likert_score(value, reverse=False)


# --- item_score


def test_it_scores_an_item_as_percent_favourable_and_mean():
    assert item_score([5, 4, 3, 2, 4], reverse=False) == ItemScore(
        answered=5, favourable=3, percent_favourable=60.0, mean=3.6
    )


def test_all_threes_and_a_split_of_ones_and_fives_share_a_mean_but_not_a_percent_favourable():
    all_threes = item_score([3, 3, 3, 3], reverse=False)
    split = item_score([1, 1, 5, 5], reverse=False)
    assert all_threes.mean == split.mean == 3.0
    assert all_threes.percent_favourable == 0.0
    assert split.percent_favourable == 50.0


def test_an_item_with_only_skips_has_no_percent_and_no_mean():
    assert item_score([], reverse=False) == ItemScore(answered=0, favourable=0, percent_favourable=None, mean=None)


def test_it_counts_disagreement_as_favourable_on_a_reverse_coded_item():
    score = item_score([1, 2, 4, 5], reverse=True)
    assert score.favourable == 2
    assert score.percent_favourable == 50.0


def test_it_reports_the_mean_of_a_reverse_coded_item_on_the_corrected_scale():
    assert item_score([1, 1, 2], reverse=True).mean == pytest.approx(14 / 3)
    assert item_score([1, 1, 2], reverse=False).mean == pytest.approx(4 / 3)


def test_it_does_not_round_the_percent_favourable():
    assert item_score([5, 1, 1], reverse=False).percent_favourable == 100 / 3


def test_it_accepts_any_iterable_of_answers():
    assert item_score(iter([4, 5]), reverse=False).answered == 2


def test_it_rejects_an_item_with_an_answer_out_of_range():
    with pytest.raises(ValueError, match="likert"):
        item_score([3, 6], reverse=False)


@FAST
@given(likert_values, st.booleans())
def test_percent_favourable_and_mean_stay_within_their_scales(values, reverse):
    score = item_score(values, reverse=reverse)
    assert score.answered == len(values)
    assert 0 <= score.favourable <= score.answered
    if values:
        assert 0 <= score.percent_favourable <= 100
        assert 1 <= score.mean <= 5
    else:
        assert score.percent_favourable is None
        assert score.mean is None


@FAST
@given(likert_values)
def test_reverse_coding_mirrors_the_mean_and_swaps_favourable_with_unfavourable(values):
    plain = item_score(values, reverse=False)
    reverse = item_score(values, reverse=True)
    if values:
        assert plain.mean + reverse.mean == pytest.approx(6)
    assert reverse.favourable == sum(1 for v in values if v in (1, 2))


# --- dimension_score


def _item(percent: float | None) -> ItemScore:
    answered = 0 if percent is None else 10
    return ItemScore(answered=answered, favourable=0, percent_favourable=percent, mean=None if percent is None else 3)


def test_a_dimension_is_the_mean_of_its_items_percent_favourable():
    assert dimension_score([_item(50.0), _item(70.0), _item(90.0)]) == 70.0


def test_a_dimension_leaves_out_items_nobody_answered():
    assert dimension_score([_item(40.0), _item(None), _item(60.0)]) == 50.0


def test_a_dimension_with_no_answered_items_has_no_score():
    assert dimension_score([_item(None), _item(None)]) is None
    assert dimension_score([]) is None


def test_a_dimension_weighs_items_equally_whatever_their_answer_counts():
    few = item_score([5], reverse=False)
    many = item_score([1] * 9, reverse=False)
    assert dimension_score([few, many]) == 50.0


@FAST
@given(st.lists(st.tuples(likert_values, st.booleans()), max_size=6))
def test_a_dimension_lies_between_its_lowest_and_highest_item(items):
    scores = [item_score(values, reverse=reverse) for values, reverse in items]
    percents = [s.percent_favourable for s in scores if s.percent_favourable is not None]
    dimension = dimension_score(scores)
    if percents:
        assert min(percents) - 1e-9 <= dimension <= max(percents) + 1e-9
    else:
        assert dimension is None


# --- enps


def test_it_computes_enps_as_percent_promoters_minus_percent_detractors():
    assert enps([10, 9, 9, 8, 7, 6, 0, 3, 10, 10]) == Enps(
        answered=10, promoters=5, passives=2, detractors=3, score=20.0
    )


@pytest.mark.parametrize(
    ("value", "kind"), [(0, "detractors"), (6, "detractors"), (7, "passives"), (8, "passives"), (9, "promoters")]
)
def test_it_puts_each_answer_in_its_enps_band(value, kind):
    assert getattr(enps([value]), kind) == 1


def test_enps_of_all_promoters_is_100_and_of_all_detractors_is_minus_100():
    assert enps([9, 10, 10]).score == 100.0
    assert enps([0, 5, 6]).score == -100.0


def test_passives_only_dilute_the_enps():
    assert enps([7, 8]).score == 0.0
    assert enps([10, 7, 8, 8]).score == 25.0


def test_enps_with_no_answers_has_no_score():
    assert enps([]) == Enps(answered=0, promoters=0, passives=0, detractors=0, score=None)


@pytest.mark.parametrize("value", [-1, 11, 7.5, True])
def test_it_rejects_an_enps_answer_outside_0_to_10(value):
    with pytest.raises(ValueError, match="eNPS"):
        enps([9, value])


@FAST
@given(enps_values)
def test_enps_stays_within_minus_100_and_100_and_its_bands_add_up(values):
    result = enps(values)
    assert result.promoters + result.passives + result.detractors == result.answered == len(values)
    if values:
        assert -100 <= result.score <= 100
    else:
        assert result.score is None


# --- choice_distribution


def test_it_gives_the_percent_of_respondents_per_option_in_option_order():
    dist = choice_distribution([["gitlab"], ["github"], ["gitlab"], ["gitlab"]], OPTIONS)
    assert dist == {"github": 25.0, "gitlab": 75.0, "jenkins": 0.0, "circleci": 0.0}
    assert list(dist) == OPTIONS


def test_a_multi_choice_distribution_counts_respondents_not_choices():
    dist = choice_distribution([{"github", "jenkins"}, {"github"}], OPTIONS)
    assert dist == {"github": 100.0, "gitlab": 0.0, "jenkins": 50.0, "circleci": 0.0}


def test_it_counts_an_option_chosen_twice_in_one_answer_once():
    assert choice_distribution([["github", "github"], ["gitlab"]], OPTIONS)["github"] == 50.0


def test_an_empty_answer_is_a_skip_and_not_a_respondent():
    assert choice_distribution([[], ["jenkins"]], OPTIONS)["jenkins"] == 100.0


def test_a_question_nobody_answered_has_no_distribution():
    assert choice_distribution([], OPTIONS) == {}
    assert choice_distribution([[], ()], OPTIONS) == {}


def test_it_rejects_an_answer_naming_an_unknown_option():
    with pytest.raises(ValueError, match="unknown option"):
        choice_distribution([["github"], ["bamboo"]], OPTIONS)


def test_it_rejects_duplicate_options():
    with pytest.raises(ValueError, match="distinct"):
        choice_distribution([["github"]], ["github", "github"])


@FAST
@given(st.lists(st.sets(st.sampled_from(OPTIONS)), max_size=30), st.booleans())
def test_every_option_percent_stays_within_0_and_100(answers, single):
    if single:
        answers = [set(list(a)[:1]) for a in answers]
    dist = choice_distribution(answers, OPTIONS)
    respondents = sum(1 for a in answers if a)
    if respondents:
        assert list(dist) == OPTIONS
        assert all(0 <= pct <= 100 for pct in dist.values())
        assert sum(dist.values()) >= 100 - 1e-9
        if single:
            assert math.isclose(sum(dist.values()), 100)
    else:
        assert dist == {}


# --- participation


def test_it_computes_participation_as_responded_over_invited():
    assert participation(20, 16) == Participation(invited=20, responded=16, rate=0.8, below_target=False, flagged=False)


def test_participation_at_the_target_is_not_below_it():
    assert participation(4, 3).below_target is False


def test_participation_below_the_target_but_at_60_percent_is_not_flagged():
    result = participation(10, 6)
    assert result.below_target is True
    assert result.flagged is False


def test_participation_below_60_percent_is_flagged():
    result = participation(10, 5)
    assert result.below_target is True
    assert result.flagged is True


def test_a_team_with_no_invitees_has_no_rate_and_no_flags():
    assert participation(0, 0) == Participation(invited=0, responded=0, rate=None, below_target=False, flagged=False)


def test_it_rejects_more_responses_than_invitations():
    with pytest.raises(ValueError, match="responses"):
        participation(3, 4)


def test_it_rejects_negative_counts():
    with pytest.raises(ValueError, match="negative"):
        participation(-1, 0)


@FAST
@given(st.integers(min_value=1, max_value=10_000), st.data())
def test_participation_flags_agree_with_exact_fractions(invited, data):
    responded = data.draw(st.integers(min_value=0, max_value=invited))
    result = participation(invited, responded)
    assert 0 <= result.rate <= 1
    assert result.below_target == (4 * responded < 3 * invited)
    assert result.flagged == (5 * responded < 3 * invited)
    assert not result.flagged or result.below_target


# --- change_points


def test_change_is_in_points():
    assert change_points(70.0, 62.0) == 8.0
    assert change_points(40.0, 55.0) == -15.0


@pytest.mark.parametrize(("current", "previous"), [(None, 50.0), (50.0, None), (None, None)])
def test_there_is_no_change_when_either_wave_is_missing(current, previous):
    assert change_points(current, previous) is None


# --- percentile_rank


def test_a_team_above_every_other_is_at_the_100th_percentile():
    assert percentile_rank(90.0, [10.0, 50.0, 80.0]) == 100.0


def test_a_team_below_every_other_is_at_the_0th_percentile():
    assert percentile_rank(5.0, [10.0, 50.0, 80.0]) == 0.0


def test_ties_count_half():
    assert percentile_rank(50.0, [10.0, 50.0, 50.0, 80.0]) == 50.0
    assert percentile_rank(50.0, [50.0]) == 50.0


def test_a_team_with_no_others_has_no_percentile():
    assert percentile_rank(50.0, []) is None


@FAST
@given(
    st.floats(min_value=-100, max_value=100),
    st.lists(st.floats(min_value=-100, max_value=100), max_size=30),
)
def test_a_percentile_rank_stays_within_0_and_100_and_grows_with_the_value(value, others):
    rank = percentile_rank(value, others)
    if not others:
        assert rank is None
        return
    assert 0 <= rank <= 100
    assert percentile_rank(value + 1, others) >= rank


@FAST
@given(st.lists(st.integers(min_value=0, max_value=10), min_size=2, max_size=20))
def test_percentile_ranks_of_all_teams_average_to_50(scores):
    # With mid-ranks, each pair of teams contributes 1 in total (1 + 0, or ½ + ½ for a tie).
    ranks = [percentile_rank(s, scores[:i] + scores[i + 1 :]) for i, s in enumerate(scores)]
    assert math.isclose(sum(ranks) / len(ranks), 50)


@FAST
@given(values=likert_values, reverse=st.booleans(), nps=enps_values)
def test_scores_from_counts_equal_scores_from_values(values, reverse, nps):
    assert item_score_counts(Counter(values), reverse=reverse) == item_score(values, reverse=reverse)
    assert enps_counts(Counter(nps)) == enps(nps)

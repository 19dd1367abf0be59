"""Anonymity rules 2-5: storage labels, output suppression (no small groups, no differencing), free text.

The property test at the end is the one that matters: over random team trees, invitee and response counts and
candidate sets, no label and no shown figure, alone or subtracted from another, isolates 1 ... k-1 people.
"""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from e360.tree import TeamTree
from surveys.anonymity import (
    DEFAULT_K,
    DEFAULT_TEXT_THRESHOLD,
    MIN_K,
    ORG,
    Cell,
    Status,
    check_k,
    shown_groups,
    shuffled_texts,
    storage_labels,
    text_visible,
    wave_change,
)

# Org 1 ── 2 ── 5
#        └─ 3
#        └─ 4
# Org 6 (a second root)
TREE = TeamTree.from_parents({1: None, 2: 1, 3: 1, 4: 1, 5: 2, 6: None})


def statuses(cells: dict) -> dict:
    return {c: cell.status for c, cell in cells.items()}


# --- k


def test_the_thresholds_default_to_the_spec():
    assert (MIN_K, DEFAULT_K, DEFAULT_TEXT_THRESHOLD) == (3, 5, 10)
    assert ORG is None


@pytest.mark.parametrize("k", [-1, 0, 1, 2])
def test_it_rejects_k_below_3(k):
    with pytest.raises(ValueError, match="k must be at least 3"):
        check_k(k)


@pytest.mark.parametrize("k", [3, 5, 10])
def test_it_accepts_k_of_3_or_more(k):
    assert check_k(k) is None


def test_storage_and_output_both_reject_k_below_3():
    with pytest.raises(ValueError, match="k must be at least 3"):
        storage_labels({1: 10}, TREE, 2)
    with pytest.raises(ValueError, match="k must be at least 3"):
        shown_groups({1: 10}, TREE, 2, [1])


# --- storage labels (rule 2)


def test_a_team_with_at_least_k_invitees_keeps_its_own_label():
    assert storage_labels({1: 5, 2: 5, 6: 7}, TREE, 5) == {1: 1, 2: 2, 6: 6}


def test_a_single_small_team_is_rolled_up_to_its_parent():
    assert storage_labels({1: 4, 3: 2, 6: 5}, TREE, 5) == {1: 1, 3: 1, 6: 6}


def test_two_small_siblings_are_pooled_under_their_parent():
    assert storage_labels({3: 3, 4: 3, 6: 5}, TREE, 5) == {3: 1, 4: 1, 6: 6}


def test_a_small_team_passes_through_an_empty_parent_to_its_grandparent():
    assert storage_labels({5: 2, 3: 3, 6: 5}, TREE, 5) == {5: 1, 3: 1, 6: 6}


def test_a_small_team_goes_to_the_nearest_ancestor_that_can_stand_alone():
    assert storage_labels({5: 2, 2: 3, 1: 9}, TREE, 5) == {5: 2, 2: 2, 1: 1}


def test_small_teams_of_several_roots_are_pooled_under_the_org():
    parents = {1: None, 2: None, 3: None}
    assert storage_labels({1: 2, 2: 2, 3: 2}, TeamTree.from_parents(parents), 5) == {1: ORG, 2: ORG, 3: ORG}


def test_the_org_absorbs_the_smallest_group_when_too_few_are_left_over():
    # Teams 1 and 6 have 1 invitee each and meet only at the org: 2 are fewer than k, so the smallest group formed
    # (team 3's 5) joins them there.
    labels = storage_labels({2: 6, 3: 5, 1: 1, 6: 1}, TREE, 5)
    assert labels == {2: 2, 3: ORG, 1: ORG, 6: ORG}


def test_a_parent_s_own_few_invitees_never_form_a_small_group_beside_a_large_child():
    # Team 1's subtree has 6 invitees, but only 1 of them would be labelled with team 1 itself.
    assert storage_labels({1: 1, 2: 5}, TREE, 5) == {1: ORG, 2: ORG}


def test_teams_without_invitees_get_no_label():
    labels = storage_labels({1: 5, 2: 0, 3: 0}, TREE, 5)
    assert labels == {1: 1}


def test_a_campaign_with_fewer_than_k_invitees_in_all_cannot_run():
    with pytest.raises(ValueError, match="fewer than k"):
        storage_labels({1: 2, 6: 2}, TREE, 5)
    with pytest.raises(ValueError, match="fewer than k"):
        storage_labels({}, TREE, 3)


def test_storage_labels_reject_an_unknown_team_a_cycle_and_negative_counts():
    with pytest.raises(ValueError, match="not in the team tree"):
        storage_labels({99: 5}, TREE, 5)
    with pytest.raises(ValueError, match="not in the team tree"):
        storage_labels({1: 5}, TeamTree.from_parents({1: 7}), 5)
    with pytest.raises(ValueError, match="cycle"):
        storage_labels({1: 5}, TeamTree.from_parents({1: 2, 2: 1}), 5)
    with pytest.raises(ValueError, match="negative"):
        storage_labels({1: 6, 2: -1}, TREE, 5)


# --- output suppression (rules 3 and 4)


def test_a_team_s_figure_counts_every_response_labelled_inside_it_and_the_org_counts_all():
    cells = shown_groups({5: 4, 2: 3, 3: 6, ORG: 2, 6: 5}, TREE, 3, [ORG, 1, 2, 5, 6])
    assert {c: cell.n for c, cell in cells.items()} == {ORG: 20, 1: 13, 2: 7, 5: 4, 6: 5}


def test_a_group_below_k_is_too_few_and_a_group_without_responses_has_no_data():
    cells = shown_groups({1: 6, 3: 4}, TREE, 5, [3, 4])
    assert cells == {3: Cell(4, Status.TOO_FEW), 4: Cell(0, Status.NO_DATA)}
    assert not cells[3].shown


def test_a_group_with_k_responses_is_shown():
    cells = shown_groups({3: 5, 4: 0}, TREE, 5, [3, 4])
    assert cells[3] == Cell(5, Status.SHOWN)
    assert cells[3].shown


def test_it_hides_the_smallest_shown_child_when_exactly_one_child_is_hidden():
    cells = shown_groups({2: 7, 3: 6, 4: 2}, TREE, 5, [1, 2, 3, 4])
    assert statuses(cells) == {1: Status.SHOWN, 2: Status.SHOWN, 3: Status.SUPPRESSED, 4: Status.TOO_FEW}


def test_it_hides_a_child_when_the_parent_s_own_responses_are_a_small_remainder():
    cells = shown_groups({1: 2, 2: 7, 3: 6}, TREE, 5, [1, 2, 3])
    assert statuses(cells) == {1: Status.SHOWN, 2: Status.SHOWN, 3: Status.SUPPRESSED}


def test_it_keeps_every_child_when_the_remainder_is_zero_or_at_least_k():
    assert statuses(shown_groups({2: 7, 3: 6}, TREE, 5, [1, 2, 3])) == dict.fromkeys([1, 2, 3], Status.SHOWN)
    assert statuses(shown_groups({1: 5, 2: 7, 3: 6}, TREE, 5, [1, 2, 3])) == dict.fromkeys([1, 2, 3], Status.SHOWN)


def test_it_hides_the_inner_of_two_nested_groups_when_their_difference_is_small():
    cells = shown_groups({2: 6, 4: 2}, TREE, 5, [1, 2])
    assert statuses(cells) == {1: Status.SHOWN, 2: Status.SUPPRESSED}


def test_it_compares_a_group_with_shown_descendants_that_are_not_its_children():
    # Team 2 is not a candidate, so team 5 is the largest shown group inside team 1.
    cells = shown_groups({5: 6, 2: 1}, TREE, 5, [1, 5])
    assert statuses(cells) == {1: Status.SHOWN, 5: Status.SUPPRESSED}


def test_it_protects_the_org_remainder_too():
    cells = shown_groups({1: 6, 6: 5, ORG: 2}, TREE, 5, [ORG, 1, 6])
    assert statuses(cells) == {ORG: Status.SHOWN, 1: Status.SHOWN, 6: Status.SUPPRESSED}


def test_it_keeps_hiding_until_the_parent_s_remainder_is_safe():
    # 10 has 1 own response; 11 (6) holds 12 (3) and 13 (3); 14 has 7. Hiding 11, the smallest, exposes 12 and 13,
    # whose total leaves the same remainder of 1, so 12 is hidden too.
    parents = {10: None, 11: 10, 12: 11, 13: 11, 14: 10}
    cells = shown_groups({10: 1, 12: 3, 13: 3, 14: 7}, TeamTree.from_parents(parents), 3, [10, 11, 12, 13, 14])
    assert statuses(cells) == {
        10: Status.SHOWN,
        11: Status.SUPPRESSED,
        12: Status.SUPPRESSED,
        13: Status.SHOWN,
        14: Status.SHOWN,
    }
    assert cells[10].n - cells[13].n - cells[14].n == 4


def test_it_checks_a_team_against_the_org_after_hiding_inside_the_team():
    # Team 1 (7) hides team 2 (5) because of team 4's 2; then the org (8) minus team 1 would leave team 6's 1.
    cells = shown_groups({2: 5, 4: 2, 6: 1}, TREE, 5, [ORG, 1, 2])
    assert statuses(cells) == {ORG: Status.SHOWN, 1: Status.SUPPRESSED, 2: Status.SUPPRESSED}


def test_it_breaks_ties_between_equally_small_children_by_team_id():
    cells = shown_groups({2: 5, 3: 5, 4: 2}, TREE, 5, [1, 3, 2, 4])
    assert statuses(cells) == {1: Status.SHOWN, 3: Status.SHOWN, 2: Status.SUPPRESSED, 4: Status.TOO_FEW}


def test_a_repeated_candidate_is_decided_once():
    assert statuses(shown_groups({2: 7}, TREE, 5, [2, 2, 1])) == {2: Status.SHOWN, 1: Status.SHOWN}


def test_shown_groups_reject_unknown_teams_and_negative_counts():
    with pytest.raises(ValueError, match="not in the team tree"):
        shown_groups({2: 7}, TREE, 5, [99])
    with pytest.raises(ValueError, match="not in the team tree"):
        shown_groups({99: 7}, TREE, 5, [1])
    with pytest.raises(ValueError, match="negative"):
        shown_groups({2: -1}, TREE, 5, [1])


# --- across waves


SAME = frozenset(range(8))


@pytest.mark.parametrize(
    ("current", "previous", "expected"),
    [
        (Cell(8, Status.SHOWN), Cell(8, Status.SHOWN), Status.SHOWN),
        (Cell(8, Status.SHOWN), Cell(3, Status.TOO_FEW), Status.TOO_FEW),
        (Cell(8, Status.SHOWN), Cell(9, Status.SUPPRESSED), Status.SUPPRESSED),
        (Cell(8, Status.SHOWN), Cell(0, Status.NO_DATA), Status.NO_DATA),
        (Cell(3, Status.TOO_FEW), Cell(8, Status.SHOWN), Status.TOO_FEW),
        (Cell(9, Status.SUPPRESSED), Cell(8, Status.SHOWN), Status.SUPPRESSED),
    ],
)
def test_a_change_needs_the_group_shown_in_both_waves(current, previous, expected):
    assert wave_change(current, previous, SAME, SAME, 5) == expected


@pytest.mark.parametrize(
    ("now", "before", "expected"),
    [
        (range(8), range(8), Status.SHOWN),  # the same people
        (range(8), range(7), Status.SUPPRESSED),  # one more person answered: the change is theirs
        (range(7), range(8), Status.SUPPRESSED),  # one fewer
        (range(10), range(5), Status.SHOWN),  # five joined: no fewer than k
        (range(5), range(10), Status.SHOWN),
        (range(1, 9), range(8), Status.SUPPRESSED),  # same count, one swapped: both sides isolate one person
        (range(5, 10), range(5), Status.SHOWN),  # everyone changed: 5 joined, 5 left
        (range(12), range(2, 10), Status.SUPPRESSED),  # 4 joined, 0 left
    ],
)
def test_a_change_is_hidden_when_the_people_who_answered_differ_by_fewer_than_k(now, before, expected):
    assert (
        wave_change(Cell(len(now), Status.SHOWN), Cell(len(before), Status.SHOWN), set(now), set(before), 5) == expected
    )


# --- free text (rule 5)


def test_text_is_shown_only_from_the_text_threshold():
    assert not text_visible(9, DEFAULT_TEXT_THRESHOLD)
    assert text_visible(10, DEFAULT_TEXT_THRESHOLD)
    assert text_visible(5, 5)


def test_a_text_threshold_below_the_minimum_k_is_refused():
    with pytest.raises(ValueError, match="at least 3"):
        text_visible(10, 2)


def test_shuffled_texts_drop_blank_answers():
    assert sorted(shuffled_texts(["slow CI", "", "  ", "flaky tests"], b"seed")) == ["flaky tests", "slow CI"]


def test_shuffled_texts_do_not_depend_on_submission_order():
    texts = [f"answer {i}" for i in range(30)]
    shuffled = texts[:]
    random.Random(7).shuffle(shuffled)
    assert shuffled_texts(texts, b"campaign-1") == shuffled_texts(shuffled, b"campaign-1")
    assert shuffled_texts(texts, b"campaign-1") != texts


def test_shuffled_texts_are_stable_for_a_seed_and_differ_between_seeds():
    texts = [f"answer {i}" for i in range(30)]
    assert shuffled_texts(texts, 42) == shuffled_texts(texts, 42)
    assert shuffled_texts(texts, 42) != shuffled_texts(texts, 43)
    assert shuffled_texts(texts, b"a") != shuffled_texts(texts, b"b")


def test_shuffled_texts_keep_every_copy_of_a_repeated_answer():
    assert shuffled_texts(["same", "other", "same"], 1).count("same") == 2


# --- the property: no output reveals a group of 1 ... k-1


def ancestors(team, parents) -> list:
    chain = []
    while (team := parents[team]) is not None:
        chain.append(team)
    return chain


def strictly_inside(y, x, parents) -> bool:
    if y is ORG:
        return False
    return x is ORG or x in ancestors(y, parents)


def nested(a, b, parents) -> bool:
    return strictly_inside(a, b, parents) or strictly_inside(b, a, parents)


def subtractable_sums(x, shown, n, parents) -> set[int]:
    """Every Σ n(S) over sets S of pairwise disjoint shown groups strictly inside x (the empty set included)."""

    def sums(members: set) -> set[int]:
        tops = [y for y in members if not any(strictly_inside(y, z, parents) for z in members)]
        result = {0}
        for top in tops:
            options = {n[top]} | sums({y for y in members if strictly_inside(y, top, parents)})
            result = {a + b for a in result for b in options}
        return result

    return sums({y for y in shown if strictly_inside(y, x, parents)})


def brute_force_sums(x, shown, n, parents) -> set[int]:
    inner = [y for y in shown if strictly_inside(y, x, parents)]
    return {
        sum(n[y] for y in subset)
        for size in range(len(inner) + 1)
        for subset in itertools.combinations(inner, size)
        if not any(nested(a, b, parents) for a, b in itertools.combinations(subset, 2))
    }


@st.composite
def forests(draw, max_teams: int = 25) -> dict[int, int | None]:
    size = draw(st.integers(min_value=1, max_value=max_teams))
    ids = draw(st.lists(st.integers(min_value=1, max_value=999), min_size=size, max_size=size, unique=True))
    parents: dict[int, int | None] = {}
    for i, team in enumerate(ids):
        parent = draw(st.none() | st.integers(min_value=0, max_value=i - 1)) if i else None
        parents[team] = None if parent is None else ids[parent]
    return parents


@st.composite
def campaigns(draw):
    parents = draw(forests())
    k = draw(st.integers(min_value=3, max_value=6))
    invited = {team: draw(st.integers(min_value=0, max_value=12)) for team in parents}
    if sum(invited.values()) < k:
        invited[draw(st.sampled_from(sorted(parents)))] += k
    labels = storage_labels(invited, TeamTree.from_parents(parents), k)
    groups: dict[int | None, int] = {}
    for team, label in labels.items():
        groups[label] = groups.get(label, 0) + invited[team]
    responses = {label: draw(st.integers(min_value=0, max_value=size)) for label, size in groups.items()}
    everything = [ORG, *parents]
    candidates = draw(st.just(everything) | st.lists(st.sampled_from(everything), unique=True))
    return parents, k, invited, labels, groups, responses, candidates


@settings(max_examples=300, deadline=None)
@given(campaigns(), st.randoms(use_true_random=False))
def test_no_output_reveals_a_group_of_1_to_k_minus_1(campaign, rnd):
    parents, k, invited, labels, groups, responses, candidates = campaign

    # (a) storage: every team with invitees has a label, its own or an ancestor's or the org's, and no label's group
    # of invitees is smaller than k.
    assert set(labels) == {team for team, count in invited.items() if count}
    for team, label in labels.items():
        assert label in (team, ORG, *ancestors(team, parents))
        if invited[team] >= k:
            assert label in (team, ORG)
    assert all(size >= k for size in groups.values())

    cells = shown_groups(responses, TeamTree.from_parents(parents), k, candidates)
    assert list(cells) == list(dict.fromkeys(candidates))
    for c, cell in cells.items():
        expected = sum(count for label, count in responses.items() if label == c or strictly_inside(label, c, parents))
        assert cell.n == expected
        if cell.status in (Status.SHOWN, Status.SUPPRESSED):
            assert cell.n >= k  # (b) a shown cell never has fewer than k responses
        else:
            assert cell.status == (Status.NO_DATA if cell.n == 0 else Status.TOO_FEW)
            assert cell.n < k

    # (c) and (d): whatever disjoint shown groups inside a shown group are subtracted from it, the rest is 0 or >= k.
    shown = [c for c, cell in cells.items() if cell.shown]
    n = {c: cells[c].n for c in shown}
    for x in shown:
        sums = subtractable_sums(x, shown, n, parents)
        if sum(1 for y in shown if strictly_inside(y, x, parents)) <= 8:
            assert sums == brute_force_sums(x, shown, n, parents)
        for subtracted in sums:
            assert n[x] - subtracted == 0 or n[x] - subtracted >= k, (x, subtracted)
        for y in shown:
            if strictly_inside(y, x, parents):
                assert n[x] - n[y] == 0 or n[x] - n[y] >= k

    # The decision does not depend on the order a page lists its candidates in.
    reordered = list(dict.fromkeys(candidates))
    rnd.shuffle(reordered)
    assert statuses(shown_groups(responses, TeamTree.from_parents(parents), k, reordered)) == statuses(cells)


@settings(max_examples=300, deadline=None)
@given(
    st.integers(min_value=MIN_K, max_value=8),
    st.sets(st.integers(min_value=0, max_value=40), max_size=30),
    st.sets(st.integers(min_value=0, max_value=40), max_size=30),
    st.sampled_from(Status),
    st.sampled_from(Status),
)
def test_a_shown_change_never_isolates_fewer_than_k_people(k, now, before, now_status, before_status):
    status = wave_change(Cell(len(now), now_status), Cell(len(before), before_status), now, before, k)
    if status == Status.SHOWN:
        # Both figures shown, and whoever answered in one wave and not the other are none or at least k.
        assert now_status == before_status == Status.SHOWN
        assert len(now - before) in (0, *range(k, 100)) and len(before - now) in (0, *range(k, 100))
    else:
        assert status != Status.SHOWN
        assert status in {now_status, before_status} - {Status.SHOWN} or status == Status.SUPPRESSED
    # Only who answered counts, not who they are: renaming people changes nothing.
    renamed = {person + 1000 for person in now}
    assert (
        wave_change(
            Cell(len(now), now_status), Cell(len(before), before_status), renamed, {p + 1000 for p in before}, k
        )
        == status
    )

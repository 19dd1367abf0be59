"""The team tree's pure core (``e360.tree``): built from rows, read without the database."""

from __future__ import annotations

import pytest
from django.template import Context, Template
from hypothesis import given
from hypothesis import strategies as st

from e360.tests.factories import TeamFactory
from e360.tree import PATH_SEPARATOR, TeamTree

# Commerce (1) ─┬─ checkout (2) ── Payments API (4)
#               └─ Basket (3)
# Platform (5) ── Build (6)
ROWS = [
    (1, None, "Commerce", "commerce"),
    (2, 1, "checkout", "checkout"),
    (3, 1, "Basket", "basket"),
    (4, 2, "Payments API", "pay-api"),
    (5, None, "Platform", "platform"),
    (6, 5, "Build", "build"),
]
TREE = TeamTree.from_rows(ROWS)


def test_a_chain_runs_from_the_team_up_to_its_root():
    assert TREE.chain(4) == (4, 2, 1)
    assert TREE.chain(5) == (5,)
    assert TREE.ancestors(4) == (1, 2)
    assert TREE.ancestors(1) == ()


def test_a_team_not_in_the_tree_has_no_chain_and_no_depth():
    assert TREE.chain(99) == ()
    assert 99 not in TREE and 4 in TREE


def test_depth_counts_levels_below_the_organisation():
    assert [TREE.depth(t) for t in (None, 1, 2, 4)] == [0, 1, 2, 3]


def test_children_and_roots_are_listed_by_name_whatever_the_case():
    assert TREE.roots == (1, 5)
    assert TREE.children(1) == (3, 2)  # Basket, checkout
    assert TREE.children(4) == ()


def test_leaves_are_the_teams_without_sub_teams():
    assert TREE.leaves == {3, 4, 6}
    assert TREE.is_leaf(4) and not TREE.is_leaf(1)


def test_a_subtree_holds_the_teams_and_everything_below_them():
    assert TREE.subtree([1]) == {1, 2, 3, 4}
    assert TREE.subtree([2, 6]) == {2, 4, 6}
    assert TREE.subtree([]) == set()


def test_a_closure_adds_every_ancestor_and_leaves_out_the_organisation():
    assert TREE.closure([4, None, 6]) == {1, 2, 4, 5, 6}


def test_the_rendering_order_is_depth_first_by_name():
    assert TREE.indented() == [(1, 0), (3, 1), (2, 1), (4, 2), (5, 0), (6, 1)]


def test_a_listed_team_sits_under_its_nearest_listed_ancestor():
    assert TREE.indented({1, 4, 6}) == [(1, 0), (4, 1), (6, 0)]


def test_a_tree_of_some_teams_has_those_whose_parent_is_missing_as_roots():
    seen = TeamTree.from_rows([row for row in ROWS if row[0] in {2, 4, 6}])
    assert seen.roots == (6, 2)  # Build, checkout
    assert seen.indented() == [(6, 0), (2, 0), (4, 1)]
    assert seen.chain(4) == (4, 2)
    assert seen.label(4) == "checkout › Payments API"  # noqa: RUF001


def test_a_tree_of_some_teams_is_the_one_read_for_them():
    assert TREE.only([2, 4, 6, 99]) == TeamTree.from_rows([row for row in ROWS if row[0] in {2, 4, 6}])
    assert TREE.only([2, 4, 6]).roots == (6, 2)  # their parents are not among them: at the top


def test_a_path_names_the_team_from_the_top():
    assert TREE.path(4) == ("Commerce", "checkout", "Payments API")
    assert TREE.label(4) == PATH_SEPARATOR.join(["Commerce", "checkout", "Payments API"])
    assert TREE.label(4, within={1, 4}) == "Commerce › Payments API"  # noqa: RUF001
    assert TREE.label(4, within=set()) == "Payments API"


def test_a_cycle_ends_the_chain_where_it_closes():
    tree = TeamTree.from_rows([(1, 2, "a", "a"), (2, 1, "b", "b"), (3, None, "c", "c")])
    assert tree.chain(1) == (1, 2)
    assert tree.indented() == [(3, 0)]


def test_a_tree_of_parents_alone_has_their_shape_and_names_its_teams_by_id():
    tree = TeamTree.from_parents({row[0]: row[1] for row in ROWS})
    assert tree.parents == TREE.parents
    assert tree.shape == TREE.shape
    assert (tree.names[4], tree.slugs[4]) == ("4", "4")


def test_json_keeps_the_teams_and_their_ancestors():
    data = TREE.as_json([4, None])
    assert data["parents"] == {"1": None, "2": 1, "4": 2}
    kept = TeamTree.from_json(data)
    assert kept.chain(4) == (4, 2, 1) and kept.names[4] == "Payments API" and kept.slugs[1] == "commerce"
    assert kept.shape == "1:None,2:1,4:2"


class Named:
    def __init__(self, pk, parent_id, name, slug):
        self.pk, self.parent_id, self.name, self.slug = pk, parent_id, name, slug


def test_a_tree_of_loaded_teams_reads_their_fields():
    assert TeamTree.from_teams([Named(*row) for row in ROWS]) == TREE


@pytest.mark.django_db
def test_it_loads_the_whole_tree_in_one_query(django_assert_num_queries):
    root = TeamFactory(name="Root")
    child = TeamFactory(name="Child", parent=root)
    with django_assert_num_queries(1):
        tree = TeamTree.load()
    assert tree.chain(child.pk) == (child.pk, root.pk) and tree.slugs[child.pk] == child.slug


@pytest.mark.django_db
def test_a_request_loads_the_tree_once(django_assert_num_queries):
    class Viewer:
        pass

    viewer = Viewer()
    with django_assert_num_queries(1):
        assert TeamTree.for_user(viewer) is TeamTree.for_user(viewer)


# --- invariants, over random trees


@st.composite
def trees(draw) -> TeamTree:
    """A random forest: each team's parent is an earlier team or none; names repeat and differ in case."""
    size = draw(st.integers(0, 25))
    rows = []
    for team in range(1, size + 1):
        parent = draw(st.one_of(st.none(), st.integers(1, team - 1))) if team > 1 else None
        name = draw(st.sampled_from(["a", "A", "b", "B", "c"]))
        rows.append((team, parent, name, f"t{team}"))
    return TeamTree.from_rows(rows)


@given(trees())
def test_every_team_appears_once_in_rendering_order(tree):
    order = [team for team, _ in tree.indented()]
    assert sorted(order) == sorted(tree)


@given(trees())
def test_a_team_is_listed_after_its_parent_one_level_in(tree):
    position = {team: i for i, (team, _) in enumerate(tree.indented())}
    indent = dict(tree.indented())
    for team in tree:
        parent = tree.parents[team]
        if parent is None:
            assert indent[team] == 0
        else:
            assert position[parent] < position[team] and indent[team] == indent[parent] + 1


@given(trees(), st.data())
def test_a_subset_is_listed_in_the_whole_tree_s_order(tree, data):
    listed = data.draw(st.sets(st.sampled_from(sorted(tree)))) if len(tree) else set()
    order = [team for team, _ in tree.indented()]
    rows = tree.indented(listed)
    assert [team for team, _ in rows] == [team for team in order if team in listed]
    for team, indent in rows:
        assert indent == len([a for a in tree.ancestors(team) if a in listed])
        assert len(tree.path(team, listed)) == indent + 1


@given(trees())
def test_a_subtree_is_exactly_the_teams_whose_chain_contains_the_root(tree):
    for root in tree:
        assert tree.subtree([root]) == {team for team in tree if root in tree.chain(team)}


@given(trees())
def test_depth_is_one_more_than_the_parent_s_and_leaves_have_no_children(tree):
    for team in tree:
        parent = tree.parents[team]
        assert tree.depth(team) == tree.depth(parent) + 1
        assert (team in tree.leaves) == all(tree.parents[t] != team for t in tree)
        assert list(tree.children(team)) == sorted(
            (t for t in tree if tree.parents[t] == team), key=lambda t: (tree.names[t].casefold(), t)
        )


@given(trees())
def test_a_tree_survives_json_whole(tree):
    assert TeamTree.from_json(tree.as_json(tree)) == tree


def test_every_indented_tree_indents_with_one_filter():
    rendered = Template("{% load team_tree %}{% for d in depths %}{{ d|tree_indent }};{% endfor %}")
    classes = rendered.render(Context({"depths": [0, 2, 9, -1]})).split(";")[:-1]
    assert classes == [f"tree-indent tree-indent--{n}" for n in (0, 2, 6, 0)]  # deeper levels share the deepest

"""The rule of a threshold (``actions/crossings.py``): once per crossing, recovery, cooldown, no data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from actions.crossings import Comparison, Kind, Point, Rule, State, run, step

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def points(*values: float | None, every: timedelta = timedelta(days=1)) -> list[Point]:
    return [Point(T0 + n * every, value) for n, value in enumerate(values)]


def kinds(rule: Rule, *values: float | None) -> list[tuple[int, Kind]]:
    _, changes = run(rule, points(*values))
    return [((change.at - T0).days, change.kind) for change in changes]


def test_it_fires_once_per_crossing_and_again_only_after_recovering():
    rule = Rule(Comparison.GT, 20)
    assert kinds(rule, 10, 25, 30, 40, 15, 22) == [
        (1, Kind.CROSSED),
        (4, Kind.RECOVERED),
        (5, Kind.CROSSED),
    ]


def test_each_comparison_breaches_as_written():
    assert Comparison.GT.holds(21, 20) and not Comparison.GT.holds(20, 20)
    assert Comparison.GTE.holds(20, 20) and not Comparison.GTE.holds(19.9, 20)
    assert Comparison.LT.holds(19, 20) and not Comparison.LT.holds(20, 20)
    assert Comparison.LTE.holds(20, 20) and not Comparison.LTE.holds(20.1, 20)


def test_a_lower_is_worse_metric_fires_when_it_falls():
    rule = Rule(Comparison.LT, 60)  # % favourable below 60
    assert kinds(rule, 70, 55, 50, 65) == [(1, Kind.CROSSED), (3, Kind.RECOVERED)]


def test_no_value_neither_crosses_nor_recovers():
    rule = Rule(Comparison.GT, 20)
    assert kinds(rule, None, 30, None, None, 30, 10, None) == [(1, Kind.CROSSED), (5, Kind.RECOVERED)]


def test_a_crossing_within_the_cooldown_waits_for_its_end():
    rule = Rule(Comparison.GT, 20, cooldown=timedelta(days=3))
    # Fires on day 1, recovers on day 2; breaches again on day 3 (2 days after firing: held back), still on day 4
    # (3 days after: fires).
    assert kinds(rule, 10, 30, 10, 30, 30, 30) == [(1, Kind.CROSSED), (2, Kind.RECOVERED), (4, Kind.CROSSED)]


def test_a_breach_that_ends_within_the_cooldown_never_fires():
    rule = Rule(Comparison.GT, 20, cooldown=timedelta(days=3))
    assert kinds(rule, 30, 10, 30, 10, 10) == [(0, Kind.CROSSED), (1, Kind.RECOVERED)]


def test_a_stored_state_carries_over_between_evaluations():
    rule = Rule(Comparison.GT, 20, cooldown=timedelta(hours=1))
    state, change = step(rule, State(), Point(T0, 30))
    assert change is not None and change.kind == Kind.CROSSED and state == State(True, T0)
    # The next tick still breaches: nothing.
    assert step(rule, state, Point(T0 + timedelta(minutes=15), 35)) == (state, None)


# --- Invariants -----------------------------------------------------------------------------------------------------

values = st.lists(st.one_of(st.none(), st.floats(min_value=-100, max_value=100)), max_size=60)
rules = st.builds(
    Rule,
    st.sampled_from(list(Comparison)),
    st.floats(min_value=-100, max_value=100),
    st.integers(min_value=0, max_value=96).map(lambda hours: timedelta(hours=hours)),
)
gaps = st.sampled_from([timedelta(minutes=15), timedelta(hours=6), timedelta(days=1)])


@given(rules, values, gaps)
def test_crossings_and_recoveries_alternate_starting_with_a_crossing(rule, series, every):
    _, changes = run(rule, points(*series, every=every))
    expected = [Kind.CROSSED, Kind.RECOVERED] * len(changes)
    assert [change.kind for change in changes] == expected[: len(changes)]


@given(rules, values, gaps)
def test_two_crossings_are_never_closer_than_the_cooldown(rule, series, every):
    _, changes = run(rule, points(*series, every=every))
    crossed = [change.at for change in changes if change.kind == Kind.CROSSED]
    assert all(later - earlier >= rule.cooldown for earlier, later in pairwise(crossed))


@given(rules, values, gaps)
def test_a_crossing_is_a_breach_and_a_recovery_is_not(rule, series, every):
    final, changes = run(rule, points(*series, every=every))
    for change in changes:
        assert rule.breaches(change.value) == (change.kind == Kind.CROSSED)
    assert final.firing == bool(changes and changes[-1].kind == Kind.CROSSED)


@given(rules, values, values, gaps)
def test_evaluating_one_point_at_a_time_from_the_stored_state_is_the_same_as_a_run(rule, first, second, every):
    """What the schedule does (a step per tick, the state stored between) is what the backtest computes at once."""
    series = points(*first, *second, every=every)
    state, changes = run(rule, series[: len(first)])
    for point in series[len(first) :]:
        state, change = step(rule, state, point)
        changes += [change] if change else []
    assert (state, changes) == run(rule, series)

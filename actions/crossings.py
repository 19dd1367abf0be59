"""When a threshold fires: crossings and recoveries of a series of values, with hysteresis and a cooldown.

Pure (no Django): the scheduled evaluation feeds it one new value at a time, with the state stored on the
threshold; the backtest feeds it the last 90 days' values from a blank state. The same function decides both, so
the backtest says what the schedule would have done, sampled once a day.

The rules, for each point in time order:

1. A value *breaches* when it compares with the threshold's value as the rule says (``>``, ``>=``, ``<``, ``<=``).
   No value (no data in the window, a survey group below k) neither breaches nor recovers: the state is kept.
2. A rule that is not firing **crosses** on a breaching value — once per crossing: while it is firing, further
   breaching values say nothing (hysteresis).
3. A firing rule **recovers** on the first value that does not breach.
4. **Cooldown**: a crossing less than ``cooldown`` after the previous crossing is held back; the rule stays
   quiet and crosses at the first breaching value once the cooldown is over (if the value still breaches).

So crossings and recoveries alternate, starting with a crossing from a quiet state, and two crossings are at
least ``cooldown`` apart.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum


class Comparison(StrEnum):
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"

    @property
    def symbol(self) -> str:
        return _SYMBOLS[self]

    def holds(self, value: float, limit: float) -> bool:
        return _OPERATORS[self](value, limit)


_SYMBOLS = {Comparison.GT: ">", Comparison.GTE: "≥", Comparison.LT: "<", Comparison.LTE: "≤"}
_OPERATORS: dict[Comparison, Callable[[float, float], bool]] = {
    Comparison.GT: operator.gt,
    Comparison.GTE: operator.ge,
    Comparison.LT: operator.lt,
    Comparison.LTE: operator.le,
}


class Kind(StrEnum):
    CROSSED = "crossed"
    RECOVERED = "recovered"


@dataclass(frozen=True)
class Rule:
    comparison: Comparison
    value: float
    cooldown: timedelta = timedelta(0)

    def breaches(self, value: float | None) -> bool:
        return value is not None and self.comparison.holds(value, self.value)


@dataclass(frozen=True)
class State:
    """Where a rule stands: firing or not, and when it last crossed (for the cooldown)."""

    firing: bool = False
    crossed_at: datetime | None = None


@dataclass(frozen=True)
class Point:
    at: datetime
    value: float | None


@dataclass(frozen=True)
class Change:
    kind: Kind
    at: datetime
    value: float


def step(rule: Rule, state: State, point: Point) -> tuple[State, Change | None]:
    """One evaluation: the new state, and the crossing or recovery it makes, if any (the rules above)."""
    value = point.value
    if value is None:
        return state, None
    if state.firing:
        if rule.breaches(value):
            return state, None
        return replace(state, firing=False), Change(Kind.RECOVERED, point.at, value)
    if not rule.breaches(value):
        return state, None
    if state.crossed_at is not None and point.at - state.crossed_at < rule.cooldown:
        return state, None
    return State(firing=True, crossed_at=point.at), Change(Kind.CROSSED, point.at, value)


def run(rule: Rule, points: Iterable[Point], state: State | None = None) -> tuple[State, list[Change]]:
    """Every crossing and recovery of ``points`` (in time order) from ``state`` (default: quiet, never crossed)."""
    current = state or State()
    changes = []
    for point in points:
        current, change = step(rule, current, point)
        if change is not None:
            changes.append(change)
    return current, changes

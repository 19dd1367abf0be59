"""Business time: how much of a span falls in a team's working time, and the instant N business hours
before or after another (review reminders; later, automations' "waiting longer than N business hours").

**Working time** (``WorkingTime``) is a time zone, the ISO weekdays worked and the working day's start
and end as wall-clock times, as the catalog stores them on a team (``Team.time_zone``,
``working_days``, ``work_starts``, ``work_ends``).

**A working day is one interval**: on each local date whose ISO weekday is worked, from the first
instant at which the wall clock reads ``starts`` (or later) to the first instant at which it reads
``ends`` (or later). That one rule settles the days clocks change:

- a wall-clock time in a **gap** (spring forward: Paris skips 02:00-03:00) is never read; the first
  instant the clock reads it or later is the jump itself, so a day starting at 02:30 starts at 03:00
  and is an hour shorter, like every day the gap falls inside;
- a wall-clock time in a **fold** (fall back: 02:00-03:00 happens twice) counts from its first
  occurrence, and the day is one interval through the repeated hour: a day from 01:00 to 09:00 is
  nine hours long that night, as long as the people at work are there;
- a date a zone skips altogether (Samoa's 30 December 2011) has an empty interval.

Zones without DST have every working day ``ends - starts`` long.

Every instant given must be aware (any zone); instants returned are in UTC. The functions are exact
to the microsecond (``timedelta`` arithmetic), so their laws hold exactly, and
``actions/tests/test_business_hours.py`` checks them with hypothesis:

- ``between(wt, a, c) == between(wt, a, b) + between(wt, b, c)`` for any three instants
  (``between`` is signed: ``between(wt, b, a) == -between(wt, a, b)``);
- ``0 <= between(wt, a, b) <= b - a`` when ``a <= b``, and it grows with ``b``;
- it is zero over a span with no working instant;
- ``between(wt, t, after(wt, t, d)) == d``, and ``after`` is the earliest such instant;
- ``between(wt, before(wt, t, d), t) == d``, and ``before`` is the latest such instant.

So "at least N business hours have passed since ``opened``" is ``opened <= before(wt, now, N)``: one
instant per team, compared with each pull request's opening in the database.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo

ZERO = timedelta(0)
DAY = timedelta(days=1)
# A week always holds a working day (``WorkingTime`` refuses an empty week), but a zone may skip a
# date or a DST gap may swallow a short day: past this many days without working time, there is none.
_EMPTY_DAYS_LIMIT = 28


@dataclass(frozen=True)
class WorkingTime:
    """When a team works: ISO weekdays ``days`` (1 Monday … 7 Sunday), from ``starts`` to ``ends``
    (wall-clock times, ``starts < ends``) in the time zone ``zone``."""

    zone: tzinfo
    days: frozenset[int]
    starts: time
    ends: time

    def __post_init__(self) -> None:
        if not self.days or any(type(day) is not int or not 1 <= day <= 7 for day in self.days):
            raise ValueError(f"working days must be ISO weekdays 1-7, at least one: {sorted(self.days)!r}")
        if self.starts.tzinfo is not None or self.ends.tzinfo is not None:
            raise ValueError("the working day's start and end are wall-clock times, without a zone")
        if self.starts >= self.ends:
            raise ValueError(f"the working day must end after it starts: {self.starts} to {self.ends}")

    @classmethod
    def of(cls, time_zone: str, days: Collection[int], starts: time, ends: time) -> WorkingTime:
        """From a team's fields (``Team.time_zone`` an IANA name); ``ValueError`` for an unknown zone."""
        try:
            zone = ZoneInfo(time_zone)
        except (ValueError, KeyError) as exc:  # ZoneInfoNotFoundError is a KeyError
            raise ValueError(f"unknown time zone {time_zone!r}") from exc
        return cls(zone, frozenset(days), starts, ends)

    @property
    def nominal_day(self) -> timedelta:
        """A working day's length when no clock change touches it."""
        return datetime.combine(date.min, self.ends) - datetime.combine(date.min, self.starts)


def _aware(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, got {moment!r}")
    return moment.astimezone(UTC)


def first_reading(zone: tzinfo, day: date, clock: time) -> datetime:
    """The first instant (UTC) at which the wall clock of ``zone`` reads ``day`` at ``clock`` or later.

    A time that exists is its first occurrence (``fold=0``, PEP 495); a time in a gap is the
    instant the clocks jump over it, found by bisection to the second between its two readings
    (the offsets before and after the jump), which bracket the one transition."""
    wall = datetime.combine(day, clock)
    early = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if early.astimezone(zone).replace(tzinfo=None) == wall:
        return early
    # In a gap, fold=0 reads the time with the offset before the jump (an instant after it), fold=1
    # with the offset after it (an instant before it). Invariant: lo reads earlier than wall, hi not.
    late_reading = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    lo, hi = min(early, late_reading), max(early, late_reading)
    lo = lo.replace(microsecond=0)
    hi = hi.replace(microsecond=0) + (timedelta(seconds=1) if hi.microsecond else ZERO)
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) // 2
        mid = mid.replace(microsecond=0)
        if mid.astimezone(zone).replace(tzinfo=None) >= wall:
            hi = mid
        else:
            lo = mid
    return hi


# Pull requests of one team share its calendar: a selection measures the same days over and over.
# The cache holds (working time, date) → interval, a few hundred bytes each: some 10 MB when full.
@lru_cache(maxsize=1 << 15)
def working_day(wt: WorkingTime, day: date) -> tuple[datetime, datetime] | None:
    """The working interval of local date ``day`` (UTC, half-open), None when ``day`` is not worked.
    It may be empty (both ends the same instant) when a gap swallows it."""
    if day.isoweekday() not in wt.days:
        return None
    return first_reading(wt.zone, day, wt.starts), first_reading(wt.zone, day, wt.ends)


def _local_date(wt: WorkingTime, moment: datetime) -> date:
    return moment.astimezone(wt.zone).date()


def intervals(wt: WorkingTime, start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
    """The working intervals within ``[start, end)``, clipped, in order (UTC; none empty)."""
    start, end = _aware(start, "start"), _aware(end, "end")
    if end <= start:
        return
    # A date's interval lies within its own wall-clock day; a day's margin each side is ample.
    day, last = _local_date(wt, start) - DAY, _local_date(wt, end) + DAY
    while day <= last:
        interval = working_day(wt, day)
        if interval is not None:
            lo, hi = max(interval[0], start), min(interval[1], end)
            if lo < hi:
                yield lo, hi
        day += DAY


def between(wt: WorkingTime, start: datetime, end: datetime) -> timedelta:
    """Business time from ``start`` to ``end``: negative when ``end`` comes first."""
    if _aware(end, "end") < _aware(start, "start"):
        return -between(wt, end, start)
    total = ZERO
    for lo, hi in intervals(wt, start, end):
        total += hi - lo
    return total


def is_working(wt: WorkingTime, moment: datetime) -> bool:
    """Whether ``moment`` falls in a working interval (its start included, its end not)."""
    moment = _aware(moment, "moment")
    day = _local_date(wt, moment)
    for candidate in (day - DAY, day, day + DAY):
        interval = working_day(wt, candidate)
        if interval is not None and interval[0] <= moment < interval[1]:
            return True
    return False


def after(wt: WorkingTime, moment: datetime, amount: timedelta) -> datetime:
    """The earliest instant ``e >= moment`` with ``between(wt, moment, e) == amount`` (``amount >= 0``)."""
    moment = _aware(moment, "moment")
    if amount < ZERO:
        raise ValueError(f"amount must not be negative: {amount}")
    if amount == ZERO:
        return moment
    remaining, day, empty = amount, _local_date(wt, moment) - DAY, 0
    while True:
        interval = working_day(wt, day)
        if interval is not None and interval[1] > moment and interval[0] < interval[1]:
            empty = 0
            lo = max(interval[0], moment)
            if remaining <= interval[1] - lo:
                return lo + remaining
            remaining -= interval[1] - lo
        else:
            empty += 1
            if empty > _EMPTY_DAYS_LIMIT:
                raise ValueError("this working time has no working instant")
        day += DAY


def before(wt: WorkingTime, moment: datetime, amount: timedelta) -> datetime:
    """The latest instant ``s <= moment`` with ``between(wt, s, moment) == amount`` (``amount >= 0``)."""
    moment = _aware(moment, "moment")
    if amount < ZERO:
        raise ValueError(f"amount must not be negative: {amount}")
    if amount == ZERO:
        return moment
    remaining, day, empty = amount, _local_date(wt, moment) + DAY, 0
    while True:
        interval = working_day(wt, day)
        if interval is not None and interval[0] < moment and interval[0] < interval[1]:
            empty = 0
            hi = min(interval[1], moment)
            if remaining <= hi - interval[0]:
                return hi - remaining
            remaining -= hi - interval[0]
        else:
            empty += 1
            if empty > _EMPTY_DAYS_LIMIT:
                raise ValueError("this working time has no working instant")
        day -= DAY

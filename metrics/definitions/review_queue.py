"""The review queue by age: how long open pull requests have waited for a first review, in buckets.

A pull request waits from the moment it was opened until its first review or comment by
someone else, its merge or its close (``review.waiting_for_review``). The buckets cut the
waiting time at a few hours, at ``Profile.review_wait`` (24 h: the line past which a pull
request counts as waiting "longer than 24 h", docs/metrics.md#code-review-health) and at a few days, so every
bucket lies wholly on one side of that line and the late buckets add up to the queue that
``review.waiting_for_review`` lists.

Standard library only, like the rest of ``metrics.definitions`` (import it from this module:
the package does not re-export it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

# Where the buckets are cut besides the review_wait line: soon after opening, and days late.
DEFAULT_CUTS: tuple[timedelta, ...] = (timedelta(hours=4), timedelta(days=3))
_DAY = timedelta(days=1)


@dataclass(frozen=True)
class AgeBucket:
    """Waiting times from ``start`` (included) to ``end`` (excluded; None: no end).

    The first bucket also holds negative ages (an opening time after now: clocks lie).
    ``late``: every wait in it is at least the profile's ``review_wait``.
    """

    key: str
    label: str
    start: timedelta
    end: timedelta | None
    late: bool

    def holds(self, age: timedelta) -> bool:
        return (age >= self.start or self.start == timedelta(0)) and (self.end is None or age < self.end)


def age_buckets(review_wait: timedelta, cuts: Sequence[timedelta] = DEFAULT_CUTS) -> tuple[AgeBucket, ...]:
    """Buckets cut at ``cuts`` and at ``review_wait``, from the shortest wait to the longest.

    With the defaults: under 4 h, 4–24 h, 1–3 days, 3 days or more; the last two are late.
    """
    if review_wait <= timedelta(0):
        raise ValueError("review_wait must be positive")
    edges = sorted({cut for cut in cuts if cut > timedelta(0)} | {review_wait})
    bounds = list(zip([timedelta(0), *edges], [*edges, None], strict=True))
    return tuple(
        AgeBucket(key=_key(start, end), label=_label(start, end), start=start, end=end, late=start >= review_wait)
        for start, end in bounds
    )


def bucket_of(age: timedelta, buckets: Sequence[AgeBucket]) -> AgeBucket:
    """The bucket a waiting time falls in (``buckets`` from ``age_buckets``)."""
    for bucket in buckets:
        if bucket.holds(age):
            return bucket
    raise ValueError(f"no bucket holds {age}")


def _in_days(value: timedelta) -> bool:
    return value >= _DAY and value % _DAY == timedelta(0)


def _amount(value: timedelta, unit: str) -> str:
    number = value / (_DAY if unit == "days" else timedelta(hours=1))
    return f"{number:g}"


def _unit(*values: timedelta) -> str:
    """Days when every bound is a whole number of days, else hours."""
    return "days" if all(_in_days(v) for v in values) else "h"


def _label(start: timedelta, end: timedelta | None) -> str:
    if start == timedelta(0):
        assert end is not None
        unit = _unit(end)
        return f"under {_amount(end, unit)} {'day' if unit == 'days' and end == _DAY else unit}"
    if end is None:
        unit = _unit(start)
        return f"{_amount(start, unit)} {'day' if unit == 'days' and start == _DAY else unit} or more"
    unit = _unit(start, end)
    return f"{_amount(start, unit)}–{_amount(end, unit)} {unit}"


def _key(start: timedelta, end: timedelta | None) -> str:
    """A short name for URLs: ``0-4h``, ``4h-24h``, ``24h-72h``, ``72h-``."""

    def hours(value: timedelta) -> str:
        return f"{value / timedelta(hours=1):g}h"

    return f"{'0' if start == timedelta(0) else hours(start)}-{'' if end is None else hours(end)}"

"""Time in the demo: epoch seconds, working hours, and the text a time is stored as.

The simulation counts in whole epoch seconds (``DAY``, ``HOUR``, ``MINUTE``),
which are cheap to add and compare; it opens pull requests at office-like
times of day (``OPENING``) and moves work into working hours (``office_hours``).
The rows it hands on hold whatever ``when`` makes of a time: aware datetimes
by default (``as_datetime``), or the text the database stores (``timestamp_text``),
which the writers use because it costs a fraction of a datetime.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime

DAY = 86_400
HOUR = 3_600
MINUTE = 60


# When in the day pull requests are opened: a triangle from 07:30 to 19:30, peaking at 13:00.
OPENING = [
    int(HOUR * (7.5 + math.sqrt(u * 12 * 5.5) if u < 5.5 / 12 else 19.5 - math.sqrt((1 - u) * 12 * 6.5)))
    for u in ((i + 0.5) / 1024 for i in range(1024))
]


def office_hours(ts: int) -> int:
    """``ts`` if it falls in working hours (Monday to Friday, 08:00 to 19:00 UTC), else the next working morning."""
    day, second = divmod(ts, DAY)
    weekday = (day + 3) % 7  # 1970-01-01 was a Thursday
    if second >= 19 * HOUR:
        day, weekday, second = day + 1, (weekday + 1) % 7, 0
    if weekday >= 5:
        day, second = day + 7 - weekday, 0
    if second < 8 * HOUR:
        second = 8 * HOUR + ts % HOUR  # spread over the first hour, deterministically
    return day * DAY + second


def as_datetime(ts: int | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


def timestamp_text(zone: str) -> Callable[[int | None], str | None]:
    """Epoch seconds → the text a UTC time is stored as (``zone`` is appended: "+00" for PostgreSQL).

    A string built from two cached parts costs a fraction of a datetime, and
    the large build writes tens of millions of times.
    """
    clock = [f"{h:02d}:{m:02d}:{s:02d}{zone}" for h in range(24) for m in range(60) for s in range(60)]
    dates: dict[int, str] = {}

    def text(ts: int | None) -> str | None:
        if ts is None:
            return None
        day = ts // DAY
        date = dates.get(day)
        if date is None:
            date = dates[day] = datetime.fromtimestamp(day * DAY, UTC).strftime("%Y-%m-%d ")
        return date + clock[ts - day * DAY]

    return text

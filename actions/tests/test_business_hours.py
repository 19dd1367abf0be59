"""``actions.business_hours``: the laws of its docstring (hypothesis) and the days clocks change."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actions import business_hours as bh
from actions.business_hours import WorkingTime

H = timedelta(hours=1)
WEEKDAYS = range(1, 6)

# With and without DST, both hemispheres, half-hour offsets and a 30-minute DST (Lord Howe), a zone
# that skipped a whole day (Apia, 30 December 2011), and one that works Sunday to Thursday (Dubai).
ZONES = [
    "UTC",
    "Europe/Paris",
    "Europe/London",
    "America/New_York",
    "America/St_Johns",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "Asia/Tokyo",
    "Asia/Dubai",
    "Pacific/Apia",
]


@st.composite
def working_times(draw: st.DrawFn) -> WorkingTime:
    zone = draw(st.sampled_from(ZONES))
    days = draw(st.frozensets(st.integers(1, 7), min_size=1))
    # Minutes of the day, often around 01:00-03:30 where clocks change.
    minute = st.one_of(st.integers(0, 24 * 60 - 1), st.integers(60, 210))
    starts, ends = sorted(draw(st.lists(minute, min_size=2, max_size=2, unique=True)))
    return WorkingTime.of(zone, days, time(starts // 60, starts % 60), time(ends // 60, ends % 60))


# Instants to the second over years with every kind of clock change, often near one.
instants = st.one_of(
    st.datetimes(datetime(2010, 1, 1), datetime(2030, 1, 1)),
    st.sampled_from(
        [
            datetime(2026, 3, 29, 1),  # Europe springs forward
            datetime(2026, 10, 25, 1),  # and falls back
            datetime(2026, 3, 8, 7),  # New York
            datetime(2026, 11, 1, 6),
            datetime(2026, 4, 4, 16),  # Sydney falls back
            datetime(2026, 10, 3, 16),  # and springs forward
            datetime(2011, 12, 29, 10),  # Apia skips a day
        ]
    ).flatmap(lambda t: st.integers(-3 * 86400, 3 * 86400).map(lambda s: t + timedelta(seconds=s))),
).map(lambda t: t.replace(microsecond=0, tzinfo=UTC))
amounts = st.integers(0, 200 * 3600).map(lambda s: timedelta(seconds=s))


@given(working_times(), instants, instants, instants)
def test_business_time_adds_up_over_any_three_instants(wt, a, b, c):
    assert bh.between(wt, a, c) == bh.between(wt, a, b) + bh.between(wt, b, c)


@given(working_times(), instants, instants)
def test_business_time_is_signed_and_never_more_than_the_wall_time(wt, a, b):
    a, b = min(a, b), max(a, b)
    assert bh.between(wt, a, b) >= timedelta(0)
    assert bh.between(wt, a, b) <= b - a
    assert bh.between(wt, b, a) == -bh.between(wt, a, b)


@given(working_times(), instants, instants, instants)
def test_business_time_grows_with_the_end(wt, a, b, c):
    a, b, c = sorted((a, b, c))
    assert bh.between(wt, a, b) <= bh.between(wt, a, c)


@given(working_times(), instants)
def test_a_second_counts_exactly_when_it_is_working_time(wt, t):
    second = bh.between(wt, t, t + timedelta(seconds=1))
    assert second == (timedelta(seconds=1) if bh.is_working(wt, t) else timedelta(0))


@given(working_times(), instants)
def test_a_day_not_worked_counts_nothing(wt, t):
    day = t.astimezone(wt.zone).date()
    if day.isoweekday() in wt.days:
        return
    midnight = datetime.combine(day, time(0), tzinfo=wt.zone)
    assert bh.between(wt, midnight, midnight + timedelta(hours=22)) == timedelta(0)


@given(working_times(), instants, amounts)
def test_adding_business_time_then_measuring_gives_it_back(wt, t, amount):
    end = bh.after(wt, t, amount)
    assert end >= t
    assert bh.between(wt, t, end) == amount
    if amount:  # the earliest: a second sooner falls short
        assert bh.between(wt, t, end - timedelta(seconds=1)) < amount


@given(working_times(), instants, amounts)
def test_going_back_by_business_time_then_measuring_gives_it_back(wt, t, amount):
    start = bh.before(wt, t, amount)
    assert start <= t
    assert bh.between(wt, start, t) == amount
    if amount:  # the latest: a second later falls short
        assert bh.between(wt, start + timedelta(seconds=1), t) < amount


@given(working_times(), instants, amounts, instants)
def test_waiting_long_enough_is_a_comparison_with_one_instant(wt, now, amount, opened):
    """What the reminders rely on: ``between(opened, now) >= N`` exactly when ``opened <= before(now, N)``."""
    opened = min(opened, now)
    assert (bh.between(wt, opened, now) >= amount) == (opened <= bh.before(wt, now, amount))


@given(working_times(), instants)
def test_a_working_day_is_one_interval_of_its_own_date(wt, t):
    day = t.astimezone(wt.zone).date()
    interval = bh.working_day(wt, day)
    if interval is None:
        assert day.isoweekday() not in wt.days
        return
    start, end = interval
    assert start <= end
    assert start.astimezone(wt.zone).date() in (day, day + timedelta(days=1))  # the next only if a gap ate the day


# --- The days clocks change ------------------------------------------------------------------------


def paris(days=range(1, 8), starts=time(9), ends=time(17)) -> WorkingTime:
    return WorkingTime.of("Europe/Paris", days, starts, ends)


def local(zone: str, *args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(zone), fold=fold)


def day_length(wt: WorkingTime, day: date) -> timedelta:
    interval = bh.working_day(wt, day)
    assert interval is not None
    return interval[1] - interval[0]


@pytest.mark.parametrize(
    ("zone", "spring", "autumn"),
    [
        ("Europe/Paris", date(2026, 3, 29), date(2026, 10, 25)),
        ("America/New_York", date(2026, 3, 8), date(2026, 11, 1)),
        ("Australia/Sydney", date(2026, 10, 4), date(2026, 4, 5)),
    ],
)
def test_a_night_shift_is_an_hour_shorter_when_clocks_spring_forward_and_longer_when_they_fall_back(
    zone, spring, autumn
):
    wt = WorkingTime.of(zone, range(1, 8), time(1), time(9))
    assert day_length(wt, spring) == 7 * H
    assert day_length(wt, autumn) == 9 * H
    assert day_length(wt, spring - timedelta(days=1)) == 8 * H
    # Office hours are not touched by a change at night.
    office = WorkingTime.of(zone, range(1, 8), time(9), time(17))
    assert day_length(office, spring) == day_length(office, autumn) == 8 * H


def test_a_day_starting_in_the_spring_gap_starts_when_the_clocks_jump():
    wt = paris(starts=time(2, 30), ends=time(10))
    start, end = bh.working_day(wt, date(2026, 3, 29))
    assert start == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # 02:00 CET became 03:00 CEST
    assert start.astimezone(wt.zone).time() == time(3)
    assert end == local("Europe/Paris", 2026, 3, 29, 10)
    assert end - start == 7 * H


def test_a_day_starting_in_the_autumn_fold_starts_at_its_first_occurrence():
    wt = paris(starts=time(2, 30), ends=time(10))
    start, end = bh.working_day(wt, date(2026, 10, 25))
    # (An ambiguous local time never compares equal across zones, PEP 495: compare in UTC.)
    assert start == local("Europe/Paris", 2026, 10, 25, 2, 30, fold=0).astimezone(UTC)
    assert start == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert end - start == 8.5 * H  # 7.5 hours on the clock, and the repeated hour
    # The repeated hour is working time both times round.
    assert bh.is_working(wt, local("Europe/Paris", 2026, 10, 25, 2, 15, fold=1))


def test_a_day_ending_in_the_spring_gap_ends_when_the_clocks_jump():
    wt = WorkingTime.of("America/New_York", range(1, 8), time(0, 30), time(2, 30))
    start, end = bh.working_day(wt, date(2026, 3, 8))
    assert end == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)  # 02:00 EST became 03:00 EDT
    assert end - start == 1.5 * H


def test_a_day_inside_the_gap_is_empty():
    wt = paris(starts=time(2, 10), ends=time(2, 50))
    start, end = bh.working_day(wt, date(2026, 3, 29))
    assert start == end
    monday = local("Europe/Paris", 2026, 3, 30, 2, 10)
    assert bh.after(wt, local("Europe/Paris", 2026, 3, 29, 0), 10 * timedelta(minutes=1)) == monday + 10 * timedelta(
        minutes=1
    )


def test_a_skipped_date_has_no_working_time():
    wt = WorkingTime.of("Pacific/Apia", range(1, 8), time(9), time(17))
    start, end = bh.working_day(wt, date(2011, 12, 30))
    assert start == end
    thursday = local("Pacific/Apia", 2011, 12, 29, 12)
    assert bh.after(wt, thursday, 8 * H) == local("Pacific/Apia", 2011, 12, 31, 12)


def test_a_weekend_is_skipped_over_a_dst_change():
    wt = paris(WEEKDAYS)
    friday = local("Europe/Paris", 2026, 3, 27, 16)  # CET
    monday = local("Europe/Paris", 2026, 3, 30, 10)  # CEST
    assert bh.after(wt, friday, 2 * H) == monday
    assert bh.before(wt, monday, 2 * H) == friday
    assert bh.between(wt, friday, monday) == 2 * H
    assert monday.astimezone(UTC) - friday == 65 * H  # 66 hours on the clocks, one of them skipped


def test_a_week_of_office_hours_is_forty_hours_in_any_week_of_the_year():
    for zone in ("Europe/Paris", "America/New_York", "Australia/Sydney", "Asia/Kolkata"):
        wt = WorkingTime.of(zone, WEEKDAYS, time(9), time(17))
        for monday in (date(2026, 3, 23), date(2026, 3, 30), date(2026, 10, 26), date(2026, 10, 5)):
            start = datetime.combine(monday, time(0), tzinfo=wt.zone)
            assert bh.between(wt, start, start + timedelta(days=7)) == 40 * H


def test_zones_without_dst_keep_every_day_the_same():
    for zone, starts in (("Asia/Kolkata", time(9, 30)), ("UTC", time(8)), ("Asia/Tokyo", time(10))):
        wt = WorkingTime.of(zone, range(1, 8), starts, time(18))
        lengths = {day_length(wt, date(2026, 1, 1) + timedelta(days=n)) for n in range(365)}
        assert lengths == {wt.nominal_day}


def test_a_sunday_to_thursday_week():
    wt = WorkingTime.of("Asia/Dubai", (7, 1, 2, 3, 4), time(8), time(16))
    thursday = local("Asia/Dubai", 2026, 1, 8, 15)
    assert bh.after(wt, thursday, 2 * H) == local("Asia/Dubai", 2026, 1, 11, 9)  # Sunday


def test_half_hour_dst_on_lord_howe():
    wt = WorkingTime.of("Australia/Lord_Howe", range(1, 8), time(1), time(9))
    assert day_length(wt, date(2026, 10, 4)) == 7.5 * H
    assert day_length(wt, date(2026, 4, 5)) == 8.5 * H


def test_an_instant_outside_working_time_counts_from_the_next_day():
    wt = paris(WEEKDAYS)
    saturday = local("Europe/Paris", 2026, 5, 2, 11)
    assert not bh.is_working(wt, saturday)
    assert bh.after(wt, saturday, H) == local("Europe/Paris", 2026, 5, 4, 10)
    assert bh.between(wt, saturday, local("Europe/Paris", 2026, 5, 3, 23)) == timedelta(0)
    assert bh.after(wt, saturday, timedelta(0)) == saturday


def test_working_time_refuses_what_is_not_one():
    with pytest.raises(ValueError, match="ISO weekdays"):
        WorkingTime.of("UTC", [], time(9), time(17))
    with pytest.raises(ValueError, match="ISO weekdays"):
        WorkingTime.of("UTC", [0, 8], time(9), time(17))
    with pytest.raises(ValueError, match="end after it starts"):
        WorkingTime.of("UTC", [1], time(17), time(9))
    with pytest.raises(ValueError, match="unknown time zone"):
        WorkingTime.of("Mars/Olympus", [1], time(9), time(17))


def test_naive_instants_and_negative_amounts_are_refused():
    wt = paris()
    with pytest.raises(ValueError, match="aware"):
        bh.between(wt, datetime(2026, 1, 1), datetime(2026, 1, 2, tzinfo=UTC))
    with pytest.raises(ValueError, match="negative"):
        bh.after(wt, datetime(2026, 1, 1, tzinfo=UTC), -H)
    with pytest.raises(ValueError, match="negative"):
        bh.before(wt, datetime(2026, 1, 1, tzinfo=UTC), -H)

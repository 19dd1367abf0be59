"""Time: org-zone day buckets, ISO weeks, calendar months and the ``[start, end)`` windows metrics are cut by."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from metrics.definitions.profile import Profile
from metrics.definitions.records import require_aware


def _zone(tz: str | tzinfo | Profile | None) -> tzinfo:
    if tz is None:
        return ZoneInfo("UTC")
    if isinstance(tz, Profile):
        return tz.zone
    if isinstance(tz, str):
        return ZoneInfo(tz)
    return tz


def local_midnight(day: date, tz: str | tzinfo | Profile | None) -> datetime:
    """The instant a calendar day starts in the zone."""
    return datetime.combine(day, time(0), tzinfo=_zone(tz))


def bucket_day(ts: datetime, tz: str | tzinfo | Profile | None) -> date:
    """The org-zone calendar day an instant falls on."""
    return ts.astimezone(_zone(tz)).date()


def iso_week(ts: datetime, tz: str | tzinfo | Profile | None) -> tuple[int, int]:
    """The org-zone ISO week (year, week; Monday first) an instant falls in."""
    year, week, _ = bucket_day(ts, tz).isocalendar()
    return (year, week)


def week_start(iso_year: int, week: int) -> date:
    """The Monday of an ISO week."""
    return date.fromisocalendar(iso_year, week, 1)


@dataclass(frozen=True)
class Window:
    """A half-open interval ``[start, end)`` of aware instants; build it from org-zone days."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        require_aware(self, "start", "end")
        if self.end <= self.start:
            raise ValueError(f"window end {self.end} must be after its start {self.start}")

    @classmethod
    def from_days(cls, first_day: date, end_day: date, tz: str | tzinfo | Profile | None) -> Window:
        """Days ``[first_day, end_day)`` in the zone: from the first day's midnight to the end day's midnight."""
        return cls(local_midnight(first_day, tz), local_midnight(end_day, tz))

    @classmethod
    def last_days(cls, days: int, *, now: datetime, tz: str | tzinfo | Profile | None) -> Window:
        """The last ``days`` org-zone days, today included (today is the last, partial day)."""
        if days < 1:
            raise ValueError("a window has at least one day")
        today = bucket_day(now, tz)
        end = today + timedelta(days=1)
        return cls.from_days(end - timedelta(days=days), end, tz)

    def contains(self, ts: datetime | None) -> bool:
        return ts is not None and self.start <= ts < self.end

    @property
    def length(self) -> timedelta:
        return self.end - self.start

    def is_day_aligned(self, tz: str | tzinfo | Profile | None) -> bool:
        zone = _zone(tz)
        return all(local_midnight(bucket_day(ts, zone), zone) == ts.astimezone(zone) for ts in (self.start, self.end))

    def days(self, tz: str | tzinfo | Profile | None) -> float:
        """Days in the window: calendar days when it is cut at org-zone midnights (so a DST day
        still counts as one), otherwise its length in 24-hour days."""
        if self.is_day_aligned(tz):
            return float((bucket_day(self.end, tz) - bucket_day(self.start, tz)).days)
        return self.length / timedelta(days=1)

    def calendar_days(self, tz: str | tzinfo | Profile | None) -> list[date]:
        """Every org-zone day the window touches, in order."""
        first = bucket_day(self.start, tz)
        last = bucket_day(self.end - timedelta(microseconds=1), tz)
        return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def previous_window(window: Window, tz: str | tzinfo | Profile | None = None) -> Window:
    """The window of the same length just before ``window`` (same number of calendar days when day-aligned)."""
    if window.is_day_aligned(tz):
        first = bucket_day(window.start, tz)
        n = (bucket_day(window.end, tz) - first).days
        return Window.from_days(first - timedelta(days=n), first, tz)
    return Window(window.start - window.length, window.start)


def whole_iso_weeks(window: Window, tz: str | tzinfo | Profile | None) -> list[date]:
    """Mondays of the ISO weeks lying wholly inside the window (org zone)."""
    zone = _zone(tz)
    first = bucket_day(window.start, zone)
    monday = first - timedelta(days=first.weekday())
    if local_midnight(monday, zone) < window.start:
        monday += timedelta(days=7)
    weeks = []
    while local_midnight(monday + timedelta(days=7), zone) <= window.end:
        weeks.append(monday)
        monday += timedelta(days=7)
    return weeks


def _next_month(day: date) -> date:
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def whole_months(window: Window, tz: str | tzinfo | Profile | None) -> list[date]:
    """First days of the calendar months lying wholly inside the window (org zone)."""
    zone = _zone(tz)
    first = bucket_day(window.start, zone)
    month = first.replace(day=1)
    if local_midnight(month, zone) < window.start:
        month = _next_month(month)
    months = []
    while local_midnight(_next_month(month), zone) <= window.end:
        months.append(month)
        month = _next_month(month)
    return months

"""DORA delivery metrics as pure functions: the rules of docs/metrics.md, one function each.

Standard library only, no Django. The Django side loads rows into the frozen
records below (``DeploymentRec``, ``ChangeRec``, ``IncidentRec``,
``PipelineRunRec``), calls these functions, and stores or renders what they
return. Nothing here reads a clock, a setting or a database, so every rule can
be tested exhaustively and reused from tasks, views and the API.

Three layers, in the order the Django side calls them:

1. **Linking** (``derive_facts`` runs them all): which changes each production
   deployment contains (``link_changes``), which deployment caused each incident
   (``link_incidents``), which deployments failed and when they recovered
   (``failed_deployments``), which deployments were rework (``rework_deployments``),
   and the per-change lead time and its components (``change_lead_times``).
2. **Metrics over a window** ``[start, end)`` cut in the org time zone:
   ``deployment_frequency``, ``lead_time``, ``change_failure_rate``, ``recovery``,
   ``rework_rate``, ``pipeline_reliability``, ``review_health``, ``data_quality``,
   and their ``levels``.
3. **Summaries**: ``dora_summary`` (everything for a scope and window),
   ``compare_summaries`` with ``previous_window``, and ``weekly_series``.

Conventions: datetimes are timezone-aware; durations are ``timedelta``; "no
data" is ``None``, never 0; percentiles follow ``Profile.median_kind``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from fnmatch import fnmatchcase
from itertools import pairwise
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable, Mapping, Sequence

# --------------------------------------------------------------------------------------------
# Vocabulary
# --------------------------------------------------------------------------------------------

Level = Literal["elite", "high", "medium", "low"]
ELITE: Level = "elite"
HIGH: Level = "high"
MEDIUM: Level = "medium"
LOW: Level = "low"

MedianKind = Literal["interpolated", "lower"]
BandsYear = Literal[2021, 2023]
LeadTimeFormula = Literal["first_commit", "devlake_cycle"]

# How a production deployment's changes were found (stored on Deployment.link_rule).
LINK_NONE = 0
LINK_SENT = 1
LINK_COMMIT_RANGE = 2
LINK_MERGED_BETWEEN = 3

# How an incident was linked to a deployment (stored on Incident.link_rule).
INCIDENT_EXPLICIT = "explicit"
INCIDENT_WINDOW = "window"

# Why a production deployment failed (CFR) and why it counts as rework.
CAUSE_INCIDENT = "incident"
CAUSE_ROLLBACK = "rollback"
CAUSE_HOTFIX = "hotfix"
REWORK_ROLLBACK = "rollback"
REWORK_HOTFIX = "hotfix"
REWORK_INCIDENT_OPEN = "incident_open"

_SUCCESS = frozenset({"success", "succeeded", "successful"})
_FAILURE = frozenset({"failure", "failed", "error", "errored", "timed_out", "timeout", "startup_failure"})
# Pipeline runs that did not finish with a verdict: excluded from reliability, never "failed".
_NO_VERDICT = frozenset(
    {"cancelled", "canceled", "skipped", "neutral", "in_progress", "queued", "pending", "waiting", "running", ""}
)
_HEX_SHA = re.compile(r"[0-9a-f]{7,64}")

DAYS_PER_MONTH = 365.25 / 12
DAYS_PER_SIX_MONTHS = 365.25 / 2


def _require_aware(record: object, *names: str) -> None:
    """Reject naive datetimes, and store aware ones in UTC.

    Python subtracts and compares two datetimes sharing a tzinfo on their wall-clock
    times, so a Berlin day with a DST change would last 24 hours; in UTC it lasts 23.
    """
    for name in names:
        value = getattr(record, name)
        if value is None:
            continue
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"{type(record).__name__}.{name} must be timezone-aware, got {value!r}")
        if value.tzinfo is not UTC:
            object.__setattr__(record, name, value.astimezone(UTC))


def _is_success(status: str | None) -> bool:
    return (status or "").strip().lower() in _SUCCESS


def _is_failure(status: str | None) -> bool:
    return (status or "").strip().lower() in _FAILURE


# --------------------------------------------------------------------------------------------
# Records: what the Django side (or the DevLake adapter) loads rows into
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeploymentRec:
    """A deployment of a service to an environment.

    ``status`` is compared case-insensitively (``success``, ``failure``/``error``, …).
    ``change_ids`` is linking rule 1: the PR ids or commit shas sent with the
    deployment (None or empty when nothing was sent).
    """

    id: str
    service: str
    environment: str
    status: str
    started_at: datetime | None
    finished_at: datetime | None
    sha: str = ""
    repo: str | None = None
    is_rollback: bool = False
    is_hotfix: bool = False
    ref: str | None = None
    title: str | None = None
    change_ids: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        _require_aware(self, "started_at", "finished_at")


@dataclass(frozen=True, slots=True)
class ChangeRec:
    """A change: a pull request, or a direct push to the default branch.

    ``first_review_at`` is the first review *or comment* by someone other than
    the author. ``size`` is lines changed. ``commit_shas`` lets a sent change
    list (rule 1) name the change by any of its commits.
    """

    id: str
    service: str
    repo: str | None
    merge_sha: str | None
    first_commit_at: datetime | None
    opened_at: datetime | None
    first_review_at: datetime | None = None
    approved_at: datetime | None = None
    merged_at: datetime | None = None
    closed_at: datetime | None = None
    author: str | None = None
    size: int | None = None
    is_direct_push: bool = False
    base_branch_is_default: bool = True
    commit_shas: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _require_aware(self, "first_commit_at", "opened_at", "first_review_at", "approved_at", "merged_at", "closed_at")

    @classmethod
    def direct_push(
        cls,
        *,
        id: str,
        service: str,
        repo: str | None,
        sha: str,
        committed_at: datetime,
        author: str | None = None,
        size: int | None = None,
    ) -> ChangeRec:
        """A push straight to the default branch: a change whose commit time is both first commit and merge."""
        return cls(
            id=id,
            service=service,
            repo=repo,
            merge_sha=sha,
            first_commit_at=committed_at,
            opened_at=committed_at,
            merged_at=committed_at,
            author=author,
            size=size,
            is_direct_push=True,
            commit_shas=(sha,),
        )


@dataclass(frozen=True, slots=True)
class IncidentRec:
    """A production incident of a service.

    ``caused_by_deployment`` (a deployment id) or ``root_cause_sha`` are explicit
    links named by the sender; without them the linking rule applies.
    """

    id: str
    service: str
    started_at: datetime
    resolved_at: datetime | None = None
    severity: str | None = None
    caused_by_deployment: str | None = None
    root_cause_sha: str | None = None

    def __post_init__(self) -> None:
        _require_aware(self, "started_at", "resolved_at")


@dataclass(frozen=True, slots=True)
class PipelineRunRec:
    """One attempt of a CI workflow on a commit. ``duration_seconds`` wins over finished - started."""

    id: str
    service: str
    workflow: str
    sha: str
    status: str
    attempt: int = 1
    started_at: datetime | None = None
    finished_at: datetime | None = None
    branch: str | None = None
    is_default_branch: bool = True
    repo: str | None = None
    duration_seconds: float | None = None

    def __post_init__(self) -> None:
        _require_aware(self, "started_at", "finished_at")


# --------------------------------------------------------------------------------------------
# Profile: the settings every definition reads
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    """The choices a definition depends on. ``Profile.default()`` is e360; ``Profile.devlake()`` reproduces DevLake.

    - ``production_patterns``: fnmatch patterns, case-insensitive (``prod-*`` works);
      ``service_production_patterns`` overrides them per service.
    - ``incident_link_window`` (W): how long after a deployment an incident, or a
      hotfix, is still blamed on it. ``None`` = no cap (DevLake).
    - ``devlake_compatible``: durations in whole minutes rounded up (a span that rounds
      to a negative number of minutes is empty), as DevLake stores them.
    - ``median_kind``: ``interpolated`` (PostgreSQL ``percentile_cont``) or ``lower``
      (DevLake's ``max(x) where percent_rank() <= q``).
    - ``lead_time_formula``: ``first_commit`` (deployed - first commit) or
      ``devlake_cycle`` (coding + (merged - opened) + deploy, missing parts as 0).
    - ``change_link_rules``: which of the three change-linking rules may be used.
    - ``service_groups``: service → group. Changes and incidents are matched to
      deployments within a group; a service not listed is its own group. DevLake's
      "project scope" is a group of CI scopes, repos and boards.
    """

    name: str = "e360"
    production_patterns: tuple[str, ...] = ("production", "prod", "prd")
    service_production_patterns: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    incident_link_window: timedelta | None = timedelta(days=7)
    devlake_compatible: bool = False
    median_kind: MedianKind = "interpolated"
    lead_time_formula: LeadTimeFormula = "first_commit"
    change_link_rules: tuple[int, ...] = (LINK_SENT, LINK_COMMIT_RANGE, LINK_MERGED_BETWEEN)
    hotfix_pattern: str = r"(?i)hotfix|revert"
    bands_year: BandsYear = 2023
    time_zone: str = "UTC"
    review_wait: timedelta = timedelta(hours=24)
    service_groups: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.median_kind not in ("interpolated", "lower"):
            raise ValueError(f"median_kind must be 'interpolated' or 'lower', not {self.median_kind!r}")
        if self.bands_year not in (2021, 2023):
            raise ValueError(f"bands_year must be 2021 or 2023, not {self.bands_year!r}")
        if self.lead_time_formula not in ("first_commit", "devlake_cycle"):
            raise ValueError(f"unknown lead_time_formula {self.lead_time_formula!r}")
        if not set(self.change_link_rules) <= {LINK_SENT, LINK_COMMIT_RANGE, LINK_MERGED_BETWEEN}:
            raise ValueError(f"change_link_rules must be among 1, 2, 3, not {self.change_link_rules!r}")
        if self.incident_link_window is not None and self.incident_link_window < timedelta(0):
            raise ValueError("incident_link_window cannot be negative")
        re.compile(self.hotfix_pattern)
        ZoneInfo(self.time_zone)

    @classmethod
    def default(cls, **overrides: object) -> Profile:
        """e360's definitions (METRICS.md)."""
        return cls(**overrides)

    @classmethod
    def devlake(cls, **overrides: object) -> Profile:
        """Apache DevLake's choices: environment ``PRODUCTION``, no cap on incident linking,
        whole minutes rounded up, lower median, cycle-time lead time, commit ranges only
        (DevLake has no "merged between deployments" fallback), 2023 bands."""
        settings: dict[str, object] = {
            "name": "devlake",
            "production_patterns": ("production",),
            "incident_link_window": None,
            "devlake_compatible": True,
            "median_kind": "lower",
            "lead_time_formula": "devlake_cycle",
            "change_link_rules": (LINK_SENT, LINK_COMMIT_RANGE),
        }
        settings.update(overrides)
        return cls(**settings)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def is_production_environment(self, environment: str | None, service: str | None = None) -> bool:
        """Does ``environment`` match the service's production patterns (case-insensitive fnmatch)?"""
        if not environment or not environment.strip():
            return False
        patterns = self.production_patterns
        if service is not None and service in self.service_production_patterns:
            patterns = self.service_production_patterns[service]
        env = environment.strip().lower()
        return any(fnmatchcase(env, pattern.lower()) for pattern in patterns)

    def is_hotfix(self, deployment: DeploymentRec) -> bool:
        """Marked hotfix: the flag, or its ref (branch/tag) or title matching ``hotfix_pattern``."""
        if deployment.is_hotfix:
            return True
        return any(text and re.search(self.hotfix_pattern, text) for text in (deployment.ref, deployment.title))

    def group_of(self, service: str) -> str:
        """The linking group of a service (the service itself unless ``service_groups`` says otherwise)."""
        return self.service_groups.get(service, service)


_DEFAULT_PROFILE = Profile()


def _profile(profile: Profile | None) -> Profile:
    return profile if profile is not None else _DEFAULT_PROFILE


def is_production_deployment(deployment: DeploymentRec, profile: Profile | None = None) -> bool:
    """A production deployment: finished, status success, environment matching the production patterns."""
    p = _profile(profile)
    return (
        deployment.finished_at is not None
        and _is_success(deployment.status)
        and p.is_production_environment(deployment.environment, deployment.service)
    )


def is_failed_attempt(deployment: DeploymentRec, profile: Profile | None = None) -> bool:
    """A failed deployment attempt (status failure/error to production): counts for reliability, not frequency."""
    p = _profile(profile)
    return _is_failure(deployment.status) and p.is_production_environment(deployment.environment, deployment.service)


def production_deployments(deployments: Iterable[DeploymentRec], profile: Profile | None = None) -> list[DeploymentRec]:
    """Production deployments sorted by finish time (then id)."""
    p = _profile(profile)
    return sorted((d for d in deployments if is_production_deployment(d, p)), key=_deployment_order)


def _deployment_order(d: DeploymentRec) -> tuple[datetime, str]:
    assert d.finished_at is not None
    return (d.finished_at, d.id)


# --------------------------------------------------------------------------------------------
# Time: org-zone buckets and windows
# --------------------------------------------------------------------------------------------


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
        _require_aware(self, "start", "end")
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


# --------------------------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------------------------


def percentile(values: Iterable[float], q: float, kind: MedianKind = "interpolated") -> float | None:
    """The q-quantile (0 ≤ q ≤ 1) of the values; None when there are none.

    - ``interpolated``: PostgreSQL ``percentile_cont``: linear interpolation between
      the two closest ranks, position ``q·(n-1)``.
    - ``lower``: DevLake's ``max(x) where percent_rank() <= q``, where percent_rank is
      (number of values strictly smaller) / (n - 1), 0 for a single value. Always a value
      of the sample; for an even count the median is the lower middle value.
    """
    if not 0 <= q <= 1 or math.isnan(q):
        raise ValueError(f"q must be within [0, 1], got {q}")
    xs = sorted(values)
    n = len(xs)
    if n == 0:
        return None
    if n == 1:
        return xs[0]
    if kind == "interpolated":
        pos = q * (n - 1)
        lo = math.floor(pos)
        hi = min(lo + 1, n - 1)
        value = xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)
        return min(max(value, xs[lo]), xs[hi])  # float rounding must not leave the bracket
    if kind == "lower":
        best = xs[0]
        smaller = 0
        for i, x in enumerate(xs):
            if i and x != xs[i - 1]:
                smaller = i
            if smaller / (n - 1) <= q:
                best = x
            else:
                break
        return best
    raise ValueError(f"unknown percentile kind {kind!r}")


def median(values: Iterable[float], kind: MedianKind = "interpolated") -> float | None:
    """The median (see ``percentile``); None when there are no values."""
    return percentile(values, 0.5, kind)


def duration_percentile(values: Iterable[timedelta], q: float, kind: MedianKind = "interpolated") -> timedelta | None:
    """``percentile`` over durations."""
    result = percentile([v.total_seconds() for v in values], q, kind)
    return None if result is None else timedelta(seconds=result)


@dataclass(frozen=True)
class DurationStats:
    """Sample size and median, p75, p90 of a set of durations (all None when the sample is empty)."""

    count: int
    median: timedelta | None
    p75: timedelta | None
    p90: timedelta | None

    @classmethod
    def of(cls, values: Iterable[timedelta | None], kind: MedianKind = "interpolated") -> DurationStats:
        xs = [v for v in values if v is not None]
        return cls(
            count=len(xs),
            median=duration_percentile(xs, 0.5, kind),
            p75=duration_percentile(xs, 0.75, kind),
            p90=duration_percentile(xs, 0.9, kind),
        )


def span(start: datetime | None, end: datetime | None, profile: Profile | None = None) -> timedelta | None:
    """``end - start``; None when either is missing or the span is negative (clocks and rebases lie).

    Under ``devlake_compatible`` the span is rounded up to whole minutes first, and is
    None only when that rounded value is negative (so -30 s gives 0 min, as in DevLake).
    """
    if start is None or end is None:
        return None
    delta = end.astimezone(UTC) - start.astimezone(UTC)
    if _profile(profile).devlake_compatible:
        minutes = math.ceil(delta.total_seconds() / 60)
        return None if minutes < 0 else timedelta(minutes=minutes)
    return None if delta < timedelta(0) else delta


# --------------------------------------------------------------------------------------------
# Linking: previous deployments, changes, incidents, failures, rework
# --------------------------------------------------------------------------------------------

ChainKey = tuple[str, str | None, str]


def _chain_key(d: DeploymentRec) -> ChainKey:
    return (d.service, d.repo, d.environment)


def _chains(deployments: Iterable[DeploymentRec]) -> dict[ChainKey, list[DeploymentRec]]:
    chains: dict[ChainKey, list[DeploymentRec]] = {}
    for d in deployments:
        chains.setdefault(_chain_key(d), []).append(d)
    for chain in chains.values():
        chain.sort(key=lambda d: (d.finished_at, d.started_at or d.finished_at, d.id))
    return chains


def previous_success_deployments(deployments: Iterable[DeploymentRec]) -> dict[str, str | None]:
    """For each successful, finished deployment: the id of the previous successful deployment
    (by finish time) of the same service, repository and environment, or None for the first.

    Deployments without an environment are not chained (DevLake's
    ``prev_success_deployment_commit_id``). Any environment, not only production.
    """
    chained = (d for d in deployments if _is_success(d.status) and d.finished_at is not None and d.environment)
    previous: dict[str, str | None] = {}
    for chain in _chains(chained).values():
        prev_id: str | None = None
        for d in chain:
            previous[d.id] = prev_id
            prev_id = d.id
    return previous


@dataclass(frozen=True)
class DeploymentChanges:
    """The changes a production deployment contains and the rule that found them (0 = none)."""

    deployment_id: str
    rule: int
    change_ids: tuple[str, ...]


@dataclass(frozen=True)
class ChangeLinks:
    """Per production deployment, its changes; per change, the first production deployment containing it."""

    deployments: Mapping[str, DeploymentChanges]
    deployed_by: Mapping[str, str]


def _sha_matches(named: str, sha: str | None) -> bool:
    """Exact match, or a short hex sha (≥ 7 characters) naming a longer one."""
    if not named or not sha:
        return False
    if named == sha:
        return True
    a, b = named.lower(), sha.lower()
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return bool(_HEX_SHA.fullmatch(short) and _HEX_SHA.fullmatch(long_) and long_.startswith(short))


class _GroupChanges:
    """The changes of one linking group, indexed by id and sha, and sorted by merge time."""

    def __init__(self, changes: list[ChangeRec]) -> None:
        self.by_id = {c.id: c for c in changes}
        self.by_merge_sha: dict[str, list[ChangeRec]] = {}
        self.by_sha: dict[str, list[ChangeRec]] = {}
        for c in changes:
            if c.merge_sha:
                self.by_merge_sha.setdefault(c.merge_sha, []).append(c)
            for sha in {s.lower() for s in (c.merge_sha, *c.commit_shas) if s}:
                self.by_sha.setdefault(sha, []).append(c)
        self.merged = sorted((c for c in changes if c.merged_at is not None), key=lambda c: (c.merged_at, c.id))
        self.merged_times = [c.merged_at for c in self.merged]

    def named(self, sent: Iterable[str]) -> list[ChangeRec]:
        """Changes a sent list names: by id, or by any of their shas (a short hex sha may name a long one)."""
        found: dict[str, ChangeRec] = {}
        for name in sent:
            if name in self.by_id:
                found[name] = self.by_id[name]
            key = name.lower()
            matches = self.by_sha.get(key)
            if matches is None and _HEX_SHA.fullmatch(key):
                matches = [c for sha, cs in self.by_sha.items() if _sha_matches(key, sha) for c in cs]
            for c in matches or ():
                found[c.id] = c
        return sorted(found.values(), key=lambda c: c.id)

    def in_range(self, shas: Collection[str]) -> list[ChangeRec]:
        """Changes whose merge commit is one of ``shas``."""
        found = {c.id: c for sha in shas for c in self.by_merge_sha.get(sha, ())}
        return sorted(found.values(), key=lambda c: c.id)

    def merged_between(self, after: datetime, before: datetime) -> list[ChangeRec]:
        """Changes merged in ``[after, before)``."""
        return self.merged[_bisect_left(self.merged_times, after) : _bisect_left(self.merged_times, before)]


def _bisect_left(items: Sequence[datetime], value: datetime) -> int:
    lo, hi = 0, len(items)
    while lo < hi:
        mid = (lo + hi) // 2
        if items[mid] < value:
            lo = mid + 1
        else:
            hi = mid
    return lo


def link_changes(
    deployments: Iterable[DeploymentRec],
    changes: Iterable[ChangeRec],
    commit_ranges: Mapping[tuple[str, str], Collection[str]] | None = None,
    profile: Profile | None = None,
) -> ChangeLinks:
    """Which changes each production deployment contains, in order of preference:

    1. the change list sent with the deployment (``change_ids``: PR ids or commit shas);
    2. the commit range between the previous successful production deployment's sha
       (same service, repository and environment) and this one's: ``commit_ranges``
       maps ``(old_sha, new_sha)`` to the shas between them; a change is in it when its
       merge sha is. Redeploying the same sha contains nothing;
    3. fallback: changes of the service (and repository, when the deployment names one)
       merged into the default branch at or after the previous deployment finished and
       before this one started.

    The first deployment of a chain has no previous one and links only rule 1. Changes are
    matched within the deployment's group (its service, unless ``Profile.service_groups``
    says otherwise). A change is *deployed by* the first production deployment (by finish
    time) that contains it.
    """
    p = _profile(profile)
    ranges = commit_ranges or {}
    prod = production_deployments(deployments, p)
    by_id = {d.id: d for d in prod}
    previous = previous_success_deployments(prod)

    grouped: dict[str, list[ChangeRec]] = {}
    for c in changes:
        grouped.setdefault(p.group_of(c.service), []).append(c)
    indexed = {group: _GroupChanges(members) for group, members in grouped.items()}
    empty = _GroupChanges([])

    result: dict[str, DeploymentChanges] = {}
    deployed_by: dict[str, str] = {}
    for d in prod:
        candidates = indexed.get(p.group_of(d.service), empty)
        rule, contained = _changes_of(d, by_id.get(previous.get(d.id) or ""), candidates, ranges, p)
        result[d.id] = DeploymentChanges(d.id, rule, tuple(c.id for c in contained))
        for c in contained:
            deployed_by.setdefault(c.id, d.id)  # deployments are in finish order: the first one wins
    return ChangeLinks(deployments=result, deployed_by=deployed_by)


def _changes_of(
    d: DeploymentRec,
    prev: DeploymentRec | None,
    candidates: _GroupChanges,
    ranges: Mapping[tuple[str, str], Collection[str]],
    p: Profile,
) -> tuple[int, list[ChangeRec]]:
    rules = p.change_link_rules
    if LINK_SENT in rules and d.change_ids:
        return LINK_SENT, candidates.named(d.change_ids)
    if prev is None:
        return LINK_NONE, []
    if LINK_COMMIT_RANGE in rules and d.sha and prev.sha:
        if d.sha == prev.sha:
            return LINK_COMMIT_RANGE, []
        shas = ranges.get((prev.sha, d.sha))
        if shas is not None:
            return LINK_COMMIT_RANGE, candidates.in_range(shas)
    if LINK_MERGED_BETWEEN in rules:
        after = prev.finished_at
        before = d.started_at or d.finished_at
        assert after is not None and before is not None
        merged = [
            c
            for c in candidates.merged_between(after, before)
            if c.base_branch_is_default and (d.repo is None or c.repo == d.repo)
        ]
        return LINK_MERGED_BETWEEN, merged
    return LINK_NONE, []


@dataclass(frozen=True)
class ChangeLeadTime:
    """One change's lead time and its components (each None when negative or unknown).

    coding = opened - first commit; pickup = first non-author review - opened;
    review = merged - first review; deploy = deployed - merged. Direct pushes have
    no coding, pickup or review: their lead time is all deploy time.
    """

    change_id: str
    service: str
    deployment_id: str | None
    deployed_at: datetime | None
    lead_time: timedelta | None
    coding: timedelta | None
    pickup: timedelta | None
    review: timedelta | None
    deploy: timedelta | None


def change_lead_times(
    changes: Iterable[ChangeRec],
    links: ChangeLinks,
    deployments: Iterable[DeploymentRec],
    profile: Profile | None = None,
) -> dict[str, ChangeLeadTime]:
    """Lead time of every merged change (unmerged pull requests are not changes yet).

    ``deployed_at`` is the finish of the first production deployment containing the change.
    Lead time = deployed_at - first commit (None until deployed). Under the
    ``devlake_cycle`` formula it is DevLake's cycle time instead: coding + (merged -
    opened) + deploy, a missing part counting as 0, present even before deployment.
    """
    p = _profile(profile)
    finished = {d.id: d.finished_at for d in deployments}
    result: dict[str, ChangeLeadTime] = {}
    for c in changes:
        if c.merged_at is None:
            continue
        deployment_id = links.deployed_by.get(c.id)
        deployed_at = finished.get(deployment_id) if deployment_id else None
        if c.is_direct_push:
            coding = pickup = review = None
        else:
            coding = span(c.first_commit_at, c.opened_at, p)
            pickup = span(c.opened_at, c.first_review_at, p)
            review = span(c.first_review_at, c.merged_at, p)
        deploy = span(c.merged_at, deployed_at, p)
        if p.lead_time_formula == "devlake_cycle":
            parts = (coding, span(c.opened_at, c.merged_at, p), deploy)
            lead = sum((part for part in parts if part is not None), timedelta(0))
        else:
            lead = span(c.first_commit_at, deployed_at, p)
        result[c.id] = ChangeLeadTime(
            change_id=c.id,
            service=c.service,
            deployment_id=deployment_id,
            deployed_at=deployed_at,
            lead_time=lead,
            coding=coding,
            pickup=pickup,
            review=review,
            deploy=deploy,
        )
    return result


@dataclass(frozen=True)
class IncidentLink:
    """The deployment blamed for an incident, and how: ``explicit`` (named) or ``window`` (the rule)."""

    incident_id: str
    deployment_id: str
    rule: str


def link_incidents(
    incidents: Iterable[IncidentRec],
    deployments: Iterable[DeploymentRec],
    profile: Profile | None = None,
    *,
    changes: Iterable[ChangeRec] = (),
    change_links: ChangeLinks | None = None,
) -> dict[str, IncidentLink]:
    """Link each incident to the deployment that caused it; unlinked incidents are absent.

    1. Explicit: ``caused_by_deployment`` naming a known deployment; else ``root_cause_sha``
       naming the sha of a production deployment, or a change's commit (then its deploying
       deployment) — the earliest such deployment.
    2. Window rule: the latest production deployment of the incident's service (group) that
       finished strictly before the incident started, if it finished at most W
       (``incident_link_window``) before; W = None applies no cap (DevLake).
    """
    p = _profile(profile)
    all_deployments = list(deployments)
    known = {d.id for d in all_deployments}
    prod = production_deployments(all_deployments, p)
    by_group: dict[str, list[DeploymentRec]] = {}
    for d in prod:
        by_group.setdefault(p.group_of(d.service), []).append(d)
    change_list = list(changes)

    links: dict[str, IncidentLink] = {}
    for incident in incidents:
        explicit = _explicit_deployment(incident, known, prod, change_list, change_links)
        if explicit is not None:
            links[incident.id] = IncidentLink(incident.id, explicit, INCIDENT_EXPLICIT)
            continue
        latest = None
        for d in by_group.get(p.group_of(incident.service), []):
            assert d.finished_at is not None
            if d.finished_at >= incident.started_at:
                break
            latest = d
        if latest is None or latest.finished_at is None:
            continue
        window = p.incident_link_window
        if window is None or incident.started_at - latest.finished_at <= window:
            links[incident.id] = IncidentLink(incident.id, latest.id, INCIDENT_WINDOW)
    return links


def _explicit_deployment(
    incident: IncidentRec,
    known: set[str],
    prod: list[DeploymentRec],
    changes: list[ChangeRec],
    change_links: ChangeLinks | None,
) -> str | None:
    if incident.caused_by_deployment and incident.caused_by_deployment in known:
        return incident.caused_by_deployment
    sha = (incident.root_cause_sha or "").strip()
    if not sha:
        return None
    for d in prod:  # finish order: the first deployment of that sha introduced it
        if _sha_matches(sha, d.sha):
            return d.id
    if change_links is not None:
        order = {d.id: i for i, d in enumerate(prod)}
        deploying = [
            change_links.deployed_by[c.id]
            for c in changes
            if c.id in change_links.deployed_by and any(_sha_matches(sha, s) for s in (c.merge_sha, *c.commit_shas))
        ]
        if deploying:
            return min(deploying, key=lambda i: order.get(i, len(order)))
    return None


def _rollbacks(prod: Iterable[DeploymentRec]) -> set[str]:
    """Production deployments that are rollbacks: flagged as one, or redeploying a sha that an
    earlier deployment of the same service, repository and environment had replaced."""
    rollbacks: set[str] = set()
    for chain in _chains(prod).values():
        replaced: set[str] = set()  # shas deployed before the current deployment's predecessor
        for prev, d in zip([None, *chain], chain, strict=False):
            if d.is_rollback or (prev is not None and d.sha and prev.sha and d.sha != prev.sha and d.sha in replaced):
                rollbacks.add(d.id)
            if prev is not None and prev.sha:
                replaced.add(prev.sha)
    return rollbacks


@dataclass(frozen=True)
class DeploymentFailure:
    """A failed production deployment: why, and when it recovered (None while not recovered).

    ``fixed_by`` is the rollback or hotfix deployment that followed it, if any.
    """

    deployment_id: str
    causes: tuple[str, ...]
    incident_ids: tuple[str, ...]
    fixed_by: str | None
    recovered_at: datetime | None
    recovery_time: timedelta | None


def failed_deployments(
    deployments: Iterable[DeploymentRec],
    incidents: Iterable[IncidentRec],
    incident_links: Mapping[str, IncidentLink],
    profile: Profile | None = None,
) -> dict[str, DeploymentFailure]:
    """The failed production deployments, each counted once whatever the number of causes.

    A production deployment failed when (1) an incident is linked to it; (2) the next
    production deployment of the same service, repository and environment is a rollback
    (flagged, or redeploying an older sha); or (3) that next deployment is a hotfix and
    finished within W of it (no cap when W is None).

    Recovery (FDRT) is the earliest of: the resolution of its linked incidents (the
    latest of them, once all are resolved) and the rollback/hotfix deployment's finish.
    """
    p = _profile(profile)
    prod = production_deployments(deployments, p)
    prod_ids = {d.id for d in prod}
    incidents_by_id = {i.id: i for i in incidents}
    incidents_of: dict[str, list[IncidentRec]] = {}
    for link in incident_links.values():
        if link.deployment_id in prod_ids and link.incident_id in incidents_by_id:
            incidents_of.setdefault(link.deployment_id, []).append(incidents_by_id[link.incident_id])

    rollbacks = _rollbacks(prod)
    fixes: dict[str, tuple[str, DeploymentRec]] = {}  # failed id → (cause, fixing deployment)
    for chain in _chains(prod).values():
        for prev, nxt in pairwise(chain):
            if nxt.id in rollbacks:
                fixes[prev.id] = (CAUSE_ROLLBACK, nxt)
            elif p.is_hotfix(nxt):
                assert nxt.finished_at is not None and prev.finished_at is not None
                w = p.incident_link_window
                if w is None or nxt.finished_at - prev.finished_at <= w:
                    fixes[prev.id] = (CAUSE_HOTFIX, nxt)

    result: dict[str, DeploymentFailure] = {}
    for d in prod:
        linked = sorted(incidents_of.get(d.id, []), key=lambda i: (i.started_at, i.id))
        fix = fixes.get(d.id)
        if not linked and fix is None:
            continue
        causes: list[str] = []
        candidates: list[datetime] = []
        if linked:
            causes.append(CAUSE_INCIDENT)
            if all(i.resolved_at is not None for i in linked):
                candidates.append(max(i.resolved_at for i in linked if i.resolved_at is not None))
        if fix is not None:
            causes.append(fix[0])
            assert fix[1].finished_at is not None
            candidates.append(fix[1].finished_at)
        recovered_at = min(candidates) if candidates else None
        result[d.id] = DeploymentFailure(
            deployment_id=d.id,
            causes=tuple(causes),
            incident_ids=tuple(i.id for i in linked),
            fixed_by=fix[1].id if fix else None,
            recovered_at=recovered_at,
            recovery_time=span(d.finished_at, recovered_at, p),
        )
    return result


def rework_deployments(
    deployments: Iterable[DeploymentRec],
    incidents: Iterable[IncidentRec],
    profile: Profile | None = None,
) -> dict[str, tuple[str, ...]]:
    """Production deployments that are unplanned fixes for a production problem, with the reasons:

    ``rollback`` (flagged, or redeploying an older sha of the same service, repository and
    environment), ``hotfix`` (flag, or ref/title matching the hotfix pattern) and
    ``incident_open`` (finished while an incident of the same service was open: started
    before the deployment finished, not resolved before it).
    """
    p = _profile(profile)
    prod = production_deployments(deployments, p)
    incidents_by_group: dict[str, list[IncidentRec]] = {}
    for i in incidents:
        incidents_by_group.setdefault(p.group_of(i.service), []).append(i)

    rollbacks = _rollbacks(prod)
    result: dict[str, tuple[str, ...]] = {}
    for d in prod:
        assert d.finished_at is not None
        reasons = []
        if d.id in rollbacks:
            reasons.append(REWORK_ROLLBACK)
        if p.is_hotfix(d):
            reasons.append(REWORK_HOTFIX)
        finished = d.finished_at
        if any(
            i.started_at < finished and (i.resolved_at is None or finished <= i.resolved_at)
            for i in incidents_by_group.get(p.group_of(d.service), [])
        ):
            reasons.append(REWORK_INCIDENT_OPEN)
        if reasons:
            result[d.id] = tuple(reasons)
    return result


@dataclass(frozen=True)
class DeliveryFacts:
    """Everything linking derives from the records: what the Django side persists."""

    deployments: tuple[DeploymentRec, ...]
    changes: tuple[ChangeRec, ...]
    incidents: tuple[IncidentRec, ...]
    previous: Mapping[str, str | None]
    change_links: ChangeLinks
    lead_times: Mapping[str, ChangeLeadTime]
    incident_links: Mapping[str, IncidentLink]
    failures: Mapping[str, DeploymentFailure]
    rework: Mapping[str, tuple[str, ...]]


def derive_facts(
    deployments: Iterable[DeploymentRec],
    changes: Iterable[ChangeRec],
    incidents: Iterable[IncidentRec],
    profile: Profile | None = None,
    *,
    commit_ranges: Mapping[tuple[str, str], Collection[str]] | None = None,
) -> DeliveryFacts:
    """Run every linking rule once over all the records (not only a window's: a change
    deployed in the window may have been merged long before it)."""
    p = _profile(profile)
    deps, chs, incs = tuple(deployments), tuple(changes), tuple(incidents)
    links = link_changes(deps, chs, commit_ranges, p)
    incident_links = link_incidents(incs, deps, p, changes=chs, change_links=links)
    return DeliveryFacts(
        deployments=deps,
        changes=chs,
        incidents=incs,
        previous=previous_success_deployments(deps),
        change_links=links,
        lead_times=change_lead_times(chs, links, deps, p),
        incident_links=incident_links,
        failures=failed_deployments(deps, incs, incident_links, p),
        rework=rework_deployments(deps, incs, p),
    )


# --------------------------------------------------------------------------------------------
# Metrics over a window
# --------------------------------------------------------------------------------------------


def _in_window(deployments: Iterable[DeploymentRec], window: Window, p: Profile) -> list[DeploymentRec]:
    return [d for d in production_deployments(deployments, p) if window.contains(d.finished_at)]


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def deployments_by_day(
    deployments: Iterable[DeploymentRec], window: Window, profile: Profile | None = None
) -> dict[date, int]:
    """Production deployments finished in the window, per org-zone day (every day of the window present)."""
    p = _profile(profile)
    counts = dict.fromkeys(window.calendar_days(p), 0)
    for d in _in_window(deployments, window, p):
        assert d.finished_at is not None
        counts[bucket_day(d.finished_at, p)] += 1
    return counts


@dataclass(frozen=True)
class DeploymentFrequency:
    """Deployment frequency over a window.

    ``deployments_per_day`` = production deployments ÷ days in the window.
    ``deployment_days_per_week`` = median over the whole ISO weeks inside the window of
    the number of days with a production deployment (``…_per_month`` likewise over whole
    calendar months). All None when there is no production deployment in the window.
    """

    deployments: int
    days: float
    deployment_days: int
    whole_weeks: int
    whole_months: int
    deployments_per_day: float | None
    deployment_days_per_week: float | None
    deployment_days_per_month: float | None
    failed_attempts: int

    def _rate(self, period_days: float) -> float | None:
        if not self.deployments or not self.days:
            return None
        return self.deployment_days / self.days * period_days

    @property
    def weekly_deployment_days(self) -> float | None:
        """Median deployment days per week, or the window's rate when it holds no whole week."""
        if self.deployment_days_per_week is not None:
            return self.deployment_days_per_week
        return self._rate(7)

    @property
    def monthly_deployment_days(self) -> float | None:
        """Median deployment days per month, or the window's rate when it holds no whole month."""
        if self.deployment_days_per_month is not None:
            return self.deployment_days_per_month
        return self._rate(DAYS_PER_MONTH)

    @property
    def six_monthly_deployment_days(self) -> float | None:
        """Deployment days per six months, at the window's rate."""
        return self._rate(DAYS_PER_SIX_MONTHS)


def deployment_frequency(
    deployments: Iterable[DeploymentRec], window: Window, profile: Profile | None = None
) -> DeploymentFrequency:
    """Production deployments finished in the window; failed attempts are counted apart."""
    p = _profile(profile)
    all_deployments = list(deployments)
    failed_attempts = sum(
        1 for d in all_deployments if is_failed_attempt(d, p) and window.contains(d.finished_at or d.started_at)
    )
    per_day: dict[date, int] = {}
    for d in _in_window(all_deployments, window, p):
        assert d.finished_at is not None
        day = bucket_day(d.finished_at, p)
        per_day[day] = per_day.get(day, 0) + 1
    return deployment_frequency_from_days(per_day, window, p, failed_attempts=failed_attempts)


def deployment_frequency_from_days(
    per_day: Mapping[date, int], window: Window, profile: Profile | None = None, *, failed_attempts: int = 0
) -> DeploymentFrequency:
    """Deployment frequency from production deployments counted per org-zone day of the window
    (what daily rollups hold); ``deployment_frequency`` counts raw records into this."""
    p = _profile(profile)
    total = sum(per_day.values())
    days = {day for day, count in per_day.items() if count}
    weeks = whole_iso_weeks(window, p)
    months = whole_months(window, p)
    per_week = [sum(1 for day in days if monday <= day < monday + timedelta(days=7)) for monday in weeks]
    per_month = [sum(1 for day in days if (day.year, day.month) == (m.year, m.month)) for m in months]
    n_days = window.days(p)
    has_data = total > 0
    return DeploymentFrequency(
        deployments=total,
        days=n_days,
        deployment_days=len(days),
        whole_weeks=len(weeks),
        whole_months=len(months),
        deployments_per_day=total / n_days if has_data and n_days else None,
        deployment_days_per_week=median(per_week, p.median_kind) if has_data else None,
        deployment_days_per_month=median(per_month, p.median_kind) if has_data else None,
        failed_attempts=failed_attempts,
    )


@dataclass(frozen=True)
class LeadTime:
    """Lead time for changes deployed in the window: the figure and its four components."""

    changes: int
    lead_time: DurationStats
    coding: DurationStats
    pickup: DurationStats
    review: DurationStats
    deploy: DurationStats

    @property
    def median(self) -> timedelta | None:
        return self.lead_time.median


def lead_time(lead_times: Iterable[ChangeLeadTime], window: Window, profile: Profile | None = None) -> LeadTime:
    """Median (p75, p90) lead time and components over the changes whose ``deployed_at`` is in the window."""
    p = _profile(profile)
    deployed = [lt for lt in lead_times if window.contains(lt.deployed_at)]
    kind = p.median_kind
    return LeadTime(
        changes=len(deployed),
        lead_time=DurationStats.of((lt.lead_time for lt in deployed), kind),
        coding=DurationStats.of((lt.coding for lt in deployed), kind),
        pickup=DurationStats.of((lt.pickup for lt in deployed), kind),
        review=DurationStats.of((lt.review for lt in deployed), kind),
        deploy=DurationStats.of((lt.deploy for lt in deployed), kind),
    )


@dataclass(frozen=True)
class ChangeFailureRate:
    """Failed production deployments ÷ production deployments, both by deployment time in the window."""

    failed: int
    deployments: int
    value: float | None


def change_failure_rate(
    deployments: Iterable[DeploymentRec],
    failures: Mapping[str, DeploymentFailure],
    window: Window,
    profile: Profile | None = None,
) -> ChangeFailureRate:
    """Counted per deployment, never per incident: three incidents on one deployment are one failure."""
    prod = _in_window(deployments, window, _profile(profile))
    failed = sum(1 for d in prod if d.id in failures)
    return ChangeFailureRate(failed=failed, deployments=len(prod), value=_ratio(failed, len(prod)))


@dataclass(frozen=True)
class Recovery:
    """FDRT (failed deployment recovery time, the level's input) and classic time to restore.

    ``unrecovered`` counts failed deployments of the window not recovered by its end.
    """

    failed_deployment_recovery: DurationStats
    time_to_restore: DurationStats
    unrecovered: int

    @property
    def median(self) -> timedelta | None:
        return self.failed_deployment_recovery.median


def recovery(
    failures: Mapping[str, DeploymentFailure],
    incidents: Iterable[IncidentRec],
    window: Window,
    profile: Profile | None = None,
    *,
    deployments: Iterable[DeploymentRec] = (),
) -> Recovery:
    """FDRT: median over failed deployments whose recovery falls in the window.
    Time to restore: median of resolved - started over incidents resolved in the window.
    ``deployments`` (optional) lets ``unrecovered`` count failures of the window still open at its end.
    """
    p = _profile(profile)
    fdrt = [f.recovery_time for f in failures.values() if window.contains(f.recovered_at)]
    restore = [span(i.started_at, i.resolved_at, p) for i in incidents if window.contains(i.resolved_at)]
    in_window = {d.id for d in _in_window(deployments, window, p)}
    unrecovered = sum(
        1
        for f in failures.values()
        if f.deployment_id in in_window and (f.recovered_at is None or f.recovered_at >= window.end)
    )
    return Recovery(
        failed_deployment_recovery=DurationStats.of(fdrt, p.median_kind),
        time_to_restore=DurationStats.of(restore, p.median_kind),
        unrecovered=unrecovered,
    )


@dataclass(frozen=True)
class ReworkRate:
    """Share of production deployments that were rework. DORA publishes no bands: no level."""

    rework: int
    deployments: int
    value: float | None
    by_reason: Mapping[str, int]


def rework_rate(
    deployments: Iterable[DeploymentRec],
    rework: Mapping[str, tuple[str, ...]],
    window: Window,
    profile: Profile | None = None,
) -> ReworkRate:
    """Rework deployments ÷ production deployments finished in the window; a deployment counts once."""
    prod = _in_window(deployments, window, _profile(profile))
    reworked = [d for d in prod if d.id in rework]
    by_reason = dict.fromkeys((REWORK_ROLLBACK, REWORK_HOTFIX, REWORK_INCIDENT_OPEN), 0)
    for d in reworked:
        for reason in rework[d.id]:
            by_reason[reason] = by_reason.get(reason, 0) + 1
    return ReworkRate(
        rework=len(reworked), deployments=len(prod), value=_ratio(len(reworked), len(prod)), by_reason=by_reason
    )


@dataclass(frozen=True)
class FailingWorkflow:
    """A default-branch workflow whose latest finished run failed."""

    service: str
    workflow: str
    since: datetime
    failed_runs: int
    last_run_id: str
    sha: str


@dataclass(frozen=True)
class PipelineReliability:
    """CI runs on the default branch finished in the window, cancelled excluded."""

    runs: int
    failed: int
    failure_rate: float | None
    commits: int
    flaky_commits: int
    flaky_rate: float | None
    duration: DurationStats
    failing_workflows: tuple[FailingWorkflow, ...]


def _run_verdict(status: str) -> bool | None:
    """True = passed, False = failed, None = no verdict (cancelled, skipped, still running)."""
    s = (status or "").strip().lower()
    if s in _SUCCESS:
        return True
    if s in _NO_VERDICT:
        return None
    return False


def _run_duration(run: PipelineRunRec) -> timedelta | None:
    if run.duration_seconds is not None:
        return timedelta(seconds=run.duration_seconds) if run.duration_seconds >= 0 else None
    return span(run.started_at, run.finished_at)


def pipeline_reliability(
    runs: Iterable[PipelineRunRec], window: Window, profile: Profile | None = None
) -> PipelineReliability:
    """Failure rate = failed ÷ finished runs; flaky rate = share of commits whose run failed and
    then passed on a re-run of the same sha (same workflow); median and p90 duration; workflows
    whose latest run (finished before the window's end) failed, with the start of the streak."""
    p = _profile(profile)
    default_branch = [r for r in runs if r.is_default_branch and r.finished_at is not None]
    judged = [(r, v) for r in default_branch if (v := _run_verdict(r.status)) is not None]
    in_window = [(r, v) for r, v in judged if window.contains(r.finished_at)]

    failed = sum(1 for _, v in in_window if not v)
    attempts: dict[tuple[str, str, str], list[tuple[PipelineRunRec, bool]]] = {}
    for r, v in in_window:
        attempts.setdefault((r.service, r.workflow, r.sha), []).append((r, v))
    commits = {(r.service, r.sha) for r, _ in in_window}
    flaky = set()
    for (service, _, sha), tries in attempts.items():
        tries.sort(key=lambda t: (t[0].finished_at, t[0].attempt, t[0].id))
        seen_failure = False
        for _, passed in tries:
            if not passed:
                seen_failure = True
            elif seen_failure:
                flaky.add((service, sha))
                break

    latest: dict[tuple[str, str], list[tuple[PipelineRunRec, bool]]] = {}
    for r, v in judged:
        if r.finished_at is not None and r.finished_at < window.end:
            latest.setdefault((r.service, r.workflow), []).append((r, v))
    failing = []
    for (service, workflow), history in latest.items():
        history.sort(key=lambda t: (t[0].finished_at, t[0].attempt, t[0].id))
        streak = []
        for r, passed in reversed(history):
            if passed:
                break
            streak.append(r)
        if streak:
            last, first = streak[0], streak[-1]
            assert first.finished_at is not None
            failing.append(FailingWorkflow(service, workflow, first.finished_at, len(streak), last.id, last.sha))
    failing.sort(key=lambda f: (f.since, f.service, f.workflow))

    return PipelineReliability(
        runs=len(in_window),
        failed=failed,
        failure_rate=_ratio(failed, len(in_window)),
        commits=len(commits),
        flaky_commits=len(flaky),
        flaky_rate=_ratio(len(flaky), len(commits)),
        duration=DurationStats.of((_run_duration(r) for r, _ in in_window), p.median_kind),
        failing_workflows=tuple(failing),
    )


@dataclass(frozen=True)
class ReviewHealth:
    """Code review over pull requests merged in the window, and the queue waiting for a first review at ``now``."""

    pickup: DurationStats
    review: DurationStats
    size_median: float | None
    sized: int
    waiting: tuple[str, ...]

    @property
    def waiting_count(self) -> int:
        return len(self.waiting)


def review_health(
    changes: Iterable[ChangeRec], window: Window, now: datetime, profile: Profile | None = None
) -> ReviewHealth:
    """Median pickup and review time and median size (lines changed) of the pull requests merged
    in the window (direct pushes have no review); pull requests open at ``now`` and waiting for
    a first review longer than ``Profile.review_wait`` (24 h), oldest first."""
    p = _profile(profile)
    prs = [c for c in changes if not c.is_direct_push]
    merged = [c for c in prs if window.contains(c.merged_at)]
    waiting = sorted(
        (
            c
            for c in prs
            if c.opened_at is not None
            and c.opened_at <= now - p.review_wait
            and (c.merged_at is None or c.merged_at > now)
            and (c.closed_at is None or c.closed_at > now)
            and (c.first_review_at is None or c.first_review_at > now)
        ),
        key=lambda c: (c.opened_at, c.id),
    )
    sizes = [c.size for c in merged if c.size is not None]
    return ReviewHealth(
        pickup=DurationStats.of((span(c.opened_at, c.first_review_at, p) for c in merged), p.median_kind),
        review=DurationStats.of((span(c.first_review_at, c.merged_at, p) for c in merged), p.median_kind),
        size_median=median(sizes, p.median_kind),
        sized=len(sizes),
        waiting=tuple(c.id for c in waiting),
    )


@dataclass(frozen=True)
class DataQuality:
    """How far to trust the figures: sample sizes and linking coverage (shares None without data)."""

    deployments: int
    deployments_with_changes: int
    linked_change_share: float | None
    link_rules: Mapping[int, int]
    changes: int
    changes_without_lead_time: int
    incidents: int
    incidents_linked: int
    incident_link_share: float | None
    pipeline_runs: int
    last_event_at: Mapping[str, datetime]


def data_quality(
    facts: DeliveryFacts,
    window: Window,
    profile: Profile | None = None,
    *,
    pipeline_runs: int = 0,
    last_event_at: Mapping[str, datetime] | None = None,
) -> DataQuality:
    """Sample sizes (production deployments, changes deployed, incidents started in the window),
    the share of deployments with linked changes (and by which rule), the share of incidents
    linked to a deployment, and the last ingested event per source (passed through)."""
    p = _profile(profile)
    prod = _in_window(facts.deployments, window, p)
    link_rules = dict.fromkeys((LINK_NONE, LINK_SENT, LINK_COMMIT_RANGE, LINK_MERGED_BETWEEN), 0)
    with_changes = 0
    for d in prod:
        link = facts.change_links.deployments.get(d.id)
        link_rules[link.rule if link is not None else LINK_NONE] += 1
        with_changes += bool(link is not None and link.change_ids)
    deployed = [lt for lt in facts.lead_times.values() if window.contains(lt.deployed_at)]
    incidents = [i for i in facts.incidents if window.contains(i.started_at)]
    linked = sum(1 for i in incidents if i.id in facts.incident_links)
    return DataQuality(
        deployments=len(prod),
        deployments_with_changes=with_changes,
        linked_change_share=_ratio(with_changes, len(prod)),
        link_rules=link_rules,
        changes=len(deployed),
        changes_without_lead_time=sum(1 for lt in deployed if lt.lead_time is None),
        incidents=len(incidents),
        incidents_linked=linked,
        incident_link_share=_ratio(linked, len(incidents)),
        pipeline_runs=pipeline_runs,
        last_event_at=dict(last_event_at or {}),
    )


# --------------------------------------------------------------------------------------------
# Levels
# --------------------------------------------------------------------------------------------
# 2023: METRICS.md — the DORA 2023 report's bands (dora.dev, "Accelerate State of DevOps
# Report 2023") as DevLake applies them, except that e360 reads "on demand" as at least 5
# deployment days per week (DevLake asks for 7).
#
# 2021: the "Accelerate State of DevOps 2021" report (DORA / Google Cloud), table "Software
# delivery performance": DF elite on-demand (multiple deploys per day), high between once
# per week and once per month, medium between once per month and once every six months,
# low fewer than once every six months; lead time elite < 1 hour, high 1 day-1 week,
# medium 1-6 months, low > 6 months; time to restore elite < 1 hour, high < 1 day, medium
# 1 day-1 week, low > 6 months; CFR elite 0-15 %, high, medium and low all 16-30 %.
# The report's bands leave gaps (lead time 1 hour-1 day, 1 week-1 month; restore
# 1 week-6 months) and overlap (CFR); we close them as DevLake's 2021 dashboards do
# (devlake.apache.org, Metrics pages, "2021 DORA benchmarks"): a gap goes to the next
# lower band, CFR splits at 15/20/30 %, six months = 180 days.
# ``deployment days per month/six months`` are medians over whole calendar months, or the
# window's rate when it holds none.


def deployment_frequency_level(df: DeploymentFrequency, year: BandsYear = 2023) -> Level | None:
    """2023: elite ≥ 5 deployment days/week; high ≥ 1/week; medium ≥ 1/month; else low.
    2021: elite ≥ 5 deployment days/week (on demand); high ≥ 1/month; medium ≥ 1 per six months; else low."""
    week, month, six = df.weekly_deployment_days, df.monthly_deployment_days, df.six_monthly_deployment_days
    if week is None or month is None or six is None:
        return None
    if week >= 5:
        return ELITE
    if year == 2023:
        if week >= 1:
            return HIGH
        return MEDIUM if month >= 1 else LOW
    if month >= 1:
        return HIGH
    return MEDIUM if six >= 1 else LOW


def lead_time_level(value: timedelta | None, year: BandsYear = 2023) -> Level | None:
    """2023: elite < 1 day; high < 7 days; medium < 30 days. 2021: elite < 1 hour; high < 7 days; medium < 180 days."""
    if value is None:
        return None
    elite = timedelta(days=1) if year == 2023 else timedelta(hours=1)
    medium = timedelta(days=30) if year == 2023 else timedelta(days=180)
    if value < elite:
        return ELITE
    if value < timedelta(days=7):
        return HIGH
    return MEDIUM if value < medium else LOW


def change_failure_rate_level(value: float | None, year: BandsYear = 2023) -> Level | None:
    """2023: elite ≤ 5 %; high ≤ 10 %; medium ≤ 15 %. 2021: elite ≤ 15 %; high ≤ 20 %; medium ≤ 30 %."""
    if value is None:
        return None
    elite, high, medium = (0.05, 0.10, 0.15) if year == 2023 else (0.15, 0.20, 0.30)
    if value <= elite:
        return ELITE
    if value <= high:
        return HIGH
    return MEDIUM if value <= medium else LOW


def recovery_level(value: timedelta | None, year: BandsYear = 2023) -> Level | None:
    """Both years: elite < 1 hour; high < 1 day; medium < 1 week; else low (FDRT, or time to restore in 2021)."""
    if value is None:
        return None
    if value < timedelta(hours=1):
        return ELITE
    if value < timedelta(days=1):
        return HIGH
    return MEDIUM if value < timedelta(days=7) else LOW


@dataclass(frozen=True)
class Levels:
    """The DORA level of each of the four keys for one year's bands (None = no data). Rework has none."""

    year: BandsYear
    deployment_frequency: Level | None
    lead_time: Level | None
    change_failure_rate: Level | None
    recovery: Level | None


def levels(
    df: DeploymentFrequency,
    lt: LeadTime,
    cfr: ChangeFailureRate,
    rec: Recovery,
    year: BandsYear = 2023,
) -> Levels:
    """Levels of the four keys (the recovery level uses FDRT)."""
    return Levels(
        year=year,
        deployment_frequency=deployment_frequency_level(df, year),
        lead_time=lead_time_level(lt.median, year),
        change_failure_rate=change_failure_rate_level(cfr.value, year),
        recovery=recovery_level(rec.median, year),
    )


# --------------------------------------------------------------------------------------------
# Summaries, comparison, series
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DoraSummary:
    """All five metrics, CI and review health, levels for both band years, and data quality."""

    window: Window
    bands_year: BandsYear
    deployment_frequency: DeploymentFrequency
    lead_time: LeadTime
    change_failure_rate: ChangeFailureRate
    recovery: Recovery
    rework: ReworkRate
    pipeline: PipelineReliability
    review: ReviewHealth
    data_quality: DataQuality
    levels_by_year: Mapping[int, Levels]

    @property
    def levels(self) -> Levels:
        """Levels for the profile's band year."""
        return self.levels_by_year[self.bands_year]


def _scoped(records: Iterable, services: Collection[str] | None) -> tuple:
    if services is None:
        return tuple(records)
    wanted = set(services)
    return tuple(r for r in records if r.service in wanted)


def dora_summary(
    deployments: Iterable[DeploymentRec],
    changes: Iterable[ChangeRec],
    incidents: Iterable[IncidentRec],
    window: Window,
    profile: Profile | None = None,
    *,
    runs: Iterable[PipelineRunRec] = (),
    commit_ranges: Mapping[tuple[str, str], Collection[str]] | None = None,
    services: Collection[str] | None = None,
    now: datetime | None = None,
    last_event_at: Mapping[str, datetime] | None = None,
) -> DoraSummary:
    """Every figure for a scope (``services``: a service, a team's services, or None for all)
    and a window. Pass all records, not only the window's: linking looks back before it.
    ``now`` (default: the window's end) is when the review queue is read."""
    p = _profile(profile)
    facts = derive_facts(
        _scoped(deployments, services),
        _scoped(changes, services),
        _scoped(incidents, services),
        p,
        commit_ranges=commit_ranges,
    )
    run_list = _scoped(runs, services)
    df = deployment_frequency(facts.deployments, window, p)
    lt = lead_time(facts.lead_times.values(), window, p)
    cfr = change_failure_rate(facts.deployments, facts.failures, window, p)
    rec = recovery(facts.failures, facts.incidents, window, p, deployments=facts.deployments)
    pipeline = pipeline_reliability(run_list, window, p)
    return DoraSummary(
        window=window,
        bands_year=p.bands_year,
        deployment_frequency=df,
        lead_time=lt,
        change_failure_rate=cfr,
        recovery=rec,
        rework=rework_rate(facts.deployments, facts.rework, window, p),
        pipeline=pipeline,
        review=review_health(facts.changes, window, now or window.end, p),
        data_quality=data_quality(facts, window, p, pipeline_runs=pipeline.runs, last_event_at=last_event_at),
        levels_by_year={year: levels(df, lt, cfr, rec, year) for year in (2023, 2021)},
    )


Number = float | timedelta


@dataclass(frozen=True)
class Delta:
    """A figure against the previous window: the difference, the relative change, and whether that is better."""

    current: Number | None
    previous: Number | None
    difference: Number | None
    relative: float | None
    trend: Literal["better", "worse", "same"] | None


def compare(current: Number | None, previous: Number | None, *, higher_is_better: bool) -> Delta:
    """Compare two values of one figure; everything but the values is None when either is missing.
    ``relative`` is None when the previous value is zero."""
    if current is None or previous is None:
        return Delta(current, previous, None, None, None)
    difference = current - previous  # type: ignore[operator]
    zero = timedelta(0) if isinstance(difference, timedelta) else 0
    relative = None if previous == zero else difference / previous  # type: ignore[operator]
    if difference == zero:
        trend: Literal["better", "worse", "same"] = "same"
    else:
        trend = "better" if (difference > zero) == higher_is_better else "worse"  # type: ignore[operator]
    return Delta(current, previous, difference, relative, trend)


def compare_summaries(current: DoraSummary, previous: DoraSummary) -> dict[str, Delta]:
    """The headline figures of two summaries (usually a window and ``previous_window`` of it)."""
    pairs: dict[str, tuple[Number | None, Number | None, bool]] = {
        "deployments_per_day": (
            current.deployment_frequency.deployments_per_day,
            previous.deployment_frequency.deployments_per_day,
            True,
        ),
        "deployment_days_per_week": (
            current.deployment_frequency.deployment_days_per_week,
            previous.deployment_frequency.deployment_days_per_week,
            True,
        ),
        "lead_time": (current.lead_time.median, previous.lead_time.median, False),
        "change_failure_rate": (current.change_failure_rate.value, previous.change_failure_rate.value, False),
        "failed_deployment_recovery": (current.recovery.median, previous.recovery.median, False),
        "time_to_restore": (
            current.recovery.time_to_restore.median,
            previous.recovery.time_to_restore.median,
            False,
        ),
        "rework_rate": (current.rework.value, previous.rework.value, False),
        "pipeline_failure_rate": (current.pipeline.failure_rate, previous.pipeline.failure_rate, False),
        "flaky_rate": (current.pipeline.flaky_rate, previous.pipeline.flaky_rate, False),
    }
    return {name: compare(cur, prev, higher_is_better=hib) for name, (cur, prev, hib) in pairs.items()}


@dataclass(frozen=True)
class WeekPoint:
    """One org-zone ISO week of a series; ``partial`` when the week is not wholly inside the window."""

    week_start: date
    iso_year: int
    iso_week: int
    partial: bool
    deployments: int
    deployment_days: int
    changes: int
    lead_time: timedelta | None
    coding: timedelta | None
    pickup: timedelta | None
    review: timedelta | None
    deploy: timedelta | None


def weekly_series(
    deployments: Iterable[DeploymentRec],
    lead_times: Iterable[ChangeLeadTime],
    window: Window,
    profile: Profile | None = None,
) -> list[WeekPoint]:
    """Per ISO week touching the window: production deployments and deployment days (by finish),
    and median lead time and components of the changes deployed that week. Only events inside
    the window count, so the weeks add up to the window's totals."""
    p = _profile(profile)
    mondays = sorted({day - timedelta(days=day.weekday()) for day in window.calendar_days(p)})
    deps_by_week: dict[date, list[date]] = {m: [] for m in mondays}
    for d in _in_window(deployments, window, p):
        assert d.finished_at is not None
        day = bucket_day(d.finished_at, p)
        deps_by_week[day - timedelta(days=day.weekday())].append(day)
    lts_by_week: dict[date, list[ChangeLeadTime]] = {m: [] for m in mondays}
    for lt in lead_times:
        if window.contains(lt.deployed_at):
            assert lt.deployed_at is not None
            day = bucket_day(lt.deployed_at, p)
            lts_by_week[day - timedelta(days=day.weekday())].append(lt)

    kind = p.median_kind
    points = []
    for monday in mondays:
        iso_year, week, _ = monday.isocalendar()
        partial = local_midnight(monday, p) < window.start or local_midnight(monday + timedelta(days=7), p) > window.end
        lts = lts_by_week[monday]
        points.append(
            WeekPoint(
                week_start=monday,
                iso_year=iso_year,
                iso_week=week,
                partial=partial,
                deployments=len(deps_by_week[monday]),
                deployment_days=len(set(deps_by_week[monday])),
                changes=len(lts),
                lead_time=duration_percentile([x.lead_time for x in lts if x.lead_time is not None], 0.5, kind),
                coding=duration_percentile([x.coding for x in lts if x.coding is not None], 0.5, kind),
                pickup=duration_percentile([x.pickup for x in lts if x.pickup is not None], 0.5, kind),
                review=duration_percentile([x.review for x in lts if x.review is not None], 0.5, kind),
                deploy=duration_percentile([x.deploy for x in lts if x.deploy is not None], 0.5, kind),
            )
        )
    return points

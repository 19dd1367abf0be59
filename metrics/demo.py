"""Demo delivery data: the ``metrics`` part of ``manage.py seed_demo``.

``seed(org)`` runs after the demo catalog is saved, inside the same transaction
(see ``e360/demo.py``). It creates the "Demo CI" source and a ``Repository``
row per service repository, then simulates each service's history between
``org.start`` (or the service's launch) and ``org.now``:

- **changes**: pull requests opened in working hours (few at weekends, fewer
  over the new year), with one to five commits authored before opening, one
  to three reviews by teammates (the last one approves), a merge, a merge sha
  and a long-tailed size; some are abandoned, some still open or waiting for a
  first review; a few direct pushes to the default branch;
- **deployments**: a release starts after a merge (or on a weekly release
  train) and ships every change merged since the previous one; some releases
  ship a configuration change alone (an empty change list); a staging
  deployment precedes them on some services; some attempts fail and are
  retried. Most services send the change list (``sent_changes``, linking rule
  1); about a fifth send only the sha of the last merged change, so rules 2
  and 3 link them;
- **failures**: a release may cause an incident (sev1 to sev4, resolved after
  minutes to days, a few still open), be rolled back (``is_rollback``,
  redeploying the previous sha) or be followed by a hotfix (a quick pull
  request deployed with ``is_hotfix``); some incidents have no deployment
  behind them;
- **pipeline runs**: workflow ``ci`` once per merged change on the default
  branch, ``deploy`` once per production deployment attempt; a failed run is
  re-run on the same sha (attempts 2 and 3) and, when it was flaky, passes.

How a team delivers comes from its :class:`Profile`, picked by team name for
the teams of the small organisation (``NAMED_PROFILES``: Payments is elite,
Checkout has flaky CI, Search reviews slowly, Catalog releases weekly and
fails often, Developer Tools improves over the history) and by position for
the other teams (``PROFILE_CYCLE``), so each profile recurs about fifty times
in the large organisation. Some profiles drift over the history
(``Profile.trend``). The rates are calibrated so that the large organisation
has the volumes of PRODUCT.md ("Budgets").

Linking (which deployment shipped which change, which deployment failed) and
the daily rollups are not computed here: ``metrics.refresh.rebuild`` does it
at the end, as it would for ingested data.

Rows are generated one service at a time and written in buffered rounds of
about ``FLUSH_ROWS``, so memory stays flat, with no ORM on the way:

- PostgreSQL: ``COPY ... FROM STDIN``. Reviews and commits name their pull
  request's id before the pull requests are written, so the ids are drawn
  from the pull request table's own sequence (``nextval`` over
  ``generate_series``) and written explicitly: a sequence never hands out an
  id twice, so this is safe next to concurrent writers and needs no reset.
- SQLite: ``executemany``, with ids counted on from the highest in use (safe
  there: see :class:`_SqliteWriter`).

The large organisation writes no ``Commit`` rows (``COMMITS_FOR_SIZE``): pull
requests carry ``first_commit_at``, which is all lead time needs, and the
commits (about six million) would be the largest table, for no figure.
"""

from __future__ import annotations

import json
import logging
import math
import queue
import random
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from statistics import NormalDist

from django.db import connection, models, transaction
from psycopg import sql

from e360.demo import DemoOrg
from e360.models import Person, Service, Team
from metrics.models import Commit, Deployment, Incident, PipelineRun, PullRequest, Repository, Review, Source
from metrics.refresh import rebuild

logger = logging.getLogger(__name__)

SOURCE_NAME = "Demo CI"
DEFAULT_BRANCH = "main"
# Whether each size writes Commit rows; see the module docstring.
COMMITS_FOR_SIZE = {"small": True, "large": False}
# A share of services sends no change list with its deployments, only the sha.
SHA_ONLY_SERVICES = 0.2
STAGING_SERVICES = 0.35
# Rows buffered before a PostgreSQL flush (all tables together).
FLUSH_ROWS = 100_000

DAY = 86_400
HOUR = 3_600
MINUTE = 60


# --- Team profiles -------------------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    """How a team delivers. Durations are medians of log-normal draws; rates are per change or deployment."""

    name: str
    prs_per_day: float  # per service, on a working day
    coding_hours: float  # first commit → pull request opened
    pickup_hours: float  # opened → first review by a teammate
    review_hours: float  # between successive reviews
    merge_hours: float  # approval → merge
    lines: float  # lines changed
    deploy_on_merge: float  # chance a merge starts a release
    deploy_delay_hours: float  # merge → release start
    weekly_release: bool  # a release train once a week as well
    config_deploys: float  # chance per working day of a release for a configuration change alone
    deploy_minutes: float
    failed_attempts: float  # per release: an attempt fails and is retried
    incidents: float  # per production deployment
    rollbacks: float
    hotfixes: float
    restore_hours: float  # incident started → resolved
    ci_failures: float  # per first CI run
    ci_refailures: float  # per re-run of a failed run: low means flaky
    ci_minutes: float
    quiet_incidents: float  # per service and 30 days, not caused by a deployment
    # (field, value at the end of the history): the field moves linearly from its value above.
    trend: tuple[tuple[str, float], ...] = field(default=())

    def at(self, progress: float) -> Profile:
        """The profile ``progress`` (0 to 1) of the way through the history."""
        if not self.trend:
            return self
        moved = {name: getattr(self, name) + (end - getattr(self, name)) * progress for name, end in self.trend}
        return replace(self, trend=(), **moved)


TYPICAL = Profile(
    name="typical",
    prs_per_day=2.2,
    coding_hours=10,
    pickup_hours=3.5,
    review_hours=3,
    merge_hours=1,
    lines=90,
    deploy_on_merge=0.95,
    deploy_delay_hours=1.0,
    weekly_release=False,
    config_deploys=0.55,
    deploy_minutes=14,
    failed_attempts=0.04,
    incidents=0.065,
    rollbacks=0.015,
    hotfixes=0.015,
    restore_hours=3,
    ci_failures=0.07,
    ci_refailures=0.45,
    ci_minutes=11,
    quiet_incidents=0.7,
)
PROFILES: dict[str, Profile] = {
    "typical": TYPICAL,
    # Small changes, reviewed within the hour, each merge deployed: DORA elite.
    "elite": replace(
        TYPICAL,
        name="elite",
        prs_per_day=6,
        coding_hours=2.5,
        pickup_hours=0.6,
        review_hours=0.8,
        merge_hours=0.25,
        lines=45,
        deploy_on_merge=0.97,
        deploy_delay_hours=0.2,
        deploy_minutes=6,
        failed_attempts=0.015,
        incidents=0.015,
        rollbacks=0.008,
        hotfixes=0.006,
        restore_hours=0.5,
        ci_failures=0.04,
        ci_refailures=0.4,
        ci_minutes=6,
        quiet_incidents=0.15,
    ),
    # Flaky CI: a quarter of runs fail and pass when re-run; releases thin out over time.
    "flaky-ci": replace(
        TYPICAL,
        name="flaky-ci",
        ci_failures=0.36,
        ci_refailures=0.12,
        ci_minutes=17,
        failed_attempts=0.2,
        deploy_on_merge=0.7,
        deploy_delay_hours=3,
        config_deploys=0.1,
        trend=(("ci_failures", 0.44), ("deploy_on_merge", 0.25), ("deploy_delay_hours", 12)),
    ),
    # Reviews wait for days, and longer as time goes on: lead time rises.
    "slow-reviews": replace(
        TYPICAL,
        name="slow-reviews",
        pickup_hours=26,
        review_hours=10,
        merge_hours=3,
        trend=(("pickup_hours", 44),),
    ),
    # Big batches shipped by a weekly train; many failures, slow to recover.
    "low": replace(
        TYPICAL,
        name="low",
        prs_per_day=2.0,
        coding_hours=30,
        pickup_hours=8,
        review_hours=8,
        merge_hours=4,
        lines=170,
        deploy_on_merge=0.0,
        weekly_release=True,
        config_deploys=0.0,
        deploy_minutes=45,
        failed_attempts=0.1,
        incidents=0.17,
        rollbacks=0.04,
        hotfixes=0.04,
        restore_hours=30,
        ci_failures=0.12,
        ci_refailures=0.5,
        ci_minutes=25,
        quiet_incidents=0.8,
    ),
    # Starts close to "low" and ends close to "elite": the before/after story.
    "improving": replace(
        TYPICAL,
        name="improving",
        coding_hours=20,
        pickup_hours=12,
        review_hours=6,
        lines=140,
        deploy_on_merge=0.1,
        deploy_delay_hours=10,
        weekly_release=True,
        config_deploys=0.1,
        incidents=0.1,
        restore_hours=12,
        trend=(
            ("coding_hours", 5),
            ("pickup_hours", 1.5),
            ("review_hours", 1.5),
            ("lines", 60),
            ("deploy_on_merge", 0.9),
            ("deploy_delay_hours", 1),
            ("incidents", 0.025),
            ("restore_hours", 1.5),
        ),
    ),
}
NAMED_PROFILES = {
    "Payments": "elite",
    "Checkout": "flaky-ci",
    "Search": "slow-reviews",
    "Catalog": "low",
    "Developer Tools": "improving",
}
# Every other team, in the order of org.teams: so the small organisation's other
# teams are typical, and each profile recurs about fifty times in the large one.
PROFILE_CYCLE = ["typical", "typical", "typical", "elite", "flaky-ci", "slow-reviews", "low", "improving"]


def team_profiles(teams: list[Team]) -> dict[str, Profile]:
    """Team slug → profile: by name for the named teams, else by position among the others."""
    profiles, others = {}, 0
    for team in teams:
        name = NAMED_PROFILES.get(team.name)
        if name is None:
            name, others = PROFILE_CYCLE[others % len(PROFILE_CYCLE)], others + 1
        profiles[team.slug] = PROFILES[name]
    return profiles


# --- Vocabulary -------------------------------------------------------------------------

VERBS = ["Add", "Fix", "Refactor", "Remove", "Speed up", "Clean up", "Document", "Test", "Harden", "Simplify"]
SUBJECTS = [
    "retry logic",
    "pagination",
    "the health check",
    "request validation",
    "cache invalidation",
    "error handling",
    "structured logging",
    "metrics export",
    "the config loader",
    "the connection pool",
    "the feature flag",
    "rate limiting",
    "the API client",
    "timeouts",
    "dependency versions",
    "the migration",
]
INCIDENT_TITLES = [
    "Elevated 5xx rate on {}",
    "p99 latency above SLO on {}",
    "Error budget burn on {}",
    "{} failing health checks",
    "Queue backlog growing in {}",
    "Timeouts calling {}",
    "{} returning stale data",
    "Memory pressure on {}",
]
TITLES = [f"{verb} {subject}" for verb in VERBS for subject in SUBJECTS]
SEVERITIES = ["sev1"] * 4 + ["sev2"] * 14 + ["sev3"] * 42 + ["sev4"] * 40
MINOR_SEVERITIES = [s for s in SEVERITIES if s in ("sev3", "sev4")]
# Severe incidents get all hands; minor ones wait.
RESTORE_FACTOR = {"sev1": 0.4, "sev2": 0.7, "sev3": 1.0, "sev4": 2.0}
COMMIT_COUNTS = [1] * 35 + [2] * 25 + [3] * 18 + [4] * 12 + [5] * 10
REVIEW_COUNTS = [1] * 55 + [2] * 30 + [3] * 15
DIRECT_PUSHES = 0.02
ABANDONED = 0.06  # closed without merging
STALE = 0.01  # left open, never reviewed
WEEKEND = 0.06  # activity on Saturday and Sunday, relative to a working day
HOLIDAY = 0.3  # 23 December to 1 January
LIFECYCLE_ACTIVITY = {"deprecated": 0.2, "experimental": 0.5}


def _pick[T](rng: random.Random, items: list[T]) -> T:
    # rng.choice costs several times more; this is the hot path of a large build.
    return items[int(rng.random() * len(items))]


# Standard normal quantiles: a log-normal draw is a table look-up and a multiplication.
_NORMAL = [NormalDist().inv_cdf((i + 0.5) / 4096) for i in range(4096)]
_SPREADS: dict[float, list[float]] = {}


def _lognormal(rng: random.Random, median: float, sigma: float) -> int:
    spread = _SPREADS.get(sigma)
    if spread is None:
        spread = _SPREADS[sigma] = [math.exp(sigma * z) for z in _NORMAL]
    return int(median * spread[int(rng.random() * 4096)])


def _poisson(rng: random.Random, mean: float) -> int:
    # Knuth's method: the means here are a handful per day.
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


# When in the day pull requests are opened: a triangle from 07:30 to 19:30, peaking at 13:00.
_OPENING = [
    int(HOUR * (7.5 + math.sqrt(u * 12 * 5.5) if u < 5.5 / 12 else 19.5 - math.sqrt((1 - u) * 12 * 6.5)))
    for u in ((i + 0.5) / 1024 for i in range(1024))
]


def _office(ts: int) -> int:
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


def _sha(rng: random.Random) -> str:
    return f"{rng.getrandbits(160):040x}"


# --- One service's history ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Repo:
    id: int
    name: str


@dataclass(frozen=True, slots=True)
class _Person:
    id: int
    login: str


class _Change:
    """A pull request or direct push while it is simulated; times are epoch seconds."""

    __slots__ = (
        "additions",
        "approved",
        "author",
        "closed",
        "commits",
        "deletions",
        "direct",
        "external_id",
        "first_commit",
        "merged",
        "opened",
        "repo",
        "reviews",
        "sha",
        "title",
    )

    def __init__(self, repo: _Repo, author: _Person, opened: int, sha: str) -> None:
        self.repo = repo
        self.author = author
        self.opened = opened
        self.sha = sha
        self.first_commit = opened
        self.commits: list[tuple[str, int]] = []
        self.reviews: list[tuple[_Person, str, int]] = []
        self.approved: int | None = None
        self.merged: int | None = None
        self.closed: int | None = None
        self.direct = False
        self.title = ""
        self.external_id = ""
        self.additions = 0
        self.deletions = 0


@dataclass
class _Rows:
    """Rows as tuples in the column order of ``COLUMNS``.

    Reviews and commits start with the index of their pull request in
    ``pull_requests``; the writer swaps in the id.
    """

    pull_requests: list[tuple] = field(default_factory=list)
    reviews: list[tuple] = field(default_factory=list)
    commits: list[tuple] = field(default_factory=list)
    deployments: list[tuple] = field(default_factory=list)
    incidents: list[tuple] = field(default_factory=list)
    pipeline_runs: list[tuple] = field(default_factory=list)

    def __len__(self) -> int:
        return sum(len(getattr(self, f.name)) for f in fields(self))


COLUMNS: dict[type[models.Model], tuple[str, ...]] = {
    PullRequest: (
        "source_id",
        "external_id",
        "repository_id",
        "service_id",
        "number",
        "title",
        "url",
        "author_login",
        "author_id",
        "base_branch",
        "is_direct_push",
        "first_commit_at",
        "opened_at",
        "first_review_at",
        "approved_at",
        "merged_at",
        "closed_at",
        "merge_sha",
        "additions",
        "deletions",
    ),
    Review: ("pull_request_id", "external_id", "author_login", "state", "submitted_at"),
    Commit: ("pull_request_id", "repository_id", "sha", "authored_at"),
    Deployment: (
        "source_id",
        "external_id",
        "service_id",
        "environment",
        "is_production",
        "status",
        "started_at",
        "finished_at",
        "sha",
        "repository_id",
        "ref",
        "title",
        "url",
        "is_rollback",
        "is_hotfix",
        "sent_changes",
    ),
    Incident: (
        "source_id",
        "external_id",
        "service_id",
        "title",
        "severity",
        "url",
        "started_at",
        "resolved_at",
        "root_cause_sha",
    ),
    PipelineRun: (
        "source_id",
        "external_id",
        "service_id",
        "repository_id",
        "workflow",
        "branch",
        "is_default_branch",
        "sha",
        "status",
        "attempt",
        "started_at",
        "finished_at",
        "duration_seconds",
        "url",
    ),
}
ROWS_OF = {
    PullRequest: "pull_requests",
    Review: "reviews",
    Commit: "commits",
    Deployment: "deployments",
    Incident: "incidents",
    PipelineRun: "pipeline_runs",
}


@dataclass(frozen=True)
class _Context:
    source_id: int
    start: int
    now: int
    first_day: int
    # Per day of the history: each profile as it is that day, and how busy the day is.
    profiles: dict[str, list[Profile]]
    day_factors: list[float]
    commits: bool
    # Epoch seconds (or None) → what the writer stores for a time.
    when: Callable[[int | None], object]


class _ServiceHistory:
    """Simulates one service from its launch (or the start of the history) to ``now``."""

    def __init__(
        self,
        ctx: _Context,
        service: Service,
        profile: Profile,
        people: list[Person],
        repos: list[_Repo],
        rng: random.Random,
    ) -> None:
        self.ctx = ctx
        self.rng = rng
        self.service = service
        self.service_id = service.pk
        self.days = ctx.profiles[profile.name]
        self.repo, self.config_repo = repos[0], (repos[1] if len(repos) > 1 else None)
        team = [_Person(person.pk, person.github_login) for person in people]
        # The lead (listed first) writes fewer changes; reviewers are the author's teammates.
        members = team[1:] or team
        self.authors = [team[0], *members, *members, *members]
        self.teammates = {person: [p for p in team if p != person] or [person] for person in team}
        self.activity = rng.lognormvariate(0.0, 0.45) * LIFECYCLE_ACTIVITY.get(service.lifecycle, 1.0)
        self.sends_changes = rng.random() >= SHA_ONLY_SERVICES
        self.staging = rng.random() < STAGING_SERVICES
        pattern = (service.production_environments or ["production"])[0]
        self.environment = pattern.replace("*", "eu")
        self.is_production = service.is_production(self.environment)
        self.release_weekday = rng.randint(1, 3)  # Tuesday to Thursday
        self.changes: list[_Change] = []
        self.deployments: list[tuple] = []
        self.incidents: list[tuple] = []
        self.runs: list[tuple] = []
        self.run_number = rng.randint(1_000, 90_000) * 100
        self.current_sha = self.previous_sha = _sha(rng)  # what runs in production when the history starts
        self.production_finishes: list[int] = []

    def profile(self, ts: int) -> Profile:
        return self.days[min(max(ts // DAY - self.ctx.first_day, 0), len(self.days) - 1)]

    def simulate(self) -> None:
        rng, ctx = self.rng, self.ctx
        launched = int(self.service.created.timestamp()) // DAY
        for day in range(max(ctx.first_day, launched), ctx.now // DAY):
            index = day - ctx.first_day
            p = self.days[index]
            for _ in range(_poisson(rng, p.prs_per_day * self.activity * ctx.day_factors[index])):
                self.changes.append(self.change(day * DAY + _OPENING[int(rng.random() * 1024)], p))
        self.release()
        self.quiet_incidents()
        for change in self.changes:
            if change.merged is not None:
                self.ci_runs(change)

    # --- Changes

    def change(self, opened: int, p: Profile) -> _Change:
        rng, now = self.rng, self.ctx.now
        repo = self.config_repo if self.config_repo is not None and rng.random() < 0.12 else self.repo
        change = _Change(repo, _pick(rng, self.authors), opened, _sha(rng))
        lines = min(20_000, 1 + _lognormal(rng, p.lines, 1.2))
        change.additions = max(1, int(lines * (0.45 + 0.5 * rng.random())))
        change.deletions = max(0, lines - change.additions)
        change.title = _pick(rng, TITLES)
        if rng.random() < DIRECT_PUSHES:
            change.direct = True
            change.title = "Bump version" if change.additions < 5 else f"Update {_pick(rng, SUBJECTS)}"
            change.merged = change.closed = opened
            if self.ctx.commits:
                change.commits = [(change.sha, opened)]
            return change

        coding = max(2 * MINUTE, _lognormal(rng, p.coding_hours * HOUR, 1.0))
        first_commit = change.first_commit = opened - coding
        if self.ctx.commits:
            times = sorted(first_commit + int(rng.random() * coding) for _ in range(_pick(rng, COMMIT_COUNTS) - 1))
            change.commits = [(_sha(rng), t) for t in [first_commit, *times]]

        fate = rng.random()
        if fate < STALE:
            return change
        # One to three teammates in turn; the last one approves.
        reviewers = self.teammates[change.author]
        count = min(_pick(rng, REVIEW_COUNTS), len(reviewers))
        first = int(rng.random() * len(reviewers))
        t = _office(opened + _lognormal(rng, p.pickup_hours * HOUR, 0.9))
        for k in range(count):
            if k:
                t = _office(t + _lognormal(rng, p.review_hours * HOUR, 0.8))
            if k == count - 1:
                state = Review.State.APPROVED
            else:
                state = Review.State.CHANGES_REQUESTED if rng.random() < 0.5 else Review.State.COMMENTED
            change.reviews.append((reviewers[(first + k) % len(reviewers)], state, t))
        if fate < STALE + ABANDONED:
            closed = change.closed = opened + _lognormal(rng, 3 * DAY, 1.0)
            change.reviews = [r for r in change.reviews if r[1] != Review.State.APPROVED and r[2] < closed]
        else:
            change.approved = t
            change.merged = change.closed = _office(t + _lognormal(rng, p.merge_hours * HOUR, 1.0))
        # What has not happened by now stays open.
        if change.reviews and change.reviews[-1][2] >= now:
            change.reviews = [r for r in change.reviews if r[2] < now]
        if change.approved is not None and change.approved >= now:
            change.approved = None
        if change.closed is not None and change.closed >= now:
            change.merged = change.closed = None
        return change

    # --- Deployments and their failures

    def release(self) -> None:
        """Release merged changes a batch at a time: after merges, on the weekly train, and for config changes."""
        rng, ctx = self.rng, self.ctx
        merged = sorted((c for c in self.changes if c.merged is not None), key=lambda c: c.merged)
        if not merged:
            return
        # (start, whether it deploys even with no new change)
        triggers: list[tuple[int, bool]] = []
        for change in merged:
            p = self.profile(change.merged)
            if rng.random() < p.deploy_on_merge:
                triggers.append((_office(change.merged + _lognormal(rng, p.deploy_delay_hours * HOUR, 0.8)), False))
        first_day = merged[0].merged // DAY
        for day in range(first_day, ctx.now // DAY):
            weekday = (day + 3) % 7
            if weekday >= 5:
                continue
            p = self.days[min(max(day - ctx.first_day, 0), len(self.days) - 1)]
            if p.weekly_release and weekday == self.release_weekday:
                triggers.append((day * DAY + 12 * HOUR + int(rng.random() * 4 * HOUR), False))
            if rng.random() < p.config_deploys * self.activity:
                triggers.append((day * DAY + _OPENING[int(rng.random() * 1024)], True))
        triggers.sort()
        shipped = 0
        busy_until = 0
        for trigger, forced in triggers:
            start = max(trigger, busy_until)
            end = shipped
            while end < len(merged) and merged[end].merged <= start:
                end += 1
            if end == shipped and not forced:
                continue
            finished = self.deploy(start, merged[shipped:end])
            if finished is None:
                break
            shipped = end
            busy_until = self.failures(finished)

    def deploy(
        self,
        start: int,
        batch: list[_Change],
        *,
        rollback_to: str | None = None,
        hotfix: bool = False,
        regular: bool = True,
    ) -> int | None:
        """Ship ``batch`` to production from ``start``; the finish time, or None if that is after now.

        A regular release goes through staging first (on services that have
        it) and may fail an attempt and be retried; a rollback or a hotfix goes
        straight to production.
        """
        rng, p, now = self.rng, self.profile(start), self.ctx.now
        sha = rollback_to or next((c.sha for c in reversed(batch) if c.repo is self.repo), self.current_sha)
        duration = max(MINUTE, _lognormal(rng, p.deploy_minutes * MINUTE, 0.5))
        if regular and self.staging:
            staged = start + max(MINUTE, _lognormal(rng, p.deploy_minutes * MINUTE, 0.5))
            if staged >= now:
                return None
            self.deployment("staging", False, Deployment.Status.SUCCESS, start, staged, sha, None)
            start = staged + _lognormal(rng, 15 * MINUTE, 0.8)
        attempt = 1
        if regular and rng.random() < p.failed_attempts:
            failed = start + int(duration * (0.2 + 0.7 * rng.random()))
            if failed >= now:
                return None
            status = Deployment.Status.ERROR if rng.random() < 0.2 else Deployment.Status.FAILURE
            self.deployment(self.environment, self.is_production, status, start, failed, sha, None)
            self.run("deploy", self.repo, sha, PipelineRun.Status.FAILURE, 1, start, failed)
            start, attempt = failed + _lognormal(rng, 12 * MINUTE, 0.6), 2
        finished = start + duration
        if finished >= now:
            return None
        self.deployment(
            self.environment,
            self.is_production,
            Deployment.Status.SUCCESS,
            start,
            finished,
            sha,
            batch if self.sends_changes else None,
            rollback=rollback_to is not None,
            hotfix=hotfix,
        )
        self.run("deploy", self.repo, sha, PipelineRun.Status.SUCCESS, attempt, start, finished)
        self.previous_sha, self.current_sha = self.current_sha, sha
        self.production_finishes.append(finished)
        return finished

    def deployment(
        self,
        environment: str,
        is_production: bool,
        status: str,
        start: int,
        finished: int,
        sha: str,
        sent: list[_Change] | None,
        *,
        rollback: bool = False,
        hotfix: bool = False,
    ) -> None:
        number = len(self.deployments) + 1
        slug = self.service.slug
        title = f"Roll back to {sha[:7]}" if rollback else f"{'Hotfix' if hotfix else 'Deploy'} {sha[:7]}"
        when = self.ctx.when
        self.deployments.append(
            (
                self.ctx.source_id,
                f"{slug}/deployments/{number}",
                self.service_id,
                environment,
                is_production,
                status,
                when(start),
                when(finished),
                sha,
                self.repo.id,
                DEFAULT_BRANCH,
                f"{title} to {environment}",
                f"https://ci.demo.e360.dev/{slug}/deployments/{number}",
                rollback,
                hotfix,
                sent,  # resolved to external ids once the pull requests are numbered
            )
        )

    def failures(self, finished: int) -> int:
        """Maybe an incident, a rollback or a hotfix after a release that finished at ``finished``.

        Returns when the next release may start: after the recovery deployment,
        if any, so that it is the next production deployment (METRICS.md, CFR).
        """
        rng, p = self.rng, self.profile(finished)
        roll = rng.random()
        if roll < p.incidents:
            started = finished + min(5 * DAY, _lognormal(rng, 45 * MINUTE, 1.1))
            if started >= self.ctx.now:
                return finished
            severity = _pick(rng, SEVERITIES)
            culprit = self.current_sha
            recovered = None
            if rng.random() < 0.4:
                recovered = self.recover(started + _lognormal(rng, 30 * MINUTE, 0.8), rollback=rng.random() < 0.5)
            if recovered is not None:
                resolved = recovered + _lognormal(rng, 20 * MINUTE, 0.8)
            else:
                resolved = started + _lognormal(rng, p.restore_hours * HOUR * RESTORE_FACTOR[severity], 1.0)
            self.incident(started, resolved, severity, root_cause=culprit if rng.random() < 0.15 else "")
            return max(finished, recovered or 0)
        if roll < p.incidents + p.rollbacks:
            return self.recover(finished + _lognormal(rng, 20 * MINUTE, 0.8), rollback=True) or finished
        if roll < p.incidents + p.rollbacks + p.hotfixes:
            return self.recover(finished + _lognormal(rng, 90 * MINUTE, 0.8), rollback=False) or finished
        return finished

    def recover(self, at: int, *, rollback: bool) -> int | None:
        """Roll back to the previous sha, or write, review and ship a hotfix; the finish time."""
        rng = self.rng
        if rollback:
            return self.deploy(at, [], rollback_to=self.previous_sha, regular=False)
        change = _Change(self.repo, _pick(rng, self.authors), at, _sha(rng))
        change.title = f"Hotfix: {_pick(rng, SUBJECTS)}"
        change.first_commit = at - _lognormal(rng, 25 * MINUTE, 0.6)
        if self.ctx.commits:
            change.commits = [(_sha(rng), change.first_commit)]
        change.additions, change.deletions = 1 + _lognormal(rng, 12, 0.8), _lognormal(rng, 4, 0.8)
        approved = change.approved = at + _lognormal(rng, 12 * MINUTE, 0.6)
        change.reviews = [(_pick(rng, self.teammates[change.author]), Review.State.APPROVED, approved)]
        change.merged = change.closed = approved + _lognormal(rng, 6 * MINUTE, 0.6)
        if change.merged >= self.ctx.now:
            return None
        self.changes.append(change)
        return self.deploy(change.merged + _lognormal(rng, 5 * MINUTE, 0.5), [change], hotfix=True, regular=False)

    def incident(self, started: int, resolved: int | None, severity: str, *, root_cause: str = "") -> None:
        rng, now, when = self.rng, self.ctx.now, self.ctx.when
        if resolved is not None and (resolved >= now or (now - started < 2 * DAY and rng.random() < 0.3)):
            resolved = None  # still open
        elif rng.random() < 0.003:
            resolved = None  # forgotten
        number = len(self.incidents) + 1
        slug = self.service.slug
        self.incidents.append(
            (
                self.ctx.source_id,
                f"{slug}/INC-{number}",
                self.service_id,
                _pick(rng, INCIDENT_TITLES).format(self.service.name),
                severity,
                f"https://incidents.demo.e360.dev/{slug}/{number}",
                when(started),
                when(resolved),
                root_cause,
            )
        )

    def quiet_incidents(self) -> None:
        """Incidents no deployment caused, after the first production deployment."""
        if not self.production_finishes:
            return
        rng, now = self.rng, self.ctx.now
        first = self.production_finishes[0]
        mean = self.days[-1].quiet_incidents * math.sqrt(self.activity) * (now - first) / (30 * DAY)
        for started in sorted(first + int(rng.random() * (now - first)) for _ in range(_poisson(rng, mean))):
            severity = _pick(rng, MINOR_SEVERITIES)
            hours = self.profile(started).restore_hours * RESTORE_FACTOR[severity]
            self.incident(started, started + _lognormal(rng, hours * HOUR, 1.0), severity)

    # --- Pipeline runs

    def ci_runs(self, change: _Change) -> None:
        """The default branch's CI run for a merged change, re-run on the same sha after a failure."""
        rng, p = self.rng, self.profile(change.merged)
        start = change.merged + 5 + int(rng.random() * 85)
        if rng.random() < 0.01:
            cancelled = start + 30 + int(rng.random() * 270)
            self.run("ci", change.repo, change.sha, PipelineRun.Status.CANCELLED, 1, start, cancelled)
            return
        failure = p.ci_failures
        for attempt in (1, 2, 3):
            finished = start + max(MINUTE, _lognormal(rng, p.ci_minutes * MINUTE, 0.45))
            if finished >= self.ctx.now:
                return
            failed = rng.random() < failure
            status = PipelineRun.Status.FAILURE if failed else PipelineRun.Status.SUCCESS
            self.run("ci", change.repo, change.sha, status, attempt, start, finished)
            if not failed:
                return
            failure = p.ci_refailures
            start = finished + _lognormal(rng, 10 * MINUTE, 0.8)

    def run(self, workflow: str, repo: _Repo, sha: str, status: str, attempt: int, start: int, end: int) -> None:
        if attempt == 1:
            self.run_number += 1
        path = f"{repo.name}/actions/runs/{self.run_number}/attempts/{attempt}"
        when = self.ctx.when
        self.runs.append(
            (
                self.ctx.source_id,
                path,
                self.service_id,
                repo.id,
                workflow,
                DEFAULT_BRANCH,
                True,
                sha,
                status,
                attempt,
                when(start),
                when(end),
                end - start,
                f"https://github.com/{path}",
            )
        )

    # --- Rows

    def rows(self) -> _Rows:
        """The history as rows; pull requests are numbered per repository in the order they were opened."""
        rows = _Rows(incidents=self.incidents, pipeline_runs=self.runs)
        when, source_id, service_id = self.ctx.when, self.ctx.source_id, self.service_id
        numbers: dict[_Repo, int] = {}
        self.changes.sort(key=lambda c: c.opened)
        for index, change in enumerate(self.changes):
            repo, author = change.repo, change.author
            if change.direct:
                number = None
                change.external_id = f"{repo.name}@{change.sha}"
                url = f"https://github.com/{repo.name}/commit/{change.sha}"
            else:
                # Repositories have history before the demo's: numbers start somewhere above 100.
                number = numbers[repo] = numbers.get(repo, 100 + zlib.crc32(repo.name.encode()) % 2_000) + 1
                change.external_id = f"{repo.name}#{number}"
                url = f"https://github.com/{repo.name}/pull/{number}"
            reviews = change.reviews
            rows.pull_requests.append(
                (
                    source_id,
                    change.external_id,
                    repo.id,
                    service_id,
                    number,
                    change.title,
                    url,
                    author.login,
                    author.id,
                    DEFAULT_BRANCH,
                    change.direct,
                    when(change.first_commit),
                    when(change.opened),
                    when(reviews[0][2]) if reviews else None,
                    when(change.approved),
                    when(change.merged),
                    when(change.closed),
                    change.sha if change.merged is not None else "",
                    change.additions,
                    change.deletions,
                )
            )
            for k, (reviewer, state, at) in enumerate(reviews, start=1):
                rows.reviews.append((index, str(k), reviewer.login, state, when(at)))
            for sha, at in change.commits:
                rows.commits.append((index, repo.id, sha, when(at)))
        rows.deployments = [
            row if row[15] is None else (*row[:15], [c.external_id for c in row[15]]) for row in self.deployments
        ]
        return rows


def delivery_history(
    org: DemoOrg,
    *,
    source_id: int,
    repository_ids: dict[str, int],
    commits: bool = True,
    when: Callable[[int | None], object] | None = None,
) -> Iterator[_Rows]:
    """Every service's rows, one service at a time, without touching the database.

    It needs the ids of the people and services of ``org``, the source's and
    the repositories'. ``when`` turns epoch seconds into what the rows hold
    (default: aware datetimes).
    """
    start, now = int(org.start.timestamp()), int(org.now.timestamp())
    first_day, days = start // DAY, (now - start) // DAY
    day_factors = []
    for index in range(days + 1):
        day = datetime.fromtimestamp((first_day + index) * DAY, UTC)
        factor = WEEKEND if day.weekday() >= 5 else 1.0
        if (day.month, day.day) >= (12, 23) or (day.month, day.day) <= (1, 1):
            factor *= HOLIDAY
        day_factors.append(factor)
    ctx = _Context(
        source_id=source_id,
        start=start,
        now=now,
        first_day=first_day,
        profiles={name: [p.at(i / max(days, 1)) for i in range(days + 1)] for name, p in PROFILES.items()},
        day_factors=day_factors,
        commits=commits,
        when=when or _datetime,
    )
    profiles = team_profiles(org.teams)
    for service in org.services:
        history = _ServiceHistory(
            ctx,
            service,
            profiles[service.owner.slug],
            org.people_in(service.owner),
            [_Repo(repository_ids[name], name) for name in service.repositories],
            org.random(f"metrics:{service.slug}"),
        )
        history.simulate()
        yield history.rows()


# --- Writers -------------------------------------------------------------------------------


def _datetime(ts: int | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


def _timestamp_text(zone: str) -> Callable[[int | None], str | None]:
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


def _fixed_columns(model: type[models.Model]) -> tuple[list[str], tuple]:
    """The columns the simulation leaves out (besides the id), with their defaults.

    Read from the model, so a new column with a default needs no change here;
    one without a default stops the seeder with a clear message.
    """
    names, values = [], []
    for f in model._meta.concrete_fields:
        if f.primary_key or f.attname in COLUMNS[model]:
            continue
        if not f.has_default() and not f.null:
            raise ValueError(f"{model.__name__}.{f.name} has no default: metrics.demo must fill it in.")
        value = f.get_default() if f.has_default() else None
        names.append(f.column)
        values.append(json.dumps(value) if isinstance(f, models.JSONField) else value)
    return names, tuple(values)


class _Writer:
    """Buffers rows over several services and inserts them table by table, bypassing the ORM.

    Use it as a context manager: rows written inside are all inserted when the
    block ends without an error. Pull request ids are reserved before the rows
    are inserted (``reserve_ids``), so reviews and commits can name them in the
    same round.
    """

    when: Callable[[int | None], str | None]

    def __init__(self) -> None:
        self.pending = _Rows()
        self.statements = {}
        for model in COLUMNS:
            column_of = {f.attname: f.column for f in model._meta.concrete_fields}
            columns = [column_of[name] for name in COLUMNS[model]]
            if model is PullRequest:
                columns.insert(0, model._meta.pk.column)
            fixed_names, fixed_values = _fixed_columns(model)
            self.statements[model] = (model._meta.db_table, [*columns, *fixed_names], fixed_values)

    def __enter__(self) -> _Writer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        if exc_type is None:
            self.flush()

    def reserve_ids(self, count: int) -> list[int]:
        raise NotImplementedError

    def insert(self, table: str, columns: list[str], rows: list[tuple]) -> None:
        raise NotImplementedError

    def write(self, rows: _Rows) -> None:
        ids = self.reserve_ids(len(rows.pull_requests)) if rows.pull_requests else []
        pending = self.pending
        pending.pull_requests.extend((pk, *row) for pk, row in zip(ids, rows.pull_requests, strict=True))
        pending.reviews.extend((ids[row[0]], *row[1:]) for row in rows.reviews)
        pending.commits.extend((ids[row[0]], *row[1:]) for row in rows.commits)
        pending.deployments.extend(
            row if row[15] is None else (*row[:15], json.dumps(row[15])) for row in rows.deployments
        )
        pending.incidents.extend(rows.incidents)
        pending.pipeline_runs.extend(rows.pipeline_runs)
        if len(pending) >= FLUSH_ROWS:
            self.flush()

    def flush(self) -> None:
        for model, attr in ROWS_OF.items():
            rows = getattr(self.pending, attr)
            if rows:
                table, columns, fixed = self.statements[model]
                self.insert(table, columns, [row + fixed for row in rows])
                rows.clear()


class _CopyWriter(_Writer):
    """PostgreSQL: COPY from a thread of its own, into tables whose secondary indexes and constraints wait.

    - Pull request ids are drawn from the table's own sequence: ``nextval``
      never hands an id out twice, so this is safe next to concurrent writers,
      and the sequence needs no reset afterwards.
    - Simulating is pure Python and COPY mostly waits on the server (without
      holding the GIL), so a writer thread lets the two overlap.
    - Foreign keys checked row by row (deferred to the commit, tens of millions
      of checks for the large organisation), unique constraints and secondary
      indexes updated row by row cost more than building them once at the end:
      they are dropped before the load and created again after it, from their
      own definitions, in the same transaction (which ``seed`` opens), so a
      failure leaves them as they were. The tables are locked meanwhile.
    """

    QUEUED = 4  # batches of one service waiting for the writer thread

    def __init__(self) -> None:
        super().__init__()
        self.when = _timestamp_text("+00")
        connection.ensure_connection()
        self.pg = connection.connection
        with self.pg.cursor() as cursor:
            cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [PullRequest._meta.db_table, "id"])
            self.sequence = cursor.fetchone()[0]
        self.queue: queue.Queue[_Rows | None] = queue.Queue(maxsize=self.QUEUED)
        self.thread = threading.Thread(target=self._drain, name="metrics-demo-copy", daemon=True)
        self.failure: BaseException | None = None
        self.restore: list[sql.Composable] = []

    def __enter__(self) -> _CopyWriter:
        self.restore = self._detach()
        self.thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        self._put(None)
        self.thread.join()
        if exc_type is not None:
            return  # the transaction rolls back, constraints and indexes with it
        if self.failure is not None:
            raise self.failure
        with self.pg.cursor() as cursor:
            # Index builds sort; give them room (for this transaction only).
            cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
            for statement in self.restore:
                cursor.execute(statement)
            for model in COLUMNS:
                cursor.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(model._meta.db_table)))
            # Django declares every foreign key DEFERRABLE INITIALLY DEFERRED.
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")

    def write(self, rows: _Rows) -> None:
        self._put(rows)

    def _put(self, rows: _Rows | None) -> None:
        while self.thread.is_alive():
            try:
                self.queue.put(rows, timeout=1)
                return
            except queue.Full:
                continue
        if self.failure is not None and rows is not None:
            raise self.failure

    def _drain(self) -> None:
        try:
            while (rows := self.queue.get()) is not None:
                super().write(rows)
            self.flush()
        except BaseException as exc:  # handed to the main thread
            self.failure = exc

    def _detach(self) -> list[sql.Composable]:
        """Drop the secondary indexes, unique constraints and foreign keys of the demo's tables.

        Returns the statements that create them again: indexes, then unique
        constraints, then foreign keys. Primary keys stay, and so does any
        unique constraint a foreign key elsewhere relies on.
        """
        tables = [model._meta.db_table for model in COLUMNS]
        with self.pg.cursor() as cursor:
            # A table with foreign key checks still queued (the catalog and the
            # repositories, inserted in this transaction) cannot be altered:
            # run those checks now; __exit__ defers constraints again.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(
                """
                SELECT c.conrelid::regclass::text, c.conname, c.contype, pg_get_constraintdef(c.oid)
                FROM pg_constraint c
                WHERE c.conrelid = ANY(%s::regclass[])
                  AND (c.contype = 'f' OR (c.contype = 'u' AND NOT EXISTS (
                      SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = c.conindid)))
                ORDER BY c.contype DESC, c.conname
                """,
                [tables],
            )
            constraints = cursor.fetchall()
            cursor.execute(
                """
                SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
                FROM pg_index i
                WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary
                  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
                ORDER BY 1
                """,
                [tables],
            )
            indexes = cursor.fetchall()
            # regclass text is already quoted (and schema-qualified when needed).
            for table, name, _, _ in constraints:
                cursor.execute(
                    sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(sql.SQL(table), sql.Identifier(name))
                )
            for index, _ in indexes:
                cursor.execute(sql.SQL("DROP INDEX {}").format(sql.SQL(index)))
        restore: list[sql.Composable] = [sql.SQL(definition) for _, definition in indexes]
        # contype DESC: unique constraints ('u') before foreign keys ('f').
        for table, name, _, definition in constraints:
            statement = sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}")
            restore.append(statement.format(sql.SQL(table), sql.Identifier(name), sql.SQL(definition)))
        return restore

    def reserve_ids(self, count: int) -> list[int]:
        with self.pg.cursor() as cursor:
            cursor.execute("SELECT nextval(%s::regclass) FROM generate_series(1, %s)", [self.sequence, count])
            return [row[0] for row in cursor]

    def insert(self, table: str, columns: list[str], rows: list[tuple]) -> None:
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
        )
        with self.pg.cursor() as cursor, cursor.copy(statement) as copy:
            write = copy.write_row
            for row in rows:
                write(row)


class _SqliteWriter(_Writer):
    """SQLite: executemany; pull request ids counted on from the highest one in use.

    SQLite lets one connection write at a time, and the seeder runs in a
    transaction that has already written, so no one else can take these ids
    before it commits. Times are stored the way Django stores them there:
    UTC text without an offset.
    """

    def __init__(self) -> None:
        super().__init__()
        self.when = _timestamp_text("")
        table = PullRequest._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")  # noqa: S608 - a model's table name
            highest = cursor.fetchone()[0]
            cursor.execute("SELECT COALESCE(MAX(seq), 0) FROM sqlite_sequence WHERE name = %s", [table])
            # AUTOINCREMENT never reuses ids of deleted rows; neither do we.
            self.next_id = max(highest, cursor.fetchone()[0]) + 1

    def reserve_ids(self, count: int) -> list[int]:
        ids = list(range(self.next_id, self.next_id + count))
        self.next_id += count
        return ids

    def insert(self, table: str, columns: list[str], rows: list[tuple]) -> None:
        placeholders = ", ".join(["%s"] * len(columns))
        with connection.cursor() as cursor:
            cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})", rows)  # noqa: S608


# --- Entry point -----------------------------------------------------------------------------


def _clear_previous_demo(repository_names: list[str]) -> None:
    """Remove what an earlier demo left behind.

    Deleting the catalog takes deployments, incidents and runs along with the
    services, but pull requests and repositories only lose their service.
    """
    source = Source.objects.filter(name=SOURCE_NAME).first()
    if source is not None:
        Review.objects.filter(pull_request__source=source).delete()
        Commit.objects.filter(pull_request__source=source).delete()
        source.delete()
    Repository.objects.filter(name__in=repository_names).delete()


def _writer() -> _Writer:
    if connection.vendor == "postgresql":
        return _CopyWriter()
    if connection.vendor == "sqlite":
        return _SqliteWriter()
    raise NotImplementedError(f"The demo writes to PostgreSQL or SQLite, not {connection.vendor}.")


def _refresh() -> str:
    """Link changes, deployments and incidents and build the rollups, logging progress."""
    started = time.perf_counter()

    def progress(number: int, total: int, summary: str) -> None:
        if number % 100 == 0 or number == total:
            logger.info("Linked and rolled up %s of %s services (%.0f s)", number, total, time.perf_counter() - started)

    return rebuild(service_ids=None, progress=progress)


@transaction.atomic
def seed(org: DemoOrg) -> str:
    """Generate the delivery history of every demo service; a one-line summary.

    Atomic on its own too: the PostgreSQL writer drops and recreates indexes,
    which must never be left half done.
    """
    repository_names = [name for service in org.services for name in service.repositories]
    _clear_previous_demo(repository_names)
    source = Source.objects.create(
        name=SOURCE_NAME,
        kind=Source.Kind.API,
        team=next((team for team in org.teams if team.name == "CI Infrastructure"), None),
        last_event_at=org.now,
    )
    Repository.objects.bulk_create(
        [
            Repository(name=name, service=service, url=f"https://github.com/{name}")
            for service in org.services
            for name in service.repositories
        ],
        batch_size=500,
    )
    repository_ids = dict(Repository.objects.filter(name__in=repository_names).values_list("name", "id"))

    started = time.perf_counter()
    counts = dict.fromkeys(ROWS_OF.values(), 0)
    production = 0
    commits = COMMITS_FOR_SIZE.get(org.size.name, True)
    with _writer() as writer:
        history = delivery_history(
            org, source_id=source.pk, repository_ids=repository_ids, commits=commits, when=writer.when
        )
        for rows in history:
            for attr in counts:
                counts[attr] += len(getattr(rows, attr))
            production += sum(1 for row in rows.deployments if row[4] and row[5] == Deployment.Status.SUCCESS)
            writer.write(rows)
    return (
        f"{len(repository_ids):,} repositories, {counts['pull_requests']:,} pull requests "
        f"({counts['reviews']:,} reviews, {counts['commits']:,} commits), "
        f"{counts['deployments']:,} deployments ({production:,} to production), "
        f"{counts['incidents']:,} incidents, {counts['pipeline_runs']:,} pipeline runs "
        f"in {time.perf_counter() - started:.1f} s; {_refresh()}"
    )

"""The simulation: one service's delivery history, from its launch (or the start of the history) to now.

:func:`delivery_history` builds, for every service of the demo organisation,
a :class:`_ServiceHistory` that draws its changes (pull requests, reviews,
commits, direct pushes), releases and deployments, failures (incidents,
rollbacks, hotfixes) and pipeline runs from its team's profile and its own
random stream, and yields them as :class:`~metrics.demo.rows._Rows`. It never
touches the database: the seeder hands the rows to a writer.
"""

from __future__ import annotations

import math
import random
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from e360.demo import DemoOrg
from e360.models import Person, Service
from metrics.demo.clock import DAY, HOUR, MINUTE, OPENING, as_datetime, office_hours
from metrics.demo.draws import fake_sha, lognormal, pick, poisson
from metrics.demo.profiles import PROFILES, Profile, planted, team_profiles, with_effect
from metrics.demo.rows import (
    CommitRow,
    DeploymentRow,
    IncidentRow,
    PipelineRunRow,
    PullRequestRow,
    ReviewRow,
    _Rows,
)
from metrics.models import Deployment, PipelineRun, Review

DEFAULT_BRANCH = "main"
# A share of services sends no change list with its deployments, only the sha.
SHA_ONLY_SERVICES = 0.2
STAGING_SERVICES = 0.35


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
STALE = 0.01  # never reviewed, closed unmerged after about STALE_DAYS
STALE_DAYS = 10
WEEKEND = 0.06  # activity on Saturday and Sunday, relative to a working day
HOLIDAY = 0.3  # 23 December to 1 January
LIFECYCLE_ACTIVITY = {"deprecated": 0.2, "experimental": 0.5}


# --- One service's history ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Repo:
    id: int
    name: str


@dataclass(frozen=True, slots=True)
class _Person:
    id: int
    login: str


def _merged_at(change: _Change) -> int:
    """When a change of a list of merged ones was merged."""
    assert change.merged is not None
    return change.merged


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


@dataclass(frozen=True)
class _Context:
    source_id: int
    start: int
    now: int
    first_day: int
    # Per day of the history: each profile as it is that day, and how busy the day is.
    profiles: dict[str, list[Profile]]
    # Team slug → its profile per day, for the teams of the demo's initiatives (their effect planted).
    planted: dict[str, list[Profile]]
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
        self.days = ctx.planted.get(service.owner.slug) or ctx.profiles[profile.name]
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
        self.deployments: list[Any] = []  # DeploymentRow
        self.incidents: list[tuple] = []
        self.runs: list[tuple] = []
        self.run_number = rng.randint(1_000, 90_000) * 100
        self.current_sha = self.previous_sha = fake_sha(rng)  # what runs in production when the history starts
        self.production_finishes: list[int] = []

    def profile(self, ts: int) -> Profile:
        return self.days[min(max(ts // DAY - self.ctx.first_day, 0), len(self.days) - 1)]

    def simulate(self) -> None:
        rng, ctx = self.rng, self.ctx
        launched = int(self.service.created.timestamp()) // DAY
        # Up to now, today included when the history ends during the day (a live review queue).
        for day in range(max(ctx.first_day, launched), -(-ctx.now // DAY)):
            index = day - ctx.first_day
            p = self.days[index]
            for _ in range(poisson(rng, p.prs_per_day * self.activity * ctx.day_factors[index])):
                opened = day * DAY + OPENING[int(rng.random() * 1024)]
                if opened < ctx.now:
                    self.changes.append(self.change(opened, p))
        self.release()
        self.quiet_incidents()
        for change in self.changes:
            if change.merged is not None:
                self.ci_runs(change, change.merged)

    # --- Changes

    def change(self, opened: int, p: Profile) -> _Change:
        rng, now = self.rng, self.ctx.now
        repo = self.config_repo if self.config_repo is not None and rng.random() < 0.12 else self.repo
        change = _Change(repo, pick(rng, self.authors), opened, fake_sha(rng))
        lines = min(20_000, 1 + lognormal(rng, p.lines, 1.2))
        change.additions = max(1, int(lines * (0.45 + 0.5 * rng.random())))
        change.deletions = max(0, lines - change.additions)
        change.title = pick(rng, TITLES)
        if rng.random() < DIRECT_PUSHES:
            change.direct = True
            change.title = "Bump version" if change.additions < 5 else f"Update {pick(rng, SUBJECTS)}"
            change.merged = change.closed = opened
            if self.ctx.commits:
                change.commits = [(change.sha, opened)]
            return change

        coding = max(2 * MINUTE, lognormal(rng, p.coding_hours * HOUR, 1.0))
        first_commit = change.first_commit = opened - coding
        if self.ctx.commits:
            times = sorted(first_commit + int(rng.random() * coding) for _ in range(pick(rng, COMMIT_COUNTS) - 1))
            change.commits = [(fake_sha(rng), t) for t in [first_commit, *times]]

        fate = rng.random()
        if fate < STALE:
            # Nobody reviews it; its author closes it after a week or two, so only the newest linger.
            closed = opened + lognormal(rng, STALE_DAYS * DAY, 0.5)
            if closed < now:
                change.closed = closed
            return change
        # One to three teammates in turn; the last one approves.
        reviewers = self.teammates[change.author]
        count = min(pick(rng, REVIEW_COUNTS), len(reviewers))
        first = int(rng.random() * len(reviewers))
        t = office_hours(opened + lognormal(rng, p.pickup_hours * HOUR, 0.9))
        for k in range(count):
            if k:
                t = office_hours(t + lognormal(rng, p.review_hours * HOUR, 0.8))
            if k == count - 1:
                state = Review.State.APPROVED
            else:
                state = Review.State.CHANGES_REQUESTED if rng.random() < 0.5 else Review.State.COMMENTED
            change.reviews.append((reviewers[(first + k) % len(reviewers)], state, t))
        if fate < STALE + ABANDONED:
            closed = change.closed = opened + lognormal(rng, 3 * DAY, 1.0)
            change.reviews = [r for r in change.reviews if r[1] != Review.State.APPROVED and r[2] < closed]
        else:
            change.approved = t
            change.merged = change.closed = office_hours(t + lognormal(rng, p.merge_hours * HOUR, 1.0))
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
        merged = sorted((c for c in self.changes if c.merged is not None), key=_merged_at)
        if not merged:
            return
        # (start, whether it deploys even with no new change)
        triggers: list[tuple[int, bool]] = []
        for change in merged:
            at = _merged_at(change)
            p = self.profile(at)
            if rng.random() < p.deploy_on_merge:
                triggers.append((office_hours(at + lognormal(rng, p.deploy_delay_hours * HOUR, 0.8)), False))
        first_day = _merged_at(merged[0]) // DAY
        for day in range(first_day, ctx.now // DAY):
            weekday = (day + 3) % 7
            if weekday >= 5:
                continue
            p = self.days[min(max(day - ctx.first_day, 0), len(self.days) - 1)]
            if p.weekly_release and weekday == self.release_weekday:
                triggers.append((day * DAY + 12 * HOUR + int(rng.random() * 4 * HOUR), False))
            if rng.random() < p.config_deploys * self.activity:
                triggers.append((day * DAY + OPENING[int(rng.random() * 1024)], True))
        triggers.sort()
        shipped = 0
        busy_until = 0
        for trigger, forced in triggers:
            start = max(trigger, busy_until)
            end = shipped
            while end < len(merged) and _merged_at(merged[end]) <= start:
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
        duration = max(MINUTE, lognormal(rng, p.deploy_minutes * MINUTE, 0.5))
        if regular and self.staging:
            staged = start + max(MINUTE, lognormal(rng, p.deploy_minutes * MINUTE, 0.5))
            if staged >= now:
                return None
            self.deployment("staging", False, Deployment.Status.SUCCESS, start, staged, sha, None)
            start = staged + lognormal(rng, 15 * MINUTE, 0.8)
        attempt = 1
        if regular and rng.random() < p.failed_attempts:
            failed = start + int(duration * (0.2 + 0.7 * rng.random()))
            if failed >= now:
                return None
            status = Deployment.Status.ERROR if rng.random() < 0.2 else Deployment.Status.FAILURE
            self.deployment(self.environment, self.is_production, status, start, failed, sha, None)
            self.run("deploy", self.repo, sha, PipelineRun.Status.FAILURE, 1, start, failed)
            start, attempt = failed + lognormal(rng, 12 * MINUTE, 0.6), 2
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
            DeploymentRow(
                source_id=self.ctx.source_id,
                external_id=f"{slug}/deployments/{number}",
                service_id=self.service_id,
                environment=environment,
                is_production=is_production,
                status=status,
                started_at=when(start),
                finished_at=when(finished),
                sha=sha,
                repository_id=self.repo.id,
                ref=DEFAULT_BRANCH,
                title=f"{title} to {environment}",
                url=f"https://ci.demo.e360.dev/{slug}/deployments/{number}",
                is_rollback=rollback,
                is_hotfix=hotfix,
                changes=sent,  # resolved to external ids once the pull requests are numbered
            )
        )

    def failures(self, finished: int) -> int:
        """Maybe an incident, a rollback or a hotfix after a release that finished at ``finished``.

        Returns when the next release may start: after the recovery deployment,
        if any, so that it is the next production deployment (docs/metrics.md#failed-deployment).
        """
        rng, p = self.rng, self.profile(finished)
        roll = rng.random()
        if roll < p.incidents:
            started = finished + min(5 * DAY, lognormal(rng, 45 * MINUTE, 1.1))
            if started >= self.ctx.now:
                return finished
            severity = pick(rng, SEVERITIES)
            culprit = self.current_sha
            recovered = None
            if rng.random() < 0.4:
                recovered = self.recover(started + lognormal(rng, 30 * MINUTE, 0.8), rollback=rng.random() < 0.5)
            if recovered is not None:
                resolved = recovered + lognormal(rng, 20 * MINUTE, 0.8)
            else:
                resolved = started + lognormal(rng, p.restore_hours * HOUR * RESTORE_FACTOR[severity], 1.0)
            self.incident(started, resolved, severity, root_cause=culprit if rng.random() < 0.15 else "")
            return max(finished, recovered or 0)
        if roll < p.incidents + p.rollbacks:
            return self.recover(finished + lognormal(rng, 20 * MINUTE, 0.8), rollback=True) or finished
        if roll < p.incidents + p.rollbacks + p.hotfixes:
            return self.recover(finished + lognormal(rng, 90 * MINUTE, 0.8), rollback=False) or finished
        return finished

    def recover(self, at: int, *, rollback: bool) -> int | None:
        """Roll back to the previous sha, or write, review and ship a hotfix; the finish time."""
        rng = self.rng
        if rollback:
            return self.deploy(at, [], rollback_to=self.previous_sha, regular=False)
        change = _Change(self.repo, pick(rng, self.authors), at, fake_sha(rng))
        change.title = f"Hotfix: {pick(rng, SUBJECTS)}"
        change.first_commit = at - lognormal(rng, 25 * MINUTE, 0.6)
        if self.ctx.commits:
            change.commits = [(fake_sha(rng), change.first_commit)]
        change.additions, change.deletions = 1 + lognormal(rng, 12, 0.8), lognormal(rng, 4, 0.8)
        approved = change.approved = at + lognormal(rng, 12 * MINUTE, 0.6)
        change.reviews = [(pick(rng, self.teammates[change.author]), Review.State.APPROVED, approved)]
        change.merged = change.closed = approved + lognormal(rng, 6 * MINUTE, 0.6)
        if change.merged >= self.ctx.now:
            return None
        self.changes.append(change)
        return self.deploy(change.merged + lognormal(rng, 5 * MINUTE, 0.5), [change], hotfix=True, regular=False)

    def incident(self, started: int, resolved: int | None, severity: str, *, root_cause: str = "") -> None:
        rng, now, when = self.rng, self.ctx.now, self.ctx.when
        if resolved is not None and (resolved >= now or (now - started < 2 * DAY and rng.random() < 0.3)):
            resolved = None  # still open
        elif rng.random() < 0.003:
            resolved = None  # forgotten
        number = len(self.incidents) + 1
        slug = self.service.slug
        self.incidents.append(
            IncidentRow(
                source_id=self.ctx.source_id,
                external_id=f"{slug}/INC-{number}",
                service_id=self.service_id,
                title=pick(rng, INCIDENT_TITLES).format(self.service.name),
                severity=severity,
                url=f"https://incidents.demo.e360.dev/{slug}/{number}",
                started_at=when(started),
                resolved_at=when(resolved),
                caused_by_id=None,  # the sender names no deployment: linking finds it
                root_cause_sha=root_cause,
            )
        )

    def quiet_incidents(self) -> None:
        """Incidents no deployment caused, after the first production deployment."""
        if not self.production_finishes:
            return
        rng, now = self.rng, self.ctx.now
        first = self.production_finishes[0]
        mean = self.days[-1].quiet_incidents * math.sqrt(self.activity) * (now - first) / (30 * DAY)
        for started in sorted(first + int(rng.random() * (now - first)) for _ in range(poisson(rng, mean))):
            severity = pick(rng, MINOR_SEVERITIES)
            hours = self.profile(started).restore_hours * RESTORE_FACTOR[severity]
            self.incident(started, started + lognormal(rng, hours * HOUR, 1.0), severity)

    # --- Pipeline runs

    def ci_runs(self, change: _Change, merged: int) -> None:
        """The default branch's CI run for a change merged at ``merged``, re-run on the same sha after a failure."""
        rng, p = self.rng, self.profile(merged)
        start = merged + 5 + int(rng.random() * 85)
        if rng.random() < 0.01:
            cancelled = start + 30 + int(rng.random() * 270)
            self.run("ci", change.repo, change.sha, PipelineRun.Status.CANCELLED, 1, start, cancelled)
            return
        failure = p.ci_failures
        for attempt in (1, 2, 3):
            finished = start + max(MINUTE, lognormal(rng, p.ci_minutes * MINUTE, 0.45))
            if finished >= self.ctx.now:
                return
            failed = rng.random() < failure
            status = PipelineRun.Status.FAILURE if failed else PipelineRun.Status.SUCCESS
            self.run("ci", change.repo, change.sha, status, attempt, start, finished)
            if not failed:
                return
            failure = p.ci_refailures
            start = finished + lognormal(rng, 10 * MINUTE, 0.8)

    def run(self, workflow: str, repo: _Repo, sha: str, status: str, attempt: int, start: int, end: int) -> None:
        if attempt == 1:
            self.run_number += 1
        path = f"{repo.name}/actions/runs/{self.run_number}/attempts/{attempt}"
        when = self.ctx.when
        self.runs.append(
            PipelineRunRow(
                source_id=self.ctx.source_id,
                external_id=path,
                service_id=self.service_id,
                repository_id=repo.id,
                workflow=workflow,
                branch=DEFAULT_BRANCH,
                is_default_branch=True,
                sha=sha,
                status=status,
                attempt=attempt,
                started_at=when(start),
                finished_at=when(end),
                duration_seconds=end - start,
                url=f"https://github.com/{path}",
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
                PullRequestRow(
                    source_id=source_id,
                    external_id=change.external_id,
                    repository_id=repo.id,
                    service_id=service_id,
                    number=number,
                    title=change.title,
                    url=url,
                    author=author.login,
                    person_id=author.id,
                    base_branch=DEFAULT_BRANCH,
                    is_direct_push=change.direct,
                    first_commit_at=when(change.first_commit),
                    opened_at=when(change.opened),
                    first_review_at=when(reviews[0][2]) if reviews else None,
                    approved_at=when(change.approved),
                    merged_at=when(change.merged),
                    closed_at=when(change.closed),
                    merge_sha=change.sha if change.merged is not None else "",
                    additions=change.additions,
                    deletions=change.deletions,
                )
            )
            # Reviews and commits name their pull request by its index here; the writer swaps in the id.
            for k, (reviewer, state, at) in enumerate(reviews, start=1):
                rows.reviews.append(ReviewRow(index, str(k), reviewer.login, reviewer.id, state, when(at)))
            for sha, at in change.commits:
                rows.commits.append(CommitRow(index, repo.id, sha, when(at)))
        rows.deployments = [
            row if row.changes is None else row._replace(changes=[c.external_id for c in row.changes])
            for row in self.deployments
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
    profiles = team_profiles(org.teams)
    by_day = {name: [p.at(i / max(days, 1)) for i in range(days + 1)] for name, p in PROFILES.items()}
    ctx = _Context(
        source_id=source_id,
        start=start,
        now=now,
        first_day=first_day,
        profiles=by_day,
        planted={
            slug: with_effect(by_day[profiles[slug].name], first_day, effect_start, ramp_days, effect)
            for slug, (effect_start, ramp_days, effect) in planted(org.teams, org.now).items()
        },
        day_factors=day_factors,
        commits=commits,
        when=when or as_datetime,
    )
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

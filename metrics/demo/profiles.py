"""How each demo team delivers: its :class:`Profile` and the team → profile assignment.

A profile holds the medians and rates the simulation draws from (pull
requests per day, review and deployment times, failure rates, ...). The teams
of the small organisation get a profile by name (``NAMED_PROFILES``), every
other team one by position (``PROFILE_CYCLE``), so each profile recurs about
fifty times in the large organisation; some profiles drift over the history
(``Profile.trend``). The demo's initiatives (``e360.demo.STORY_INITIATIVES``)
change their team's profile from their start (``EFFECTS``, ``planted``): the
effect the initiative pages then estimate.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from e360.demo import NAMED_SCENARIOS, REVIEW_REMINDERS, SCENARIO_CYCLE, STABILISE_CI, STORY_INITIATIVES, team_scenarios
from e360.models import Team
from metrics.demo.clock import DAY


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
    # Reviews wait for days: lead time is long. Steady, so that the teams alike are a fair comparison for the
    # one whose review reminders cut its wait (``EFFECTS``).
    "slow-reviews": replace(
        TYPICAL,
        name="slow-reviews",
        pickup_hours=34,
        review_hours=10,
        merge_hours=3,
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
# Which team gets which profile is the demo's shared story (``e360.demo``): the survey demo
# gives the same teams the answers that go with it.
NAMED_PROFILES = NAMED_SCENARIOS
PROFILE_CYCLE = SCENARIO_CYCLE


def team_profiles(teams: list[Team]) -> dict[str, Profile]:
    """Team slug → profile (``e360.demo.team_scenarios``)."""
    return {slug: PROFILES[name] for slug, name in team_scenarios(teams).items()}


# What each demo initiative did to its team's delivery: (field, factor) from its start, reached linearly over its
# ramp-up and kept to the end (a trend goes on under it). Review reminders worked: the slow-review team's reviews
# are picked up in 40 % less time. Stabilising the flaky-CI team's CI did not: nothing changes.
EFFECTS: dict[str, tuple[tuple[str, float], ...]] = {
    REVIEW_REMINDERS.key: (("pickup_hours", 0.6),),
    STABILISE_CI.key: (),
}


def planted(teams: list[Team], now: datetime) -> dict[str, tuple[int, int, tuple[tuple[str, float], ...]]]:
    """Team slug → (start, ramp-up in days, effect) of each demo initiative with an effect; the start in epoch
    days (UTC), as the simulation counts them."""
    found = {}
    for initiative in STORY_INITIATIVES:
        team, effect = initiative.team(teams), EFFECTS[initiative.key]
        if team is not None and effect:
            start = int(initiative.start(now).timestamp()) // DAY
            found[team.slug] = (start, initiative.ramp_days, effect)
    return found


def with_effect(
    days: list[Profile], first_day: int, start: int, ramp_days: int, effect: tuple[tuple[str, float], ...]
) -> list[Profile]:
    """``days`` (a profile per day from ``first_day``) with ``effect`` from the day ``start``: each field multiplied by
    its factor, reached linearly over ``ramp_days``."""
    changed = []
    for index, profile in enumerate(days):
        reached = min(max((first_day + index - start + 1) / max(ramp_days, 1), 0.0), 1.0)
        if reached:
            moved = {name: getattr(profile, name) * (1 + (factor - 1) * reached) for name, factor in effect}
            profile = replace(profile, **moved)
        changed.append(profile)
    return changed

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import cycle, islice
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Count
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from actions import automations, crossings, gains, initiatives, thresholds
from actions.models import Automation, AutomationRun, Channel, Initiative, InitiativeTeam, Threshold
from actions.models.automations import Trigger
from actions.models.initiatives import org_today
from actions.models.thresholds import ScopeKind
from actions.threshold_metrics import METRICS, Subject
from actions.views.initiatives import PER_PAGE
from e360 import bench
from e360.models import Service, Team, User
from e360.stats import percentile
from e360.tree import TeamTree

TICK_SECONDS = 15 * 60  # the schedule's interval (ActionsConfig.schedules): a tick must end before the next
BACKTEST_BUDGET_S = 2.0  # the form's backtest answers while an admin edits
PREFIX = "bench: "
# A team threshold per team and a service threshold per service, spread over metrics that read different rollups.
TEAM_METRICS = ("pipeline_failure_rate", "lead_time", "prs_waiting_24h", "change_failure_rate")
SERVICE_METRICS = ("change_failure_rate", "pickup_time", "pipeline_p90_duration", "deployment_frequency")
AUTOMATION_TICK_SECONDS = 60  # the automations' schedule (every minute)
# The organisation's automations, one per trigger kind; each team also gets a pull-request one.
ORGANISATION_AUTOMATIONS: tuple[dict[str, Any], ...] = (
    {"trigger": Trigger.THRESHOLD_CROSSED},
    {"trigger": Trigger.THRESHOLD_RECOVERED},
    {"trigger": Trigger.INCIDENT_OPENED},
    {"trigger": Trigger.PIPELINE_FAILING, "failures_in_a_row": 3},
    {"trigger": Trigger.PULL_REQUEST_WAITING, "waiting_hours": 8},
    {"trigger": Trigger.SCHEDULE, "every_hours": 1},
)


class Command(BaseCommand):
    help = (
        "Measure the thresholds at the size of the loaded data (make bench loads the large demo): one threshold per "
        "team (with its sub-teams) and one per service, evaluated by one scheduled tick (twice: the first tick, and "
        "the next, which must write no event again), and the form's 90-day backtest of the organisation and of a "
        "team. Then the automations' every-minute tick (collect, then execute) over --ticks ticks a minute apart: "
        "one organisation-wide automation per trigger kind (a threshold crossed and recovered, any threshold; an "
        "incident opened; a pipeline failing 3 times in a row; a pull request waiting 8 business hours; every hour) "
        "and one per team for a pull request waiting 8 business hours, all without quiet hours and sending to one "
        "outbox channel, created a week before now (the collectors' look-back), so the first tick records and "
        "executes a week of occurrences, threshold events of the tick above included, and the next ones what is "
        "new and what the first left due. Then the initiatives' pages, read by a superuser with Django's test client "
        "(p50/p95 and SQL queries a request): --initiatives initiatives on leaf teams at the most common depth of the "
        "tree, saved as the portal saves them and frozen as the hourly task freezes them: one on a team started 10 "
        "weeks ago (pickup time, the change failure rate as guardrail, 28-day windows, a week's ramp-up), one on 4 "
        "teams of a group in two cohorts two weeks apart (lead time), one planned in two weeks, the others on a team "
        "each starting over the current quarter; timed: freezing them and publishing their figures as the hourly "
        "tasks do, the list, their report pages and CSV exports, the velocity gains of the current quarter. What it "
        "adds is named 'bench: …' and removed at the end unless --keep."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--teams",
            type=int,
            default=None,
            help="At most this many teams (default: all) for thresholds and automations.",
        )
        parser.add_argument(
            "--services", type=int, default=None, help="At most this many services (default: all) for thresholds."
        )
        parser.add_argument("--ticks", type=int, default=5, help="Automations ticks timed (default 5).")
        parser.add_argument(
            "--initiatives", type=int, default=12, help="Initiatives created for their pages (default 12, at least 3)."
        )
        parser.add_argument("--requests", type=int, default=10, help="Requests per initiatives' page (default 10).")
        parser.add_argument(
            "--only",
            choices=["ticks", "initiatives"],
            help="Run one part: the thresholds' and automations' ticks and backtests, or the initiatives' pages.",
        )
        parser.add_argument(
            "--keep", action="store_true", help="Keep the benchmark's thresholds, automations and initiatives."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        teams = list(Team.objects.order_by("id")[: options["teams"]])
        services = list(Service.objects.order_by("id")[: options["services"]])
        if not teams:
            raise CommandError("The catalog is empty: run `manage.py seed_demo --size large` first (make bench does).")
        rows: list[bench.Row] = [bench.machine_row()]
        if options["only"] in (None, "ticks"):
            rows += self._ticks(teams, services, options["ticks"], keep=options["keep"])
        if options["only"] in (None, "initiatives"):
            rows += self._initiatives(options["initiatives"], max(options["requests"], 1), keep=options["keep"])
        bench.print_table(self.stdout, "e360 actions benchmark", rows)

    def _ticks(self, teams: list[Team], services: list[Service], ticks: int, *, keep: bool) -> list[bench.Row]:
        """Time the thresholds' ticks, the backtests and the automations' ticks (see the help)."""
        Threshold.objects.filter(name__startswith=PREFIX).delete()
        Automation.objects.filter(name__startswith=PREFIX).delete()
        Channel.objects.filter(name=OUTBOX).delete()
        created = self._create(teams, services)
        rows: list[bench.Row] = []
        try:
            now = timezone.now()
            with bench.loop_around() as loop:
                first = thresholds.thresholds_evaluate(now=now)
                second = thresholds.thresholds_evaluate(now=now + timedelta(minutes=15))
            if first.failed or second.failed:
                raise CommandError(f"{first.failed + second.failed} threshold evaluations failed (see the log)")
            verdict = loop.beside(
                f"< {TICK_SECONDS // 60} min: {'ok' if max(first.seconds, second.seconds) < TICK_SECONDS else 'OVER'}"
            )
            per = 1000 * first.seconds / max(first.evaluated, 1)
            rows.append(
                (
                    f"Threshold tick: {len(teams)} teams + {len(services)} services",
                    f"{first.seconds:.1f} s",
                    f"{first.evaluated} thresholds, {per:.0f} ms each, {first.events} fired",
                    verdict,
                )
            )
            rows.append(
                (
                    "Next tick (nothing fires again)",
                    f"{second.seconds:.1f} s",
                    f"{second.evaluated} thresholds, {second.events} events",
                    verdict if second.events <= first.events else "fired twice: WRONG",
                )
            )
            rule = crossings.Rule(crossings.Comparison.GT, 20.0, timedelta(hours=24))
            for label, subject in (
                (
                    "Backtest, organisation, 90 days",
                    Subject(METRICS["pipeline_failure_rate"], ScopeKind.ORGANISATION, None, None, 7),
                ),
                (
                    "Backtest, a team with sub-teams",
                    Subject(METRICS["pipeline_failure_rate"], ScopeKind.TEAM_SUBTREE, teams[0], None, 7),
                ),
                (
                    # The review queue is read from pull requests at each day's end: two counts a day.
                    "Backtest, organisation, PRs waiting",
                    Subject(METRICS["prs_waiting_24h"], ScopeKind.ORGANISATION, None, None, 7),
                ),
            ):
                with bench.loop_around() as loop:
                    started = time.perf_counter()
                    result = thresholds.backtest(subject, rule)
                    seconds = time.perf_counter() - started
                ok = "ok" if seconds <= BACKTEST_BUDGET_S else "OVER"
                rows.append(
                    (
                        label,
                        f"{seconds:.2f} s",
                        f"fired {len(result.fired)} times",
                        loop.beside(f"≤ {BACKTEST_BUDGET_S:.0f} s: {ok}"),
                    )
                )
            ticks = max(ticks, 1)
            start = now + timedelta(minutes=16)
            if (start + timedelta(minutes=ticks - 1)).hour != start.hour:
                # The ticks stay in one slot of the hourly schedule automation, whatever the hour the bench runs at:
                # its one run is the first tick's, and the next ticks find nothing new.
                start = start.replace(minute=1, second=0, microsecond=0) + timedelta(hours=1)
            rows += self._automations(teams, start, ticks)
        finally:
            if not keep:
                Automation.objects.filter(name__startswith=PREFIX).delete()
                Channel.objects.filter(name=OUTBOX).delete()
                Threshold.objects.filter(pk__in=created).delete()
        return rows

    def _automations(self, teams: list[Team], start: datetime, ticks: int) -> list[bench.Row]:
        """Time ``ticks`` automations ticks a minute apart from ``start`` (see the help)."""
        created = start - automations.LOOKBACK
        outbox = Channel.objects.create(name=OUTBOX, kind=Channel.Kind.OUTBOX)
        common = {"channel": outbox, "quiet_hours": False, "created_at": created}
        made = Automation.objects.bulk_create(
            [Automation(name=f"{PREFIX}{spec['trigger']}", **spec, **common) for spec in ORGANISATION_AUTOMATIONS]
            + [
                Automation(
                    name=f"{PREFIX}{team.slug} waiting",
                    team=team,
                    trigger=Trigger.PULL_REQUEST_WAITING,
                    waiting_hours=8,
                    **common,
                )
                for team in teams
            ]
        )
        runs = AutomationRun.objects.filter(automation__in=made)
        seconds: list[float] = []
        before: Counter[str] = Counter()
        per_tick: list[tuple[int, int]] = []  # (recorded, executed)
        with bench.loop_around() as loop:
            for n in range(ticks):
                started = time.perf_counter()
                automations.automations_tick(now=start + timedelta(minutes=n))
                seconds.append(time.perf_counter() - started)
                after = Counter(dict(runs.values_list("status").annotate(n=Count("*")).order_by()))
                recorded = after.total() - before.total()
                executed = sum(after[s] for s in FINAL) - sum(before[s] for s in FINAL)
                per_tick.append((recorded, executed))
                before = after
        final = ", ".join(f"{n:,} {status}" for status, n in sorted(before.items())) or "no runs"
        verdict = f"< {AUTOMATION_TICK_SECONDS} s: "
        rows = [
            (
                f"Automations tick, first: {len(made)} automations ({len(teams)} teams)",
                f"{seconds[0]:.1f} s",
                f"{per_tick[0][0]:,} runs recorded (a week's), {per_tick[0][1]:,} executed",
                loop.beside(verdict + ("ok" if seconds[0] < AUTOMATION_TICK_SECONDS else "OVER")),
            )
        ]
        if ticks > 1:
            later = seconds[1:]
            p50, p95 = percentile(later, 0.5), percentile(later, 0.95)
            assert p50 is not None and p95 is not None  # one tick or more
            rows.append(
                (
                    f"Automations, the next {ticks - 1} ticks",
                    f"p50 {p50:.2f} s, p95 {p95:.2f} s",
                    f"{sum(r for r, _ in per_tick[1:]):,} runs recorded, {sum(e for _, e in per_tick[1:]):,} executed; "
                    f"in all: {final}",
                    loop.beside(verdict + ("ok" if p95 < AUTOMATION_TICK_SECONDS else "OVER")),
                )
            )
        return rows

    def _initiatives(self, count: int, requests: int, *, keep: bool) -> list[bench.Row]:
        """Create ``count`` benchmark initiatives, freeze them and time their pages (see the help)."""
        Initiative.objects.filter(name__startswith=PREFIX).delete()
        admin = User.objects.filter(is_superuser=True).first() or User.objects.create_superuser(
            "bench", "bench@example.com", None
        )
        now = timezone.now()
        try:
            made = _bench_initiatives(admin, max(count, 3), now)
            started = time.perf_counter()
            frozen = [initiatives.initiative_freeze(initiative_id=pk, now=now) for pk in made.pks]
            seconds = time.perf_counter() - started
            rows: list[bench.Row] = [
                (
                    f"Initiatives frozen at their start: {sum(f.definitions for f in frozen)} of {len(frozen)}",
                    f"{seconds:.2f} s",
                    f"{sum(f.baselines for f in frozen)} team baselines (the hourly task's work)",
                    "",
                )
            ]
            started = time.perf_counter()
            planned, published = gains.publish_reports(now=timezone.now())
            seconds = time.perf_counter() - started
            rows.append(
                (
                    f"Initiatives' reports published: {published} started, {planned} planned",
                    f"{seconds:.2f} s",
                    f"{1000 * seconds / max(published + planned, 1):.0f} ms a report (the hourly task's work; the "
                    "pages read them)",
                    "",
                )
            )
            client = Client()
            client.force_login(admin)
            quarter = gains.quarter_of(now)
            running = sum(
                gains.running_in(initiative, quarter)
                for initiative in initiatives.with_teams(Initiative.objects.filter(starts_on__lte=quarter.last))
            )
            total = Initiative.objects.count()
            single = f"1 team, {made.candidates - 1} candidate teams"
            staggered = (
                f"{made.staggered_teams} teams in {made.cohorts} cohorts, "
                f"{made.candidates - made.staggered_teams} candidate teams"
            )
            for label, urls in (
                (
                    f"Initiatives list: {min(PER_PAGE, total)} of {total}, a published headline each",
                    [reverse("actions:initiative-list")] * requests,
                ),
                (f"Initiative page ({single})", _sample("actions:initiative-detail", made.one_team, requests)),
                (f"Initiative page ({staggered})", _sample("actions:initiative-detail", [made.staggered], requests)),
                (
                    f"Initiative page, planned ({single})",
                    _sample("actions:initiative-detail", [made.planned], requests),
                ),
                (f"Initiative CSV ({single})", _sample("actions:initiative-csv", made.one_team, requests)),
                (f"Initiative CSV ({staggered})", _sample("actions:initiative-csv", [made.staggered], requests)),
                (
                    f"Velocity gains, {quarter.label}: {running} initiatives' published rows",
                    [f"{reverse('actions:gains')}?quarter={quarter.key}"] * requests,
                ),
            ):
                rows.append(bench.timed_reads(label, client, urls, bench.BUDGET_READ_P95_MS))
        finally:
            if not keep:
                Initiative.objects.filter(name__startswith=PREFIX).delete()
        return rows

    def _create(self, teams: list[Team], services: list[Service]) -> list[int]:
        rows = [
            Threshold(
                name=f"{PREFIX}{team.slug}",
                metric=TEAM_METRICS[n % len(TEAM_METRICS)],
                scope=ScopeKind.TEAM_SUBTREE,
                team=team,
                comparison=_worse(TEAM_METRICS[n % len(TEAM_METRICS)]),
                value=20,
                window_days=7,
            )
            for n, team in enumerate(teams)
        ]
        rows += [
            Threshold(
                name=f"{PREFIX}{service.slug}",
                metric=SERVICE_METRICS[n % len(SERVICE_METRICS)],
                scope=ScopeKind.SERVICE,
                service=service,
                comparison=_worse(SERVICE_METRICS[n % len(SERVICE_METRICS)]),
                value=10,
                window_days=7,
            )
            for n, service in enumerate(services)
        ]
        return [t.pk for t in Threshold.objects.bulk_create(rows)]


OUTBOX = f"{PREFIX}outbox"
STAGGERED_TEAMS = 4
# The dimensions the spread initiatives take in turn (each measured by the first metric the insights map it to).
SPREAD_DIMENSIONS = ("code_review", "release", "ci_cd", "stability", "cognitive_load", "tooling")
# A run's statuses once executed (whatever came of it).
FINAL = (AutomationRun.Status.SENT, AutomationRun.Status.FAILED, AutomationRun.Status.DRY_RUN)


@dataclass(frozen=True)
class BenchInitiatives:
    one_team: list[int]  # started, on one team each
    staggered: int  # started, on teams of one group in two cohorts
    staggered_teams: int
    cohorts: int
    planned: int
    candidates: int  # the teams at the treated teams' depth (theirs included): each report's comparison candidates

    @property
    def pks(self) -> list[int]:
        return [*self.one_team, self.staggered, self.planned]


def _bench_initiatives(admin: User, count: int, now: datetime) -> BenchInitiatives:
    """``count`` initiatives on leaf teams at one depth (the most common): one on a team started 10 weeks ago (pickup
    time, 28-day windows, a week's ramp-up); one on teams of one group (lead time, the second half two weeks after
    the first); one planned in two weeks; the others on a team each, starting over the current quarter (so far) with
    the default windows, each on the first metric the insights map a dimension to."""
    tree = TeamTree.load()
    leaves = list(Team.objects.filter(pk__in=tree.leaves, kind=Team.Kind.TEAM).order_by("id"))
    if not leaves:
        raise CommandError("The initiatives' rows need a leaf team of kind team.")
    depths = Counter(tree.depth(team.pk) for team in leaves)
    level = min(depths, key=lambda depth: (-depths[depth], depth))
    at_level = [team for team in leaves if tree.depth(team.pk) == level]
    groups: dict[int | None, list[Team]] = {}
    for team in at_level:
        groups.setdefault(team.parent_id, []).append(team)
    group = max(groups.values(), key=len)[:STAGGERED_TEAMS]
    others = cycle([team for team in at_level if team not in group] or at_level)
    today = org_today(now)
    short = {"window_days": 28, "ramp_up_days": 7}

    single = _initiative(admin, [next(others)], "code_review", "pickup_time", today - timedelta(weeks=10), **short)
    staggered = _initiative(admin, group, "release", "lead_time", today - timedelta(weeks=8), **short)
    second = [team.pk for team in group[(len(group) + 1) // 2 :]]
    InitiativeTeam.objects.filter(initiative=staggered, team_id__in=second).update(
        starts_on=staggered.starts_on + timedelta(weeks=2)
    )
    planned = _initiative(admin, [next(others)], "ci_cd", "pipeline_failure_rate", today + timedelta(weeks=2))
    first = gains.quarter_of(now).first
    spread = count - 3
    more = [
        _initiative(
            admin,
            [next(others)],
            dimension,
            initiatives.mapped_metrics(dimension)[0],
            first + timedelta(days=(today - first).days * n // max(spread - 1, 1)),
        )
        for n, dimension in zip(range(spread), cycle(SPREAD_DIMENSIONS), strict=False)
    ]
    return BenchInitiatives(
        one_team=[single.pk, *(initiative.pk for initiative in more)],
        staggered=staggered.pk,
        staggered_teams=len(group),
        cohorts=1 + bool(second),
        planned=planned.pk,
        candidates=sum(1 for team in tree if tree.depth(team) == level),
    )


def _initiative(
    admin: User, teams: list[Team], dimension: str, metric: str, starts_on: date, **windows: int
) -> Initiative:
    """An initiative on ``teams`` as the portal saves one (``initiative_save``; not frozen yet), its guardrail the
    one a draft gets (``default_guardrail``)."""
    label = METRICS[metric].label.lower()
    initiative = Initiative(
        name=f"{PREFIX}{', '.join(team.name for team in teams)}: {label}",
        dimension=dimension,
        hypothesis=f"Measured by manage.py bench_actions: {label} improves.",
        starts_on=starts_on,
        primary_metrics=[metric],
        guardrail_metric=initiatives.default_guardrail(dimension, [metric]),
        **windows,
    )
    initiative.full_clean()  # the survey dimension and the guardrail's worse direction, as the form's would be
    return initiatives.initiative_save(initiative=initiative, teams=teams, by=admin)


def _sample(name: str, pks: list[int], requests: int) -> list[str]:
    """``requests`` URLs of the page ``name``, over the initiatives ``pks`` in turn."""
    return [reverse(name, args=[pk]) for pk in islice(cycle(pks), requests)]


def _worse(metric: str) -> crossings.Comparison:
    """The comparison that alerts when the metric gets worse."""
    return crossings.Comparison.GT if METRICS[metric].higher_is_worse else crossings.Comparison.LT

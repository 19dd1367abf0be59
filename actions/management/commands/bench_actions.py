from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from actions import crossings, thresholds
from actions.models import Threshold
from actions.models.thresholds import ScopeKind
from actions.threshold_metrics import METRICS, Subject
from e360 import bench
from e360.models import Service, Team

TICK_SECONDS = 15 * 60  # the schedule's interval (ActionsConfig.schedules): a tick must end before the next
BACKTEST_BUDGET_S = 2.0  # the form's backtest answers while an admin edits
PREFIX = "bench: "
# A team threshold per team and a service threshold per service, spread over metrics that read different rollups.
TEAM_METRICS = ("pipeline_failure_rate", "lead_time", "prs_waiting_24h", "change_failure_rate")
SERVICE_METRICS = ("change_failure_rate", "pickup_time", "pipeline_p90_duration", "deployment_frequency")


class Command(BaseCommand):
    help = (
        "Measure the thresholds at the size of the loaded data (make bench loads the large demo): one threshold per "
        "team (with its sub-teams) and one per service, evaluated by one scheduled tick (twice: the first tick, and "
        "the next, which must write no event again), and the form's 90-day backtest of the organisation and of a "
        "team. The thresholds it adds are named 'bench: …' and removed at the end unless --keep."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--teams", type=int, default=None, help="At most this many teams (default: all).")
        parser.add_argument("--services", type=int, default=None, help="At most this many services (default: all).")
        parser.add_argument("--keep", action="store_true", help="Keep the benchmark's thresholds.")

    def handle(self, *args: Any, **options: Any) -> None:
        teams = list(Team.objects.order_by("id")[: options["teams"]])
        services = list(Service.objects.order_by("id")[: options["services"]])
        if not teams:
            raise CommandError("The catalog is empty: run `manage.py seed_demo --size large` first (make bench does).")
        Threshold.objects.filter(name__startswith=PREFIX).delete()
        created = self._create(teams, services)
        rows: list[bench.Row] = [bench.machine_row()]
        try:
            now = timezone.now()
            first = thresholds.thresholds_evaluate(now=now)
            second = thresholds.thresholds_evaluate(now=now + timedelta(minutes=15))
            if first.failed or second.failed:
                raise CommandError(f"{first.failed + second.failed} threshold evaluations failed (see the log)")
            verdict = (
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
                started = time.perf_counter()
                result = thresholds.backtest(subject, rule)
                seconds = time.perf_counter() - started
                ok = "ok" if seconds <= BACKTEST_BUDGET_S else "OVER"
                rows.append(
                    (
                        label,
                        f"{seconds:.2f} s",
                        f"fired {len(result.fired)} times",
                        f"≤ {BACKTEST_BUDGET_S:.0f} s: {ok}",
                    )
                )
        finally:
            if not options["keep"]:
                Threshold.objects.filter(pk__in=created).delete()
        bench.print_table(self.stdout, "e360 actions benchmark", rows)

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


def _worse(metric: str) -> crossings.Comparison:
    """The comparison that alerts when the metric gets worse."""
    return crossings.Comparison.GT if METRICS[metric].higher_is_worse else crossings.Comparison.LT

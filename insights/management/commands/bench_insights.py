from __future__ import annotations

import random
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Count
from django.test import Client
from django.urls import reverse

from e360 import bench
from e360.models import Team, User
from insights.models import PeriodResult
from insights.services import insights_refresh

REFRESHED_DAYS = (30, 90)  # two standard periods: the refresh's cost beside its window


class Command(BaseCommand):
    help = (
        "Measure the insights at the size of the loaded data (make bench loads the large demo): one refresh of the "
        "precomputed results for 30 days and one for 90 unless --no-refresh (seconds, per team, and as the days "
        "grow), then p50/p95 server time and queries of the org and team dashboards, the bottleneck pages and the "
        "correlation pages (org and group), read in this process as an org viewer."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--requests", type=int, default=40, help="Requests per page measured.")
        parser.add_argument("--no-refresh", action="store_true", help="Measure the pages on the results stored.")
        parser.add_argument("--seed", type=int, default=1)

    def handle(self, *args: Any, **options: Any) -> None:
        root = Team.objects.filter(parent=None).order_by("id").first()
        if root is None:
            raise CommandError("The catalog is empty: run `manage.py seed_demo --size large` first (make bench does).")
        rows: list[bench.Row] = [bench.machine_row()]
        if not options["no_refresh"] or not PeriodResult.objects.filter(days=90).exists():
            rows += self._refreshes()
        viewer = User.objects.filter(is_superuser=True).first() or User.objects.create_superuser(
            "bench", "bench@example.com", None
        )
        client = Client()
        client.force_login(viewer)
        rng = random.Random(options["seed"])
        n = options["requests"]
        by_sub_teams = Team.objects.annotate(sub_teams=Count("children")).order_by("id")
        teams = list(by_sub_teams.filter(sub_teams=0).values_list("slug", flat=True))
        # The root's children that have sub-teams: a team without any has no group correlations page.
        groups = list(by_sub_teams.filter(parent=root, sub_teams__gt=0).values_list("slug", flat=True))
        team_sample = [rng.choice(teams) for _ in range(n)]
        group_sample = [rng.choice(groups) for _ in range(max(n // 4, 2))] if groups else []
        read, year = bench.BUDGET_READ_P95_MS, bench.BUDGET_YEAR_DASHBOARD_P95_MS
        pages = [
            ("Org dashboard (90 days)", [reverse("insights:dashboard")] * n, read),
            ("Org dashboard, 365 days", [reverse("insights:dashboard") + "?days=365"] * max(n // 4, 2), year),
            ("Team dashboard (90 days)", [reverse("insights:team-dashboard", args=[t]) for t in team_sample], read),
            ("Group dashboard (90 days)", [reverse("insights:team-dashboard", args=[g]) for g in group_sample], read),
            ("Org bottlenecks page", [reverse("insights:org-bottlenecks")] * max(n // 4, 2), read),
            ("Team bottlenecks page", [reverse("insights:team-bottlenecks", args=[t]) for t in team_sample], read),
            ("Correlations page", [reverse("insights:correlations")] * max(n // 4, 2), read),
            ("Group correlations page", [reverse("insights:team-correlations", args=[g]) for g in group_sample], read),
        ]
        for label, urls, budget in pages:
            if urls:
                rows.append(bench.timed_reads(label, client, urls, budget))
        bench.print_table(self.stdout, "e360 insights benchmark", rows)

    def _refreshes(self) -> list[bench.Row]:
        """Refresh the results of each of ``REFRESHED_DAYS``, timed: seconds, per team, and beside the first
        window's (linear in the days when the time grows no faster than they do)."""
        rows: list[bench.Row] = []
        first: tuple[int, float] | None = None
        for days in REFRESHED_DAYS:
            started = time.perf_counter()
            period = insights_refresh(days=days)
            seconds = time.perf_counter() - started
            first = first or (days, seconds)
            growth = f"; {days / first[0]:.0f}× the days of {first[0]}: {seconds / first[1]:.1f}× the time"
            rows.append(
                (
                    f"Insights refresh, {days} days",
                    f"{seconds:.1f} s",
                    f"{period.teams} teams, {seconds * 1000 / max(period.teams, 1):.0f} ms per team, one process",
                    "hourly task" + (growth if days != first[0] else ""),
                )
            )
        return rows

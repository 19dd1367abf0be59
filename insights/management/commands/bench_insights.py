from __future__ import annotations

import gc
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

BUDGET_P95_MS = 150  # docs/product.md#budgets: an org or team dashboard


class Command(BaseCommand):
    help = (
        "Measure the insights at the size of the loaded data (make bench loads the large demo): one refresh of the "
        "precomputed results (90 days) unless --no-refresh, then p50/p95 server time and queries of the org and "
        "team dashboards, the bottleneck pages and the correlation pages (org and group), read in this process as an "
        "org viewer."
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
            started = time.perf_counter()
            period = insights_refresh(days=90)
            seconds = time.perf_counter() - started
            rows.append(
                ("Insights refresh, 90 days", f"{seconds:.1f} s", f"{period.teams} teams, one process", "hourly task")
            )
        viewer = User.objects.filter(is_superuser=True).first() or User.objects.create_superuser(
            "bench", "bench@example.com", None
        )
        client = Client()
        client.force_login(viewer)
        rng = random.Random(options["seed"])
        n = options["requests"]
        teams = list(
            Team.objects.annotate(sub_teams=Count("children"))
            .filter(sub_teams=0)
            .order_by("id")
            .values_list("slug", flat=True)
        )
        groups = list(Team.objects.filter(parent=root).order_by("id").values_list("slug", flat=True))
        team_sample = [rng.choice(teams) for _ in range(n)]
        group_sample = [rng.choice(groups) for _ in range(max(n // 4, 2))] if groups else []
        gc.freeze()  # as e360.wsgi does once the application is loaded
        pages = [
            ("Org dashboard (90 days)", [reverse("insights:dashboard")] * n),
            ("Org dashboard, 365 days", [reverse("insights:dashboard") + "?days=365"] * max(n // 4, 2)),
            ("Team dashboard (90 days)", [reverse("insights:team-dashboard", args=[t]) for t in team_sample]),
            ("Group dashboard (90 days)", [reverse("insights:team-dashboard", args=[g]) for g in group_sample]),
            ("Org bottlenecks page", [reverse("insights:org-bottlenecks")] * max(n // 4, 2)),
            ("Team bottlenecks page", [reverse("insights:team-bottlenecks", args=[t]) for t in team_sample]),
            ("Correlations page", [reverse("insights:correlations")] * max(n // 4, 2)),
            ("Group correlations page", [reverse("insights:team-correlations", args=[g]) for g in group_sample]),
        ]
        for label, urls in pages:
            if urls:
                rows.append(bench.timed_reads(label, client, urls, BUDGET_P95_MS))
        bench.print_table(self.stdout, "e360 insights benchmark", rows)

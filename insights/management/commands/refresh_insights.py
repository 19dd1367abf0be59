from __future__ import annotations

import time
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand

from insights.selectors import STANDARD_DAYS
from insights.services import insights_refresh


class Command(BaseCommand):
    help = (
        "Recompute the precomputed insight results (bottleneck rankings, org ranking, correlations) now, for every "
        "standard period or those given with --days. The hourly background task does the same; this runs it by hand "
        "with progress (reading every team's rollups is the long part)."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--days",
            type=int,
            action="append",
            choices=STANDARD_DAYS,
            help=f"A period to compute, one of {', '.join(map(str, STANDARD_DAYS))} (repeat for several; default all).",
        )

    def handle(self, *args: object, days: list[int] | None, **options: Any) -> None:
        verbosity = int(options.get("verbosity", 1))
        for period_days in days or STANDARD_DAYS:
            started = time.monotonic()
            self.stdout.write(f"Insights over the last {period_days} days:")

            def progress(done: int, total: int, name: str) -> None:
                # About twenty lines per period however many teams, every team at -v 2.
                if verbosity > 1 or done == total or done % max(1, total // 20) == 0:
                    self.stdout.write(f"  team {done} of {total} ({name})")

            period = insights_refresh(days=period_days, progress=progress if verbosity else None)
            self.stdout.write(
                self.style.SUCCESS(
                    f"  {period.teams} teams ({period.leaf_teams} without sub-teams), "
                    f"{period.pairs.filter(team=None).count()} dimension–metric pairs across the organisation "
                    f"and each team with sub-teams, in {time.monotonic() - started:.1f} s"
                )
            )

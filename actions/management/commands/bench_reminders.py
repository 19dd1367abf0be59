"""``manage.py bench_reminders``: review reminder selection over the whole review queue (issue 17, item 7).

``make bench`` runs it on the large demo. Inside a transaction it rolls back at the end (the database
keeps nothing), it gives every team without a policy of its own one (8 business hours, 10 % holdout,
reminders to each reviewer), then times ``due_reminders`` — every policy, every waiting pull request —
at a moment in working hours, counts its queries, records what is due once, and times the next
selection, which reads those reminders back (rule 3), and a second recording (which adds nothing).
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from actions.models import ReminderPolicy
from actions.reminders import due_reminders, reminders_record
from e360 import bench
from e360.models import Team
from e360.stats import percentile
from metrics.selectors import Area, waiting_for_review

BUDGET_S = 10.0  # the 15-minute task's share of its 50 s limit, with room for sending


class _Rollback(Exception):
    pass


def working_moment(zone: Any, now: datetime) -> datetime:
    """The latest weekday 11:00 in ``zone`` at or before ``now``: a moment most teams work."""
    local = now.astimezone(zone).replace(hour=11, minute=0, second=0, microsecond=0)
    while local > now or local.isoweekday() > 5:
        local -= timedelta(days=1)
    return local


class Command(BaseCommand):
    help = (
        "Measure review reminder selection over the whole review queue with a policy for every team (the "
        "15-minute task's work): p50/p95 seconds and queries of a selection, recording, and the selection "
        "that follows. Writes nothing: it runs in a transaction rolled back at the end."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--repeat", type=int, default=5, help="Selections timed (before recording).")

    def handle(self, *args: Any, **options: Any) -> None:
        root = Team.objects.filter(parent=None).order_by("id").first()
        if root is None:
            raise CommandError("The catalog is empty: run `manage.py seed_demo --size large` first (make bench does).")
        at = working_moment(root.zone, timezone.now())
        rows: list[bench.Row] = [bench.machine_row()]
        try:
            with transaction.atomic():
                rows += self._measure(at, max(options["repeat"], 1))
                raise _Rollback
        except _Rollback:
            pass
        bench.print_table(self.stdout, "e360 review reminders benchmark", rows)

    def _measure(self, at: datetime, repeat: int) -> list[bench.Row]:
        covered = set(ReminderPolicy.objects.filter(team__isnull=False).values_list("team_id", flat=True))
        ReminderPolicy.objects.bulk_create(
            ReminderPolicy(team_id=pk, after_hours=8, again_after_hours=8, holdout_percent=10)
            for pk in Team.objects.exclude(pk__in=covered).values_list("pk", flat=True)
        )
        policies = ReminderPolicy.objects.filter(is_active=True).count()
        waiting = waiting_for_review(Area.organisation()).count()
        times, queries = [], []
        with bench.loop_around() as loop:
            for _ in range(repeat):
                with CaptureQueriesContext(connection) as captured:
                    started = time.perf_counter()
                    selection = due_reminders(now=at)
                    times.append(time.perf_counter() - started)
                queries.append(len(captured))
        p50, p95 = percentile(times, 0.5), percentile(times, 0.95)
        assert p50 is not None and p95 is not None  # repeat >= 1
        held = sum(1 for r in selection.due if r.held_out)
        verdict = loop.beside(f"p95 ≤ {BUDGET_S:.0f} s: {'ok' if p95 <= BUDGET_S else 'OVER'}")
        result = [
            (
                f"Reminder selection, {policies:,} policies, {waiting:,} waiting pull requests",
                f"p50 {p50:.2f} s, p95 {p95:.2f} s",
                f"{max(queries)} queries; {len(selection.due):,} due ({held:,} held out) at {at:%a %H:%M %Z}",
                verdict,
            )
        ]
        started = time.perf_counter()
        recorded = reminders_record(selection=selection)
        seconds = time.perf_counter() - started
        result.append(("Recording the due reminders", f"{seconds:.2f} s", f"{recorded:,} rows", ""))
        later = at + timedelta(minutes=15)
        with bench.loop_around() as loop, CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            again = due_reminders(now=later)
            seconds = time.perf_counter() - started
        result.append(
            (
                "Next tick's selection (reminders read back)",
                f"{seconds:.2f} s",
                f"{len(captured)} queries; {len(again.due):,} due",
                loop.beside(f"≤ {BUDGET_S:.0f} s: {'ok' if seconds <= BUDGET_S else 'OVER'}"),
            )
        )
        started = time.perf_counter()
        twice = reminders_record(selection=selection)
        result.append(
            ("Recording the same selection again", f"{time.perf_counter() - started:.2f} s", f"{twice} rows", "")
        )
        return result

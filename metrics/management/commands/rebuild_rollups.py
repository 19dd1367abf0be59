from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from e360.models import Service
from metrics.refresh import rebuild


class Command(BaseCommand):
    help = (
        "Re-link every delivery record (changes and incidents to deployments, failures, rework) and rebuild "
        "the rollups (day, workflow and, for all services, team rows), for all services or the ones named. "
        "Safe to run at any time: it is what the "
        "background refresh does after each ingestion, for every service at once."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("services", nargs="*", metavar="SERVICE", help="Service slugs (default: all services)")

    def handle(self, *args: Any, services: list[str], **options: Any) -> None:
        ids = None  # every service
        if services:
            found = dict(Service.objects.filter(slug__in=services).values_list("slug", "id"))
            missing = sorted(set(services) - set(found))
            if missing:
                raise CommandError(f"Unknown service(s): {', '.join(missing)}")
            ids = [found[slug] for slug in sorted(found)]

        def progress(number: int, total: int, summary: str) -> None:
            if options["verbosity"] > 1 or number == total or number % 100 == 0:
                self.stdout.write(f"[{number}/{total}] {summary}")

        self.stdout.write(self.style.SUCCESS(rebuild(ids, progress)))

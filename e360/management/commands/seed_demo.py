from __future__ import annotations

import time
from argparse import ArgumentParser, ArgumentTypeError
from datetime import date

from django.core.management.base import BaseCommand, CommandError

from e360.demo import SIZES, CatalogInUse, catalog_counts, demo_now, demo_seed


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD).") from None


class Command(BaseCommand):
    help = (
        "Load a deterministic demo organisation: an organisation root, groups, teams, people with "
        "memberships and services, then the demo data of every installed app with a demo.py module "
        "(see e360/demo.py). The same --size, --seed and --as-of give identical rows. "
        "Refuses when the catalog already has teams, people or services, unless --if-empty "
        "(then it does nothing) or --replace (then it first DELETES EVERYTHING in the catalog: all "
        "teams, people, memberships and services, whether demo or not, and rows that cascade from "
        "them; user accounts stay). People get no accounts (but the owners of the demo's initiatives): "
        "they are linked when they sign in via "
        "SSO with their @demo.e360.dev email; in DEBUG the login page signs in as a demo developer, team lead "
        "or organisation viewer in one click."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--size",
            choices=list(SIZES),
            default="small",
            help="; ".join(
                f"{p.name}: {p.teams:,} teams in {p.groups} groups, {p.people:,} people, {p.services:,} services"
                for p in SIZES.values()
            )
            + " (default: small).",
        )
        parser.add_argument("--seed", type=int, default=1, help="Random seed (default 1).")
        parser.add_argument(
            "--as-of",
            type=_date,
            default=None,
            help="Day the generated history ends (at midnight UTC), YYYY-MM-DD (default: it runs to the current hour).",
        )
        parser.add_argument(
            "--catalog-only",
            action="store_true",
            help="Load only teams, people and services, without the other apps' demo data (delivery history, ...).",
        )
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument(
            "--if-empty", action="store_true", help="Do nothing when the catalog already has teams, people or services."
        )
        mode.add_argument(
            "--replace",
            action="store_true",
            help="Delete everything in the catalog (teams, people, memberships, services) first.",
        )

    def handle(
        self,
        *args: object,
        size: str,
        seed: int,
        as_of: date | None,
        if_empty: bool,
        replace: bool,
        catalog_only: bool,
        **options: object,
    ) -> None:
        counts = catalog_counts()
        in_catalog = ", ".join(f"{n:,} {label}" for label, n in counts.items())
        if any(counts.values()) and not replace:
            if if_empty:
                self.stdout.write(f"The catalog is not empty ({in_catalog}); not loading the demo organisation.")
                return
            raise CommandError(
                f"The catalog is not empty ({in_catalog}). Run with --replace to delete everything in it "
                "and load the demo organisation, or with --if-empty to leave it alone."
            )

        started = time.perf_counter()
        try:
            result = demo_seed(
                size=SIZES[size], seed=seed, now=demo_now(as_of), replace=replace, with_apps=not catalog_only
            )
        except CatalogInUse as exc:
            raise CommandError(f"Cannot delete the catalog, nothing changed: {exc}") from exc
        elapsed = time.perf_counter() - started
        if replace and any(counts.values()):
            self.stdout.write(f"Deleted the previous catalog ({in_catalog}).")

        org = result.org
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded demo organisation ({size}, seed {seed}): {len(org.all_teams):,} teams, "
                f"{len(org.people):,} people, {len(org.services):,} services, "
                f"{len(org.memberships):,} memberships in {elapsed:.2f} s"
            )
        )
        for label, summary, seconds in result.extensions:
            self.stdout.write(f"  {label}: {summary} ({seconds:.2f} s)")

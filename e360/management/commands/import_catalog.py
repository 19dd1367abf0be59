"""``manage.py import_catalog FILE [FILE ...]``: load teams, people and services.

Reads Backstage ``catalog-info.yaml`` files and CSV files (docs/catalog-import.md),
checks everything, then writes it in one transaction, or nothing at all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from e360.catalog_files import CatalogInvalid, CatalogRecords, read_catalog_file
from e360.services import catalog_import


class Command(BaseCommand):
    help = (
        "Create or update teams, people, services and memberships from Backstage catalog files "
        "(.yaml/.yml: Group, User, Component) and CSV files (teams, people or services, told apart by "
        "their header). References may point anywhere in the files given or at rows already in the "
        "database. Every problem is reported and, if there is any, nothing is written. Running it "
        "again with the same files changes nothing; nothing is ever deleted."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="+", metavar="FILE", help="Backstage YAML or CSV files, in any order")
        parser.add_argument("--dry-run", action="store_true", help="Check and report what would change; write nothing")

    def handle(self, *args: Any, files: list[str], dry_run: bool, **options: Any) -> None:
        records = CatalogRecords.combine(read_catalog_file(Path(file), file) for file in files)
        try:
            summary = catalog_import(records=records, dry_run=dry_run)
        except CatalogInvalid as exc:
            count = len(exc.errors)
            problems = "\n".join(f"  {error}" for error in exc.errors)
            raise CommandError(
                f"{count} problem{'s' if count != 1 else ''} found; nothing was written.\n{problems}"
            ) from exc
        prefix = "Dry run, nothing written: " if dry_run else ""
        self.stdout.write(self.style.SUCCESS(f"{prefix}{summary}") if summary.changed else f"{prefix}{summary}")

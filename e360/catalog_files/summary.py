"""What an import did: created, updated and unchanged counts per kind of row.

Filled in by ``e360.services.catalog_import`` and printed by the
``import_catalog`` command.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def __str__(self) -> str:
        return f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged"


@dataclass
class ImportSummary:
    teams: Counts = field(default_factory=Counts)
    people: Counts = field(default_factory=Counts)
    services: Counts = field(default_factory=Counts)
    memberships: Counts = field(default_factory=Counts)
    skipped: Counter[str] = field(default_factory=Counter)
    dry_run: bool = False

    @property
    def changed(self) -> bool:
        return any(c.created or c.updated for c in (self.teams, self.people, self.services, self.memberships))

    def __str__(self) -> str:
        skipped = f"skipped entities: {self.skipped.total()}"
        if self.skipped:
            skipped += " (" + ", ".join(f"{kind}: {n}" for kind, n in sorted(self.skipped.items())) + ")"
        return "; ".join(
            [
                f"teams: {self.teams}",
                f"people: {self.people}",
                f"services: {self.services}",
                f"memberships: {self.memberships}",
                skipped,
            ]
        )

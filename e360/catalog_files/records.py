"""The records a catalog file yields, and the problems found in it.

Teams, people, services and memberships as read (``TeamRecord`` and friends),
gathered in ``CatalogRecords``; every problem is a ``CatalogError`` that knows
its file, line, entity and field, and ``Origin`` is where a record came from so
that later checks can point back at the file.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum


class Role(StrEnum):
    """A person's role in a team, as the files state it: the values of ``Membership.Role``."""

    MEMBER = "member"
    LEAD = "lead"


class CatalogError(Exception):
    """One problem in one file, located as precisely as the format allows.

    Reads like ``people.csv line 4: email "x" is not an email address`` or
    ``catalog-info.yaml line 12: User "alice": spec.profile.email is missing``.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str,
        line: int | None = None,
        entity: str | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.entity = entity
        self.field = field

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file} line {self.line}"
        if self.entity:
            where = f"{where}: {self.entity}"
        what = f"{self.field} {self.message}" if self.field else self.message
        return f"{where}: {what}"

    def __repr__(self) -> str:
        return f"CatalogError({str(self)!r})"


class CatalogInvalid(Exception):
    """Raised with every problem found; nothing was written."""

    def __init__(self, errors: Iterable[CatalogError]) -> None:
        self.errors = list(errors)
        super().__init__(self.errors)

    def __str__(self) -> str:
        return "\n".join(str(error) for error in self.errors)


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a record was read: for error messages that point back at the file."""

    file: str
    line: int | None = None
    entity: str | None = None
    backstage: bool = False

    def error(self, field: str | None, message: str) -> CatalogError:
        return CatalogError(message, file=self.file, line=self.line, entity=self.entity, field=field)

    def field_name(self, name: str) -> str:
        """The name the file itself uses for a logical field (CSV column or Backstage path)."""
        return _BACKSTAGE_FIELDS.get(name, name) if self.backstage else name


_BACKSTAGE_FIELDS = {
    "slug": "metadata.name",
    "handle": "metadata.name",
    "email": "spec.profile.email",
    "parent": "spec.parent",
    "children": "spec.children",
    "owner": "spec.owner",
}


@dataclass(frozen=True, slots=True)
class TeamRecord:
    slug: str
    name: str
    origin: Origin
    kind: str | None = None
    parent: str | None = None  # None: not mentioned; "": a root team; otherwise the parent's slug
    children: tuple[str, ...] = ()
    description: str | None = None
    email: str | None = None


@dataclass(frozen=True, slots=True)
class PersonRecord:
    handle: str
    name: str
    email: str
    origin: Origin
    title: str | None = None
    github_login: str | None = None
    gitlab_login: str | None = None
    joined_on: date | None = None


@dataclass(frozen=True, slots=True)
class ServiceRecord:
    slug: str
    name: str
    owner: str
    origin: Origin
    description: str | None = None
    tier: int | None = None
    lifecycle: str | None = None
    repositories: tuple[str, ...] | None = None
    production_environments: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class MembershipRecord:
    person: str
    team: str
    role: Role
    origin: Origin
    field: str  # where the file states it: spec.members, spec.memberOf, the leads annotation, teams


@dataclass
class CatalogRecords:
    """Everything read from one or more files, problems included."""

    teams: list[TeamRecord] = field(default_factory=list)
    people: list[PersonRecord] = field(default_factory=list)
    services: list[ServiceRecord] = field(default_factory=list)
    memberships: list[MembershipRecord] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    errors: list[CatalogError] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # in the order read, to report problems in that order

    def extend(self, other: CatalogRecords) -> None:
        self.teams.extend(other.teams)
        self.people.extend(other.people)
        self.services.extend(other.services)
        self.memberships.extend(other.memberships)
        self.skipped.update(other.skipped)
        self.errors.extend(other.errors)
        self.files.extend(other.files)

    @classmethod
    def combine(cls, parts: Iterable[CatalogRecords]) -> CatalogRecords:
        combined = cls()
        for part in parts:
            combined.extend(part)
        return combined

"""CSV files of teams, people or services as records.

A file's kind is recognised by its header; unknown columns are errors and
absent optional columns leave fields alone. Each row is wrapped in ``_Row``,
whose checks record problems against the row's line and column.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable
from datetime import date
from pathlib import Path

from e360.catalog_files.fields import (
    MAX_EMAIL,
    MAX_LIFECYCLE,
    MAX_LOGIN,
    MAX_NAME,
    MAX_SLUG,
    MAX_TITLE,
    TEAM_KINDS,
    is_email,
    is_slug,
    parse_date,
    parse_tier,
    split_list,
    team_kind,
)
from e360.catalog_files.records import (
    CatalogError,
    CatalogRecords,
    MembershipRecord,
    Origin,
    PersonRecord,
    Role,
    ServiceRecord,
    TeamRecord,
)
from e360.catalog_files.source import read_source

# CSV headers: required columns first. A file's kind is recognised by its header.
TEAM_COLUMNS = ("slug", "name", "parent", "kind", "description", "email")
PERSON_COLUMNS = ("handle", "name", "email", "title", "github_login", "gitlab_login", "teams", "joined_on")
SERVICE_COLUMNS = (
    "slug",
    "name",
    "owner",
    "tier",
    "lifecycle",
    "repositories",
    "production_environments",
    "description",
)
_REQUIRED_COLUMNS = {
    "teams": ("slug", "name"),
    "people": ("handle", "name", "email"),
    "services": ("slug", "name", "owner"),
}
_ALL_COLUMNS = {"teams": TEAM_COLUMNS, "people": PERSON_COLUMNS, "services": SERVICE_COLUMNS}
_OWN_COLUMNS = {
    kind: set(columns) - {c for other, cs in _ALL_COLUMNS.items() if other != kind for c in cs}
    for kind, columns in _ALL_COLUMNS.items()
}


def csv_kind(header: Iterable[str]) -> str | None:
    """``teams``, ``people`` or ``services`` from a CSV header, or None when it is unclear.

    Decided by the columns only one kind has, so that a header missing a
    required column is still recognised (and the missing column reported).
    """
    columns = set(header)
    kinds = [kind for kind, own in _OWN_COLUMNS.items() if columns & own]
    if len(kinds) == 1:
        return kinds[0]
    if not kinds and "slug" in columns:
        return "teams"  # slug,name: the smallest teams file
    return None


def parse_csv(source: Path | str, name: str | None = None) -> CatalogRecords:
    """Read a teams, people or services CSV file, recognised by its header.

    ``source`` is a Path to read, or the CSV text itself. Unknown columns are
    an error (they are usually typos); optional columns may be left out, and
    then the field is left as it is on existing rows.
    """
    records = CatalogRecords()
    text, file, error = read_source(source, name)
    records.files.append(file)
    if error is not None:
        records.errors.append(error)
        return records
    assert text is not None
    # strict: a stray quote in a cell is a malformed file, not something to guess around.
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [column.strip().lower() for column in next(reader, [])]
    except csv.Error as exc:
        records.errors.append(CatalogError(f"is not valid CSV: {exc}", file=file, line=1))
        return records
    if not header:
        records.errors.append(CatalogError("is empty (expected a header line)", file=file))
        return records
    kind = csv_kind(header)
    if kind is None:
        expected = "; ".join(f"{k}: {','.join(columns)}" for k, columns in _ALL_COLUMNS.items())
        records.errors.append(
            CatalogError(f"header is not one of teams, people or services ({expected})", file=file, line=1)
        )
        return records
    header_errors = _check_header(header, kind, file)
    if header_errors:
        records.errors.extend(header_errors)
        return records

    read_row = {"teams": _read_team_row, "people": _read_person_row, "services": _read_service_row}[kind]
    line = reader.line_num + 1
    try:
        for row in reader:
            start, line = line, reader.line_num + 1
            if not any(cell.strip() for cell in row):
                continue
            origin = Origin(file, start)
            if len(row) > len(header):
                records.errors.append(
                    origin.error(None, f"has {len(row)} values but the header has {len(header)} columns")
                )
                continue
            values = {column: cell.strip() for column, cell in zip(header, row, strict=False)}
            # Short rows: trailing empty cells are often trimmed by spreadsheets.
            values.update(dict.fromkeys(header[len(row) :], ""))
            read_row(values, origin, records)
    except csv.Error as exc:
        records.errors.append(CatalogError(f"is not valid CSV: {exc}", file=file, line=line))
    return records


def _check_header(header: list[str], kind: str, file: str) -> list[CatalogError]:
    errors = []
    missing = [column for column in _REQUIRED_COLUMNS[kind] if column not in header]
    if missing:
        errors.append(
            CatalogError(f"{kind} header is missing required columns: {', '.join(missing)}", file=file, line=1)
        )
    unknown = [f'"{column}"' for column in header if column not in _ALL_COLUMNS[kind]]
    if unknown:
        known = ",".join(_ALL_COLUMNS[kind])
        errors.append(
            CatalogError(f"{kind} header has unknown columns: {', '.join(unknown)} (known: {known})", file=file, line=1)
        )
    repeated = sorted(column for column, count in Counter(header).items() if count > 1)
    if repeated:
        errors.append(CatalogError(f"header repeats columns: {', '.join(repeated)}", file=file, line=1))
    return errors


class _Row:
    """One CSV row's cells, with checks that record problems against its line."""

    def __init__(self, values: dict[str, str], origin: Origin, errors: list[CatalogError]) -> None:
        self.values = values
        self.origin = origin
        self.errors = errors

    def error(self, column: str, message: str) -> None:
        self.errors.append(self.origin.error(column, message))

    def optional(self, column: str, *, max_length: int | None = None) -> str | None:
        """None when the column is absent (leave the field alone), else the cell, maybe empty."""
        if column not in self.values:
            return None
        value = self.values[column]
        if max_length is not None and len(value) > max_length:
            self.error(column, f"is longer than {max_length} characters")
            return None
        return value

    def required(self, column: str, *, max_length: int) -> str | None:
        value = self.values.get(column, "")
        if not value:
            self.error(column, "is missing")
            return None
        if len(value) > max_length:
            self.error(column, f"is longer than {max_length} characters")
            return None
        return value

    def slug(self, column: str, *, required: bool = True) -> str | None:
        value = self.required(column, max_length=MAX_SLUG) if required else self.values.get(column, "")
        if value and not is_slug(value):
            self.error(column, f'"{value}" is not a slug (letters, digits, "-" and "_")')
            return None
        return value

    def email(self, column: str, *, required: bool = False) -> str | None:
        value = self.required(column, max_length=MAX_EMAIL) if required else self.optional(column)
        if value and not is_email(value):
            self.error(column, f'"{value}" is not an email address')
            return None
        return value.lower() if value is not None else None

    def iso_date(self, column: str) -> date | None:
        """An ISO date; None when the column is absent or empty (an empty cell leaves the field alone)."""
        value = self.optional(column)
        if not value:
            return None
        parsed = parse_date(value)
        if parsed is None:
            self.error(column, f'"{value}" is not a date (YYYY-MM-DD)')
        return parsed

    def items(self, column: str) -> tuple[str, ...] | None:
        value = self.optional(column)
        return split_list(value, ";") if value is not None else None


def _read_team_row(values: dict[str, str], origin: Origin, records: CatalogRecords) -> None:
    row = _Row(values, origin, records.errors)
    slug = row.slug("slug")
    name = row.required("name", max_length=MAX_NAME)
    parent = row.slug("parent", required=False) if "parent" in values else None
    kind: str | None = None
    if values.get("kind"):
        kind = team_kind(values["kind"])
        if kind is None:
            row.error("kind", f'"{values["kind"]}" is not one of {", ".join(TEAM_KINDS)}')
    email = row.email("email")
    description = row.optional("description")
    if slug is None or name is None:
        return
    records.teams.append(
        TeamRecord(
            slug=slug,
            name=name,
            origin=Origin(origin.file, origin.line, f'Team "{slug}"'),
            kind=kind,
            parent=parent,
            description=description,
            email=email,
        )
    )


def _read_person_row(values: dict[str, str], origin: Origin, records: CatalogRecords) -> None:
    row = _Row(values, origin, records.errors)
    handle = row.slug("handle")
    name = row.required("name", max_length=MAX_NAME)
    email = row.email("email", required=True)
    title = row.optional("title", max_length=MAX_TITLE)
    github = row.optional("github_login", max_length=MAX_LOGIN)
    gitlab = row.optional("gitlab_login", max_length=MAX_LOGIN)
    joined_on = row.iso_date("joined_on")
    memberships: list[tuple[str, Role]] = []
    for item in split_list(values.get("teams", ""), ";"):
        team, _, role = (part.strip() for part in item.partition(":"))
        role = role.lower() or Role.MEMBER
        if not is_slug(team):
            row.error("teams", f'"{team}" is not a team slug')
        elif role not in tuple(Role):
            row.error("teams", f'"{item}" has role "{role}"; use {Role.MEMBER} or {Role.LEAD}')
        else:
            memberships.append((team, Role(role)))
    if handle is None or name is None:
        return
    located = Origin(origin.file, origin.line, f'Person "{handle}"')
    records.people.append(
        PersonRecord(
            handle=handle,
            name=name,
            email=email or "",  # already reported when missing or malformed
            origin=located,
            title=title,
            github_login=github,
            gitlab_login=gitlab,
            joined_on=joined_on,
        )
    )
    for team, role in memberships:
        records.memberships.append(MembershipRecord(handle, team, role, located, "teams"))


def _read_service_row(values: dict[str, str], origin: Origin, records: CatalogRecords) -> None:
    row = _Row(values, origin, records.errors)
    slug = row.slug("slug")
    name = row.required("name", max_length=MAX_NAME)
    owner = row.slug("owner")
    tier: int | None = None
    if values.get("tier"):
        tier = parse_tier(values["tier"])
        if tier is None:
            row.error("tier", f'"{values["tier"]}" is not a tier (1 to 4, or tier-1 to tier-4)')
    lifecycle = row.optional("lifecycle", max_length=MAX_LIFECYCLE)
    repositories = row.items("repositories")
    environments = row.items("production_environments")
    description = row.optional("description")
    if slug is None or name is None or owner is None:
        return
    records.services.append(
        ServiceRecord(
            slug=slug,
            name=name,
            owner=owner,
            origin=Origin(origin.file, origin.line, f'Service "{slug}"'),
            description=description,
            tier=tier,
            lifecycle=lifecycle,
            repositories=repositories,
            production_environments=environments,
        )
    )

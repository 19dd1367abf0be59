"""Read teams, people and services from Backstage catalog files and CSV files.

Pure parsing and validation, no Django: the ``import_catalog`` command reads
files with these functions, and ``e360.services.catalog_import`` checks the
records against the database (``resolve``) and writes them.

Conventions (docs/catalog-import.md is the user-facing version):

- A value a file does not mention is left as it is on existing rows (and gets
  the model default on new ones): an absent annotation or CSV column is
  ``None`` in a record. A value that is present but empty clears the field.
- Backstage names become slugs and handles: lower-cased, dots turned into
  hyphens (``jane.doe`` → ``jane-doe``), because they appear in URLs.
- Entity references may carry a kind and a namespace (``user:default/alice``);
  the namespace is dropped, and a kind that contradicts the field is an error.
- Parsing never stops at the first problem: every ``CatalogError`` is
  collected so that one run reports them all.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml

MEMBER = "member"
LEAD = "lead"
Role = Literal["member", "lead"]

TEAM_KINDS = ("organization", "group", "team")
# Backstage's spec.type is free-form; these are the usual names for levels above a team.
_KIND_ALIASES = {
    "organization": "organization",
    "organisation": "organization",
    "org": "organization",
    "group": "group",
    "department": "group",
    "division": "group",
    "area": "group",
    "team": "team",
}

# Annotations read from Backstage entities.
LEADS_ANNOTATION = "e360.io/leads"
TITLE_ANNOTATION = "e360.io/title"
TIER_ANNOTATION = "e360.io/tier"
REPOSITORIES_ANNOTATION = "e360.io/repositories"
PRODUCTION_ENVIRONMENTS_ANNOTATION = "e360.io/production-environments"
GITHUB_LOGIN_ANNOTATION = "github.com/user-login"
GITLAB_LOGIN_ANNOTATION = "gitlab.com/user-login"
GITHUB_PROJECT_ANNOTATION = "github.com/project-slug"
GITLAB_PROJECT_ANNOTATION = "gitlab.com/project-slug"
GITLAB_INSTANCE_ANNOTATION = "gitlab.com/instance"

BACKSTAGE_KINDS = ("Group", "User", "Component")

# CSV headers: required columns first. A file's kind is recognised by its header.
TEAM_COLUMNS = ("slug", "name", "parent", "kind", "description", "email")
PERSON_COLUMNS = ("handle", "name", "email", "title", "github_login", "gitlab_login", "teams")
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

# Deliberately loose: one @, no spaces, a dot in the domain. Mail delivery is the real test.
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# The same alphabet as Django's slug validator and URL converter.
SLUG_RE = re.compile(r"^[-a-zA-Z0-9_]+$")
_TIER_RE = re.compile(r"^(?:tier[-_ ]?)?([1-4])$", re.IGNORECASE)

# Column sizes of the e360 models, checked here so that PostgreSQL never truncates or refuses.
MAX_SLUG = 100
MAX_NAME = 200
MAX_TITLE = 200
MAX_LOGIN = 100
MAX_LIFECYCLE = 40
MAX_EMAIL = 254


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


# --- Small shared validators ---------------------------------------------------------------------


def is_email(value: str) -> bool:
    return bool(EMAIL_RE.match(value)) and len(value) <= MAX_EMAIL


def is_slug(value: str) -> bool:
    return bool(SLUG_RE.match(value)) and len(value) <= MAX_SLUG


def backstage_slug(name: str) -> str:
    """A Backstage name as an e360 slug: Backstage compares names case-insensitively,
    and dots (allowed there) are not valid in e360 URLs."""
    return name.strip().lower().replace(".", "-")


def team_kind(value: str) -> str | None:
    """The e360 kind for a Backstage group type or CSV kind, or None when unknown."""
    return _KIND_ALIASES.get(value.strip().lower())


def parse_tier(value: object) -> int | None:
    """1 to 4, also written ``tier-1``, ``tier1``, ``Tier 1``; None when not a tier."""
    if isinstance(value, bool):
        return None
    match = _TIER_RE.match(str(value).strip())
    return int(match.group(1)) if match else None


def parse_entity_ref(ref: str) -> tuple[str | None, str]:
    """Split ``[kind:][namespace/]name`` into (lower-cased kind or None, name)."""
    kind: str | None = None
    rest = ref.strip()
    if ":" in rest:
        kind, rest = rest.split(":", 1)
        kind = kind.strip().lower() or None
    if "/" in rest:
        rest = rest.rsplit("/", 1)[1]
    return kind, rest.strip()


def split_list(value: str, separator: str) -> tuple[str, ...]:
    """Items of a separated list, stripped, empty ones and repeats dropped, order kept."""
    items = (item.strip() for item in value.split(separator))
    return tuple(dict.fromkeys(item for item in items if item))


# --- Backstage -----------------------------------------------------------------------------------


def _read(source: Path | str, name: str | None) -> tuple[str | None, str, CatalogError | None]:
    """(text, display name, error). A Path is read from disk; a str is the content itself."""
    if isinstance(source, Path):
        display = name or str(source)
        try:
            return source.read_bytes().decode("utf-8-sig"), display, None
        except OSError as exc:
            return None, display, CatalogError(f"cannot be read: {exc.strerror or exc}", file=display)
        except UnicodeDecodeError:
            return None, display, CatalogError("is not UTF-8 text", file=display)
    return source.removeprefix("\ufeff"), name or "<text>", None


# libyaml is ten times faster on a catalog of thousands of users; PyYAML's own loader is the fallback.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _documents(text: str, file: str, errors: list[CatalogError]) -> Iterator[tuple[int, object]]:
    """Each YAML document with the line it starts on; a syntax error ends the file."""
    loader = _SafeLoader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            line = node.start_mark.line + 1
            yield line, loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        errors.append(CatalogError(f"is not valid YAML: {problem}", file=file, line=mark.line + 1 if mark else None))
    finally:
        loader.dispose()


class _Entity:
    """One Backstage entity document, with typed accessors that record problems."""

    def __init__(self, data: dict[object, object], origin: Origin, errors: list[CatalogError]) -> None:
        self.data = data
        self.origin = origin
        self.errors = errors
        self._reported: set[tuple[str | None, str]] = set()

    def error(self, field: str | None, message: str) -> None:
        # A broken "spec" would otherwise be reported once per field read from it.
        if (field, message) not in self._reported:
            self._reported.add((field, message))
            self.errors.append(self.origin.error(field, message))

    def value(self, path: str) -> object:
        node: object = self.data
        walked: list[str] = []
        for key in path.split("."):
            if node is None:
                return None
            if not isinstance(node, dict):
                self.error(".".join(walked), "must be a mapping")
                return None
            walked.append(key)
            node = node.get(key)
        return node

    def text(self, path: str, *, required: bool = False, max_length: int | None = None) -> str | None:
        return self._as_text(self.value(path), path, required=required, max_length=max_length)

    def annotation(self, key: str, *, max_length: int | None = None) -> str | None:
        return self._mapping_text("metadata.annotations", key, max_length=max_length)

    def label(self, key: str) -> str | None:
        return self._mapping_text("metadata.labels", key)

    def _mapping_text(self, path: str, key: str, *, max_length: int | None = None) -> str | None:
        mapping = self.value(path)
        if mapping is None:
            return None
        if not isinstance(mapping, dict):
            self.error(path, "must be a mapping")
            return None
        return self._as_text(mapping.get(key), f'{path}["{key}"]', max_length=max_length)

    def _as_text(
        self, value: object, field: str, *, required: bool = False, max_length: int | None = None
    ) -> str | None:
        if value is None:
            if required:
                self.error(field, "is missing")
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.error(field, "must be a string")
            return None
        text = str(value).strip()
        if required and not text:
            self.error(field, "is missing")
            return None
        if max_length is not None and len(text) > max_length:
            self.error(field, f"is longer than {max_length} characters")
            return None
        return text

    def refs(self, path: str, kind: str) -> list[str]:
        """Names from a list of entity references, checked against the expected kind."""
        value = self.value(path)
        if value is None:
            return []
        if not isinstance(value, list):
            self.error(path, "must be a list")
            return []
        names = []
        for item in value:
            name = self.ref(item, path, kind)
            if name is not None:
                names.append(name)
        return names

    def ref(self, value: object, field: str, kind: str) -> str | None:
        if not isinstance(value, str) or not value.strip():
            self.error(field, f"has an entry that is not an entity reference: {value!r}")
            return None
        ref_kind, name = parse_entity_ref(value)
        if ref_kind is not None and ref_kind != kind.lower():
            self.error(field, f'"{value.strip()}" must refer to a {kind}')
            return None
        return self.slug(name, field, shown=value.strip())

    def slug(self, name: str, field: str, *, shown: str | None = None) -> str | None:
        slug = backstage_slug(name)
        if not is_slug(slug):
            self.error(field, f'"{shown or name}" is not a valid name (letters, digits, "-", "_", ".")')
            return None
        return slug

    def email(self, path: str, *, required: bool = False) -> str | None:
        email = self.text(path, required=required)
        if email and not is_email(email):
            self.error(path, f'"{email}" is not an email address')
            return None
        return email.lower() if email is not None else None


def parse_backstage(source: Path | str, name: str | None = None) -> CatalogRecords:
    """Read a (multi-document) Backstage catalog file.

    ``source`` is a Path to read, or the YAML text itself; ``name`` is how the
    file is called in error messages (default: the path as given). Groups,
    Users and Components are read; other kinds are counted in ``skipped``.
    """
    records = CatalogRecords()
    text, file, error = _read(source, name)
    records.files.append(file)
    if error is not None:
        records.errors.append(error)
        return records
    assert text is not None
    for line, document in _documents(text, file, records.errors):
        if document is None:  # an empty document, e.g. a trailing "---"
            continue
        if not isinstance(document, dict):
            records.errors.append(CatalogError("is not a mapping (expected a Backstage entity)", file=file, line=line))
            continue
        kind = document.get("kind")
        if not isinstance(kind, str) or not kind.strip():
            problem = "is missing" if kind is None or kind == "" else "must be a string"
            records.errors.append(CatalogError(problem, file=file, line=line, field="kind"))
            continue
        kind = next((k for k in BACKSTAGE_KINDS if k.lower() == kind.strip().lower()), kind.strip())
        if kind not in BACKSTAGE_KINDS:
            records.skipped[kind] += 1
            continue
        metadata = document.get("metadata")
        if not isinstance(metadata, dict):
            problem = "is missing" if metadata is None else "must be a mapping"
            records.errors.append(CatalogError(problem, file=file, line=line, entity=kind, field="metadata"))
            continue
        raw_name = metadata.get("name")
        label = f'{kind} "{raw_name}"' if isinstance(raw_name, str) and raw_name.strip() else kind
        entity = _Entity(document, Origin(file, line, label, backstage=True), records.errors)
        {"Group": _read_group, "User": _read_user, "Component": _read_component}[kind](entity, records)
    return records


def _read_group(entity: _Entity, records: CatalogRecords) -> None:
    raw = entity.text("metadata.name", required=True)
    slug = entity.slug(raw, "metadata.name") if raw else None
    name = entity.text("spec.profile.displayName") or entity.text("metadata.title") or raw
    kind_text = entity.text("spec.type")
    parent_ref = entity.value("spec.parent")
    parent = entity.ref(parent_ref, "spec.parent", "Group") if parent_ref else None
    children = entity.refs("spec.children", "Group")
    members = entity.refs("spec.members", "User")
    leads_text = entity.annotation(LEADS_ANNOTATION)
    leads_field = f'metadata.annotations["{LEADS_ANNOTATION}"]'
    leads = [entity.ref(item, leads_field, "User") for item in split_list(leads_text or "", ",")]
    description = entity.text("metadata.description")
    email = entity.email("spec.profile.email")
    if slug is None or name is None:
        return
    if len(name) > MAX_NAME:
        entity.error("spec.profile.displayName", f"is longer than {MAX_NAME} characters")
        return
    records.teams.append(
        TeamRecord(
            slug=slug,
            name=name,
            origin=entity.origin,
            # Backstage types are free-form; anything not recognised is a plain team.
            kind=(team_kind(kind_text) or "team") if kind_text else None,
            parent=parent,
            children=tuple(children),
            description=description,
            email=email,
        )
    )
    for member in members:
        records.memberships.append(MembershipRecord(member, slug, MEMBER, entity.origin, "spec.members"))
    for lead in leads:
        if lead is not None:
            records.memberships.append(MembershipRecord(lead, slug, LEAD, entity.origin, leads_field))


def _read_user(entity: _Entity, records: CatalogRecords) -> None:
    raw = entity.text("metadata.name", required=True)
    handle = entity.slug(raw, "metadata.name") if raw else None
    name = entity.text("spec.profile.displayName") or entity.text("metadata.title") or raw
    email = entity.email("spec.profile.email", required=True)
    title = entity.annotation(TITLE_ANNOTATION, max_length=MAX_TITLE)
    github = entity.annotation(GITHUB_LOGIN_ANNOTATION, max_length=MAX_LOGIN)
    gitlab = entity.annotation(GITLAB_LOGIN_ANNOTATION, max_length=MAX_LOGIN)
    teams = entity.refs("spec.memberOf", "Group")
    if handle is None or name is None:
        return
    if len(name) > MAX_NAME:
        entity.error("spec.profile.displayName", f"is longer than {MAX_NAME} characters")
        return
    records.people.append(
        PersonRecord(
            handle=handle,
            name=name,
            # A bad email is already reported; keep the person so that memberships still resolve.
            email=email or "",
            origin=entity.origin,
            title=title,
            github_login=github,
            gitlab_login=gitlab,
        )
    )
    for team in teams:
        records.memberships.append(MembershipRecord(handle, team, MEMBER, entity.origin, "spec.memberOf"))


def _read_component(entity: _Entity, records: CatalogRecords) -> None:
    raw = entity.text("metadata.name", required=True)
    slug = entity.slug(raw, "metadata.name") if raw else None
    name = entity.text("metadata.title") or raw
    owner_ref = entity.text("spec.owner", required=True)
    owner = entity.ref(owner_ref, "spec.owner", "Group") if owner_ref else None
    lifecycle = entity.text("spec.lifecycle", max_length=MAX_LIFECYCLE)
    description = entity.text("metadata.description")

    tier: int | None = None
    tier_text, tier_field = entity.annotation(TIER_ANNOTATION), f'metadata.annotations["{TIER_ANNOTATION}"]'
    if tier_text is None:
        tier_text, tier_field = entity.label("tier"), 'metadata.labels["tier"]'
    if tier_text:
        tier = parse_tier(tier_text)
        if tier is None:
            entity.error(tier_field, f'"{tier_text}" is not a tier (1 to 4, or tier-1 to tier-4)')

    repositories: list[str] | None = None
    github = entity.annotation(GITHUB_PROJECT_ANNOTATION)
    gitlab = entity.annotation(GITLAB_PROJECT_ANNOTATION)
    extra = entity.annotation(REPOSITORIES_ANNOTATION)
    if github is not None or gitlab is not None or extra is not None:
        repositories = []
        if github:
            if github.count("/") != 1:
                entity.error(f'metadata.annotations["{GITHUB_PROJECT_ANNOTATION}"]', f'"{github}" is not owner/name')
            else:
                repositories.append(github)
        if gitlab:
            # GitLab projects nest (group/subgroup/project), so keep the host to tell them from GitHub's owner/name.
            host = entity.annotation(GITLAB_INSTANCE_ANNOTATION) or "gitlab.com"
            repositories.append(f"{host.rstrip('/')}/{gitlab.strip('/')}")
        repositories.extend(split_list(extra or "", ","))

    environments_text = entity.annotation(PRODUCTION_ENVIRONMENTS_ANNOTATION)
    environments = split_list(environments_text, ",") if environments_text is not None else None

    if slug is None or name is None or owner is None:
        return
    if len(name) > MAX_NAME:
        entity.error("metadata.title", f"is longer than {MAX_NAME} characters")
        return
    records.services.append(
        ServiceRecord(
            slug=slug,
            name=name,
            owner=owner,
            origin=entity.origin,
            description=description,
            tier=tier,
            lifecycle=lifecycle,
            repositories=tuple(dict.fromkeys(repositories)) if repositories is not None else None,
            production_environments=environments,
        )
    )


# --- CSV -----------------------------------------------------------------------------------------


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
    text, file, error = _read(source, name)
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
    memberships: list[tuple[str, Role]] = []
    for item in split_list(values.get("teams", ""), ";"):
        team, _, role = (part.strip() for part in item.partition(":"))
        role = role.lower() or MEMBER
        if not is_slug(team):
            row.error("teams", f'"{team}" is not a team slug')
        elif role not in (MEMBER, LEAD):
            row.error("teams", f'"{item}" has role "{role}"; use {MEMBER} or {LEAD}')
        else:
            memberships.append((team, LEAD if role == LEAD else MEMBER))
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


def read_catalog_file(path: Path, name: str | None = None) -> CatalogRecords:
    """Parse ``path`` as Backstage YAML (``.yaml``, ``.yml``) or CSV (``.csv``)."""
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        return parse_backstage(path, name)
    if suffix == ".csv":
        return parse_csv(path, name)
    records = CatalogRecords(files=[name or str(path)])
    records.errors.append(CatalogError("is neither .yaml, .yml nor .csv", file=name or str(path)))
    return records


# --- Cross-checks, with the database's current state passed in -----------------------------------


@dataclass(frozen=True)
class ExistingCatalog:
    """What the database already holds, as far as references and uniqueness are concerned."""

    team_parents: Mapping[str, str | None] = field(default_factory=dict)  # slug -> parent slug
    person_emails: Mapping[str, str] = field(default_factory=dict)  # handle -> email


@dataclass
class ResolvedCatalog:
    """Records keyed by slug/handle, with parent changes and memberships worked out."""

    teams: dict[str, TeamRecord] = field(default_factory=dict)
    people: dict[str, PersonRecord] = field(default_factory=dict)
    services: dict[str, ServiceRecord] = field(default_factory=dict)
    # slug -> parent slug ("" for a root team), for every team whose parent the files state,
    # including teams that exist only in the database and are listed in a group's spec.children.
    parents: dict[str, str] = field(default_factory=dict)
    memberships: dict[tuple[str, str], Role] = field(default_factory=dict)  # (handle, slug) -> role
    skipped: Counter[str] = field(default_factory=Counter)
    errors: list[CatalogError] = field(default_factory=list)


def resolve(records: CatalogRecords, existing: ExistingCatalog) -> ResolvedCatalog:
    """Check the records against each other and the database; report every problem.

    Checks: one definition per slug/handle; parents, children, owners and
    members refer to known teams and people (in these files or the database);
    a team's parent is stated once; the resulting tree has no cycle; no two
    people share an email.
    """
    resolved = ResolvedCatalog(skipped=Counter(records.skipped), errors=list(records.errors))
    errors = resolved.errors
    _index(records.teams, "slug", "Team", resolved.teams, errors)
    _index(records.people, "handle", "Person", resolved.people, errors)
    _index(records.services, "slug", "Service", resolved.services, errors)

    def is_team(slug: str) -> bool:
        return slug in resolved.teams or slug in existing.team_parents

    def is_person(handle: str) -> bool:
        return handle in resolved.people or handle in existing.person_emails

    # Parents: a team's own spec.parent (or CSV parent), and groups listing it in spec.children.
    stated: dict[str, tuple[str, Origin, str]] = {}
    for team in resolved.teams.values():
        if team.parent is not None:
            field_name = team.origin.field_name("parent")
            if team.parent and not is_team(team.parent):
                errors.append(team.origin.error(field_name, f'"{team.parent}" is not a known team{_NOT_FOUND}'))
            else:
                stated[team.slug] = (team.parent, team.origin, field_name)
    for team in resolved.teams.values():
        field_name = team.origin.field_name("children")
        for child in team.children:
            if not is_team(child):
                errors.append(team.origin.error(field_name, f'"{child}" is not a known team{_NOT_FOUND}'))
                continue
            previous = stated.get(child)
            if previous is None:
                stated[child] = (team.slug, team.origin, field_name)
            elif previous[0] != team.slug:
                where = _describe(previous[1])
                errors.append(
                    team.origin.error(
                        field_name,
                        f'lists "{child}", whose parent is "{previous[0] or "(none)"}" at {where}',
                    )
                )
    resolved.parents = {slug: parent for slug, (parent, _, _) in stated.items()}
    errors.extend(_cycles(stated, existing))

    for service in resolved.services.values():
        if not is_team(service.owner):
            field_name = service.origin.field_name("owner")
            errors.append(service.origin.error(field_name, f'"{service.owner}" is not a known team{_NOT_FOUND}'))

    for membership in records.memberships:
        problems = []
        if not is_person(membership.person):
            problems.append(f'"{membership.person}" is not a known person{_NOT_FOUND}')
        if not is_team(membership.team):
            problems.append(f'"{membership.team}" is not a known team{_NOT_FOUND}')
        if problems:
            errors.extend(membership.origin.error(membership.field, problem) for problem in problems)
            continue
        key = (membership.person, membership.team)
        # Stated twice (Group.spec.members and User.spec.memberOf, say): lead wins.
        if resolved.memberships.get(key) != LEAD:
            resolved.memberships[key] = membership.role

    errors.extend(_email_clashes(resolved.people, existing))
    # By file in the order given, then by line; the sort is stable, so discovery order breaks ties.
    order = {file: index for index, file in reversed(list(enumerate(records.files)))}
    errors.sort(key=lambda error: (order.get(error.file, len(order)), error.line or 0))
    return resolved


_NOT_FOUND = " (not in these files nor in the database)"


def _describe(origin: Origin) -> str:
    where = origin.file if origin.line is None else f"{origin.file} line {origin.line}"
    return f"{where} ({origin.entity})" if origin.entity else where


def _index(records: Iterable, key: str, noun: str, into: dict, errors: list[CatalogError]) -> None:
    for record in records:
        value = getattr(record, key)
        first = into.get(value)
        if first is None:
            into[value] = record
        else:
            errors.append(
                record.origin.error(None, f'{noun} "{value}" is already defined at {_describe(first.origin)}')
            )


def _cycles(stated: dict[str, tuple[str, Origin, str]], existing: ExistingCatalog) -> list[CatalogError]:
    """One error per cycle in the tree the import would produce (database parents + stated ones)."""
    parents: dict[str, str | None] = dict(existing.team_parents)
    parents.update({slug: parent or None for slug, (parent, _, _) in stated.items()})
    errors = []
    seen: set[str] = set()
    for start in stated:
        chain: list[str] = []
        node: str | None = start
        while node is not None and node not in seen and node not in chain:
            chain.append(node)
            node = parents.get(node)
        seen.update(chain)
        if node is not None and node in chain:
            loop = chain[chain.index(node) :]
            # Blame a team whose parent the files state (there is one, unless the database
            # already holds a cycle): that is the line to fix.
            blamed = next((slug for slug in loop if slug in stated), loop[0])
            loop = loop[loop.index(blamed) :] + loop[: loop.index(blamed)]
            if blamed in stated:
                parent, origin, field_name = stated[blamed]
                errors.append(origin.error(field_name, f'"{parent}" makes a cycle: {" → ".join([*loop, blamed])}'))
    return errors


def _email_clashes(people: dict[str, PersonRecord], existing: ExistingCatalog) -> list[CatalogError]:
    owners: dict[str, str] = {}  # email -> handle, after the import
    for handle, email in existing.person_emails.items():
        if handle not in people:
            owners[email.lower()] = handle
    errors = []
    for person in people.values():
        if not person.email:
            continue
        other = owners.get(person.email)
        if other is not None and other != person.handle:
            where = f'Person "{other}" ' + (
                f"at {_describe(people[other].origin)}" if other in people else "in the database"
            )
            errors.append(
                person.origin.error(person.origin.field_name("email"), f'"{person.email}" is already used by {where}')
            )
        else:
            owners[person.email] = person.handle
    return errors


# --- What an import did ----------------------------------------------------------------------------


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

"""Backstage catalog files: Group, User and Component entities as records.

A (multi-document) YAML file is read document by document; each entity is
wrapped in ``_Entity``, whose typed accessors record a problem against the
entity and field instead of raising, so that one run reports every problem.
The ``e360.io/*`` annotations carry what Backstage has no field for.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import yaml

from e360.catalog_files.fields import (
    MAX_LIFECYCLE,
    MAX_LOGIN,
    MAX_NAME,
    MAX_TITLE,
    backstage_slug,
    is_email,
    is_slug,
    parse_date,
    parse_entity_ref,
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

# Annotations read from Backstage entities.
LEADS_ANNOTATION = "e360.io/leads"
TITLE_ANNOTATION = "e360.io/title"
JOINED_ON_ANNOTATION = "e360.io/joined-on"
TIER_ANNOTATION = "e360.io/tier"
REPOSITORIES_ANNOTATION = "e360.io/repositories"
PRODUCTION_ENVIRONMENTS_ANNOTATION = "e360.io/production-environments"
GITHUB_LOGIN_ANNOTATION = "github.com/user-login"
GITLAB_LOGIN_ANNOTATION = "gitlab.com/user-login"
GITHUB_PROJECT_ANNOTATION = "github.com/project-slug"
GITLAB_PROJECT_ANNOTATION = "gitlab.com/project-slug"
GITLAB_INSTANCE_ANNOTATION = "gitlab.com/instance"

BACKSTAGE_KINDS = ("Group", "User", "Component")

# libyaml is ten times faster on a catalog of thousands of users; PyYAML's own loader is the fallback.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _documents(text: str, file: str, errors: list[CatalogError]) -> Iterator[tuple[int, object]]:
    """Each YAML document with the line it starts on; a syntax error ends the file."""
    loader = _SafeLoader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            assert node is not None  # check_node() said there is one
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
    text, file, error = read_source(source, name)
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
        records.memberships.append(MembershipRecord(member, slug, Role.MEMBER, entity.origin, "spec.members"))
    for lead in leads:
        if lead is not None:
            records.memberships.append(MembershipRecord(lead, slug, Role.LEAD, entity.origin, leads_field))


def _read_user(entity: _Entity, records: CatalogRecords) -> None:
    raw = entity.text("metadata.name", required=True)
    handle = entity.slug(raw, "metadata.name") if raw else None
    name = entity.text("spec.profile.displayName") or entity.text("metadata.title") or raw
    email = entity.email("spec.profile.email", required=True)
    title = entity.annotation(TITLE_ANNOTATION, max_length=MAX_TITLE)
    github = entity.annotation(GITHUB_LOGIN_ANNOTATION, max_length=MAX_LOGIN)
    gitlab = entity.annotation(GITLAB_LOGIN_ANNOTATION, max_length=MAX_LOGIN)
    joined_text = entity.annotation(JOINED_ON_ANNOTATION)
    joined_on = parse_date(joined_text) if joined_text else None
    if joined_text and joined_on is None:
        entity.error(f'metadata.annotations["{JOINED_ON_ANNOTATION}"]', f'"{joined_text}" is not a date (YYYY-MM-DD)')
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
            joined_on=joined_on,
        )
    )
    for team in teams:
        records.memberships.append(MembershipRecord(handle, team, Role.MEMBER, entity.origin, "spec.memberOf"))


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

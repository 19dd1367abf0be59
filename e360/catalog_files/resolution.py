"""Cross-checks of the records against each other and the database's current state.

``resolve`` takes what the files say and what the database holds
(``ExistingCatalog``, passed in so that this stays free of Django) and reports
duplicates, unknown references, conflicting parents, cycles and shared emails.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from e360.catalog_files.records import (
    CatalogError,
    CatalogRecords,
    Origin,
    PersonRecord,
    Role,
    ServiceRecord,
    TeamRecord,
)


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
        if resolved.memberships.get(key) != Role.LEAD:
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

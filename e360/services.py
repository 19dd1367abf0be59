"""Writes to the catalog that touch several models."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from allauth.account.models import EmailAddress
from django.contrib.auth.models import Group, Permission
from django.db import DEFAULT_DB_ALIAS, models, transaction

from e360.access import ORG_VIEWERS_GROUP
from e360.catalog_files import CatalogInvalid, CatalogRecords, Counts, ExistingCatalog, ImportSummary, resolve
from e360.models import Membership, Person, Service, Team, User


@transaction.atomic
def user_trust_email(*, user: User) -> None:
    """Record the email an admin gave ``user`` as verified.

    Admins create every password account, so the address they typed is
    vouched for: the person with that email links at sign-in, and a later SSO
    sign-in with the same provider-verified email connects to this account
    without allauth wiping its password (allauth does that for unverified ones).
    """
    if not user.email:
        return
    email = user.email.lower()
    has_primary = EmailAddress.objects.filter(user=user, primary=True).exclude(email__iexact=email).exists()
    EmailAddress.objects.update_or_create(
        user=user,
        email__iexact=email,
        defaults={"email": email, "verified": True},
        create_defaults={"email": email, "verified": True, "primary": not has_primary},
    )


@transaction.atomic
def person_link_user(*, user: User, emails: Iterable[str]) -> Person | None:
    """Tie ``user`` to the unclaimed person whose email is one of ``emails``.

    Emails must already be trusted (verified by the provider or typed by an
    admin). A user already linked keeps their person.
    """
    existing = Person.objects.filter(user=user).first()
    if existing is not None:
        return existing
    wanted = {email.lower() for email in emails if email}
    if not wanted:
        return None
    person = (
        Person.objects.select_for_update()
        .filter(email__in=wanted, user__isnull=True, is_active=True)
        .order_by("id")
        .first()
    )
    if person is None:
        return None
    person.user = user
    person.save(update_fields=["user"])
    return person


@transaction.atomic
def catalog_import(*, records: CatalogRecords, dry_run: bool = False) -> ImportSummary:
    """Create or update the teams, people, services and memberships read from catalog files.

    Everything is checked before anything is written: parse problems carried in
    ``records``, references to unknown teams or people (looked up in the records
    and the database), parent cycles, emails used twice. Any problem raises
    ``CatalogInvalid`` with all of them, and nothing is written.

    Rows are matched by slug (teams, services) and handle (people); fields a file
    does not mention are left alone; nothing is ever deleted, including
    memberships a file does not mention. Memberships are upserted on
    (person, team). Running the same files twice changes nothing.

    The whole catalog is read in four queries and written with bulk
    statements, so a few thousand people take a handful of queries.
    """
    teams = {team.slug: team for team in Team.objects.order_by()}
    team_slugs: dict[int | None, str] = {team.pk: slug for slug, team in teams.items()}
    people = {person.handle: person for person in Person.objects.order_by()}
    stored_emails = {person.pk: person.email for person in people.values()}
    person_handles = {person.pk: handle for handle, person in people.items()}
    resolved = resolve(
        records,
        ExistingCatalog(
            team_parents={slug: team_slugs.get(team.parent_id) for slug, team in teams.items()},
            person_emails={handle: person.email for handle, person in people.items()},
        ),
    )
    if resolved.errors:
        raise CatalogInvalid(resolved.errors)
    summary = ImportSummary(skipped=resolved.skipped, dry_run=dry_run)

    # Teams: fields first, parents after (a parent may be a team created in this run).
    new_teams: list[Team] = []
    changed_teams: dict[str, Team] = {}
    for slug, record in resolved.teams.items():
        team = teams.get(slug)
        values: dict[str, object] = {
            "name": record.name,
            "kind": record.kind,
            "description": record.description,
            "email": record.email,
        }
        if team is None:
            teams[slug] = team = Team(slug=slug)
            _assign(team, values)
            new_teams.append(team)
        elif _assign(team, values):
            changed_teams[slug] = team
    reparented = {
        slug: parent or None
        for slug, parent in resolved.parents.items()
        if team_slugs.get(teams[slug].parent_id) != (parent or None)
    }
    changed_teams.update({slug: teams[slug] for slug in reparented if teams[slug].pk is not None})
    summary.teams = _counts(resolved.teams, created=len(new_teams), updated=changed_teams.keys())

    # People. Handles never change; an email may move from one person to another within the run.
    new_people: list[Person] = []
    changed_people: list[Person] = []
    for handle, person_record in resolved.people.items():
        values = {
            "name": person_record.name,
            "email": person_record.email,
            "title": person_record.title,
            "github_login": person_record.github_login,
            "gitlab_login": person_record.gitlab_login,
            "joined_on": person_record.joined_on,
        }
        person = people.get(handle)
        if person is None:
            people[handle] = person = Person(handle=handle)
            _assign(person, values)
            new_people.append(person)
        elif _assign(person, values):
            changed_people.append(person)
    summary.people = _counts(resolved.people, created=len(new_people), updated=[p.handle for p in changed_people])

    # Services.
    services = {service.slug: service for service in Service.objects.filter(slug__in=resolved.services).order_by()}
    new_services: list[tuple[Service, str]] = []
    changed_services: list[tuple[Service, str]] = []
    for slug, service_record in resolved.services.items():
        values = {
            "name": service_record.name,
            "description": service_record.description,
            "tier": service_record.tier,
            "lifecycle": service_record.lifecycle,
            "repositories": list(service_record.repositories) if service_record.repositories is not None else None,
            "production_environments": (
                list(service_record.production_environments)
                if service_record.production_environments is not None
                else None
            ),
        }
        service = services.get(slug)
        if service is None:
            service = Service(slug=slug)
            _assign(service, values)
            new_services.append((service, service_record.owner))
        else:
            fields_changed = _assign(service, values)
            if fields_changed or team_slugs.get(service.owner_id) != service_record.owner:
                changed_services.append((service, service_record.owner))
    summary.services = _counts(
        resolved.services, created=len(new_services), updated=[service.slug for service, _ in changed_services]
    )

    # Memberships, keyed by (handle, slug) so that new people and teams need no id yet.
    current = {
        (person_handles[person_id], team_slugs[team_id]): (membership_id, role)
        for membership_id, person_id, team_id, role in Membership.objects.order_by().values_list(
            "id", "person_id", "team_id", "role"
        )
    }
    new_memberships = [(key, role) for key, role in resolved.memberships.items() if key not in current]
    changed_memberships = [
        Membership(id=current[key][0], role=role)
        for key, role in resolved.memberships.items()
        if key in current and current[key][1] != role
    ]
    summary.memberships = Counts(
        created=len(new_memberships),
        updated=len(changed_memberships),
        unchanged=len(resolved.memberships) - len(new_memberships) - len(changed_memberships),
    )

    if dry_run:
        return summary

    Team.objects.bulk_create(new_teams)
    for slug, parent in reparented.items():
        teams[slug].parent = teams[parent] if parent else None
    Team.objects.bulk_update(
        [*changed_teams.values(), *(teams[slug] for slug in reparented if slug not in changed_teams)],
        ["name", "kind", "description", "email", "parent"],
    )

    _move_emails_aside(changed_people, stored_emails)
    Person.objects.bulk_update(changed_people, ["name", "email", "title", "github_login", "gitlab_login", "joined_on"])
    Person.objects.bulk_create(new_people)

    for service, owner in (*new_services, *changed_services):
        service.owner = teams[owner]
    Service.objects.bulk_create([service for service, _ in new_services])
    Service.objects.bulk_update(
        [service for service, _ in changed_services],
        ["name", "owner", "description", "tier", "lifecycle", "repositories", "production_environments"],
    )

    Membership.objects.bulk_create(
        Membership(person=people[handle], team=teams[slug], role=role) for (handle, slug), role in new_memberships
    )
    Membership.objects.bulk_update(changed_memberships, ["role"])
    return summary


def _assign(instance: models.Model, values: Mapping[str, object]) -> bool:
    """Set the values a file states (None means "not mentioned"); True when anything changed."""
    changed = False
    for name, value in values.items():
        if value is not None and getattr(instance, name) != value:
            setattr(instance, name, value)
            changed = True
    return changed


def _counts(records: Mapping[str, object], *, created: int, updated: Iterable[str]) -> Counts:
    """Counts for ``records``; ``updated`` may also name database-only rows (teams reparented by a group)."""
    updated = set(updated)
    unchanged = sum(1 for key in records if key not in updated) - created
    return Counts(created=created, updated=len(updated), unchanged=unchanged)


def _move_emails_aside(changed: list[Person], stored_emails: Mapping[int, str]) -> None:
    """Park the emails that another person takes over in this run, before the real update.

    Email is unique and PostgreSQL checks uniqueness row by row, so two people
    swapping emails in one UPDATE would fail. Rare (a rename, a mix-up fixed),
    so it costs a query only when it happens.
    """
    wanted = {person.email for person in changed}
    aside = [p for p in changed if stored_emails[p.pk] != p.email and stored_emails[p.pk] in wanted]
    if aside:
        Person.objects.bulk_update(
            [Person(pk=p.pk, email=f"moving-{p.pk}@catalog-import.invalid") for p in aside], ["email"]
        )


def org_viewers_group_sync(using: str = DEFAULT_DB_ALIAS, **kwargs) -> None:
    """The "Org viewers" group with the ``e360.view_org`` permission, after each migrate (``e360.apps``)."""
    group, _ = Group.objects.using(using).get_or_create(name=ORG_VIEWERS_GROUP)
    group.permissions.add(Permission.objects.using(using).get(content_type__app_label="e360", codename="view_org"))

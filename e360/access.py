"""Who may see what. Every view fetches catalog objects through these helpers.

- A person sees the teams they belong to.
- A lead also sees every team below the teams they lead.
- Holders of the ``e360.view_org`` permission (the "Org viewers" group and
  superusers) see everything.
- Anything outside that answers 404, so outsiders cannot even learn it exists.

Every "may this user see X" is one helper here, checked once per request, by the view (``get_*_for_user`` fetch
and check; ``require_org_viewer`` guards the organisation's pages; ``sees_any_team`` decides who may see a
survey campaign's results, ``sees_subtree`` who may read figures across a team's sub-teams). A rule that needs an
app's models lives in that app's ``access`` module (``surveys.access``: who may answer which campaign).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404

from e360.models import Membership, Person, PersonQuerySet, Service, Team, User
from e360.tree import TeamTree

ORG_VIEWERS_GROUP = "Org viewers"


def sees_everything(user: User) -> bool:
    return user.is_active and user.has_perm("e360.view_org")


def require_org_viewer(user: User, message: str = "This page is for org viewers.") -> None:
    """The organisation's pages are for org viewers: 404 to anyone else, as to outsiders of a team."""
    if not sees_everything(user):
        raise Http404(message)


def person_for(user: User) -> Person | None:
    try:
        return user.person
    except Person.DoesNotExist:
        return None


def visible_team_ids(user: User) -> set[int] | None:
    """Ids of the teams ``user`` may see, or None meaning all of them.

    Cached on the user object for the request's lifetime.
    """
    if not user.is_authenticated:
        return set()
    if sees_everything(user):
        return None
    cached = getattr(user, "_e360_visible_team_ids", None)
    if cached is not None:
        return cached
    memberships = Membership.objects.filter(person__user=user, person__is_active=True).values_list("team_id", "role")
    own = {team_id for team_id, _ in memberships}
    led = {team_id for team_id, role in memberships if role == Membership.Role.LEAD}
    ids = own | (TeamTree.for_user(user).subtree(led) if led else set())
    user._e360_visible_team_ids = ids  # type: ignore[attr-defined]  # a cache for the request's life
    return ids


def sees_team(user: User, team_id: int) -> bool:
    ids = visible_team_ids(user)
    return ids is None or team_id in ids


def visible_among(user: User, team_ids: Iterable[int]) -> set[int]:
    """The ones of ``team_ids`` that ``user`` may see."""
    ids = visible_team_ids(user)
    return set(team_ids) if ids is None else ids.intersection(team_ids)


def sees_any_team(user: User, team_ids: Iterable[int]) -> bool:
    """Whether ``user`` may see one of ``team_ids`` — who may see what concerns several teams (a survey campaign's
    results). Org viewers may, even when none is left (a campaign whose teams were deleted since)."""
    return visible_team_ids(user) is None or bool(visible_among(user, team_ids))


def sees_all_of(user: User, team_ids: Iterable[int]) -> bool:
    ids = visible_team_ids(user)
    return ids is None or ids.issuperset(team_ids)


def sees_subtree(user: User, team: Team) -> bool:
    """Whether ``user`` may see ``team`` and every team below it: who may read figures across its sub-teams (its
    leads, a lead above it, org viewers; not a member, who sees the team alone)."""
    return visible_team_ids(user) is None or sees_all_of(user, TeamTree.for_user(user).subtree([team.pk]))


def visible_teams(user: User) -> QuerySet[Team]:
    ids = visible_team_ids(user)
    return Team.objects.all() if ids is None else Team.objects.filter(id__in=ids)


def limit_to_visible(user: User, teams: QuerySet[Team]) -> QuerySet[Team]:
    """``teams`` without those ``user`` may not see."""
    ids = visible_team_ids(user)
    return teams if ids is None else teams.filter(id__in=ids)


def visible_services(user: User) -> QuerySet[Service]:
    ids = visible_team_ids(user)
    return Service.objects.all() if ids is None else Service.objects.filter(owner_id__in=ids)


def visible_people(user: User) -> PersonQuerySet:
    ids = visible_team_ids(user)
    if ids is None:
        return Person.objects.all()
    return Person.objects.filter(Q(memberships__team_id__in=ids) | Q(user=user)).distinct()


def visible_memberships(user: User) -> QuerySet[Membership]:
    """Memberships in the teams ``user`` may see, with their team: what a person's teams read as on any page (a
    person seen through one shared team must not reveal their other teams)."""
    ids = visible_team_ids(user)
    memberships = Membership.objects.select_related("team")
    return memberships if ids is None else memberships.filter(team_id__in=ids)


def get_team_for_user(user: User, slug: str) -> Team:
    return get_object_or_404(visible_teams(user), slug=slug)


def get_service_for_user(user: User, slug: str) -> Service:
    return get_object_or_404(visible_services(user).select_related("owner"), slug=slug)


def get_person_for_user(user: User, handle: str) -> Person:
    person = visible_people(user).filter(handle=handle).first()
    if person is None:
        raise Http404("No such person.")
    return person

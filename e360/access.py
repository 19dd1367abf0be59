"""Who may see what. Every view fetches catalog objects through these helpers.

- A person sees the teams they belong to.
- A lead also sees every team below the teams they lead.
- Holders of the ``e360.view_org`` permission (the "Org viewers" group and
  superusers) see everything.
- Anything outside that answers 404, so outsiders cannot even learn it exists.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404

from e360.models import Membership, Person, Service, Team, User
from e360.tree import TeamTree

ORG_VIEWERS_GROUP = "Org viewers"


def sees_everything(user: User) -> bool:
    return user.is_active and user.has_perm("e360.view_org")


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
    user._e360_visible_team_ids = ids
    return ids


def visible_teams(user: User) -> QuerySet[Team]:
    ids = visible_team_ids(user)
    return Team.objects.all() if ids is None else Team.objects.filter(id__in=ids)


def visible_services(user: User) -> QuerySet[Service]:
    ids = visible_team_ids(user)
    return Service.objects.all() if ids is None else Service.objects.filter(owner_id__in=ids)


def visible_people(user: User) -> QuerySet[Person]:
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

"""What a delivery page covers: one service, or a team with the services of its sub-teams.

Views fetch the service or team through ``e360.access`` (outsiders get 404)
and build a :class:`Scope` from it here; every figure and list of the page then
reads the scope's service ids, so a page never shows a service its viewer
could not open.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

from django.conf import settings
from django.db.models import Q

from e360.models import Service, Team
from e360.tree import TeamTree
from metrics import definitions as d


def reading_profile() -> d.Profile:
    """e360's default definitions in the org time zone: what reading rollups and stored rows needs.

    Which environments are production is each service's own setting, applied when its rows are
    stored (``Deployment.is_production``) and rolled up (``metrics.refresh.profile_for``); a
    read never classifies a deployment again, so it needs no service's patterns.
    """
    return d.Profile.default(time_zone=settings.TIME_ZONE)


class ScopeKind(StrEnum):
    """What a page covers. A ``Scope`` is a service or a team; ``metrics.selectors.Area`` adds the organisation.
    The value is also the word of the page's URL names (``metrics:team-delivery``) and of the metrics API."""

    SERVICE = "service"
    TEAM = "team"
    ORGANISATION = "organisation"


class ServiceRef(NamedTuple):
    """What a scope keeps of each of its services: an organisation's are thousands."""

    id: int
    name: str
    slug: str
    owner_id: int


@dataclass(frozen=True)
class Scope:
    kind: ScopeKind  # SERVICE or TEAM
    service: Service | None
    team: Team | None
    services: tuple[ServiceRef, ...]
    profile: d.Profile
    # What the figures read: team rollups of whole subtrees in scope, and service rollups of the rest.
    rollup_team_ids: tuple[int, ...] = ()
    rollup_service_ids: tuple[int, ...] = ()
    # Every service of the organisation is in scope: queries of raw rows need no service filter.
    everything: bool = False

    @property
    def service_ids(self) -> list[int]:
        return [s.id for s in self.services]

    @property
    def filter_ids(self) -> list[int] | None:
        """The service ids a query of raw rows filters on; None when the scope is every service."""
        return None if self.everything else self.service_ids

    def rows(self, field: str = "service") -> Q:
        """The rows of the scope's services (``field`` names the foreign key)."""
        return in_services(self.filter_ids, field)

    @property
    def name(self) -> str:
        obj = self.service if self.kind == ScopeKind.SERVICE else self.team
        assert obj is not None
        return obj.name

    @property
    def slug(self) -> str:
        obj = self.service if self.kind == ScopeKind.SERVICE else self.team
        assert obj is not None
        return obj.slug

    @property
    def is_team(self) -> bool:
        return self.kind == ScopeKind.TEAM


def in_services(service_ids: Collection[int] | None, field: str = "service") -> Q:
    """Rows of those services; every row when ``service_ids`` is None (the whole organisation).

    A filter on an organisation's thousands of services costs each row a search of the id
    array, and keeps PostgreSQL from the time index alone; no filter costs nothing.
    """
    return Q() if service_ids is None else Q(**{f"{field}__any": service_ids})


def service_scope(service: Service) -> Scope:
    ref = ServiceRef(service.id, service.name, service.slug, service.owner_id)
    return Scope(ScopeKind.SERVICE, service, None, (ref,), reading_profile(), (), (service.id,))


def team_scope(team: Team, visible_team_ids: Collection[int] | None, tree: TeamTree | None = None) -> Scope:
    """The team's services and those of every team below it that the viewer may see.

    ``visible_team_ids`` is ``e360.access.visible_team_ids`` (None: all teams). A plain
    member sees the team but not its sub-teams, so their page covers the team's own
    services; a lead's covers the whole subtree. ``tree``: the team tree, when the caller
    has it already (``TeamTree.for_user`` in a request); loaded otherwise.
    """
    if tree is None:
        tree = TeamTree.load()
    subtree = tree.subtree([team.id])
    team_ids = subtree if visible_team_ids is None else {team.id} | (subtree & set(visible_team_ids))
    # One array parameter (``owner__any``) rather than one per team: an organisation's 441 cost 4 ms to format.
    rows = Service.objects.filter(owner__any=team_ids).order_by("name").values_list("id", "name", "slug", "owner_id")
    services = tuple(ServiceRef._make(row) for row in rows)
    whole, alone = _cover(team.id, team_ids, tree)
    rollup_services = tuple(s.id for s in services if s.owner_id in alone)
    everything = len(team_ids) == len(tree)
    return Scope(
        ScopeKind.TEAM, None, team, services, reading_profile(), tuple(sorted(whole)), rollup_services, everything
    )


def _cover(team_id: int, team_ids: set[int], tree: TeamTree) -> tuple[set[int], set[int]]:
    """Split the teams in scope into subtrees wholly in scope (one team rollup each) and teams alone.

    From the top: a team whose subtree is all in scope is read whole; otherwise the
    team alone (when in scope) and each child, likewise.
    """
    whole: set[int] = set()
    alone: set[int] = set()
    stack = [team_id]
    while stack:
        node = stack.pop()
        if tree.subtree([node]) <= team_ids:
            whole.add(node)
            continue
        if node in team_ids:
            alone.add(node)
        stack.extend(tree.children(node))
    return whole, alone

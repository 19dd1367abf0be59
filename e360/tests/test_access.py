from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.http import Http404

from e360 import access
from e360.models import Membership
from e360.tests.factories import MembershipFactory, PersonFactory, ServiceFactory, TeamFactory, UserFactory
from e360.tree import TeamTree


def test_a_lead_sees_their_team_and_everything_below(owner, team, subteam):
    grandchild = TeamFactory(parent=subteam)
    assert access.visible_team_ids(owner) == {team.id, subteam.id, grandchild.id}


def test_a_member_sees_only_their_own_teams(teammate, team, subteam):
    assert access.visible_team_ids(teammate) == {team.id}


def test_a_lead_of_a_subteam_does_not_see_the_parent(team, subteam):
    user = UserFactory()
    MembershipFactory(person=PersonFactory(user=user), team=subteam, role=Membership.Role.LEAD)
    assert access.visible_team_ids(user) == {subteam.id}


def test_org_viewers_see_everything(db, team, other_team):
    user = UserFactory()
    user.groups.add(Group.objects.get(name=access.ORG_VIEWERS_GROUP))
    assert access.visible_team_ids(user) is None
    assert set(access.visible_teams(user)) == {team, other_team}


def test_superusers_see_everything(staff, team):
    assert access.visible_team_ids(staff) is None


def test_staff_without_the_permission_see_only_their_teams(db, team):
    user = UserFactory(is_staff=True)
    assert access.visible_team_ids(user) == set()


def test_an_inactive_person_sees_nothing(db, team):
    user = UserFactory()
    MembershipFactory(person=PersonFactory(user=user, is_active=False), team=team)
    assert access.visible_team_ids(user) == set()


def test_an_outsider_gets_404_for_every_kind_of_object(outsider, owner, team, service):
    with pytest.raises(Http404):
        access.get_team_for_user(outsider, team.slug)
    with pytest.raises(Http404):
        access.get_service_for_user(outsider, service.slug)
    with pytest.raises(Http404):
        access.get_person_for_user(outsider, owner.person.handle)


def test_people_are_visible_through_shared_teams_and_to_themselves(owner, teammate, outsider):
    assert set(access.visible_people(teammate)) == {owner.person, teammate.person}
    assert set(access.visible_people(outsider)) == {outsider.person}


def test_services_follow_their_owner_team(owner, outsider, service, other_team):
    elsewhere = ServiceFactory(owner=other_team)
    assert set(access.visible_services(owner)) == {service}
    assert set(access.visible_services(outsider)) == {elsewhere}


def test_anonymous_users_see_nothing(db, team):
    from django.contrib.auth.models import AnonymousUser

    assert access.visible_team_ids(AnonymousUser()) == set()


def test_the_tree_walk_survives_a_cycle(db):
    a = TeamFactory()
    b = TeamFactory(parent=a)
    a.parent = b
    a.save()
    assert TeamTree.load().subtree([a.id]) == {a.id, b.id}


# --- The helpers every view checks with (issue 15, item 5) ------------------------------------------------------


def test_the_organisation_s_pages_are_for_org_viewers_only(owner, staff):
    with pytest.raises(Http404, match="For org viewers"):
        access.require_org_viewer(owner, "For org viewers")
    assert access.require_org_viewer(staff) is None


def test_an_inactive_org_viewer_is_no_org_viewer(db):
    user = UserFactory(is_superuser=True, is_active=False)
    with pytest.raises(Http404):
        access.require_org_viewer(user)


def test_a_team_is_seen_by_its_people_and_org_viewers(owner, teammate, outsider, staff, team, subteam):
    assert access.sees_team(owner, subteam.id) and access.sees_team(staff, subteam.id)
    assert access.sees_team(teammate, team.id) and not access.sees_team(teammate, subteam.id)
    assert not access.sees_team(outsider, team.id)


def test_visible_among_keeps_the_teams_one_may_see(teammate, staff, team, subteam, other_team):
    ids = {team.id, subteam.id, other_team.id}
    assert access.visible_among(teammate, ids) == {team.id}
    assert access.visible_among(staff, ids) == ids
    assert access.visible_among(teammate, []) == set()


def test_one_team_seen_is_enough_to_see_what_concerns_several(teammate, outsider, staff, team, subteam):
    # Who may see a survey campaign's results: whoever sees one of its teams.
    assert access.sees_any_team(teammate, {team.id, subteam.id})
    assert not access.sees_any_team(outsider, {team.id, subteam.id})
    assert not access.sees_any_team(teammate, set())
    # Org viewers, even when none of its teams is left (deleted since it closed).
    assert access.sees_any_team(staff, set())


def test_a_subtree_is_seen_whole_or_not_at_all(owner, teammate, staff, team, subteam):
    grandchild = TeamFactory(parent=subteam)
    assert access.sees_all_of(owner, {team.id, subteam.id, grandchild.id})
    assert not access.sees_all_of(teammate, {team.id, subteam.id})
    assert access.sees_subtree(owner, team) and access.sees_subtree(staff, team)
    # A member sees the team alone: not its sub-teams' figures.
    assert not access.sees_subtree(teammate, team)
    assert access.sees_subtree(teammate, TeamFactory(parent=None)) is False


def test_a_queryset_of_teams_is_limited_to_those_one_may_see(teammate, staff, team, subteam, other_team):
    teams = team.__class__.objects.all()
    assert set(access.limit_to_visible(teammate, teams)) == {team}
    assert set(access.limit_to_visible(staff, teams)) == {team, subteam, other_team}

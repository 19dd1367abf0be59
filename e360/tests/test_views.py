from __future__ import annotations

import pytest
from django.urls import reverse

from e360.models import Membership
from e360.tests.factories import MembershipFactory, PersonFactory, ServiceFactory, TeamFactory


@pytest.fixture
def org(team, subteam, service, owner, teammate, outsider):
    """owner leads ``team`` (parent of ``subteam``); teammate is a member; outsider is elsewhere."""
    ServiceFactory(name="Ledger", slug="ledger", owner=subteam, tier=1)
    MembershipFactory(person=PersonFactory(name="Dana Sub", handle="dana"), team=subteam)


def _get(client, user, url, **extra):
    client.force_login(user)
    return client.get(url, **extra)


class TestHome:
    def test_it_requires_sign_in(self, client, db):
        response = client.get("/")
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")

    def test_it_lists_my_teams_and_services(self, client, org, teammate):
        response = _get(client, teammate, "/")
        assert response.status_code == 200
        assert b"Payments" in response.content
        assert b"Checkout" in response.content
        assert b"Search" not in response.content

    def test_it_says_when_the_account_has_no_person(self, client, db):
        from e360.tests.factories import UserFactory

        response = _get(client, UserFactory(), "/")
        assert b"not linked to a person" in response.content

    def test_it_runs_a_bounded_number_of_queries(self, client, org, owner, django_assert_max_num_queries):
        for _n in range(10):
            MembershipFactory(person=owner.person, team=TeamFactory(parent=None))
        client.force_login(owner)
        with django_assert_max_num_queries(13):  # 12, and one for the open surveys' banner
            client.get("/")


class TestTeamPages:
    def test_a_member_sees_members_subteams_and_services(self, client, org, teammate, team):
        response = _get(client, teammate, team.get_absolute_url())
        assert response.status_code == 200
        body = response.content.decode()
        assert "Alice" in body and "Bob" in body
        assert "Checkout" in body
        # The member may not see the sub-team, so it is not listed.
        assert "Payments API" not in body

    def test_a_lead_sees_subteams_and_can_open_them(self, client, org, owner, team, subteam):
        response = _get(client, owner, team.get_absolute_url())
        assert "Payments API" in response.content.decode()
        response = client.get(subteam.get_absolute_url())
        assert response.status_code == 200
        assert "Dana Sub" in response.content.decode()
        assert "Ledger" in response.content.decode()

    def test_an_outsider_gets_404(self, client, org, outsider, team, subteam):
        assert _get(client, outsider, team.get_absolute_url()).status_code == 404
        response = client.get(subteam.get_absolute_url())
        assert response.status_code == 404
        # The portal's own page (templates/404.html), which does not say whether the team exists.
        body = response.content.decode()
        assert '<header class="topbar">' in body and "Page not found" in body
        assert '<a class="button" href="/">Back to the home page</a>' in body
        assert subteam.name not in body

    def test_a_member_of_a_subteam_sees_the_parent_unlinked_in_the_breadcrumbs(self, client, org, subteam, team):
        user = PersonFactory(name="Sub Member", handle="sub-member")
        from e360.tests.factories import UserFactory

        login = UserFactory()
        user.user = login
        user.save()
        MembershipFactory(person=user, team=subteam)
        body = _get(client, login, subteam.get_absolute_url()).content.decode()
        assert f'href="{team.get_absolute_url()}"' not in body
        assert "Payments" in body

    def test_the_list_shows_visible_teams_as_a_tree(self, client, org, owner, django_assert_max_num_queries):
        client.force_login(owner)
        with django_assert_max_num_queries(9):
            response = client.get(reverse("catalog:team-list"))
        body = response.content.decode()
        assert "Payments API" in body and "Search" not in body
        assert "tree-indent--1" in body

    def test_the_team_page_runs_a_bounded_number_of_queries(
        self, client, org, owner, team, django_assert_max_num_queries
    ):
        for _n in range(20):
            MembershipFactory(team=team)
            ServiceFactory(owner=team)
            TeamFactory(parent=team)
        client.force_login(owner)
        with django_assert_max_num_queries(12):
            assert client.get(team.get_absolute_url()).status_code == 200


class TestServicePages:
    def test_it_shows_owner_repositories_and_environments(self, client, org, teammate, service):
        service.production_environments = ["production", "prod-*"]
        service.save()
        body = _get(client, teammate, service.get_absolute_url()).content.decode()
        assert "acme/checkout" in body
        assert "prod-*" in body
        assert "Alice" in body  # the owner team's lead

    def test_it_explains_the_default_environments(self, client, org, teammate, service):
        body = _get(client, teammate, service.get_absolute_url()).content.decode()
        assert "count as production" in body

    def test_an_outsider_gets_404(self, client, org, outsider, service):
        assert _get(client, outsider, service.get_absolute_url()).status_code == 404

    def test_the_list_filters_by_text_and_tier(self, client, org, owner):
        client.force_login(owner)
        body = client.get(reverse("catalog:service-list"), {"q": "ledg"}).content.decode()
        assert "Ledger" in body and "Checkout" not in body
        body = client.get(reverse("catalog:service-list"), {"tier": "1"}).content.decode()
        assert "Ledger" in body and "Checkout" not in body

    def test_an_htmx_request_gets_only_the_results_fragment(self, client, org, owner):
        client.force_login(owner)
        response = client.get(reverse("catalog:service-list"), {"q": "check"}, headers={"HX-Request": "true"})
        body = response.content.decode()
        assert body.lstrip().startswith('<div id="results"')
        assert "<html" not in body

    def test_a_bad_tier_or_page_is_ignored(self, client, org, owner):
        client.force_login(owner)
        response = client.get(reverse("catalog:service-list"), {"tier": "banana", "page": "x"})
        assert response.status_code == 200

    def test_the_list_hides_other_teams_services(self, client, org, outsider):
        body = _get(client, outsider, reverse("catalog:service-list")).content.decode()
        assert "Checkout" not in body


class TestPeoplePages:
    def test_the_list_searches_visible_people(self, client, org, teammate):
        client.force_login(teammate)
        body = client.get(reverse("catalog:people-list"), {"q": "ali"}).content.decode()
        assert "Alice" in body and "Bob" not in body
        body = client.get(reverse("catalog:people-list")).content.decode()
        assert "Charlie" not in body

    def test_the_list_paginates_with_a_bounded_number_of_queries(
        self, client, db, staff, django_assert_max_num_queries
    ):
        team = TeamFactory()
        for _n in range(60):
            MembershipFactory(team=team, role=Membership.Role.MEMBER)
        client.force_login(staff)
        with django_assert_max_num_queries(8):
            response = client.get(reverse("catalog:people-list"))
        assert "Page 1 of 2" in response.content.decode()

    def test_the_list_shows_only_the_teams_the_viewer_may_see(
        self, client, org, team, owner, teammate, outsider, django_assert_max_num_queries
    ):
        # Bob shares Payments with Alice, and also belongs to a team Alice does not see.
        MembershipFactory(person=teammate.person, team=TeamFactory(name="Hidden lab", slug="hidden-lab"))
        for _n in range(5):  # more people in Alice's sight: the query count does not grow with them
            MembershipFactory(team=team, role=Membership.Role.MEMBER)
        client.force_login(owner)
        with django_assert_max_num_queries(9):
            body = client.get(reverse("catalog:people-list")).content.decode()
        assert "Bob" in body and "Payments" in body and "Payments API" in body
        assert "Hidden lab" not in body
        assert "Hidden lab" not in client.get(teammate.person.get_absolute_url()).content.decode()
        # Bob sees his own teams; the outsider sees only their own team, where nobody else is.
        client.force_login(teammate)
        assert "Hidden lab" in client.get(reverse("catalog:people-list")).content.decode()
        client.force_login(outsider)
        body = client.get(reverse("catalog:people-list")).content.decode()
        assert "Charlie" in body and "Payments" not in body and "Hidden lab" not in body

    def test_a_person_page_shows_their_visible_teams(self, client, org, owner, teammate):
        body = _get(client, owner, teammate.person.get_absolute_url()).content.decode()
        assert "bob@example.com" in body and "Payments" in body

    def test_an_outsider_gets_404_on_a_person(self, client, org, outsider, teammate):
        assert _get(client, outsider, teammate.person.get_absolute_url()).status_code == 404

    def test_everyone_may_see_themselves(self, client, org, outsider):
        assert _get(client, outsider, outsider.person.get_absolute_url()).status_code == 200

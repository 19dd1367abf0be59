"""The bottleneck pages: a team's (``/teams/<slug>/bottlenecks/``) and the organisation's (``/insights/bottlenecks/``).

Results come from a real refresh over the survey results tests' hand-made organisation; metric readings are set
per team (``metrics_by_team``, insights/tests/squads.py).
"""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from e360.models import Membership
from e360.tests.factories import MembershipFactory, PersonFactory, TeamFactory, UserFactory
from insights import services
from insights.tests.squads import readings, squad_waves
from surveys.tests.waves import org_viewer

HTMX = {"HX-Request": "true", "HX-Target": "insights-content"}


def text(response) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def get(client, user, url, **headers):
    client.force_login(user)
    return client.get(url, headers=headers)


def team_url(slug: str = "pay", **query) -> str:
    url = reverse("insights:team-bottlenecks", args=[slug])
    return f"{url}?{'&'.join(f'{k}={v}' for k, v in query.items())}" if query else url


@pytest.fixture
def refreshed(org, closed, metrics_by_team):
    metrics_by_team.update(
        {
            "Payments": [readings(pipeline_failure_rate=(0.31, 120), flaky_rate=(0.2, 80))],
            "Search": [readings(pipeline_failure_rate=(0.05, 120))],
        }
    )
    return services.insights_refresh(days=90)


class TestTeamPage:
    def test_it_requires_sign_in(self, client, org):
        response = client.get(team_url())
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]

    def test_it_says_when_nothing_is_computed_yet_and_shows_no_figure(self, client, org, closed):
        body = text(get(client, org.users["paula"], team_url()))
        assert "Not computed yet" in body and "hourly" in body
        assert not re.search(r"score \d", body)

    def test_it_ranks_the_dimensions_with_labels_explanations_and_evidence(self, client, org, refreshed):
        response = get(client, org.users["paula"], team_url())
        assert response.status_code == 200
        body = text(response)
        assert "computed" in body and "refreshed hourly" in body
        assert "1. CI/CD" in body or "CI/CD" in body
        labels = {item["label"] for item in refreshed.team_results.get(team__slug="pay").items}
        assert labels and all(label.capitalize() in body for label in labels)  # a text badge, not colour alone
        # Payments' level has one other team: its metrics are shown with their samples, not ranked.
        assert "pipeline failure rate (lower is better) 31% 120 too few teams to compare (2, need 5)" in body
        assert "/teams/pay/delivery/?days=90#deployments" in response.content.decode()

    def test_each_card_states_the_labelling_rule_as_it_applied(self, client, org, refreshed):
        body = text(get(client, org.users["paula"], team_url()))
        for item in refreshed.team_results.get(team__slug="pay").items:
            assert f"Labelled “{item['label']}”: survey signal" in body
        assert body.count("needs % favourable at least 10 points below the organisation's or under 50%") == 9

    def test_a_hidden_team_shows_its_metrics_and_fewer_than_k_responses(self, client, org, refreshed):
        # Search: 2 responses, k = 3. Its answers alone would be 100% favourable on every dimension asked.
        body = text(get(client, org.users["lena"], team_url("search")))
        assert "fewer than 3 responses" in body
        assert "100%" not in body and "favourable" not in body.replace("% favourable", "")
        assert "pipeline failure rate" in body and "5%" in body

    def test_a_non_standard_period_is_answered_with_the_standard_one_covering_it(self, client, org, refreshed):
        body = text(get(client, org.users["paula"], team_url(days=45)))
        assert "showing the last 90 days" in body and "45 days asked for" in body

    @pytest.mark.parametrize("days", ["abc", "0", "-1", "99999", "9.5"])
    def test_a_bad_period_is_a_400(self, client, org, days):
        assert get(client, org.users["paula"], team_url(days=days)).status_code == 400

    def test_the_period_picker_swaps_only_the_content(self, client, org, refreshed):
        response = get(client, org.users["paula"], team_url(days=90), **HTMX)
        html = response.content.decode()
        assert response.status_code == 200
        assert "<html" not in html and html.lstrip().startswith('<div id="insights-content"')
        assert "HX-Request" in response["Vary"]
        assert 'hx-push-url="true"' in html and 'href="?days=30"' in html

    def test_the_full_page_has_the_picker_with_real_links(self, client, org, refreshed):
        html = get(client, org.users["paula"], team_url()).content.decode()
        assert "<html" in html
        for days in (30, 90, 180, 365):
            assert f'href="?days={days}"' in html

    def test_an_outsider_gets_404(self, client, org, refreshed):
        assert get(client, org.users["charlie"], team_url()).status_code == 404
        assert get(client, org.users["charlie"], team_url("no-such-team")).status_code == 404

    def test_a_lead_sees_a_sub_team(self, client, org, refreshed):
        assert get(client, org.users["paula"], team_url("pay-api")).status_code == 200

    def test_a_plain_member_of_a_parent_team_sees_no_figures_of_sub_teams(self, client, org, refreshed):
        body = text(get(client, org.users["eli"], team_url("eng")))  # eli: a plain member of Engineering
        assert "include its sub-teams, which you may not see" in body
        assert "pipeline failure rate" not in body

    def test_its_queries_do_not_grow_with_the_number_of_teams(self, client, org, refreshed, metrics_by_team):
        user = org.users["paula"]
        client.force_login(user)
        with CaptureQueriesContext(connection) as before:
            client.get(team_url())
        squad_waves(org, [1] * 6, [2] * 6, prefix="Crew")
        services.insights_refresh(days=90)
        with CaptureQueriesContext(connection) as after:
            client.get(team_url())
        # A previous wave to compare with: the wave, its questions and its figures (a campaign without one reads none:
        # the wave its changes compare with was named when it closed).
        assert len(after) <= len(before) + 3, [q["sql"][:90] for q in after]
        assert len(after) <= 30


class TestOrgPage:
    def test_it_is_for_org_viewers_only(self, client, org, refreshed):
        url = reverse("insights:org-bottlenecks")
        assert get(client, org.users["lena"], url).status_code == 404  # a lead of the root team, not an org viewer
        assert get(client, org_viewer(), url).status_code == 200

    def test_it_ranks_dimensions_by_people_affected(self, client, org, refreshed):
        body = text(get(client, org_viewer(), reverse("insights:org-bottlenecks")))
        assert "4 teams without sub-teams, 10 people" in body
        for dimension in ("CI/CD", "Code review", "Focus", "Satisfaction"):
            assert dimension in body

    def test_it_says_when_nothing_is_computed_yet(self, client, org):
        body = text(get(client, org_viewer(), reverse("insights:org-bottlenecks") + "?days=365"))
        assert "Not computed yet" in body

    def test_it_shows_a_new_refresh_not_what_a_process_kept_of_the_last(self, client, org, refreshed):
        url = reverse("insights:org-bottlenecks")
        assert ">Zeta</a></th>" not in get(client, org_viewer(), url).content.decode()  # the grid decoded and kept
        TeamFactory(name="Zeta", slug="zeta", kind="team", parent=org.eng)
        assert ">Zeta</a></th>" not in get(client, org_viewer(), url).content.decode()  # not refreshed yet
        services.insights_refresh(days=90)
        assert ">Zeta</a></th>" in get(client, org_viewer(), url).content.decode()

    def test_its_queries_are_bounded(self, client, org, refreshed, django_assert_max_num_queries):
        client.force_login(org_viewer())
        with django_assert_max_num_queries(8):
            client.get(reverse("insights:org-bottlenecks"))

    def test_an_outsider_gets_404(self, client, org, refreshed):
        assert get(client, org.users["charlie"], reverse("insights:org-bottlenecks")).status_code == 404

    def test_it_names_the_teams_each_bottleneck_hits_linked_to_their_bottleneck_page(self, client, org, refreshed):
        response = get(client, org_viewer(), reverse("insights:org-bottlenecks"))
        html = response.content.decode()
        leaves = {r.team.slug: r for r in refreshed.team_results.filter(leaf=True).select_related("team")}
        hit = {
            (slug, item["dimension"]): item["label"]
            for slug, result in leaves.items()
            for item in result.items
            if item["label"] != "no signal"
        }
        assert hit, "the fixture should make some dimension a signal somewhere"
        for (slug, dimension), label in hit.items():
            card = html.split(f'id="dimension-{dimension}"', 1)[1].split('class="card bottleneck"', 1)[0]
            name = leaves[slug].team.name
            assert f'<a href="/teams/{slug}/bottlenecks/?days=90">{name}</a> ({label})' in card

    def test_it_shows_every_team_s_label_per_dimension_in_words(self, client, org, refreshed):
        response = get(client, org_viewer(), reverse("insights:org-bottlenecks"))
        grid = response.content.decode().split('id="team-grid"', 1)[1].split("</section>", 1)[0]
        rows = re.findall(r"<tr><th scope=\"row\"[^>]*><a href=\"([^\"]+)\">([^<]+)</a></th>(.*?)</tr>", grid, re.S)
        assert [name for _, name, _ in rows] == ["Payments API", "Sales tools", "Search", "Tiny"]
        for url, name, cells in rows:
            result = refreshed.team_results.get(team__name=name)
            assert url == f"/teams/{result.team.slug}/bottlenecks/?days=90"
            labels = {item["dimension"]: item["label"] for item in result.items}
            words = [
                unescape(re.sub(r"<[^>]+>", "", cell)).replace("–", "").strip()
                for cell in re.findall(r"<td[^>]*>(.*?)</td>", cells, re.S)
            ]
            expected = []
            for dimension in (
                "ci_cd",
                "code_review",
                "release",
                "stability",
                "cognitive_load",
                "focus",
                "tooling",
                "clarity",
                "satisfaction",
            ):
                label = labels.get(dimension, "no signal")
                expected.append(label if label == "no signal" else f"{label[0].upper()} {label}")
            assert words == expected  # a letter and the words, never colour alone

    def test_it_counts_each_person_once(self, client, org, refreshed):
        # api-0 also joins Search: two leaf teams, one person.
        MembershipFactory(person=org.users["api-0"].person, team=org.search, role=Membership.Role.MEMBER)
        services.insights_refresh(days=90)
        body = text(get(client, org_viewer(), reverse("insights:org-bottlenecks")))
        assert "4 teams without sub-teams, 10 people in them, each counted once" in body
        assert "they count in each of their teams" in body  # what the per-label counts count

    def test_it_explains_the_score_s_scale_as_a_team_s_page_does(self, client, org, refreshed):
        org_body = text(get(client, org_viewer(), reverse("insights:org-bottlenecks")))
        team_body = text(get(client, org.users["paula"], team_url()))
        for body in (org_body, team_body):
            assert "The score is in points on one scale for a team and for the organisation" in body
            assert re.search(r"score \d+\.\d\b", body)  # one decimal on both pages
            assert not re.search(r"score \d+(?![.\d])", body)

    def test_its_queries_do_not_grow_with_the_number_of_teams(self, client, org, refreshed):
        client.force_login(org_viewer())
        url = reverse("insights:org-bottlenecks")
        client.get(url)
        with CaptureQueriesContext(connection) as before:
            client.get(url)
        squad_waves(org, [1] * 6, [2] * 6, prefix="Crew")
        services.insights_refresh(days=90)
        client.get(url)
        with CaptureQueriesContext(connection) as after:
            body = text(client.get(url))
        assert "Crew 1" in body  # the new teams are in the table
        assert len(after) == len(before), [q["sql"][:90] for q in after]


def test_a_staff_member_holding_the_permission_sees_the_org_page(client, org, refreshed):
    user = UserFactory(username="sam", is_staff=True, is_superuser=True)
    person = PersonFactory(handle="sam", email="sam@example.com", user=user)
    MembershipFactory(person=person, team=org.other, role=Membership.Role.MEMBER)
    assert get(client, user, reverse("insights:org-bottlenecks")).status_code == 200


def test_the_insights_templates_round_every_figure_one_way():
    """floatformat rounds half away from zero, as ``stats.whole`` does for the sentences; ``stringformat:".0f"`` and
    ``widthratio`` round half to even, so the same 12.5% read 12% on one page and 13% on another."""
    from pathlib import Path

    for template in Path(__file__).parents[1].glob("templates/insights/*.html"):
        source = template.read_text()
        assert "stringformat" not in source and "widthratio" not in source, template.name

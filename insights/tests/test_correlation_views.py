"""The correlations page (``/insights/correlations/``): a scatter per dimension–metric pair (one shown at a time,
picked in the table of all pairs), ρ with its interval and n, nothing but "too few teams to tell" below 8 teams,
and never a team whose survey figures are hidden.
"""

from __future__ import annotations

import json
import re
from html import unescape

import pytest
from django.urls import reverse

from insights import services
from insights.tests.squads import squad_waves, squads_refreshed
from surveys.tests.waves import make_squads, org_viewer

URL = reverse("insights:correlations")


def text(response) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def scatter_data(response) -> list:
    match = re.search(
        r'<script id="insights-scatter" type="application/json">(.*?)</script>', response.content.decode()
    )
    assert match is not None
    return json.loads(match.group(1))


@pytest.fixture
def viewer(db):
    return org_viewer()


def test_it_is_for_org_viewers_only(client, org, closed, viewer):
    client.force_login(org.users["lena"])  # leads the root team, but is no org viewer
    assert client.get(URL).status_code == 404
    client.force_login(org.users["charlie"])
    assert client.get(URL).status_code == 404
    client.force_login(viewer)
    assert client.get(URL).status_code == 200


def test_it_requires_sign_in(client, db):
    response = client.get(URL)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_it_says_when_nothing_is_computed_yet(client, org, viewer):
    client.force_login(viewer)
    body = text(client.get(URL))
    assert "Not computed yet" in body and "hourly" in body and "ρ =" not in body


def test_it_shows_rho_its_interval_n_and_the_scatter(client, org, metrics_by_team, viewer):
    squads = squads_refreshed(org, metrics_by_team, 9)
    client.force_login(viewer)
    response = client.get(URL, {"pair": "ci_cd--pipeline_failure_rate"})
    body = text(response)
    assert re.search(r"ρ = −0\.\d\d \(95% CI −\d\.\d\d to −0\.\d\d\), n = 9", body)
    assert "Yes: negative" in body  # the interval excludes zero, said in words
    [chart] = scatter_data(response)
    assert chart["id"] == "scatter-ci_cd--pipeline_failure_rate"
    assert {point["team"] for point in chart["points"]} == {team.name for team in squads}
    assert all(0 <= point["x"] <= 100 for point in chart["points"])
    assert chart["y"] == "pipeline failure rate (%)"
    assert 'id="scatter-ci_cd--pipeline_failure_rate"' in response.content.decode()


def test_the_default_pair_is_the_first_whose_interval_excludes_zero(client, org, metrics_by_team, viewer):
    squads_refreshed(org, metrics_by_team, 9)
    client.force_login(viewer)
    [chart] = scatter_data(client.get(URL))
    assert chart["id"] == "scatter-ci_cd--pipeline_failure_rate"


def test_a_hidden_team_is_never_a_point_nor_named(client, org, metrics_by_team, viewer):
    squads_refreshed(org, metrics_by_team, 9)
    client.force_login(viewer)
    for pair in ("ci_cd--pipeline_failure_rate", "focus--pipeline_failure_rate", None):
        query = {"pair": pair} if pair else {}
        response = client.get(URL, query)
        if response.status_code == 400:
            continue
        html = response.content.decode()
        assert "Search" not in html and "77.7" not in html and "78%" not in html
        assert all(point["team"] != "Search" for chart in scatter_data(response) for point in chart["points"])


def test_below_eight_teams_there_is_no_number_and_no_chart(client, org, metrics_by_team, viewer):
    squads_refreshed(org, metrics_by_team, 7)
    client.force_login(viewer)
    response = client.get(URL, {"pair": "ci_cd--pipeline_failure_rate"})
    body = text(response)
    assert "too few teams to tell (n = 7, need 8)" in body
    assert "ρ =" not in body and "CI " not in body
    assert scatter_data(response) == []
    assert "<canvas" not in response.content.decode()
    assert "Squad 0" not in body  # no points table either


@pytest.mark.parametrize("query", [{"days": "x"}, {"days": "0"}, {"pair": "ci_cd--nope"}, {"pair": "focus--lead_time"}])
def test_bad_input_is_a_400(client, org, viewer, query):
    client.force_login(viewer)
    assert client.get(URL, query).status_code == 400


def test_the_period_picker_and_the_pair_links_swap_only_the_content(client, org, metrics_by_team, viewer):
    squads_refreshed(org, metrics_by_team, 9)
    client.force_login(viewer)
    response = client.get(URL, {"pair": "ci_cd--flaky_rate"}, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="insights-content"') and "<html" not in html
    assert "HX-Request" in response["Vary"]
    assert 'href="?pair=ci_cd--flaky_rate&amp;days=30"' in html  # the period keeps the pair
    assert 'href="?pair=ci_cd--pipeline_failure_rate#scatter"' in html and 'hx-push-url="true"' in html
    full = client.get(URL).content.decode()
    assert "<html" in full and "insights/correlations.js" in full
    assert "<script>" not in full  # no inline script: the data sits in a json_script block


def test_its_queries_do_not_grow_with_the_number_of_teams(client, org, metrics_by_team, viewer):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    squads_refreshed(org, metrics_by_team, 9)
    client.force_login(viewer)
    with CaptureQueriesContext(connection) as few:
        client.get(URL)
    squad_waves(org, [1] * 12, [2] * 12, prefix="Crew")
    services.insights_refresh(days=90)
    with CaptureQueriesContext(connection) as more:
        client.get(URL)
    # Sign-in and permissions: 4; the period with its campaigns, the pairs (without their points), the shown pair's
    # points: 3.
    assert len(more) == len(few) <= 7


# --- A team's correlations: across the teams below it, for whoever may see them all -----------------------------


def team_url(slug: str) -> str:
    return reverse("insights:team-correlations", args=[slug])


@pytest.mark.parametrize(
    ("who", "slug", "status"),
    [
        ("lena", "eng", 200),  # leads Engineering: sees every team below it
        ("viewer", "eng", 200),
        ("paula", "pay", 200),  # leads Payments
        ("eli", "eng", 404),  # a member of Engineering sees it, not the teams below it
        ("paula", "eng", 404),  # Engineering is above her
        ("charlie", "eng", 404),  # an outsider
        ("lena", "search", 404),  # no sub-teams: nothing to correlate across
        ("viewer", "nope", 404),
    ],
)
def test_who_may_read_a_team_s_correlations(client, org, closed, viewer, who, slug, status):
    client.force_login(viewer if who == "viewer" else org.users[who])
    assert client.get(team_url(slug)).status_code == status


def test_a_lead_reads_the_correlations_across_the_teams_below_their_team(client, org, metrics_by_team):
    squads = squads_refreshed(org, metrics_by_team, 9)
    client.force_login(org.users["lena"])
    response = client.get(team_url("eng"), {"pair": "ci_cd--pipeline_failure_rate"})
    body = text(response)
    assert "Engineering: sentiment and delivery across its teams" in body
    assert re.search(r"ρ = −0\.\d\d \(95% CI −\d\.\d\d to −0\.\d\d\), n = 9", body)
    [chart] = scatter_data(response)
    assert {point["team"] for point in chart["points"]} == {team.name for team in squads}
    assert 'href="?pair=ci_cd--pipeline_failure_rate&amp;days=30"' in response.content.decode()
    assert client.get(URL).status_code == 404  # the organisation's page stays the org viewers'


def test_a_team_s_correlations_count_only_the_teams_below_it(client, org, metrics_by_team):
    from e360.models import Team

    squads = squads_refreshed(org, metrics_by_team, 9)
    # Five squads move under Payments: its correlations rest on those five (too few), Engineering's on all nine.
    Team.objects.filter(pk__in=[team.pk for team in squads[:5]]).update(parent=org.pay)
    services.insights_refresh(days=90)
    pair = {"pair": "ci_cd--pipeline_failure_rate"}
    client.force_login(org.users["paula"])
    body = text(client.get(team_url("pay"), pair))
    assert "too few teams to tell (n = 5, need 8)" in body and "ρ =" not in body
    client.force_login(org.users["lena"])
    assert re.search(r"ρ = −0\.\d\d .*, n = 9", text(client.get(team_url("eng"), pair)))


def test_a_team_s_bottleneck_page_links_its_correlations_for_whoever_may_read_them(client, org, closed):
    bottlenecks = reverse("insights:team-bottlenecks", args=["eng"])
    client.force_login(org.users["lena"])
    assert f'href="{team_url("eng")}"' in client.get(bottlenecks).content.decode()
    client.force_login(org.users["eli"])
    assert team_url("eng") not in client.get(bottlenecks).content.decode()


def test_a_team_s_correlations_say_when_its_sub_teams_are_newer_than_the_refresh(client, org, metrics_by_team):
    squads_refreshed(org, metrics_by_team, 3)
    new_parent = make_squads(org, 1, "Tribe")[0]
    make_squads(org, 1, "Crew")[0].__class__.objects.filter(slug="crew-0").update(parent=new_parent)
    client.force_login(org_viewer())
    assert "new since the last refresh" in text(client.get(team_url("tribe-0")))


def test_a_team_s_correlations_read_as_many_queries_for_more_teams(client, org, metrics_by_team):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    squads_refreshed(org, metrics_by_team, 9)
    client.force_login(org.users["lena"])
    with CaptureQueriesContext(connection) as few:
        assert client.get(team_url("eng")).status_code == 200
    squad_waves(org, [1] * 12, [2] * 12, prefix="Crew")
    services.insights_refresh(days=90)
    with CaptureQueriesContext(connection) as more:
        client.get(team_url("eng"))
    # Session, user, permissions (2), memberships, the tree for the lead's teams and for the ones below Engineering,
    # the team, the period, its pairs.
    assert len(more) == len(few) <= 10

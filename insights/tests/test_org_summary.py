"""The organisation's summary on an org viewer's home page (issue 14, item 11): an org viewer in no team sees the
organisation's delivery figures, sentiment and top bottlenecks there, read as the org dashboard reads them, instead
of "You are not a member of any team".

The organisation, deliveries and closed survey are the dashboard tests' (``insights/tests/dashboard_pages.py``).
"""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from insights.services import insights_refresh
from insights.tests import dashboard_pages
from insights.tests.dashboard_pages import ORG_QUERIES, TILE_KEYS, org_url, plain, section, text, tile_parts

# The dashboard tests' org viewer and deliveries (insights/tests/dashboard_pages.py), as fixtures of this module.
olga, services, delivered, now = (
    dashboard_pages.olga,
    dashboard_pages.services,
    dashboard_pages.delivered,
    dashboard_pages.now,
)

pytestmark = pytest.mark.django_db

SUMMARY = reverse("insights:org-summary")
# The org dashboard's reads (insights.dashboard_views._figures, counted in test_dashboard_views.TestQueries), the
# same sign-in and permissions, and no team picker (its tree, the roots read too): the dashboard's count.
QUERIES = ORG_QUERIES


def summary_tile(response, key: str) -> dict[str, str]:
    match = re.search(rf'<article class="tile tile--{key}".*?</article>', response.content.decode(), re.S)
    assert match, f"no {key} tile"
    return {
        name: plain(html)
        for name, html in re.findall(r'<p class="(tile__value|delta)[^"]*">(.*?)</p>', match.group(0), re.S)
    }


def test_an_org_viewer_in_no_team_gets_the_organisation_on_their_home_page(client, olga):
    client.force_login(olga)
    response = client.get(reverse("home"))
    assert response.status_code == 200
    body = response.content.decode()
    assert f'hx-get="{SUMMARY}" hx-trigger="load"' in body
    assert "You are not a member of any team" not in body
    # Without JavaScript, a link to the dashboard.
    assert f'href="{reverse("insights:dashboard")}"' in body


def test_a_team_member_s_home_page_keeps_their_teams(client, org):
    client.force_login(org.users["paula"])
    body = client.get(reverse("home")).content.decode()
    assert "My teams" in body and SUMMARY not in body


def test_the_summary_shows_what_the_org_dashboard_shows(
    client, olga, org, delivered, closed, django_assert_num_queries
):
    insights_refresh(days=90)
    client.force_login(olga)
    dashboard = client.get(org_url())
    client.get(SUMMARY)
    with django_assert_num_queries(QUERIES):
        response = client.get(SUMMARY)
    assert response.status_code == 200
    for key in TILE_KEYS:
        mine, theirs = summary_tile(response, key), tile_parts(dashboard, key)
        assert mine["tile__value"] == theirs["tile__value"], key
        assert mine["delta"] == theirs["delta"], key
    assert section(response, "sentiment-title") == section(dashboard, "sentiment-title")
    assert section(response, "bottlenecks-title") == section(dashboard, "bottlenecks-title")
    assert "Top bottlenecks" in text(response)
    assert "Open the organisation dashboard" in text(response)


def test_the_summary_is_for_org_viewers_only(client, org):
    client.force_login(org.users["paula"])
    assert client.get(SUMMARY).status_code == 404
    client.logout()
    assert client.get(SUMMARY).status_code == 302

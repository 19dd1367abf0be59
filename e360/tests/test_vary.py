"""Every page whose answer differs for htmx says so in ``Vary`` (``e360.htmx.vary_on_htmx``): a cache between the
browser and the portal must not serve a fragment for a page, nor a page for a fragment. Each such view, by URL
name, full and partial, for an org viewer (who may see every page)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from e360.htmx import HTMX_HEADERS
from surveys.models import Campaign
from surveys.tests.factories import campaign_for

PARTIAL = {"HX-Request": "true", "HX-Target": "main"}

PAGES = [
    ("catalog:service-list", []),
    ("catalog:people-list", []),
    ("metrics:service-delivery", ["checkout"]),
    ("metrics:team-delivery", ["payments"]),
    ("metrics:service-delivery-summary", ["checkout"]),
    ("metrics:team-delivery-summary", ["payments"]),
    ("metrics:service-reviews", ["checkout"]),
    ("metrics:team-reviews", ["payments"]),
    ("metrics:reviews", []),
    ("metrics:service-pipelines", ["checkout"]),
    ("metrics:team-pipelines", ["payments"]),
    ("metrics:pipelines", []),
    ("insights:org-bottlenecks", []),
    ("insights:team-bottlenecks", ["payments"]),
    ("insights:correlations", []),
    ("insights:team-correlations", ["payments"]),
    ("insights:dashboard", []),
    ("insights:team-dashboard", ["payments"]),
]


@pytest.mark.parametrize(("name", "args"), PAGES)
def test_a_page_that_answers_htmx_with_a_fragment_varies_on_htmx(client, staff, team, subteam, service, name, args):
    client.force_login(staff)
    for headers in ({}, PARTIAL):
        response = client.get(reverse(name, args=args), headers=headers)
        assert response.status_code in (200, 302), (name, headers, response.status_code)
        assert all(header in response["Vary"] for header in HTMX_HEADERS), (name, response["Vary"])


def test_a_campaign_s_results_vary_on_htmx(client, staff, team):
    campaign = campaign_for([team])
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.OPEN)
    client.force_login(staff)
    for headers in ({}, PARTIAL):
        response = client.get(reverse("surveys:results", args=[campaign.pk]), headers=headers)
        assert response.status_code == 200
        assert all(header in response["Vary"] for header in HTMX_HEADERS)


@pytest.mark.parametrize(
    ("name", "args", "query"),
    [
        ("metrics:pipelines", [], "days=7"),
        ("metrics:reviews", [], "page=0"),
        ("insights:org-bottlenecks", [], "days=x"),
        ("insights:dashboard", [], "from=2026-01-02&to=2026-01-01"),
        ("catalog:service-list", [], "q=a%00b"),
    ],
)
def test_a_refusal_varies_on_htmx_too(client, staff, name, args, query):
    client.force_login(staff)
    response = client.get(f"{reverse(name, args=args)}?{query}", headers=PARTIAL)
    assert response.status_code == 400
    assert all(header in response["Vary"] for header in HTMX_HEADERS)
    assert response["HX-Retarget"]


def test_the_team_picker_s_refusal_varies_on_htmx(client, staff):
    client.force_login(staff)
    response = client.get(f"{reverse('insights:dashboard-pick')}?team=a%00b", headers=PARTIAL)
    assert response.status_code == 400 and all(header in response["Vary"] for header in HTMX_HEADERS)

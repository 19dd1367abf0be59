"""The bottleneck and correlation pages in a real browser: the scatter draws under the strict Content Security
Policy, the period picker and the pair links swap the content and push the URL, the console stays clean, and
axe-core finds no serious or critical accessibility problem."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from e360.tests import conftest as browsers
from e360.tests.conftest import axe_violations
from insights import services
from insights.tests import test_services as helpers
from insights.tests.test_correlation_views import squads_refreshed
from metrics.tests.test_pages_browser import chart_drawn, sign_in
from surveys.tests import test_results as data
from surveys.tests.test_results import org_viewer

# The real-browser fixtures, and the refresh tests' hand-made organisation and readings, as this module's.
browser, page, page_problems = browsers.browser, browsers.page, browsers.page_problems
org = data.org
metrics_by_team = helpers.metrics_by_team
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_org_viewer_reads_the_correlations_and_picks_a_pair(page, page_problems, live_server, org, metrics_by_team):
    squads_refreshed(org, metrics_by_team, 9)
    services.insights_refresh(days=30)
    org_viewer()
    page.goto("/insights/correlations/")
    sign_in(page, "olga@example.com")
    expect(page).to_have_url(f"{live_server.url}/insights/correlations/")
    expect(page.get_by_role("heading", level=2, name="CI/CD × pipeline failure rate: teams as points")).to_be_visible()
    assert chart_drawn(page, "scatter-ci_cd--pipeline_failure_rate")

    page.evaluate("window.__samePage = true")
    page.get_by_role("navigation", name="Period").get_by_role("link", name="30 days").click()
    expect(page).to_have_url(f"{live_server.url}/insights/correlations/?days=30")
    assert chart_drawn(page, "scatter-ci_cd--pipeline_failure_rate")

    page.get_by_role("link", name="flaky rate").first.click()
    expect(page).to_have_url(f"{live_server.url}/insights/correlations/?days=30&pair=ci_cd--flaky_rate")
    expect(page.get_by_role("heading", level=2, name="CI/CD × flaky rate: teams as points")).to_be_visible()
    expect(page.get_by_text("Too few teams to tell: a scatter needs")).to_be_visible()
    expect(page.locator("canvas")).to_have_count(0)
    assert page.evaluate("window.__samePage") is True  # swapped in place, no reload
    assert axe_violations(page) == []


def test_a_lead_reads_a_team_s_bottlenecks(page, page_problems, live_server, org, metrics_by_team):
    metrics_by_team["Payments"] = [helpers.readings(pipeline_failure_rate=(0.31, 120))]
    services.insights_refresh(days=90)
    page.goto("/teams/pay/bottlenecks/")
    sign_in(page, "paula@example.com")
    expect(page).to_have_url(f"{live_server.url}/teams/pay/bottlenecks/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Payments: bottlenecks")
    page.evaluate("window.__samePage = true")
    page.get_by_role("navigation", name="Period").get_by_role("link", name="30 days").click()
    expect(page).to_have_url(f"{live_server.url}/teams/pay/bottlenecks/?days=30")
    expect(page.get_by_text("Not computed yet")).to_be_visible()
    assert page.evaluate("window.__samePage") is True
    page.get_by_role("navigation", name="Period").get_by_role("link", name="90 days").click()
    page.get_by_text("Evidence").first.click()
    expect(page.get_by_text("31%").first).to_be_visible()
    assert axe_violations(page) == []

"""The leader dashboards in a real browser (issue 5, item 9): an org viewer signs in through the portal, opens
the organisation's dashboard, changes the period (the fragment is swapped in place and the URL pushed, no reload),
opens a team's dashboard through the team picker, and every chart is drawn; no console error, no CSP violation,
and axe-core finds no serious or critical accessibility violation at laptop and phone sizes.

Screenshots land in var/screenshots/ (1280 x 800 and 390 x 844).
"""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from e360.tests.browser import SCREENSHOTS, axe_violations, chart_drawn, sign_in
from insights.services import insights_refresh
from insights.tests import dashboard_pages

# The dashboard tests' org viewer and deliveries (insights/tests/dashboard_pages.py), as fixtures of this module.
olga, services, delivered, now = (
    dashboard_pages.olga,
    dashboard_pages.services,
    dashboard_pages.delivered,
    dashboard_pages.now,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
SPARKLINES = ("spark-frequency", "spark-lead-time", "spark-failure-rate", "spark-recovery", "spark-rework")
TEAM_CHARTS = ("chart-frequency", "chart-lead-time", "chart-failure-rate", "chart-recovery")


def shoot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    # caret="initial": Playwright hides the caret with a style attribute that htmx would copy into a swap.
    page.screenshot(path=SCREENSHOTS / name, full_page=True, caret="initial")


SETTLED = "() => { const d = document.getElementById('dashboard'); return !!d && getComputedStyle(d).opacity === '1'; }"


def settled(page, timeout: float = 3.0) -> None:
    """Wait until htmx has settled the dashboard: while a request is out, it is dimmed (and axe-core would rightly
    find its text short of contrast)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(SETTLED):
        assert time.monotonic() < deadline, "the dashboard stayed dimmed"
        page.wait_for_timeout(50)


def violations(page) -> list[str]:
    settled(page)
    return axe_violations(page)


def fits(page, width: int, timeout: float = 3.0) -> bool:
    """Whether the page is no wider than the viewport, once the charts have followed a resize (Chart.js resizes
    on its ResizeObserver's next frame)."""
    deadline = time.monotonic() + timeout
    while page.evaluate("document.documentElement.scrollWidth") > width:
        if time.monotonic() > deadline:
            return False
        page.wait_for_timeout(50)
    return True


def test_a_leader_opens_the_org_dashboard_changes_the_period_and_opens_a_team(
    page, page_problems, live_server, olga, delivered, closed
):
    insights_refresh(days=90)
    insights_refresh(days=30)
    page.set_viewport_size(LAPTOP)
    page.goto("/dashboard/")
    sign_in(page, "olga@example.com")
    expect(page).to_have_url(f"{live_server.url}/dashboard/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Organisation dashboard")
    for canvas in SPARKLINES:
        assert chart_drawn(page, canvas), canvas
    assert violations(page) == []
    shoot(page, "dashboard-org-laptop.png")

    # The period: the dashboard fragment is swapped in place and the URL pushed.
    page.evaluate("window.__samePage = true")
    page.get_by_role("navigation", name="Period").get_by_role("link", name="30 days").click()
    expect(page).to_have_url(f"{live_server.url}/dashboard/?days=30")
    expect(page.locator("#period-30")).to_have_attribute("aria-current", "true")
    assert chart_drawn(page, "spark-frequency")
    assert page.evaluate("window.__samePage") is True, "the page reloaded"

    # A team, through the team picker: the team's dashboard with its weekly charts, still without a reload.
    page.select_option("#team-picker", "pay")
    page.click("#team-show")
    expect(page).to_have_url(re.compile(r"/teams/pay/dashboard/\?days=30$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Payments: dashboard")
    for canvas in (*TEAM_CHARTS, "spark-frequency"):
        assert chart_drawn(page, canvas), canvas
    assert page.evaluate("window.__samePage") is True, "the page reloaded"
    assert violations(page) == []
    shoot(page, "dashboard-team-laptop.png")

    page.set_viewport_size(PHONE)
    assert chart_drawn(page, "chart-frequency")
    assert fits(page, PHONE["width"]), "the team dashboard scrolls sideways on a phone"
    assert violations(page) == []
    shoot(page, "dashboard-team-phone.png")

    page.goto("/dashboard/")
    assert chart_drawn(page, "spark-frequency")
    assert fits(page, PHONE["width"]), "the org dashboard scrolls sideways on a phone"
    assert violations(page) == []
    shoot(page, "dashboard-org-phone.png")
    page_problems.assert_none()


@pytest.mark.parametrize("debug", [False, True], ids=["production", "debug"])
def test_a_custom_period_the_dashboard_cannot_show_says_why_in_place(
    page, page_problems, live_server, olga, settings, debug
):
    """Issue 14, item 9: under DEBUG too (django-htmx's debug script replaces the document with 400 responses),
    the page keeps its header and pickers and says what is wrong, at laptop and phone sizes."""
    settings.DEBUG = debug
    page.set_viewport_size(LAPTOP)
    page.goto("/dashboard/")
    sign_in(page, "olga@example.com")
    page.evaluate("window.__samePage = true")
    page.fill("#period-from", "2026-03-10")
    page.fill("#period-to", "2026-03-01")
    page.click("#period-apply")
    error = page.locator("#period-error")
    expect(error).to_contain_text("is after the end date (1 Mar 2026): swap them.")
    settled(page)
    assert page.evaluate("window.__samePage") is True, "the document was replaced"
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_have_text("Organisation dashboard")
    expect(page.locator("#period-from")).to_have_attribute("aria-invalid", "true")
    assert violations(page) == []
    if debug:
        shoot(page, "dashboard-bad-period-laptop.png")
        page.set_viewport_size(PHONE)
        assert fits(page, PHONE["width"])
        assert violations(page) == []
        shoot(page, "dashboard-bad-period-phone.png")
    # The refused request's 400 is the browser's console message, and the only problem allowed.
    assert page_problems.take("400")
    page_problems.assert_none()


def test_an_org_viewer_in_no_team_sees_the_organisation_on_their_home_page(
    page, page_problems, live_server, olga, delivered, closed
):
    """Issue 14, item 11: the organisation's delivery, sentiment and top bottlenecks, not "You are not a member of
    any team"; at laptop and phone sizes."""
    insights_refresh(days=90)
    page.set_viewport_size(LAPTOP)
    page.goto("/")
    sign_in(page, "olga@example.com")
    expect(page).to_have_url(f"{live_server.url}/")
    summary = page.locator("#org-summary.org-summary")
    expect(summary.get_by_role("heading", name="The organisation's delivery")).to_be_visible()
    expect(summary.get_by_role("heading", name="Developer sentiment")).to_be_visible()
    expect(summary.get_by_role("heading", name="Top bottlenecks")).to_be_visible()
    expect(summary.get_by_role("heading", name="Deployment frequency")).to_be_visible()
    expect(page.get_by_text("You are not a member of any team")).to_have_count(0)
    for size, viewport in (("laptop", LAPTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        assert fits(page, viewport["width"]), f"the home page scrolls sideways ({size})"
        assert axe_violations(page) == []
        shoot(page, f"home-org-viewer-{size}.png")
    summary.get_by_role("link", name="Open the organisation dashboard").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Organisation dashboard")
    page_problems.assert_none()

"""The delivery page in a real browser: the charts draw under the strict CSP, the period picker
swaps the content and pushes the URL, list pages swap alone, and the console stays clean."""

from __future__ import annotations

import re
import time

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from e360.tests.browser import chart_drawn, sign_in
from metrics.tests.factories import SourceFactory
from metrics.tests.histories import History

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def delivered(service):
    """Eight weeks of Checkout: a deployment every other day shipping one change, one failure,
    and enough rows for the lists to have a second page."""
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    history = History(SourceFactory(name="ci", team=service.owner, last_event_at=now), now)
    for n in range(28):
        days_ago = 1 + 2 * n
        history.change(service, f"pr-{n}", days_ago + 0.5, number=100 + n, title=f"Change {n}")
        history.deploy(service, f"d{n}", days_ago, sha=f"{n:02x}" * 20, changes=(f"pr-{n}",))
    history.incident(service, "INC-1", 5 - 1 / 24, hours_to_restore=2, title="Checkout errors")
    history.refresh()
    return history


def test_the_owner_sees_the_charts_and_switches_the_period(
    page, page_problems, live_server, owner, delivered, tmp_path
):
    page.goto("/services/checkout/delivery/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    sign_in(page, "alice@example.com")

    expect(page).to_have_url(f"{live_server.url}/services/checkout/delivery/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Checkout")
    frequency = page.get_by_role("article", name="Deployment frequency")
    expect(frequency).to_contain_text("2.2 per week")
    expect(frequency).to_contain_text("28 production deployments")
    expect(page.get_by_role("article", name="Change failure rate")).to_contain_text("1 of 28 deployments failed")

    for canvas in ("chart-frequency", "chart-lead-time"):
        expect(page.locator(f"#{canvas}")).to_be_visible()
        assert chart_drawn(page, canvas), f"no chart on #{canvas}"
    # Kept in pytest's temporary directory (the last runs' stay) for a look at the design.
    page.screenshot(path=tmp_path / "delivery-page.png", full_page=True)

    # The period picker swaps the content in place and pushes the URL.
    page.evaluate("window.__samePage = true")
    page.get_by_role("navigation", name="Period").get_by_role("link", name="30 days").click()
    expect(page).to_have_url(f"{live_server.url}/services/checkout/delivery/?days=30")
    expect(page.get_by_role("link", name="30 days")).to_have_attribute("aria-current", "true")
    expect(frequency).to_contain_text("15 production deployments")
    assert page.evaluate("window.__samePage") is True, "the picker reloaded the page"
    for canvas in ("chart-frequency", "chart-lead-time"):
        assert chart_drawn(page, canvas), f"no chart on #{canvas} after the swap"

    # A list's next page swaps that list alone, keeping the period in the URL.
    deployments = page.locator("#deployments")
    expect(deployments).to_contain_text("Page 1 of 2")
    deployments.get_by_role("link", name="Next").click()
    expect(page).to_have_url(f"{live_server.url}/services/checkout/delivery/?days=30&deployments=2")
    expect(page.locator("#deployments")).to_contain_text("Page 2 of 2")
    assert page.evaluate("window.__samePage") is True, "the pagination reloaded the page"
    assert chart_drawn(page, "chart-frequency")

    # Back returns to the previous state, charts drawn again.
    page.go_back()
    expect(page).to_have_url(f"{live_server.url}/services/checkout/delivery/?days=30")
    expect(page.locator("#deployments")).to_contain_text("Page 1 of 2")
    assert chart_drawn(page, "chart-frequency")
    page_problems.assert_none()


def test_the_service_page_loads_the_delivery_tiles(page, page_problems, live_server, owner, delivered):
    page.goto("/accounts/login/")
    sign_in(page, "alice@example.com")
    page.goto("/services/checkout/")

    delivery = page.get_by_role("region", name="Delivery, last 90 days")
    expect(delivery.get_by_role("article", name="Lead time for changes")).to_contain_text("changes deployed")
    delivery.get_by_role("link", name="Open the delivery page").click()
    expect(page).to_have_url(f"{live_server.url}/services/checkout/delivery/")
    assert chart_drawn(page, "chart-lead-time")
    page_problems.assert_none()


def test_the_team_page_works_without_data(page, page_problems, live_server, owner, team):
    page.goto("/accounts/login/")
    sign_in(page, "alice@example.com")
    page.goto("/teams/payments/delivery/")

    expect(page.get_by_role("article", name="Lead time for changes")).to_contain_text("no data")
    expect(page.locator("canvas")).to_have_count(0)
    page.get_by_role("link", name="180 days").click()
    expect(page).to_have_url(f"{live_server.url}/teams/payments/delivery/?days=180")
    expect(page.get_by_role("link", name="180 days")).to_have_attribute("aria-current", "true")
    page_problems.assert_none()


def test_an_outsider_gets_404(page, page_problems, live_server, outsider, service):
    page.goto("/accounts/login/")
    sign_in(page, "charlie@example.com")
    response = page.goto("/services/checkout/delivery/")
    assert response is not None and response.status == 404
    # Chromium logs each 404 as a console error, a moment after the load: the page's (and /favicon.ico's, were a
    # 404 page without the site's icon served). Once the page's is in and the network idle, nothing else.
    not_found = []
    deadline = time.monotonic() + 3
    while not not_found and time.monotonic() < deadline:
        page.wait_for_timeout(50)
        not_found += page_problems.take("status of 404")
    assert not_found, "the 404 was not reported"
    page.wait_for_load_state("networkidle")
    not_found += page_problems.take("status of 404")
    page_problems.assert_none()

"""The automations' run log in a real browser: a lead reads their team's runs, filters the failed ones, opens an
automation; no accessibility violation (axe) on either page."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from actions.models import Automation, AutomationRun
from actions.models.automations import Trigger
from actions.tests.factories import ChannelFactory
from e360.tests.browser import axe_violations, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_lead_filters_the_run_log_and_opens_an_automation(page, page_problems, live_server, owner, team):
    automation = Automation.objects.create(
        name="Page Payments", team=team, trigger=Trigger.INCIDENT_OPENED, channel=ChannelFactory(team=team)
    )
    for n, (status, response) in enumerate([("sent", "ok"), ("failed", "404 channel_not_found"), ("sent", "ok")]):
        AutomationRun.objects.create(
            automation=automation,
            trigger=automation.trigger,
            dedupe_key=f"incident:{n}",
            inputs={"title": f"Incident on Checkout: number {n}"},
            status=status,
            response=response,
            attempts=1,
        )
    page.goto("/actions/")
    sign_in(page, "alice@example.com")
    expect(page).to_have_url(f"{live_server.url}/actions/")
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(3)
    assert axe_violations(page) == []

    page.get_by_label("Status").select_option("failed")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("404 channel_not_found")

    rows.first.get_by_role("link", name="Page Payments").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Page Payments")
    expect(page.locator("tbody tr")).to_have_count(3)
    assert axe_violations(page) == []

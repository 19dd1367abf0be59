"""The initiatives' pages in a real browser: a lead opens the list, follows an initiative to its report, and its
timeline and pre-period charts draw under the strict CSP, with no console error and nothing axe-core blocks."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from actions.models.initiatives import org_today
from actions.tests.initiative_histories import START_DAYS_AGO, initiative_on, planted
from e360.tests.browser import axe_violations, chart_drawn, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_lead_opens_an_initiative_and_its_charts(
    page, page_problems, live_server, owner, review_teams, review_source, tmp_path
):
    now = timezone.now()
    planted(review_teams, review_source, now)
    initiative_on([review_teams[0]], org_today(now) - timedelta(days=START_DAYS_AGO), now=now)

    page.goto("/actions/initiatives/")
    sign_in(page, "alice@example.com")
    expect(page.get_by_role("heading", name="Initiatives", exact=True)).to_be_visible()
    expect(page.get_by_role("row", name="Review reminders")).to_contain_text("Pickup time fell by")
    assert axe_violations(page) == []

    page.get_by_role("link", name="Review reminders", exact=True).click()
    expect(page.get_by_role("heading", name="Review reminders", level=1)).to_be_visible()
    expect(page.locator(".initiative__estimate")).to_contain_text("more than in comparable teams")
    assert chart_drawn(page, "chart-timeline-pickup_time"), "no timeline"
    assert chart_drawn(page, "chart-trend-pickup_time"), "no pre-period trends"
    assert axe_violations(page) == []
    page.screenshot(path=tmp_path / "initiative.png", full_page=True)
    page.emulate_media(media="print")
    expect(page.locator(".topbar")).to_be_hidden()
    page.screenshot(path=tmp_path / "initiative-print.png", full_page=True)
    page_problems.assert_none()

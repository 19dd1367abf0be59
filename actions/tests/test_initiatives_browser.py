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


def test_a_lead_starts_an_initiative_then_reads_the_velocity_gains(
    page, page_problems, live_server, owner, review_teams, review_source
):
    """From the list's "Start an initiative" to its report, then the quarter's velocity gains: the form and the
    gains page under the strict CSP, axe-clean, no console error."""
    now = timezone.now()
    planted(review_teams, review_source, now)
    initiative_on([review_teams[0]], org_today(now) - timedelta(days=START_DAYS_AGO), now=now)

    page.goto("/actions/initiatives/")
    sign_in(page, "alice@example.com")
    page.get_by_role("link", name="Start an initiative").click()
    expect(page.get_by_role("heading", name="Start an initiative", level=1)).to_be_visible()
    assert axe_violations(page) == []
    page.get_by_label("Name").fill("Smaller pull requests")
    page.get_by_label("Bottleneck dimension").select_option("cognitive_load")
    page.get_by_label("Hypothesis").fill("Splitting pull requests under 400 lines: review time falls")
    page.get_by_label("Target teams").select_option(str(review_teams[0].pk))
    page.get_by_label("Starts on").fill((org_today(now) + timedelta(days=7)).isoformat())
    page.get_by_label("Review time (hours)").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="Smaller pull requests", level=1)).to_be_visible()

    page.goto("/actions/gains/")
    expect(page.get_by_role("heading", name="Velocity gains", level=1)).to_contain_text("Velocity gains")
    expect(page.locator("main")).to_contain_text("Pickup time fell by")
    assert axe_violations(page) == []
    page_problems.assert_none()

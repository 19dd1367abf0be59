"""The threshold form in a real browser: a lead fills it in, the backtest follows the fields (htmx) and draws its
chart under the strict CSP, a refused field is said in place, and saving lists the threshold."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from actions.models import Threshold
from actions.tests.pipeline_runs import runs
from e360.tests.browser import axe_violations, chart_drawn, sign_in
from metrics.tests.factories import SourceFactory
from metrics.tests.histories import History

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def failing(service):
    """Checkout's CI over 30 days, failing on days 20–18 ago."""
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    history = History(SourceFactory(name="ci", team=service.owner, last_event_at=now), now)
    for days_ago in range(30, 0, -1):
        runs(history, service, days_ago, *(["failure"] * 2 if days_ago in (18, 19, 20) else ["success"] * 2))
    history.refresh()
    return history


def test_a_lead_backtests_and_saves_a_threshold(page, page_problems, live_server, owner, service, failing, tmp_path):
    page.goto("/actions/thresholds/new/")
    sign_in(page, "alice@example.com")
    expect(page).to_have_url(f"{live_server.url}/actions/thresholds/new/")

    page.get_by_label("Name").fill("Checkout CI failing")
    page.get_by_label("Metric").select_option("pipeline_failure_rate")
    page.get_by_label("Scope").select_option("service")
    page.get_by_label("Service").select_option(label="Checkout")
    page.get_by_label("Comparison").select_option("gt")
    page.get_by_label("Value").fill("50")
    page.get_by_label("Window (days)").fill("1")
    page.get_by_label("Window (days)").blur()  # a change: the backtest follows

    backtest = page.locator("#backtest")
    expect(backtest).to_contain_text("this would have fired 1 time")
    # The day its first failing run finished on in the org's zone (the day before at a few minutes past midnight).
    day = timezone.localtime(failing.now - timedelta(days=20, minutes=2)).strftime("%-d %b")
    expect(backtest).to_contain_text(day)
    assert chart_drawn(page, "chart-backtest"), "no backtest chart"
    assert axe_violations(page) == []
    # Kept in pytest's temporary directory (the last runs' stay) for a look at the design.
    page.screenshot(path=tmp_path / "threshold-form.png", full_page=True)

    # A window of no days: said in place of the backtest.
    page.get_by_label("Window (days)").fill("0")
    page.get_by_label("Window (days)").blur()
    expect(backtest).to_contain_text("Correct the form to run the backtest")
    expect(backtest).to_contain_text("greater than or equal to 1")
    assert page_problems.take("status of 400"), "the refusal is a 400, which the browser logs"

    page.get_by_label("Window (days)").fill("1")
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(re.compile(r"/actions/thresholds/$"))
    expect(page.get_by_role("link", name="Checkout CI failing")).to_be_visible()
    assert Threshold.objects.get().service == service
    assert axe_violations(page) == []
    page_problems.assert_none()

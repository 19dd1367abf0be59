"""The source health page in Chromium: the backfill's progress bar advances by htmx polling while the backfill
runs, stops polling when it is done, and the page has no serious accessibility violation."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from e360.tests.browser import axe_violations, sign_in
from integrations.models import Backfill
from integrations.tests.factories import ConnectionFactory
from metrics.models import InboundEvent

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def running(team):
    connection = ConnectionFactory(
        source__name="GitHub acme",
        source__team=team,
        repositories=["acme/checkout", "acme/ledger"],
        rate_limit=5000,
        rate_remaining=4900,
        rate_reset_at=timezone.now() + timedelta(minutes=30),
    )
    InboundEvent.objects.create(
        source=connection.source,
        delivery_id="d-1",
        kind="github.pull_request",
        payload={},
        status=InboundEvent.Status.FAILED,
        error='repository "acme/ledger" belongs to no known service; name a service',
    )
    InboundEvent.objects.create(
        source=connection.source, delivery_id="d-2", kind="github.star", payload={}, status=InboundEvent.Status.IGNORED
    )
    return Backfill.objects.create(
        connection=connection,
        days=365,
        status=Backfill.Status.RUNNING,
        started_at=timezone.now() - timedelta(minutes=4),
        repositories_total=4,
        repositories_done=1,
        records=250,
        requests=12,
    )


def test_the_progress_bar_advances_while_the_backfill_runs(
    page, page_problems, live_server, owner, running, screenshots
):
    url = f"/sources/{running.connection_id}/"
    page.goto(url)
    sign_in(page, "alice@example.com")
    expect(page).to_have_url(f"{live_server.url}{url}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("GitHub acme")
    bar = page.locator("#backfill-progress")
    expect(bar).to_have_attribute("value", "25")
    expect(page.locator("#backfill")).to_contain_text("Repositories done: 1 of 4")
    expect(page.locator("#backfill")).to_contain_text("4900 of 5000 requests left")
    expect(page.locator("#backfill")).to_contain_text("in about")  # the ETA, at the pace so far
    expect(page.get_by_text("seen from acme/checkout in 30 days")).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert axe_violations(page) == []
    page.screenshot(path=screenshots / "source-health-backfill.png", full_page=True)

    page.evaluate("window.__samePage = true")
    running.repositories_done, running.records = 3, 900
    running.save()
    # The card asks again every 3 s: the bar moves without a reload.
    expect(bar).to_have_attribute("value", "75", timeout=8_000)
    expect(page.locator("#backfill")).to_contain_text("Repositories done: 3 of 4")
    expect(page.locator("#backfill")).to_contain_text("900")

    running.repositories_done, running.status, running.finished_at = 4, Backfill.Status.DONE, timezone.now()
    running.save()
    expect(bar).to_have_attribute("value", "100", timeout=8_000)
    expect(page.locator("#backfill")).to_contain_text("done")
    expect(page.locator("#backfill")).not_to_have_attribute("hx-trigger", re.compile(".*"))
    assert page.evaluate("window.__samePage") is True, "the page reloaded"

    # Done: no more polling.
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    page.wait_for_timeout(4_000)
    assert not [seen for seen in requests if url in seen]
    assert axe_violations(page) == []
    page_problems.assert_none()

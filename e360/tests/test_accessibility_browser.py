"""axe-core in Chromium over the pages leaders and developers read: no serious or critical violation.

Each page is checked as served, under its Content Security Policy, after its charts are drawn.
"""

from __future__ import annotations

import pytest

from e360.tests.browser import axe_violations, sign_in
from surveys.tests import waves

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The survey results tests' hand-made organisation and closed campaign, as fixtures of this module.
org, closed = waves.org, waves.closed


def test_the_survey_results_and_delivery_pages_have_no_serious_violation(page, page_problems, org, closed):
    page.goto(f"/surveys/{closed.pk}/results/")
    sign_in(page, "lena@example.com")
    page.wait_for_load_state("networkidle")
    assert axe_violations(page) == []
    for url in ["/", "/surveys/", "/surveys/results/", "/teams/eng/delivery/", "/teams/pay/delivery/?days=30"]:
        page.goto(url)
        page.wait_for_load_state("networkidle")
        assert axe_violations(page) == [], url
    page_problems.assert_none()


def test_a_page_s_refusal_has_no_serious_violation(page, page_problems, owner, team, service):
    """The 400 every page answers parameters it does not offer with (``e360/bad_request.html``), whole and in place."""
    page.goto("/teams/payments/pipelines/?days=7")
    sign_in(page, "alice@example.com")
    page.wait_for_load_state("networkidle")
    assert page.get_by_role("alert").inner_text().count("Unknown period “7”") == 1
    assert axe_violations(page) == []
    page.goto("/services/")
    page.get_by_role("searchbox", name="Search").fill("x" * 201)
    page.locator("#results [role=alert]").wait_for()
    assert axe_violations(page) == []
    assert len(page_problems.take("400")) == 2
    page_problems.assert_none()

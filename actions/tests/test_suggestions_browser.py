"""The bottleneck cards' suggested actions in Chromium: a team's lead (not staff, no admin rights) reads the
suggestions on the Code review card, follows "Set up review reminders" to the portal's form, which opens with the
team chosen, picks a channel and saves; the card then links to the team's policy. Under the strict CSP, with a clean
console and no serious accessibility violation on the bottleneck page, the form and the list."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from actions.models import Channel, ReminderPolicy
from actions.tests.factories import ChannelFactory
from e360.tests.browser import axe_violations, sign_in
from insights import services

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_lead_sets_up_review_reminders_from_a_bottleneck_card(page, page_problems, live_server, org, closed):
    services.insights_refresh(days=90)
    lead = org.users["paula"]
    assert not lead.is_staff and not lead.is_superuser and not lead.get_all_permissions()
    ChannelFactory(kind=Channel.Kind.OUTBOX, name="Payments outbox", team=org.pay)

    page.goto("/teams/pay/bottlenecks/")
    sign_in(page, "paula@example.com")
    card = page.locator("#dimension-code_review")
    setup = card.get_by_role("link", name="Set up review reminders for Payments")
    expect(setup).to_be_visible()
    expect(
        page.locator("#dimension-ci_cd").get_by_role("link", name="Alert when pipeline failures exceed 20%")
    ).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert axe_violations(page) == []

    setup.click()
    expect(page).to_have_url(f"{live_server.url}/actions/reminders/new/?team={org.pay.pk}")
    expect(page.locator("#id_team")).to_have_value(str(org.pay.pk))  # the team chosen by the link
    assert axe_violations(page) == []
    page.locator("#id_channel").select_option(label="Payments outbox")
    page.get_by_role("button", name="Save", exact=True).click()

    expect(page).to_have_url(f"{live_server.url}/actions/reminders/")
    expect(page.get_by_role("status")).to_contain_text("Review reminders of Payments saved.")
    expect(page.get_by_role("link", name="Payments", exact=True)).to_be_visible()  # she may change it
    assert axe_violations(page) == []
    policy = ReminderPolicy.objects.get()
    assert (policy.team, policy.channel.name, policy.is_active) == (org.pay, "Payments outbox", True)

    page.goto("/teams/pay/bottlenecks/")
    expect(
        page.locator("#dimension-code_review").get_by_role("link", name="Review reminders of Payments (on)")
    ).to_be_visible()
    page_problems.assert_none()

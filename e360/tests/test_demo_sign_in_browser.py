"""Seeing the portal as a demo person: the login page's DEBUG-only "sign in as" buttons in a real browser.

Screenshots land in var/screenshots/ (1280 x 800 and 390 x 844).
"""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from e360.models import Membership
from e360.tests.browser import SCREENSHOTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SIZES = {"laptop": (1280, 800), "phone": (390, 844)}


@pytest.mark.parametrize("size", SIZES)
def test_signing_in_as_the_team_lead_lands_on_the_portal_as_that_lead(page, page_problems, live_server, settings, size):
    settings.DEBUG = True
    call_command("seed_demo", "--catalog-only", stdout=StringIO())
    lead = Membership.objects.get(team__name="Checkout", role=Membership.Role.LEAD).person
    width, height = SIZES[size]
    page.set_viewport_size({"width": width, "height": height})
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    page.goto("/accounts/login/")
    demo = page.get_by_role("region", name="Demo: sign in as")
    expect(demo.get_by_role("button")).to_have_text(
        ["Sign in as a developer", "Sign in as a team lead", "Sign in as an organisation viewer"]
    )
    page.screenshot(path=SCREENSHOTS / f"demo-sign-in-{size}.png", full_page=True)
    demo.get_by_role("button", name="Sign in as a team lead").click()

    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.get_by_role("heading", level=1)).to_contain_text(lead.name.split()[0])
    expect(page.get_by_role("link", name="Checkout", exact=True).first).to_be_visible()
    page.screenshot(path=SCREENSHOTS / f"demo-team-lead-home-{size}.png", full_page=False)
    page_problems.assert_none()

"""The portal in a real browser: password sign-in, navigation, the admin, a clean console.

Every test ends by asserting the browser saw no console error, uncaught
exception or Content Security Policy violation (``page_problems``).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from e360.tests.browser import SCREENSHOTS, axe_violations, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SIZES = {"laptop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


def test_a_member_signs_in_and_opens_their_team(page, page_problems, live_server, owner, teammate, subteam, service):
    page.goto("/")
    sign_in(page, "alice@example.com")

    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.get_by_role("heading", name="Hello, Alice")).to_be_visible()
    page.get_by_role("region", name="My teams").get_by_role("link", name="Payments", exact=True).click()

    expect(page).to_have_url(f"{live_server.url}/teams/payments/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Payments")
    members = page.get_by_role("region", name=re.compile(r"^Members"))
    expect(members.get_by_role("link")).to_have_count(2)
    expect(members.get_by_role("link", name="Alice")).to_be_visible()
    expect(members.get_by_role("link", name="Bob")).to_be_visible()
    expect(page.get_by_role("region", name="Sub-teams").get_by_role("link")).to_have_text(["Payments API"])
    expect(page.get_by_role("region", name="Services").get_by_role("link")).to_have_text(["Checkout"])
    page_problems.assert_none()


def test_the_admin_signs_in_through_the_same_page(page, page_problems, live_server, staff):
    page.goto("/admin/")

    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=(/admin/|%2Fadmin%2F)$"))
    sign_in(page, "admin@example.com")

    expect(page).to_have_url(f"{live_server.url}/admin/")
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()
    page_problems.assert_none()


def test_a_wrong_password_keeps_the_visitor_out(page, page_problems, live_server, owner):
    page.goto("/")
    sign_in(page, "alice@example.com", "not-the-password")

    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    expect(page.get_by_text("not correct")).to_be_visible()
    page_problems.assert_none()


def test_pages_run_without_console_errors_or_csp_violations(page, page_problems, staff, owner, subteam, service):
    page.goto("/accounts/login/")
    sign_in(page, "admin@example.com")
    expect(page.get_by_role("heading", name="Welcome")).to_be_visible()

    for path, heading in [
        ("/", "Welcome"),
        ("/teams/", "Teams"),
        ("/teams/payments/", "Payments"),
        ("/services/", "Services"),
        ("/services/checkout/", "Checkout"),
        ("/people/", "People"),
        ("/people/alice/", "Alice"),
        ("/admin/", "Site administration"),
        ("/admin/e360/team/", "Select team to change"),
    ]:
        response = page.goto(path)
        assert response is not None
        assert response.ok, f"{path} answered {response.status}"
        expect(page.get_by_role("heading", level=1)).to_contain_text(heading)
    # htmx swaps results in place under the strict CSP (no eval, no inline script).
    page.goto("/services/")
    page.get_by_role("searchbox", name="Search").fill("nothing-matches")
    expect(page.get_by_text("No services match.")).to_be_visible()
    expect(page).to_have_url(re.compile(r"[?&]q=nothing-matches"))
    page.evaluate("0")  # a round trip, so CSP reports sent before it have arrived
    page_problems.assert_none()


def test_keyboard_focus_is_visible(page, page_problems, owner):
    page.goto("/accounts/login/")
    sign_in(page, "alice@example.com")
    expect(page.get_by_role("heading", name="Hello, Alice")).to_be_visible()

    page.keyboard.press("Tab")
    skip_link = page.get_by_role("link", name="Skip to content")
    expect(skip_link).to_be_focused()
    expect(skip_link).to_be_in_viewport()
    page.keyboard.press("Tab")
    brand = page.get_by_role("link", name="e360", exact=True)
    expect(brand).to_be_focused()
    outline = brand.evaluate("(el) => getComputedStyle(el).outlineStyle + ' ' + getComputedStyle(el).outlineWidth")
    assert outline.split()[0] != "none"
    assert outline.split()[1] != "0px"
    page_problems.assert_none()


def test_a_member_at_the_admin_gets_the_portal_s_page_and_a_way_home(page, page_problems, live_server, teammate):
    """Issue 14, item 11: not a bare "403 Forbidden", the portal's page (templates/403.html) with a link home."""
    page.goto("/admin/")
    sign_in(page, "bob@example.com")

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for size, viewport in SIZES.items():
        page.set_viewport_size(viewport)
        expect(page.get_by_role("heading", level=1)).to_have_text("This page is not open to your account")
        expect(page.get_by_text("The administration is for staff")).to_be_visible()
        expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Home")).to_be_visible()
        assert axe_violations(page) == []
        page.screenshot(path=SCREENSHOTS / f"admin-refused-{size}.png", full_page=True)
    page.get_by_role("link", name="Back to the home page").click()
    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.get_by_role("heading", name="Hello, Bob")).to_be_visible()
    # The refused request's 403 is the browser's console message, and the only problem allowed.
    assert page_problems.take("403")
    page_problems.assert_none()


@pytest.mark.parametrize("debug", [False, True], ids=["production", "debug"])
def test_a_search_the_page_refuses_says_why_in_place(page, page_problems, live_server, owner, service, settings, debug):
    """Issue 15, item 3: every page refuses what it does not offer the same way (e360.htmx): in place of what htmx
    swaps, DEBUG or not (django-htmx's debug script would replace the document), and the page works on."""
    settings.DEBUG = debug
    page.goto("/services/")
    sign_in(page, "alice@example.com")
    page.evaluate("window.__samePage = true")
    search = page.get_by_role("searchbox", name="Search")
    search.fill("x" * 201)
    expect(page.locator("#results [role=alert]")).to_contain_text("A search is at most 200 characters")
    assert page.evaluate("window.__samePage") is True, "the document was replaced"
    expect(page.get_by_role("heading", level=1)).to_have_text("Services")
    # The refusal kept the results' place: the next search swaps it back.
    search.fill("check")
    expect(page.locator("#results")).to_contain_text("Checkout")
    assert page.evaluate("window.__samePage") is True
    assert page_problems.take("400")
    page_problems.assert_none()

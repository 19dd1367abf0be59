"""The API reference at /api/v1/docs in a real browser: vendored Swagger UI under the strict CSP.

``page_problems`` fails the test on any console error, uncaught exception or
Content Security Policy violation.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from e360.tests.browser import SCREENSHOTS, axe_violations
from metrics.tests.factories import DeploymentFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Moderate findings too; not the minor aria-allowed-role that api-docs.js's region role on Swagger's <main> brings.
FROM_MODERATE = ("moderate", "serious", "critical")


def test_the_docs_render_from_this_site_only(page, page_problems, live_server):
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))

    page.goto("/api/v1/docs")

    expect(page.get_by_role("heading", name=re.compile(r"^e360 API"))).to_be_visible()
    for tag in ["Deployments", "Incidents", "Pull requests", "Pipeline runs"]:
        expect(page.get_by_role("heading", name=re.compile(f"^{tag}"))).to_be_visible()
    expect(page.get_by_text("/api/v1/incidents/{external_id}/resolve")).to_be_visible()
    # No CDN, no validator badge from elsewhere: every request stayed on this site.
    assert any(url.endswith("/api/v1/openapi.json") for url in requests)
    assert all(url.startswith((live_server.url, "data:")) for url in requests), requests
    page_problems.assert_none()


def test_a_token_holder_tries_a_request_from_the_docs(page, page_problems, source, token, service):
    DeploymentFactory(source=source, service=service, external_id="deploy-from-ci")

    page.goto("/api/v1/docs")
    page.get_by_role("button", name="Authorize").first.click()
    # The token's form: the dialog also lists the portal session that the survey results read (nothing to enter).
    dialog = page.locator(".dialog-ux .modal-ux form").filter(has_text="TokenAuth")
    dialog.get_by_label("Value").fill(token.key)
    dialog.get_by_role("button", name="Apply credentials").click()
    expect(dialog.get_by_role("button", name="Remove authorization")).to_be_visible()
    dialog.get_by_role("button", name="Close").click()

    operation = page.locator("#operations-Deployments-deployment_list")
    operation.locator(".opblock-summary-control").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.get_by_role("button", name="Execute").click()

    responses = operation.locator(".responses-wrapper .live-responses-table")
    expect(responses.locator("tbody .response-col_status")).to_have_text("200")
    expect(responses).to_contain_text("deploy-from-ci")
    page_problems.assert_none()


@pytest.mark.parametrize(("size", "width", "height"), [("laptop", 1280, 800), ("phone", 390, 844)])
def test_the_docs_carry_the_portal_s_header_and_pass_axe(page, page_problems, live_server, size, width, height):
    """Issue 14, item 11: the portal's header on the API reference, and axe-core finds no violation from moderate up
    (Swagger UI's second <main>, its headings from level 1 to 3), as loaded and with an operation open (its
    parameters, responses, media type and example)."""
    page.set_viewport_size({"width": width, "height": height})
    page.goto("/api/v1/docs")
    expect(page.get_by_role("banner").get_by_role("link", name="e360", exact=True)).to_have_attribute("href", "/")
    expect(page.get_by_role("heading", name=re.compile(r"^e360 API"))).to_be_visible()
    expect(page.locator("#operations-Deployments-deployment_list")).to_be_visible()
    assert axe_violations(page, FROM_MODERATE) == []

    operation = page.locator("#operations-Deployments-deployment_list")
    operation.locator(".opblock-summary-control").click()
    operation.get_by_role("button", name="Try it out").click()
    expect(operation.get_by_role("button", name="Execute")).to_be_visible()
    # Swagger UI leaves its media type pickers unlabelled; static/metrics/api-docs.js names them.
    names = operation.locator("select").evaluate_all(
        "selects => selects.map(s => s.labels.length ? s.labels[0].textContent : s.getAttribute('aria-label'))"
    )
    assert names and all(names), names
    assert axe_violations(page, FROM_MODERATE) == []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"api-docs-{size}.png", full_page=True)
    page_problems.assert_none()

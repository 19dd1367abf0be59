"""Survey results in a real browser: a lead opens a closed campaign's results, the heatmap hides a team below k,
the charts draw under the strict CSP, the team picker swaps the content in place, and the console stays clean.

Screenshots land in var/screenshots/ (laptop 1280 x 800, phone 390 x 844).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import Page, expect

from e360.tests.test_browser import sign_in
from surveys.tests import test_results as data

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"

org, closed = data.org, data.closed

# Whether Chart.js drew on a canvas: a chart is attached and some pixel is not transparent. Polled with
# ``evaluate``: ``wait_for_function`` compiles its predicate with ``new Function``, which the CSP blocks as eval.
DRAWN = """(id) => {
  const canvas = document.getElementById(id);
  if (!canvas || !window.Chart || !Chart.getChart(canvas) || !canvas.width || !canvas.height) return false;
  const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) return true;
  return false;
}"""


def drawn(page: Page, canvas_id: str, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not page.evaluate(DRAWN, canvas_id):
        if time.monotonic() > deadline:
            return False
        page.wait_for_timeout(50)
    return True


@pytest.fixture
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


def test_a_lead_sees_a_team_below_k_hidden_and_the_charts_drawn(
    page, page_problems, live_server, org, closed, screenshots
):
    url = f"/surveys/{closed.pk}/results/"
    page.set_viewport_size(LAPTOP)
    page.goto(url)
    sign_in(page, "lena@example.com")

    expect(page).to_have_url(f"{live_server.url}{url}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Developer pulse")
    heatmap = page.get_by_role("table").filter(has=page.get_by_role("columnheader", name="CI/CD"))
    search = heatmap.get_by_role("row").filter(has=page.get_by_role("rowheader", name="Search"))
    expect(search.get_by_role("cell")).to_have_text(["fewer than 3 responses"] * 4)
    payments = heatmap.get_by_role("row").filter(has=page.get_by_role("rowheader", name="Payments", exact=True))
    expect(payments.get_by_role("cell")).to_have_text(["7", "48%", "29%", "14"])

    canvases = page.locator("canvas[id^='chart-q']")
    expect(canvases).to_have_count(5)  # every question but the written one
    for canvas_id in canvases.evaluate_all("(nodes) => nodes.map((n) => n.id)"):
        assert drawn(page, canvas_id), f"nothing drawn on #{canvas_id}"
    page.screenshot(path=screenshots / "survey-results-laptop.png", full_page=True)

    page.set_viewport_size(PHONE)
    expect(heatmap).to_be_visible()
    assert drawn(page, canvases.first.get_attribute("id"))
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], "the page scrolls sideways"
    page.screenshot(path=screenshots / "survey-results-phone.png", full_page=True)
    page.set_viewport_size(LAPTOP)

    # The picker swaps the content in place, pushes the URL, and the charts draw again.
    page.evaluate("window.__samePage = true")
    page.get_by_label("Team", exact=True).select_option("pay")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"\?team=pay$"))
    expect(page.get_by_role("heading", name="Questions · Payments")).to_be_visible()
    expect(heatmap.get_by_role("rowheader")).to_have_text(["Whole organisation", "Payments", "Payments API"])
    assert page.evaluate("window.__samePage") is True, "the picker reloaded the page"
    assert drawn(page, canvases.first.get_attribute("id"))

    page.go_back()
    expect(page).to_have_url(f"{live_server.url}{url}")
    expect(heatmap.get_by_role("rowheader", name="Search")).to_be_visible()
    page.evaluate("0")  # a round trip, so that CSP reports sent before it have arrived
    page_problems.assert_none()

"""Survey results in a real browser: a lead opens a closed campaign's results, the heatmap hides a team below k,
the charts draw under the strict CSP, the team picker swaps the content in place, and the console stays clean. The
widest heatmap (nine dimensions and eNPS) fits a laptop, and on a phone scrolls inside its card with the group
column held in view, the page never scrolling sideways.

Screenshots land in var/screenshots/ (laptop 1280 x 800, phone 390 x 844).
"""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from e360.tests.browser import axe_violations, sign_in
from surveys import services
from surveys.models import Campaign, Invitation, Kind, Template
from surveys.tests.waves import TEXT_THRESHOLD, K, close

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


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


@pytest.fixture
def every_dimension(org) -> Campaign:
    """Closed; the shipped Developer experience survey (all nine dimensions and eNPS: the widest heatmap).
    Payments API 3, Payments 4, Search 3 and Engineering 3 responses (two of its own, Tiny's one), answers spread
    over the scale."""
    now = timezone.now()
    campaign = services.campaign_create(
        name="Developer experience",
        template=Template.objects.get(slug="developer-experience"),
        teams=[org.eng],
        opens_at=now - timedelta(hours=1),
        closes_at=now + timedelta(days=14),
        k=K,
        text_threshold=TEXT_THRESHOLD,
    )
    services.campaign_open(campaign_id=campaign.pk)
    campaign.refresh_from_db()
    questions = list(campaign.version.questions.all())
    people = [(org.api, 3), (org.pay, 4), (org.search, 3), (org.eng, 2), (org.tiny, 1)]
    n = 0
    for team, count in people:
        for invitation in Invitation.objects.filter(campaign=campaign, team=team)[:count]:
            answers = {}
            for q in questions:
                n += 1
                if q.kind in (Kind.AGREEMENT, Kind.FREQUENCY):
                    answers[q.pk] = services.AnswerValue(number=1 + n % 5)
                elif q.kind == Kind.ENPS:
                    answers[q.pk] = services.AnswerValue(number=n % 11)
                elif q.kind in (Kind.SINGLE, Kind.MULTI):
                    answers[q.pk] = services.AnswerValue(choices=(q.options[0],))
            services.response_submit(invitation=invitation, answers=answers)
    return close(campaign)


# Whether each heatmap column header shows whole, inside its card and the window, once scrolled into view, and
# whether the page itself had to scroll sideways to show it.
HEADER_PLACES = """(table) => {
  const wrap = table.closest(".heatmap-wrap");
  return [...table.querySelectorAll("thead th")].map((th) => {
    th.scrollIntoView({block: "nearest", inline: "nearest"});
    const box = th.getBoundingClientRect(), frame = wrap.getBoundingClientRect();
    const shown = box.width > 0 && box.left >= frame.left - 1 && box.right <= frame.right + 1
      && box.left >= 0 && box.right <= window.innerWidth;
    return {name: th.textContent.trim(), shown, pageScrolled: window.scrollX !== 0};
  });
}"""


def assert_every_column_reachable(heatmap) -> None:
    places = heatmap.evaluate(HEADER_PLACES)
    assert len(places) == 12, places  # group, responses, nine dimensions, eNPS
    assert [p["name"] for p in places if not p["shown"] or p["pageScrolled"]] == []


def test_the_heatmap_fits_a_laptop_and_scrolls_in_its_card_on_a_phone(
    page, page_problems, live_server, org, every_dimension, screenshots
):
    url = f"/surveys/{every_dimension.pk}/results/"
    page.set_viewport_size(LAPTOP)
    page.goto(url)
    sign_in(page, "lena@example.com")
    heatmap = page.get_by_role("table").filter(has=page.get_by_role("columnheader", name="Cognitive load"))
    expect(heatmap).to_be_visible()
    wrap = page.locator(".heatmap-wrap")

    # Laptop: the page does not scroll sideways, and the whole table shows without scrolling its card.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "the page scrolls sideways"
    assert_every_column_reachable(heatmap)
    assert wrap.evaluate("(w) => w.scrollWidth <= w.clientWidth"), "the heatmap is cut off at 1280 px"
    page.screenshot(path=screenshots / "survey-heatmap-laptop.png", full_page=True)
    assert axe_violations(page) == []

    # Phone: the card scrolls sideways on its own, with the team column kept in view.
    page.set_viewport_size(PHONE)
    page.evaluate("window.scrollTo(0, 0)")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "the page scrolls sideways"
    assert wrap.evaluate("(w) => w.scrollWidth > w.clientWidth"), "the heatmap does not scroll inside its card"
    assert_every_column_reachable(heatmap)
    wrap.focus()  # a keyboard scrolls it too
    page.keyboard.press("ArrowRight")
    deadline = time.monotonic() + 5
    while not wrap.evaluate("(w) => w.scrollLeft > 0"):  # polled: wait_for_function would need eval (above)
        assert time.monotonic() < deadline, "the arrow key did not scroll the heatmap"
        page.wait_for_timeout(50)
    wrap.evaluate("(w) => { w.scrollLeft = w.scrollWidth; }")
    payments = heatmap.get_by_role("rowheader", name="Payments", exact=True)
    for header in (payments, heatmap.get_by_role("columnheader", name="Group")):
        assert header.evaluate("(th) => getComputedStyle(th).position") == "sticky"
        left = header.evaluate(
            "(th) => th.getBoundingClientRect().left - th.closest('.heatmap-wrap').getBoundingClientRect().left"
        )
        assert 0 <= left <= 1, f"the team column scrolled away ({left}px)"
    heatmap.scroll_into_view_if_needed()
    page.screenshot(path=screenshots / "survey-heatmap-phone.png", full_page=True)
    assert axe_violations(page) == []
    page_problems.assert_none()

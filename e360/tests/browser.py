"""Debian's Chromium driven by Playwright's sync API, for the browser tests of every app.

- ``browser`` (per module) / ``page`` (per test: a fresh context against the live server). Every page
  records console errors, uncaught exceptions and CSP violations in ``page_problems``; a test that
  ends with unchecked problems errors.
- ``screenshots``: the directory var/screenshots/, where tests leave what a person would look at
  (each file named for its test, so parallel workers never write the same one).
- Helpers: ``sign_in`` (allauth's password form), ``chart_drawn`` (Chart.js drew on a canvas) and
  ``axe_violations`` (axe-core's serious and critical findings).

A plugin (the root conftest.py lists it in ``pytest_plugins``). A test that uses ``browser`` is a
browser test (``-m "not browser"`` leaves it out) even without the marker. Missing pieces (Chromium,
axe-core's node modules) fail the tests with the command that fixes them: these tests never skip.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from playwright.sync_api import Page, expect

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"
PASSWORD = "password"  # what UserFactory gives every account


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that starts Chromium as a browser test, before ``-m`` selects."""
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, headless, for one test module.

    Playwright's sync API keeps an asyncio loop running in the test thread while
    it is started, which makes Django refuse ORM calls there
    (SynchronousOnlyOperation). That loop never runs Django code, so the check is
    a false alarm: it is switched off, through Django's documented
    DJANGO_ALLOW_ASYNC_UNSAFE, only while the browser is up. Module scope keeps
    both out of other modules' tests (and the subprocesses they start).
    """
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium is missing at {CHROMIUM}: run `make test-deps` (as root) or `apt-get install -y chromium`.",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


# Reports CSP violations through a binding, so none is lost when the page navigates away.
_CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.__e360ReportCsp(`${event.violatedDirective} blocked ${event.blockedURI || "inline"} `
    + `at ${event.sourceFile || event.documentURI}:${event.lineNumber}`);
});
"""


@dataclass
class PageProblems:
    """Console errors, uncaught exceptions and CSP violations seen by one page."""

    items: list[str] = field(default_factory=list)
    checked: int = 0

    def add(self, kind: str, text: str, url: str) -> None:
        self.items.append(f"{kind} on {url}: {text}")

    def take(self, text: str) -> list[str]:
        """Remove and return the problems mentioning ``text``: the ones a test expects."""
        taken = [item for item in self.items if text in item]
        self.items = [item for item in self.items if text not in item]
        return taken

    def assert_none(self) -> None:
        self.checked = len(self.items)
        assert self.items == [], "The browser reported problems:\n" + "\n".join(self.items)


@pytest.fixture
def page_problems() -> PageProblems:
    return PageProblems()


@pytest.fixture
def page(browser, live_server, page_problems):
    """A fresh browser context and tab against the live server."""
    # allauth's rate limits count in the cache, which outlives each test's database flush.
    cache.clear()
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(10_000)
    context.expose_binding("__e360ReportCsp", lambda source, text: page_problems.add("CSP", text, source["page"].url))
    context.add_init_script(_CSP_LISTENER)
    tab = context.new_page()

    def on_console(message) -> None:
        if message.type != "error":
            return
        page_problems.add("console error", message.text, tab.url)

    tab.on("console", on_console)
    tab.on("pageerror", lambda error: page_problems.add("uncaught exception", str(error), tab.url))
    yield tab
    context.close()
    if len(page_problems.items) > page_problems.checked:
        page_problems.assert_none()


AXE = Path(__file__).parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
# What a page may not have: axe-core's impacts "serious" and "critical".
AXE_BLOCKING = ("serious", "critical")


def axe_violations(tab, impacts: tuple[str, ...] = AXE_BLOCKING) -> list[str]:
    """The accessibility violations of ``impacts`` (serious and critical) axe-core finds on the tab's page, one each.

    axe is evaluated through the DevTools protocol, which the page's Content Security Policy does not
    govern, so the page is checked exactly as it is served (no ``bypass_csp``)."""
    if not AXE.exists():
        pytest.fail(f"axe-core is missing at {AXE}: run `make test-deps` (npm ci in e360/tests/axe).", pytrace=False)
    tab.evaluate(AXE.read_text())
    result = tab.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['impact']}: {v['id']} ({v['help']}) at {', '.join(str(n['target']) for n in v['nodes'][:3])}"
        for v in result["violations"]
        if v["impact"] in impacts
    ]


@pytest.fixture
def screenshots() -> Path:
    """var/screenshots/, made if missing."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


def sign_in(page: Page, email: str, password: str = PASSWORD) -> None:
    """Fill allauth's sign-in form, wherever the browser was sent to it from."""
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()


def chart_drawn(page: Page, canvas_id: str, timeout: float = 5.0) -> bool:
    """Whether Chart.js drew on the canvas, polling while htmx settles a swap.

    Polled with ``evaluate`` on purpose: ``wait_for_function`` compiles its predicate
    with ``new Function`` inside the page, which the strict CSP rightly blocks as eval.
    """
    deadline = time.monotonic() + timeout
    while True:
        # window.Chart is undefined until the deferred vendor script has run, even though the
        # URL already matches: asking before then is a ReferenceError, not a "no".
        drawn = f"window.Chart !== undefined && Chart.getChart(document.getElementById('{canvas_id}')) !== undefined"
        if page.evaluate(drawn):
            return True
        if time.monotonic() > deadline:
            return False
        page.wait_for_timeout(50)

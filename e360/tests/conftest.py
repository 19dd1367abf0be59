"""Real components for end-to-end tests: an OpenID Connect provider and Chromium.

- ``oidc_provider``: panva/oidc-provider (``oidc_provider/server.mjs``) on a free
  loopback port for the whole session; it requires PKCE with S256.
- ``sso_app``: the allauth app that points e360 at it.
- ``browser`` / ``page``: Debian's Chromium driven by Playwright's sync API
  (``browser`` per module, ``page`` per test: a fresh context). Every
  page records console errors, uncaught exceptions and CSP violations in
  ``page_problems``; a test that ends with unchecked problems errors.

Missing pieces (Chromium, the provider's node modules) fail the tests with the
command that fixes them: these tests never skip.
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from allauth.socialaccount.models import SocialApp
from django.core.cache import cache

OIDC_DIR = Path(__file__).resolve().parent / "oidc_provider"
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

OIDC_CLIENT_ID = "e360-tests"
OIDC_CLIENT_SECRET = "e360-tests-secret"
OIDC_PROVIDER_ID = "sso"
OIDC_APP_NAME = "Single sign-on"
# The provider's accounts, by login. Tests create (or not) the matching people.
OIDC_ACCOUNTS = {
    "ada": {
        "password": "ada-password",
        "claims": {
            "email": "ada@example.com",
            "email_verified": True,
            "name": "Ada Lovelace",
            "given_name": "Ada",
            "family_name": "Lovelace",
        },
    },
    "grace": {
        "password": "grace-password",
        "claims": {"email": "grace@example.com", "email_verified": True, "name": "Grace Hopper"},
    },
    "mallory": {
        "password": "mallory-password",
        "claims": {"email": "mallory@elsewhere.test", "email_verified": True, "name": "Mallory Outsider"},
    },
    "eve": {
        "password": "eve-password",
        "claims": {"email": "eve@example.com", "email_verified": False, "name": "Eve Unverified"},
    },
}
READY_TIMEOUT = 20.0


@dataclass
class OIDCProvider:
    issuer: str
    redirect_uri: str
    client_id: str = OIDC_CLIENT_ID
    client_secret: str = OIDC_CLIENT_SECRET
    accounts: dict = field(default_factory=lambda: OIDC_ACCOUNTS)


def _wait_for_ready(process: subprocess.Popen, log: Path) -> str:
    """The issuer from the server's "ready <issuer>" line; fails with its log otherwise."""
    assert process.stdout is not None
    deadline = time.monotonic() + READY_TIMEOUT
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while (remaining := deadline - time.monotonic()) > 0:
            if selector.select(timeout=remaining):
                line = process.stdout.readline()
                if line.startswith("ready "):
                    return line.split(maxsplit=1)[1].strip()
                if not line:  # EOF: the server exited
                    break
    process.kill()
    process.wait()
    pytest.fail(
        f"The test OpenID provider did not start (exit code {process.returncode}):\n{log.read_text()[-4000:]}",
        pytrace=False,
    )


@pytest.fixture(scope="session")
def oidc_provider(live_server, tmp_path_factory) -> Iterator[OIDCProvider]:
    """A real OpenID Connect provider on loopback, trusting e360's live server."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("Node.js is needed for the SSO tests (apt-get install nodejs, or Node 20+).", pytrace=False)
    if not (OIDC_DIR / "node_modules" / "oidc-provider").is_dir():
        pytest.fail(
            "The test OpenID provider is not installed: run `make test-deps` (npm ci in e360/tests/oidc_provider).",
            pytrace=False,
        )
    redirect_uri = f"{live_server.url}/accounts/oidc/{OIDC_PROVIDER_ID}/login/callback/"
    log = tmp_path_factory.mktemp("oidc_provider") / "server.log"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [node, str(OIDC_DIR / "server.mjs")],
            cwd=OIDC_DIR,
            env={
                **os.environ,
                "OIDC_HOST": "127.0.0.1",
                "OIDC_PORT": "0",
                "OIDC_CLIENT_ID": OIDC_CLIENT_ID,
                "OIDC_CLIENT_SECRET": OIDC_CLIENT_SECRET,
                "OIDC_REDIRECT_URIS": redirect_uri,
                "OIDC_ACCOUNTS": json.dumps(OIDC_ACCOUNTS),
            },
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    try:
        issuer = _wait_for_ready(process, log)
        yield OIDCProvider(issuer=issuer, redirect_uri=redirect_uri)
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


@pytest.fixture
def sso_app(oidc_provider) -> SocialApp:
    """The allauth app for the loopback provider, as an admin would add it (PKCE on, like OIDC_* env apps)."""
    app = SocialApp.objects.create(
        provider="openid_connect",
        provider_id=OIDC_PROVIDER_ID,
        name=OIDC_APP_NAME,
        client_id=oidc_provider.client_id,
        secret=oidc_provider.client_secret,
        settings={"server_url": oidc_provider.issuer, "oauth_pkce_enabled": True},
    )
    # Apps are tied to sites only when django.contrib.sites is installed; e360 runs one site.
    if hasattr(app, "sites"):
        app.sites.add(1)
    return app


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

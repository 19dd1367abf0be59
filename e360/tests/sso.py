"""The loopback OpenID Connect provider the SSO tests sign in with, and e360's allauth app for it.

- ``oidc_provider``: panva/oidc-provider (``oidc_provider/server.mjs``, a Node server) on a free
  loopback port (port 0, the kernel's pick) for the whole session, trusting e360's live server; it
  requires PKCE with S256. Under pytest-xdist every worker is a session of its own, so each starts its
  own provider on its own port, redirecting to its own live server.
- ``sso_app``: the allauth app that points e360 at it.

A plugin (the root conftest.py lists it in ``pytest_plugins``), so every app's tests have these fixtures.
A missing piece (Node.js, the provider's node modules) fails the tests with the command that fixes it:
these tests never skip.
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

OIDC_DIR = Path(__file__).resolve().parent / "oidc_provider"
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

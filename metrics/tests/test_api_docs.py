"""/api/v1/docs: the vendored Swagger UI page, served under the site's strict CSP."""

from __future__ import annotations

import json
import re
from pathlib import Path

from django.contrib.staticfiles import finders


def test_the_docs_page_loads_only_this_sites_scripts_with_the_nonce(client):
    response = client.get("/api/v1/docs")

    assert response.status_code == 200
    html = response.content.decode()
    nonce = re.search(r"'nonce-([^']+)'", response["Content-Security-Policy"]).group(1)
    scripts = re.findall(r"<script([^>]*)>", html)
    sources = [re.search(r'src="([^"]+)"', attrs).group(1) for attrs in scripts if "src=" in attrs]
    assert sources == [
        "/static/django_htmx/htmx-2.min.js",
        "/static/e360/htmx-errors.js",
        "/static/vendor/swagger-ui/swagger-ui-bundle.js",
        "/static/metrics/api-docs.js",
    ]
    assert all(f'nonce="{nonce}"' in attrs for attrs in scripts if "src=" in attrs)
    # The only inline script is data, which browsers do not run.
    assert [attrs for attrs in scripts if "src=" not in attrs] == [' id="swagger-settings" type="application/json"']
    settings = json.loads(re.search(r'id="swagger-settings" type="application/json">(.*?)</script>', html).group(1))
    assert settings["url"] == "/api/v1/openapi.json"
    assert settings["validatorUrl"] is None
    assert not re.search(r'(src|href)="(https?:)?//', html), "the page loads something from another site"
    # The portal's page around it (issue 14, item 11): its header, and our corrections to Swagger UI's stylesheet.
    assert '<header class="topbar">' in html
    assert '<link rel="stylesheet" href="/static/metrics/api-docs.css">' in html


def test_swagger_ui_is_vendored_pinned_and_licensed():
    bundle = Path(finders.find("vendor/swagger-ui/swagger-ui-bundle.js"))
    assert 'PACKAGE_VERSION:"5.35.0"' in bundle.read_text()
    assert finders.find("vendor/swagger-ui/swagger-ui.css")
    # collectstatic's manifest storage follows the stylesheet's source map reference.
    assert finders.find("vendor/swagger-ui/swagger-ui.css.map")
    assert "Apache License" in (bundle.parent / "LICENSE").read_text()
    assert "SmartBear" in (bundle.parent / "NOTICE").read_text()
    readme = Path(finders.find("vendor/README.md")).read_text()
    assert "| swagger-ui-dist | 5.35.0 |" in readme
    assert finders.find("metrics/api-docs.js")

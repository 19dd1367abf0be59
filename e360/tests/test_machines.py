"""The WSGI application (``e360.machines``): what machines post goes through Django with ``SecurityMiddleware`` and
``CommonMiddleware`` alone, every other request through the pages' middleware. Called as a server calls it, outside
the test client (whose handler has the pages' middleware for every path)."""

from __future__ import annotations

import io
import json
import sys
from unittest import mock

import pytest

from e360.machines import wsgi_application
from metrics.models import InboundEvent, Source
from metrics.services import api_token_create
from metrics.tests.test_webhooks import DEPLOYMENT


def call(application, method: str, path: str, body: bytes = b"", scheme: str = "http", **headers: str):
    """``application``'s status, headers and body for one request, as a WSGI server would make it."""
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "testserver",
        "wsgi.url_scheme": scheme,
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": "application/json",
        **{f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()},
    }
    answer: dict = {}

    def start_response(status: str, response_headers: list[tuple[str, str]], exc_info=None) -> None:
        answer["status"], answer["headers"] = int(status.split()[0]), dict(response_headers)

    content = b"".join(application(environ, start_response))
    return answer["status"], answer["headers"], content


@pytest.mark.django_db(transaction=True)  # as served: autocommit, and the connection closed after each request
def test_a_webhook_delivery_skips_the_pages_middleware_and_keeps_the_security_headers(service):
    source = Source.objects.create(name="ci", kind=Source.Kind.DEVLAKE, team=service.owner)
    key = api_token_create(source=source, name="k")[1]
    application = wsgi_application()
    path = f"/api/rest/plugins/webhook/connections/{source.pk}/deployments"

    with mock.patch("metrics.ingest.async_task"):
        status, headers, content = call(
            application, "POST", path, json.dumps(DEPLOYMENT).encode(), Authorization=f"Bearer {key}"
        )

    assert status == 200 and json.loads(content)["message"] == "accepted"
    assert InboundEvent.objects.filter(source=source).count() == 1
    assert headers["X-Content-Type-Options"] == "nosniff"  # SecurityMiddleware's
    assert "Content-Security-Policy" not in headers and "X-Frame-Options" not in headers  # the pages'
    assert "Set-Cookie" not in headers and "Vary" not in headers  # no session, no CSRF cookie, no htmx
    # A page through the same application: every page's middleware.
    status, headers, _ = call(application, "GET", "/accounts/login/")
    assert status == 200 and "Content-Security-Policy" in headers and headers["X-Frame-Options"] == "DENY"


@pytest.mark.django_db(transaction=True)
def test_an_unknown_machine_path_is_a_404_page_not_an_error():
    application = wsgi_application()
    for path in ("/hooks/nope", "/hooks/github/not-a-uuid/"):
        status, _, content = call(application, "POST", path)
        assert status == 404 and b"<html" in content.lower()  # templates/404.html, without the pages' middleware
    status, _, content = call(application, "GET", "/api/rest/nope")
    assert status == 404 and json.loads(content)["success"] is False  # DevLake's JSON, as for any path under it


@pytest.mark.django_db(transaction=True)
def test_a_webhook_to_a_host_not_allowed_is_refused_as_a_page_is():
    application = wsgi_application()
    for path in ("/api/rest/plugins/webhook/connections/1/deployments", "/accounts/login/"):
        status, _, _ = call(application, "POST", path, HOST="evil.example.com")
        assert status == 400


@pytest.mark.django_db(transaction=True)
def test_a_webhook_sent_over_plain_http_is_redirected_to_https_as_a_page_is(settings):
    settings.SECURE_SSL_REDIRECT = True
    application = wsgi_application()  # SecurityMiddleware reads its settings when the application is made
    for path in ("/api/rest/plugins/webhook/connections/1/deployments", "/hooks/github/x/", "/accounts/login/"):
        status, headers, _ = call(application, "POST", path)
        assert status == 301 and headers["Location"] == f"https://testserver{path}"

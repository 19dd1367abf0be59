"""The WSGI application: Django with the pages' middleware, and for what machines post, Django with
``SecurityMiddleware`` and ``CommonMiddleware`` alone.

DevLake's webhook (``/api/rest/``) and the integrations' signed webhooks (``/hooks/``) authenticate each request by
key or signature and answer JSON. The rest of the pages' middleware (sessions, messages, CSRF, sign-in, htmx, the
content security policy, clickjacking, static files) does nothing for them, and cost about 0.2 ms of a delivery's
0.7–1 ms of Python (docs/product.md#ingestion-throughput): a fifth of what a 2-core node can ingest.
``SecurityMiddleware`` stays (the redirect to HTTPS, HSTS and ``nosniff`` are theirs too), and ``CommonMiddleware``
(the Host header checked against ``ALLOWED_HOSTS``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application
from django.utils.module_loading import import_string

MACHINE_PATHS = ("/api/rest/", "/hooks/")
# CommonMiddleware checks the Host header against ALLOWED_HOSTS, as for every page.
MACHINE_MIDDLEWARE = ("django.middleware.security.SecurityMiddleware", "django.middleware.common.CommonMiddleware")


class MachineHandler(WSGIHandler):
    """Django's WSGI handler with ``MACHINE_MIDDLEWARE`` in place of ``settings.MIDDLEWARE``: request and response
    hooks only (none has a view, template response or exception hook), run in order, each request in its own."""

    def load_middleware(self, is_async: bool = False) -> None:
        # What BaseHandler.load_middleware sets, for a list of synchronous request and response hooks.
        self._view_middleware: list[Callable] = []
        self._template_response_middleware: list[Callable] = []
        self._exception_middleware: list[Callable] = []
        handler = convert_exception_to_response(self._get_response)  # type: ignore[attr-defined]  # not in the stubs
        for path in reversed(MACHINE_MIDDLEWARE):
            handler = convert_exception_to_response(import_string(path)(handler))
        self._middleware_chain = handler


def wsgi_application() -> Callable[[dict[str, Any], Callable], Iterable[bytes]]:
    """The project's WSGI application (``e360.wsgi``): a request to ``MACHINE_PATHS`` goes to ``MachineHandler``,
    any other to Django's own handler."""
    pages, machines = get_wsgi_application(), MachineHandler()

    def serve(environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        handler = machines if environ.get("PATH_INFO", "").startswith(MACHINE_PATHS) else pages
        return handler(environ, start_response)

    return serve

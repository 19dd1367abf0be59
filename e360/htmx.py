"""The request layer every page shares: a typed htmx request, whether to answer a partial, the ``Vary`` header of
pages that answer htmx differently, the one way a page refuses GET parameters it does not offer, and long lists of
markup made in Python (``html_join``, a select's options ``select_options``).

A page reads its GET parameters with a form (``e360.forms.QueryForm.parse``), which raises ``BadQuery`` with a
message in the page's words; the page's view is decorated with ``refuses_bad_query``, which answers 400 with that
message, styled, for htmx and full requests alike. An htmx request's refusal names where it goes (HX-Retarget):
``static/e360/htmx-errors.js`` swaps it there, DEBUG or not, so the page stays and says what is wrong. A page that
shows the message in its own markup (the dashboards' custom period form) renders it and answers through
``bad_request``, the same way.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable
from functools import wraps
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import SwapMethod, reswap, retarget
from django_htmx.middleware import HtmxDetails

from e360.forms import BadQuery

if TYPE_CHECKING:
    from e360.models import User

BAD_REQUEST_TEMPLATE = "e360/bad_request.html"
# What decides between a page and a partial (``is_partial``), and which partial: caches must tell them apart.
HTMX_HEADERS = ("HX-Request", "HX-Boosted", "HX-History-Restore-Request", "HX-Target")
# Where a refusal goes when an htmx request names no target: into the page's main element (templates/base.html).
MAIN = "main"


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails
    # Every view that takes one is behind @login_required: never the AnonymousUser.
    user: User


def is_partial(request: HtmxHttpRequest) -> bool:
    """Whether to answer with a fragment: an htmx request that swaps part of the page. A boosted link and a
    history restore (a reload of a pushed URL after the cache is gone) want the whole page."""
    htmx = request.htmx
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def partial_target(request: HtmxHttpRequest) -> str | None:
    """The id of the element a partial request swaps (None: a full request, or one that names none)."""
    return request.htmx.target if is_partial(request) else None


def page_or_partial(request: HtmxHttpRequest, template: str, partial: str) -> str:
    """``template`` for a full request, its ``partial`` (a ``partialdef``) for a partial one."""
    return f"{template}#{partial}" if is_partial(request) else template


# The decorator of every view whose response differs for htmx requests.
vary_on_htmx = vary_on_headers(*HTMX_HEADERS)


def bad_request(
    request: HtmxHttpRequest, template: str, context: dict[str, Any], *, target: str, swap: SwapMethod = "outerHTML"
) -> HttpResponse:
    """A 400 rendered from ``template``; for an htmx request, swapped into ``target`` (a CSS selector; a boosted
    link or a history restore, which asked for the whole page: into the body). It varies on the htmx headers."""
    response = render(request, template, context, status=HTTPStatus.BAD_REQUEST)
    # Where it goes depends on the htmx headers, whatever the view's own answers do.
    patch_vary_headers(response, HTMX_HEADERS)
    if request.htmx:
        partial = is_partial(request)
        retarget(response, target if partial else "body")
        reswap(response, swap if partial else "innerHTML")
    return response


def refuse(request: HtmxHttpRequest, message: str, *, title: str = "This page cannot be shown") -> HttpResponse:
    """The 400 of a page asked for something it does not offer: the whole page saying what was wrong, or for a
    partial request, the message in place of the element it would have swapped (same id)."""
    target = partial_target(request)
    context = {"message": message, "message_title": title, "target": target}
    template = page_or_partial(request, BAD_REQUEST_TEMPLATE, "refusal")
    if target:
        return bad_request(request, template, context, target=f"#{target}")
    return bad_request(request, template, context, target=f"#{MAIN}", swap="innerHTML")


def refuses_bad_query(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Answers a ``BadQuery`` raised while the view reads its parameters with ``refuse``."""

    @wraps(view)
    def wrapper(request: HtmxHttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except BadQuery as error:
            return refuse(request, str(error))

    return wrapper


def htmx_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The decorators of a GET page: its answer differs for htmx (``vary_on_htmx``), and it reads its parameters
    with a form (``refuses_bad_query``, whose refusal varies too)."""
    return require_GET(vary_on_htmx(refuses_bad_query(view)))


def html_join(template: str, rows: Iterable[tuple[object, ...]]) -> SafeString:
    """``format_html_join("", template, rows)`` for lists of hundreds of rows (the team picker's 440 teams, the org
    grid's): each value escaped as ``django.utils.html.escape`` escapes it (the standard library's ``html.escape``,
    without the lazy-text wrapper that costs about as much again), a ``SafeString`` kept as it is."""

    def escaped(value: object) -> str:
        return value if isinstance(value, SafeString) else html.escape(str(value))

    return mark_safe("".join(template.format(*map(escaped, row)) for row in rows))  # noqa: S308 - every value escaped


SELECTED = mark_safe(" selected")  # an attribute, joined as it is


def select_options(options: Iterable[tuple[str, str]], selected: str | None) -> SafeString:
    """A select's ``<option>`` elements from (value, label) pairs, the ``selected`` value's marked, made by
    ``html_join``: an organisation's 440 teams cost a template loop about 15 ms a request."""
    return html_join(
        '<option value="{}"{}>{}</option>',
        ((value, SELECTED if value == selected else "", label) for value, label in options),
    )

"""The request layer (``e360.htmx``): partial or page, ``Vary``, and the one 400 for parameters a page does not
offer."""

from __future__ import annotations

import pytest
from django.http import HttpResponse
from django.test import RequestFactory
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django_htmx.middleware import HtmxMiddleware

from e360 import htmx
from e360.forms import BadQuery


def request(**headers):
    made = RequestFactory().get("/somewhere/", headers=headers)
    HtmxMiddleware(lambda r: HttpResponse())(made)
    return made


PARTIAL = {"HX-Request": "true", "HX-Target": "results"}


@pytest.mark.parametrize(
    ("headers", "partial"),
    [
        ({}, False),
        (PARTIAL, True),
        ({"HX-Request": "true"}, True),
        ({"HX-Request": "true", "HX-Boosted": "true"}, False),
        ({"HX-Request": "true", "HX-History-Restore-Request": "true"}, False),
    ],
)
def test_only_an_htmx_swap_is_partial(headers, partial):
    assert htmx.is_partial(request(**headers)) is partial
    template = htmx.page_or_partial(request(**headers), "page.html", "part")
    assert template == ("page.html#part" if partial else "page.html")


def test_the_target_is_that_of_a_partial_request_only():
    assert htmx.partial_target(request(**PARTIAL)) == "results"
    assert htmx.partial_target(request(**PARTIAL, **{"HX-Boosted": "true"})) is None
    assert htmx.partial_target(request()) is None


def test_vary_names_every_header_that_picks_the_answer():
    view = htmx.vary_on_htmx(lambda r: HttpResponse())
    vary = view(request())["Vary"]
    assert all(header in vary for header in ("HX-Request", "HX-Boosted", "HX-History-Restore-Request", "HX-Target"))


@htmx.refuses_bad_query
def refusing_view(request):
    raise BadQuery("Unknown colour “puce”: choose red or blue.")


def test_a_full_request_gets_the_whole_page_saying_what_was_wrong(db):
    response = refusing_view(request())
    body = response.content.decode()
    assert response.status_code == 400
    assert '<div class="alert alert--error" role="alert">' in body
    assert "Unknown colour “puce”: choose red or blue." in body and "<html" in body
    assert "HX-Retarget" not in response


def test_a_partial_request_gets_the_message_in_place_of_what_it_swaps(db):
    response = refusing_view(request(**PARTIAL))
    body = response.content.decode()
    assert response.status_code == 400
    assert (response["HX-Retarget"], response["HX-Reswap"]) == ("#results", "outerHTML")
    assert body.lstrip().startswith('<div id="results">') and "<html" not in body
    assert "Unknown colour “puce”" in body


def test_a_partial_request_without_a_target_gets_the_message_in_the_main_element(db):
    response = refusing_view(request(**{"HX-Request": "true"}))
    assert (response["HX-Retarget"], response["HX-Reswap"]) == ("#main", "innerHTML")
    assert 'id="' not in response.content.decode()


def test_a_boosted_request_gets_the_whole_page_in_the_body(db):
    response = refusing_view(request(**{"HX-Request": "true", "HX-Boosted": "true"}))
    assert (response["HX-Retarget"], response["HX-Reswap"]) == ("body", "innerHTML")
    assert "<html" in response.content.decode()


def test_a_view_that_reads_its_parameters_is_answered_as_usual():
    view = htmx.refuses_bad_query(lambda r: HttpResponse("fine"))
    assert view(request()).content == b"fine"


def test_a_refusal_varies_on_htmx_whatever_the_view(db):
    vary = refusing_view(request())["Vary"]
    assert all(header in vary for header in htmx.HTMX_HEADERS)


def test_a_page_is_get_only_varies_and_refuses_bad_queries(db):
    @htmx.htmx_page
    def page(request):
        raise BadQuery("Unknown page “x”.")

    assert page(RequestFactory().post("/somewhere/")).status_code == 405
    response = page(request(**PARTIAL))
    assert response.status_code == 400 and response["HX-Retarget"] == "#results"
    assert all(header in response["Vary"] for header in htmx.HTMX_HEADERS)


def test_html_join_escapes_as_format_html_join_does():
    rows = [("a&b", '"quoted" <tag>', "it's"), (format_html("<b>{}</b>", "safe"), 3, None)]
    template = '<li title="{}">{} {}</li>'
    joined = htmx.html_join(template, rows)
    assert joined == format_html_join("", template, rows)
    assert isinstance(joined, SafeString)

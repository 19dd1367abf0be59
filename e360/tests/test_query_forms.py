"""The GET parameter forms every page reads its query string with (``e360.forms``)."""

from __future__ import annotations

import pytest
from django.http import QueryDict

from e360.forms import (
    MAX_FILTER_LENGTH,
    BadQuery,
    CatalogSearchForm,
    FilterField,
    LenientPageField,
    PageField,
    QueryForm,
    TeamForm,
    whole_number,
)


def query(text: str) -> QueryDict:
    return QueryDict(text)


@pytest.mark.parametrize(
    ("value", "number"),
    [("1", 1), ("42", 42), ("007", 7), ("999999999", 999999999), ("9" * 10, None), ("", None), (None, None)],
)
def test_a_whole_number_is_ascii_digits_of_reasonable_length(value, number):
    assert whole_number(value) == number


@pytest.mark.parametrize("value", ["-1", "1.5", "²", "\u0661", "x"])
def test_anything_else_is_no_whole_number(value):
    assert whole_number(value) is None


class PageForm(QueryForm):
    page = PageField()
    lenient = LenientPageField()
    workflow = FilterField("workflow")


def test_a_page_is_the_first_when_absent():
    assert PageForm.parse(query("")) == {"page": 1, "lenient": 1, "workflow": ""}


@pytest.mark.parametrize("value", ["0", "x", "-1", "", "9" * 5000])
def test_a_page_that_is_not_a_page_number_is_refused(value):
    with pytest.raises(BadQuery, match=r"Unknown page “.*”: pages are numbered from 1\."):
        PageForm.parse(query(f"page={value}"))


@pytest.mark.parametrize("value", ["0", "x", "-1", "", "9" * 5000])
def test_a_lenient_page_reads_anything_else_as_the_first(value):
    assert PageForm.parse(query(f"lenient={value}"))["lenient"] == 1


def test_filter_text_is_kept_as_written_within_its_bounds():
    assert PageForm.parse(query("workflow=%20CI%20"))["workflow"] == " CI "
    assert PageForm.parse(query("workflow=" + "w" * MAX_FILTER_LENGTH))["workflow"] == "w" * MAX_FILTER_LENGTH


@pytest.mark.parametrize("value", ["w" * (MAX_FILTER_LENGTH + 1), "c%00i"])
def test_filter_text_too_long_or_with_a_nul_is_refused(value):
    with pytest.raises(BadQuery, match=r"A workflow is at most 200 characters, none of them NUL\."):
        PageForm.parse(query(f"workflow={value}"))


def test_the_first_bad_parameter_is_the_one_reported():
    with pytest.raises(BadQuery, match="Unknown page"):
        PageForm.parse(query("page=x&workflow=c%00i"))


def test_the_catalog_search_reads_its_box_tier_and_page():
    assert CatalogSearchForm.parse(query("q=%20pay%20&tier=1&page=3")) == {"q": "pay", "tier": 1, "page": 3}
    # A tier that is none of them is every tier; a page that is no number, the first.
    assert CatalogSearchForm.parse(query("tier=9&page=last")) == {"q": "", "tier": None, "page": 1}
    with pytest.raises(BadQuery, match="A search is at most"):
        CatalogSearchForm.parse(query("q=a%00b"))


def test_a_team_is_a_slug_as_given_or_none():
    assert TeamForm.parse(query("team=payments")) == {"team": "payments"}
    assert TeamForm.parse(query("")) == {"team": ""}
    with pytest.raises(BadQuery, match="A team is at most"):
        TeamForm.parse(query("team=" + "t" * 201))

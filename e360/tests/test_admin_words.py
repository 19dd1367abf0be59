"""The admin's labels read as English: every registered model's plural (issue 14: "Pushs")."""

from __future__ import annotations

import re

import pytest
from django.contrib import admin
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains


def _plural(noun: str) -> str:
    """English plural of the last word, by the rules the models' names need."""
    head, _, last = noun.rpartition(" ")
    if last in {"series", "people"}:
        plural = last
    elif last == "person":
        plural = "people"
    elif re.search(r"(s|sh|ch|x|z)$", last):
        plural = last + "es"
    elif re.search(r"[^aeiou]y$", last):
        plural = last[:-1] + "ies"
    else:
        plural = last + "s"
    return f"{head} {plural}".strip()


@pytest.mark.parametrize("model", list(admin.site._registry), ids=lambda m: m._meta.label)
def test_every_admin_plural_reads_as_english(model):
    opts = model._meta
    assert opts.verbose_name_plural.lower() == _plural(str(opts.verbose_name).lower())


def test_the_admin_index_says_pushes(admin_client):
    page = admin_client.get(reverse("admin:index"))
    assertContains(page, "Pushes")
    assertNotContains(page, "Pushs")

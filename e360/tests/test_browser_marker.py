"""Which tests are browser tests (e360/tests/browser.py): the ones ``make test-fast`` leaves out."""

from __future__ import annotations

import pytest

from e360.tests import browser


class _Item:
    def __init__(self, *fixturenames: str) -> None:
        self.fixturenames = list(fixturenames)
        self.markers: list[pytest.Mark] = []

    def add_marker(self, marker) -> None:
        self.markers.append(marker.mark)


def test_a_test_that_starts_chromium_is_a_browser_test_even_without_the_marker():
    chromium, plain = _Item("page", "browser", "live_server"), _Item("client", "db")
    browser.pytest_collection_modifyitems([chromium, plain])
    assert [mark.name for mark in chromium.markers] == ["browser"]
    assert plain.markers == []

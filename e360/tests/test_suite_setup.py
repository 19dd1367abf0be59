"""How the suite is handed out to pytest-xdist's workers (the root conftest.py) and which tests are browser tests
(e360/tests/browser.py): ``make test`` runs on every core, ``make test-fast`` leaves Chromium out."""

from __future__ import annotations

import pytest

from e360.tests import browser


@pytest.fixture(scope="module")
def shared() -> object:
    """Stands for a fixture set up once per module: Chromium, a seeded demo."""
    return object()


def test_a_module_scoped_fixture_keeps_the_module_s_tests_on_one_worker(request, shared):
    assert request.node.get_closest_marker("xdist_group").args == (__name__,)


@pytest.mark.django_db(transaction=True)
def test_its_transactional_tests_are_a_group_of_their_own(request, shared):
    # Handed out with the other transactional tests, after every test that needs the migrations' rows.
    assert request.node.get_closest_marker("xdist_group").args == (f"{__name__}:transactional",)


def test_other_tests_are_handed_out_one_by_one(request):
    assert request.node.get_closest_marker("xdist_group") is None


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

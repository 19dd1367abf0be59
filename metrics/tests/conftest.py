"""Fixtures for the metrics tests: an API source with a token, and the browser from e360's tests."""

from __future__ import annotations

import pytest
from django.test import Client

# The real-browser fixtures (Chromium through Playwright, CSP and console problems per page).
from e360.tests.conftest import browser, page, page_problems  # noqa: F401
from metrics.tests.factories import ApiTokenFactory, SourceFactory


@pytest.fixture
def source(service):
    """An API source whose records default to nothing: each record names its service."""
    return SourceFactory(name="ci", team=service.owner)


@pytest.fixture
def token(source):
    return ApiTokenFactory(source=source, name="deploy script")


@pytest.fixture
def api_client(token) -> Client:
    """A test client that sends the token's key as a bearer token."""
    return Client(headers={"Authorization": f"Bearer {token.key}"})

"""Fixtures for the answering pages: a template with every kind of question, and an open campaign of it.

``teammate`` (bob) and ``owner`` (alice) of ``team`` are invited with three more members, so the
campaign reaches k = 3; ``outsider`` (charlie, of ``other_team``) is not.

The results tests' hand-made organisation (``org``) and its closed campaigns (``closed``, ``differencing``,
``two_waves``, ``skipped``) come from surveys/tests/waves.py.
"""

from __future__ import annotations

import pytest

from surveys.models import Campaign, Template
from surveys.tests.factories import EVERY_KIND, make_template, members, open_campaign
from surveys.tests.waves import closed, differencing, org, skipped, two_waves  # noqa: F401


@pytest.fixture
def every_kind(db) -> Template:
    return make_template("every-kind", EVERY_KIND)


@pytest.fixture
def invitees(team, owner, teammate) -> list:
    return [owner, teammate, *members(team, 3, prefix="dev")]


@pytest.fixture
def campaign(every_kind, team, invitees) -> Campaign:
    """Open, every kind of question, inviting ``team``'s five people."""
    return open_campaign([team], template="every-kind", name="Developer pulse")

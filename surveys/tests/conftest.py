"""Fixtures for the answering pages: a template with every kind of question, and an open campaign of it.

``teammate`` (bob) and ``owner`` (alice) of ``team`` are invited with three more members, so the
campaign reaches k = 3; ``outsider`` (charlie, of ``other_team``) is not.
"""

from __future__ import annotations

import pytest

# The browser test's real components: Chromium, the loopback OpenID provider, the allauth app for it.
from e360.tests.conftest import browser, oidc_provider, page, page_problems, sso_app  # noqa: F401
from surveys import services
from surveys.models import Campaign, Kind, Template, TemplateQuestion
from surveys.tests.factories import campaign_for, members

EVERY_KIND = [
    # key, text, kind, required, options
    ("ci_feedback", "Our CI pipeline gives me fast, trustworthy feedback.", Kind.AGREEMENT, True, []),
    ("interruptions", "How often do interruptions pull you away from your main task?", Kind.FREQUENCY, False, []),
    ("enps", "How likely are you to recommend your team as a place to work to a friend?", Kind.ENPS, True, []),
    ("role", "Which best describes your work?", Kind.SINGLE, False, ["Backend", "Frontend", "Platform", "Other"]),
    ("slowed", "What slowed you down this month?", Kind.MULTI, True, ["CI", "Code review", "Local setup", "Deploys"]),
    ("open", "What slows you down the most right now?", Kind.TEXT, False, []),
]


def make_template(slug: str, questions) -> Template:
    template = Template.objects.create(name=slug.replace("-", " ").capitalize(), slug=slug)
    TemplateQuestion.objects.bulk_create(
        [
            TemplateQuestion(
                template=template, position=n, key=key, text=text, kind=kind, required=required, options=options
            )
            for n, (key, text, kind, required, options) in enumerate(questions, start=1)
        ]
    )
    return template


@pytest.fixture
def every_kind(db) -> Template:
    return make_template("every-kind", EVERY_KIND)


@pytest.fixture
def invitees(team, owner, teammate) -> list:
    return [owner, teammate, *members(team, 3, prefix="dev")]


def open_campaign(teams, **fields) -> Campaign:
    campaign = campaign_for(teams, **fields)
    services.campaign_open(campaign_id=campaign.pk)
    campaign.refresh_from_db()
    return campaign


@pytest.fixture
def campaign(every_kind, team, invitees) -> Campaign:
    """Open, every kind of question, inviting ``team``'s five people."""
    return open_campaign([team], template="every-kind", name="Developer pulse")

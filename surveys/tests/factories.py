"""Survey fixtures' building blocks: a team of people, a template with every kind of question, a campaign
of a template (``campaign_for``) and an open one (``open_campaign``)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from e360.models import Membership, Team
from e360.tests.factories import MembershipFactory, PersonFactory, UserFactory
from surveys import services
from surveys.models import Campaign, Kind, Template, TemplateQuestion
from surveys.services import campaign_create

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


def members(team: Team, n: int, prefix: str | None = None) -> list:
    """``n`` people with logins, members of ``team``; returns their users."""
    prefix = prefix or team.slug
    users = []
    for i in range(n):
        user = UserFactory(username=f"{prefix}-{i}", email=f"{prefix}-{i}@example.com")
        person = PersonFactory(name=f"{prefix.title()} {i}", handle=f"{prefix}-{i}", email=user.email, user=user)
        MembershipFactory(person=person, team=team, role=Membership.Role.MEMBER)
        users.append(user)
    return users


def campaign_for(teams: list[Team], *, template: str = "developer-experience", **fields) -> Campaign:
    now = timezone.now()
    defaults = {"opens_at": now - timedelta(hours=1), "closes_at": now + timedelta(days=14), "k": 3}
    return campaign_create(
        template=Template.objects.get(slug=template),
        name=fields.pop("name", "Developer experience Q4"),
        teams=teams,
        **(defaults | fields),
    )


def open_campaign(teams, **fields) -> Campaign:
    campaign = campaign_for(teams, **fields)
    services.campaign_open(campaign_id=campaign.pk)
    campaign.refresh_from_db()
    return campaign

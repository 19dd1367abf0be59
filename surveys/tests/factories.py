"""Survey fixtures' building blocks: a team of people, an open campaign of the shipped template."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from e360.models import Membership, Team
from e360.tests.factories import MembershipFactory, PersonFactory, UserFactory
from surveys.models import Campaign, Template
from surveys.services import campaign_create


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

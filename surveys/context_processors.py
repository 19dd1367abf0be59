"""``open_surveys``: the signed-in person's open surveys still to answer, for the home page's banner.

The value is lazy: it is read from the database only by a template that uses it, so every
other page runs exactly the queries it ran before.
"""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from django.utils import timezone
from django.utils.functional import SimpleLazyObject

from e360.models import User
from surveys.models import Campaign, Invitation


def unanswered_invitations(user: User | None, now: datetime) -> list[Invitation]:
    """The user's invitations to open campaigns, not answered yet, the soonest to close first (one query)."""
    if user is None or not user.is_authenticated:
        return []
    invitations = Invitation.objects.filter(
        person__user=user,
        responded=False,
        campaign__status=Campaign.Status.OPEN,
        campaign__closes_at__gt=now,
    )
    return list(invitations.select_related("campaign").order_by("campaign__closes_at", "campaign_id"))


def open_surveys(request: HttpRequest) -> dict[str, SimpleLazyObject]:
    return {
        "open_surveys": SimpleLazyObject(
            # A request that never went through the auth middleware (an early error page) has no user.
            lambda: unanswered_invitations(getattr(request, "user", None), timezone.now())
        )
    }

"""Who may answer what: a person sees only the campaigns they are invited to, once those are open (or closed).

Anyone else — an outsider, a user not linked to a person, a campaign that is a draft, scheduled or unknown — gets
404 from the views. Who may see a campaign's *results* is ``e360.access.sees_any_team`` (``surveys.results``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from surveys.models import Campaign, Invitation

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from e360.models import Person, User

VISIBLE = [Campaign.Status.OPEN, Campaign.Status.CLOSED]  # drafts and scheduled campaigns are not there yet


def invitations_of(person: Person | None) -> QuerySet[Invitation]:
    """``person``'s invitations to campaigns that are there, with their campaign (none without a person)."""
    if person is None:
        return Invitation.objects.none()
    return Invitation.objects.filter(person=person, campaign__status__in=VISIBLE).select_related("campaign")


def invitation_for_user(user: User, campaign_id: int) -> Invitation | None:
    """``user``'s invitation to the campaign, with it; None when there is none (the view answers 404)."""
    invitations = Invitation.objects.filter(campaign_id=campaign_id, person__user=user, campaign__status__in=VISIBLE)
    return invitations.select_related("campaign").first()

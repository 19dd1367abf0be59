"""Who may answer what (``surveys.access``): a person's own invitations, to campaigns that are open or closed."""

from __future__ import annotations

from surveys import access
from surveys.models import Campaign


def test_an_invitee_gets_their_invitation_with_its_campaign(teammate, campaign, django_assert_num_queries):
    with django_assert_num_queries(1):
        invitation = access.invitation_for_user(teammate, campaign.pk)
        assert invitation.campaign == campaign
    assert invitation.person == teammate.person


def test_anyone_else_gets_none(outsider, staff, teammate, campaign):
    assert access.invitation_for_user(outsider, campaign.pk) is None
    assert access.invitation_for_user(staff, campaign.pk) is None  # no person: no invitation, even for an admin
    assert access.invitation_for_user(teammate, campaign.pk + 1000) is None


def test_a_campaign_that_is_not_there_yet_has_no_invitation_to_show(teammate, campaign):
    for status in (Campaign.Status.DRAFT, Campaign.Status.SCHEDULED):
        Campaign.objects.filter(pk=campaign.pk).update(status=status)
        assert access.invitation_for_user(teammate, campaign.pk) is None
        assert list(access.invitations_of(teammate.person)) == []
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.CLOSED)
    assert access.invitation_for_user(teammate, campaign.pk) is not None


def test_a_person_s_invitations_are_their_own(teammate, outsider, campaign):
    assert [i.campaign for i in access.invitations_of(teammate.person)] == [campaign]
    assert list(access.invitations_of(outsider.person)) == []
    assert list(access.invitations_of(None)) == []

"""django-q2 entry points for surveys: a schedule every minute opens, closes and reminds.

Tasks take campaign ids, never answers. Each is idempotent: a worker killed mid-task
runs it again, and nobody gets an email twice for the same step (each is claimed with a
conditional update before it is sent).
"""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django_q.tasks import async_task

from surveys import services
from surveys.models import Campaign, Invitation

logger = logging.getLogger(__name__)

TICK_SCHEDULE = "surveys.tasks.tick"


def tick(now: datetime | None = None) -> str:
    """Open the campaigns due to open, close those due to close, send the reminders due."""
    now = now or timezone.now()
    opened = closed = 0
    for campaign_id in Campaign.objects.due_to_open(now).values_list("pk", flat=True):
        try:
            opened += bool(services.campaign_open(campaign_id=campaign_id, now=now))
        except services.AudienceError as exc:
            # An admin must fix the audience; the campaign stays scheduled and says why in the log.
            logger.warning("Campaign %s could not open: %s", campaign_id, exc)
    for campaign_id in Campaign.objects.due_to_close(now).values_list("pk", flat=True):
        services.campaign_close(campaign_id=campaign_id, now=now)
        closed += 1
    reminded = sum(
        send_reminders(campaign_id, now) for campaign_id in Campaign.objects.open().values_list("pk", flat=True)
    )
    return f"Opened {opened}, closed {closed} campaigns; sent {reminded} reminders"


def queue_invitation_emails(campaign_id: int) -> None:
    async_task("surveys.tasks.send_invitations", campaign_id)


def send_invitations(campaign_id: int) -> int:
    """Email every invitee of the open campaign not emailed yet; returns how many were sent."""
    sent = 0
    pending = Invitation.objects.filter(campaign_id=campaign_id, emailed_at__isnull=True, campaign__status="open")
    for invitation in pending.select_related("person", "campaign"):
        claimed = Invitation.objects.filter(pk=invitation.pk, emailed_at__isnull=True).update(emailed_at=timezone.now())
        if not claimed:
            continue
        try:
            _email(invitation, reminder=False)
        except OSError:
            Invitation.objects.filter(pk=invitation.pk).update(emailed_at=None)
            logger.exception("Could not email invitation %s; it will be retried", invitation.pk)
            raise
        sent += 1
    return sent


def send_reminders(campaign_id: int, now: datetime | None = None) -> int:
    """Send the latest reminder step due to everyone who has not answered and has not had it."""
    now = now or timezone.now()
    campaign = Campaign.objects.get(pk=campaign_id)
    step = services.reminder_steps_due(campaign, now)
    if not step:
        return 0
    sent = 0
    due = campaign.invitations.filter(responded=False, reminders_sent__lt=step).select_related("person", "campaign")
    for invitation in due:
        previous = invitation.reminders_sent
        if not services.invitation_claim_reminder(invitation_id=invitation.pk, step=step):
            continue
        try:
            _email(invitation, reminder=True)
        except OSError:
            services.invitation_release_reminder(invitation_id=invitation.pk, step=step, previous=previous)
            logger.exception("Could not send reminder %s of invitation %s; it will be retried", step, invitation.pk)
            raise
        sent += 1
    return sent


def _email(invitation: Invitation, *, reminder: bool) -> None:
    campaign = invitation.campaign
    context = {
        "person": invitation.person,
        "campaign": campaign,
        "reminder": reminder,
        "url": settings.SITE_URL + reverse("surveys:answer", args=[campaign.pk]),
        "closes_at": timezone.localtime(campaign.closes_at, timezone=_zone(campaign)),
    }
    subject = ("Reminder: " if reminder else "") + f"{campaign.name} — your answers are anonymous"
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("surveys/email/invitation.txt", context),
        to=[invitation.person.email],
    )
    message.attach_alternative(render_to_string("surveys/email/invitation.html", context), "text/html")
    message.send()


def _zone(campaign: Campaign) -> ZoneInfo:
    return ZoneInfo(campaign.time_zone)

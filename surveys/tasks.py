"""django-q2 entry points for surveys: a schedule every minute opens, closes and reminds.

Tasks take campaign ids (and a reminder step), never answers. Each is idempotent: a worker
killed mid-task runs it again, and nobody gets an email twice for the same step, because
each email is claimed with a conditional update before it is sent. An email that could not
be sent (the mail server refused or was down) is released again, and the next tick retries it.
"""

from __future__ import annotations

import logging
import smtplib
from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.core.mail.backends.base import BaseEmailBackend
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django_q.tasks import async_task

from e360.broker import LONG_TASK
from surveys import published, services
from surveys.models import Campaign, Invitation

logger = logging.getLogger(__name__)


def tick(now: datetime | None = None) -> str:
    """Open the campaigns due to open, close those due to close (emptying their answer pools), move
    the pools large enough of open campaigns (a lost queued move), send the invitations not sent
    yet (a retry after a mail failure) and the reminders due.

    A scheduled campaign that cannot open (its audience is empty or smaller than k) stays
    scheduled and says why in the log, every minute, until an admin fixes it or its closing
    time passes (it is then closed without having opened: see ``services.campaign_close``).
    """
    now = now or timezone.now()
    opened = closed = invited = reminded = 0
    for campaign_id in Campaign.objects.due_to_open(now).values_list("pk", flat=True):
        try:
            opened += bool(services.campaign_open(campaign_id=campaign_id, now=now))
        except services.CampaignError as exc:
            logger.warning("Campaign %s could not open: %s", campaign_id, exc)
    for campaign_id in Campaign.objects.due_to_close(now).values_list("pk", flat=True):
        services.campaign_close(campaign_id=campaign_id, now=now)
        closed += 1
    for campaign_id in Campaign.objects.open().filter(closes_at__gt=now).values_list("pk", flat=True):
        services.pool_move(campaign_id=campaign_id)  # in case a submit's queued move was lost
        try:
            invited += send_invitations(campaign_id)
            reminded += send_reminders(campaign_id, now)
        except OSError as exc:  # the mail server: the next tick retries, and other campaigns go on
            logger.warning("Emails of campaign %s not sent (%s); retried at the next tick", campaign_id, exc)
    return f"Opened {opened}, closed {closed} campaigns; sent {invited} invitations, {reminded} reminders"


def queue_pool_move(campaign_id: int) -> None:
    # save=False: a successful move leaves no task record, whose time would date the submit that queued it.
    async_task("surveys.tasks.move_pool", campaign_id, group="surveys-pool", save=False)


def move_pool(campaign_id: int) -> int:
    """Move the open campaign's pooled answers into responses when its pool is large enough
    (``services.pool_move``); returns how many. Queued after each submit, with the campaign id only."""
    return services.pool_move(campaign_id=campaign_id)


def queue_invitation_emails(campaign_id: int) -> None:
    async_task("surveys.tasks.send_invitations", campaign_id, group="surveys-email", timeout=LONG_TASK)


def queue_reminder_step(campaign_id: int, step: int) -> None:
    async_task("surveys.tasks.send_reminder_step", campaign_id, step, group="surveys-email", timeout=LONG_TASK)


def queue_publish_scores(campaign_id: int) -> None:
    async_task("surveys.tasks.publish_scores", campaign_id, group="surveys-results", timeout=LONG_TASK)


def publish_scores(campaign_id: int) -> int:
    """Compute and store a closed campaign's figures (``surveys.published``), so that its first results page reads
    them instead of computing them; returns how many groups it stored. Stored figures are left as they are."""
    campaign = Campaign.objects.filter(pk=campaign_id, status=Campaign.Status.CLOSED).select_related("version").first()
    if campaign is None:
        return 0
    return len(published.group_scores(campaign))


def send_invitations(campaign_id: int) -> int:
    """Email every invitee of the open campaign not emailed yet; returns how many were sent."""
    pending = Invitation.objects.filter(
        campaign_id=campaign_id, emailed_at__isnull=True, campaign__status=Campaign.Status.OPEN
    ).select_related("person", "campaign")
    if not pending.exists():
        return 0
    sent = 0
    with _mailer() as mailer:  # one connection for the batch; refused here, nothing was claimed
        for invitation in pending:
            claimed = Invitation.objects.filter(pk=invitation.pk, emailed_at__isnull=True).update(
                emailed_at=timezone.now()
            )
            if not claimed:
                continue  # another worker has it
            try:
                mailer.send_messages([_message(invitation, reminder=False)])
            except smtplib.SMTPRecipientsRefused as exc:
                _refused(invitation, exc)
                continue
            except OSError:
                Invitation.objects.filter(pk=invitation.pk).update(emailed_at=None)
                logger.exception("Could not email invitation %s; it will be retried", invitation.pk)
                raise
            sent += 1
    return sent


def send_reminders(campaign_id: int, now: datetime | None = None) -> int:
    """Send the latest reminder step of the plan due by ``now`` (the tick's reminders)."""
    now = now or timezone.now()
    campaign = Campaign.objects.get(pk=campaign_id)
    step = services.reminder_steps_due(campaign, now)
    return send_reminder_step(campaign_id, step) if step else 0


def send_reminder_step(campaign_id: int, step: int) -> int:
    """Send reminder ``step`` (1-based) to everyone of the campaign who has not answered and has
    not had it (nor a later one); returns how many were sent. Nothing once the campaign closed."""
    campaign = Campaign.objects.get(pk=campaign_id)
    if campaign.status != Campaign.Status.OPEN or timezone.now() >= campaign.closes_at:
        return 0
    if not 1 <= step <= len(campaign.reminder_days):
        return 0
    due = campaign.invitations.filter(responded=False, reminders_sent__lt=step).select_related("person", "campaign")
    if not due.exists():
        return 0
    sent = 0
    with _mailer() as mailer:
        for invitation in due:
            previous = invitation.reminders_sent
            if not services.invitation_claim_reminder(invitation_id=invitation.pk, step=step):
                continue  # answered meanwhile, or another worker sent it
            try:
                mailer.send_messages([_message(invitation, reminder=True)])
            except smtplib.SMTPRecipientsRefused as exc:
                _refused(invitation, exc)
                continue
            except OSError:
                services.invitation_release_reminder(invitation_id=invitation.pk, step=step, previous=previous)
                logger.exception("Could not send reminder %s of invitation %s; it will be retried", step, invitation.pk)
                raise
            sent += 1
    logger.info("Sent reminder %s of campaign %s to %d people", step, campaign_id, sent)
    return sent


def _refused(invitation: Invitation, exc: smtplib.SMTPRecipientsRefused) -> None:
    """The server refused this address: record why, keep the email counted (so it is not retried every
    minute), and go on with the others. Any other failure stops the batch for a retry at the next tick."""
    code, reason = next(iter(exc.recipients.values()), (0, b""))
    text = reason.decode(errors="replace") if isinstance(reason, bytes) else str(reason)
    Invitation.objects.filter(pk=invitation.pk).update(email_error=f"refused by the mail server: {code} {text}"[:200])
    logger.warning("The mail server refused the address of invitation %s; not tried again", invitation.pk)


def _mailer() -> BaseEmailBackend:
    return mail.mailers.default


def _message(invitation: Invitation, *, reminder: bool) -> EmailMultiAlternatives:
    campaign = invitation.campaign
    context = {
        "person": invitation.person,
        "campaign": campaign,
        "reminder": reminder,
        # The plain address of the survey: it signs nobody in (the respondent signs in by SSO).
        "url": settings.SITE_URL + reverse("surveys:answer", args=[campaign.pk]),
        "closes_at": campaign.closes_at,
    }
    subject = ("Reminder: " if reminder else "") + f"{campaign.name} — your answers are anonymous"
    # Templates show times in the current time zone: the campaign's, for its dates.
    with timezone.override(ZoneInfo(campaign.time_zone)):
        message = EmailMultiAlternatives(
            subject=subject,
            body=render_to_string("surveys/email/invitation.txt", context),
            to=[invitation.person.email],
        )
        message.attach_alternative(render_to_string("surveys/email/invitation.html", context), "text/html")
    return message

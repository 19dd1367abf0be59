"""Writes that touch several survey models: freezing templates, opening and closing campaigns,
sending invitations and reminders, pooling a response and moving the pool into responses.

Every function is safe to run twice (django-q2 delivers at least once): opening an open
campaign, closing a closed one, sending a reminder step already sent or moving a pool with
nothing to move does nothing.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from e360.models import Membership, Person
from e360.tree import TeamTree
from surveys import anonymity, bank, published
from surveys.models import (
    Answer,
    Campaign,
    Dimension,
    Invitation,
    PooledResponse,
    Question,
    Response,
    Series,
    Template,
    TemplateQuestion,
    TemplateVersion,
)

logger = logging.getLogger(__name__)

NO_TEAM = -1  # people invited without a team are pooled as if they were one, labelled with the organisation


class CampaignError(ValueError):
    """A campaign that cannot do what was asked (open, be scheduled, remind): the message says why."""


class AudienceError(CampaignError):
    """A campaign that cannot open: nobody to invite, or too few people to keep anyone anonymous."""


class AlreadyAnswered(Exception):
    """The invitation has a response already (one per invitation)."""


class NotOpen(Exception):
    """The campaign is not open for answers."""


def template_freeze(*, template: Template) -> TemplateVersion:
    """The template's questions as a version: the latest one when nothing changed since, else a new one."""
    current = [q.frozen() for q in template.questions.order_by("position", "pk")]
    latest = template.versions.order_by("-number").first()
    if latest is not None and [q.frozen() for q in latest.questions.order_by("position", "pk")] == current:
        return latest
    number = (template.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    version = TemplateVersion.objects.create(template=template, number=number)
    Question.objects.bulk_create([Question(version=version, **fields) for fields in current])
    return version


@dataclass(frozen=True)
class Audience:
    """Who a campaign invites, each with their team (None: no team), and the team tree they were chosen on."""

    teams: dict[int, int | None]  # person id → team id
    tree: TeamTree = field(repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.teams)


def campaign_audience(*, campaign: Campaign) -> Audience:
    """The active people the campaign invites, each with their deepest team among those invited (a person a pulse
    names: among all their teams)."""
    return audience_of(
        everyone=campaign.everyone,
        teams=campaign.teams.values_list("id", flat=True),
        people=campaign.people.values_list("id", flat=True),
    )


def audience_of(*, everyone: bool = False, teams: Iterable[int] = (), people: Iterable[int] = ()) -> Audience:
    """The active people of an audience: everyone, or the members of ``teams`` (with their sub-teams) and the
    ``people`` named, each with their deepest team among those invited (a named person: among all their teams)."""
    tree = TeamTree.load()
    named: set[int] = set()
    if everyone:
        invited = Person.objects.filter(is_active=True)
        allowed: set[int] | None = None
    else:
        allowed = tree.subtree(teams)
        invited = Person.objects.filter(is_active=True, memberships__team__in=allowed).distinct()
        named = set(Person.objects.filter(is_active=True, pk__in=list(people)).values_list("id", flat=True))
    chosen: dict[int, int | None] = dict.fromkeys(sorted({*invited.values_list("id", flat=True), *named}))
    memberships = Membership.objects.filter(person__in=chosen.keys()).values_list("person_id", "team_id")
    for person, team in memberships:
        if allowed is not None and team not in allowed and person not in named:
            continue
        current = chosen[person]
        if current is None or (tree.depth(team), -team) > (tree.depth(current), -current):
            chosen[person] = team
    return Audience(chosen, tree)


def campaign_check(*, campaign: Campaign) -> Audience:
    """The audience, or AudienceError saying why the campaign cannot open with it."""
    audience = campaign_audience(campaign=campaign)
    if not audience:
        raise AudienceError("The audience is empty: choose teams with active members, or everyone.")
    if len(audience) < campaign.k:
        raise AudienceError(
            f"The audience has {len(audience)} people, fewer than k = {campaign.k}: no answer could stay anonymous."
        )
    if not campaign.template.questions.exists():
        raise AudienceError(f"The template {campaign.template} has no questions.")
    return audience


def storage_labels(audience: Audience, k: int) -> dict[int | None, int | None]:
    """For each team of the audience, the team its responses are stored under (None: the organisation)."""
    invited: dict[int, int] = {}
    for team in audience.teams.values():
        key = NO_TEAM if team is None else team
        invited[key] = invited.get(key, 0) + 1
    tree = TeamTree.from_parents({**audience.tree.parents, NO_TEAM: None})
    labels = anonymity.storage_labels(invited, tree, k)
    return {
        (None if team == NO_TEAM else team): (None if label == NO_TEAM else label) for team, label in labels.items()
    }


@transaction.atomic
def campaign_open(*, campaign_id: int, now: datetime | None = None) -> int:
    """Open the campaign: freeze its questions, snapshot its audience as invitations; returns how many.

    Does nothing (returns 0) unless the campaign is a draft or scheduled. Invitation emails
    go out after the commit.
    """
    now = now or timezone.now()
    campaign = Campaign.objects.select_for_update().select_related("template").get(pk=campaign_id)
    if campaign.status not in (Campaign.Status.DRAFT, Campaign.Status.SCHEDULED):
        return 0
    if campaign.closes_at <= now:
        raise CampaignError(f"{campaign} was due to close already: move its closing time later first.")
    audience = campaign_check(campaign=campaign)
    labels = storage_labels(audience, campaign.k)
    campaign.version = template_freeze(template=campaign.template)
    campaign.status = Campaign.Status.OPEN
    campaign.opened_at = now
    if campaign.opens_at > now:
        campaign.opens_at = now  # opened early, by hand
    campaign.save(update_fields=["version", "status", "opened_at", "opens_at"])
    Invitation.objects.bulk_create(
        [
            Invitation(campaign=campaign, person_id=person, team_id=team, label_id=labels[team])
            for person, team in sorted(audience.teams.items())
        ],
        batch_size=1000,
    )
    from surveys import tasks  # tasks import services

    transaction.on_commit(lambda: tasks.queue_invitation_emails(campaign.pk))
    logger.info("Opened campaign %s with %d invitations", campaign.pk, len(audience))
    return len(audience)


@transaction.atomic
def campaign_schedule(*, campaign_id: int, now: datetime | None = None) -> Campaign:
    """Schedule a draft: ``tasks.tick`` opens it at ``opens_at`` (at the next minute if that has passed).

    Raises ``CampaignError`` (or ``AudienceError``) and changes nothing when it could not open:
    not a draft, its closing time has passed, an audience too small or a template without questions.
    """
    now = now or timezone.now()
    campaign = Campaign.objects.select_for_update().select_related("template").get(pk=campaign_id)
    if campaign.status != Campaign.Status.DRAFT:
        raise CampaignError(f"{campaign} is {campaign.get_status_display().lower()}: only a draft can be scheduled.")
    if campaign.closes_at <= now:
        raise CampaignError(f"{campaign} was due to close already: move its closing time later first.")
    campaign_check(campaign=campaign)
    campaign.status = Campaign.Status.SCHEDULED
    campaign.save(update_fields=["status"])
    logger.info("Scheduled campaign %s", campaign.pk)
    return campaign


@transaction.atomic
def campaign_unschedule(*, campaign_id: int) -> Campaign:
    """Back to draft: a scheduled campaign that should not open (yet)."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign_id)
    if campaign.status != Campaign.Status.SCHEDULED:
        raise CampaignError(f"{campaign} is {campaign.get_status_display().lower()}, not scheduled.")
    campaign.status = Campaign.Status.DRAFT
    campaign.save(update_fields=["status"])
    return campaign


@transaction.atomic
def campaign_close(*, campaign_id: int, now: datetime | None = None) -> Campaign | None:
    """Close the campaign (scores are published from now on) and schedule the next wave of a
    recurring series; returns that wave. Closing a closed campaign does nothing.

    A scheduled campaign that reaches its closing time without having opened (its audience
    stayed too small) is closed too, with no invitations: its moment has passed, and a
    recurring series goes on with its next wave, planned from when this one should have opened.
    """
    now = now or timezone.now()
    campaign = Campaign.objects.select_for_update().get(pk=campaign_id)
    if campaign.status == Campaign.Status.CLOSED:
        return None
    if campaign.opened_at is None:
        logger.warning("Campaign %s closed without having opened: nobody was invited", campaign.pk)
    campaign.status = Campaign.Status.CLOSED
    campaign.closed_at = now
    if campaign.closes_at > now:
        campaign.closes_at = now  # closed early, by hand
    campaign.save(update_fields=["status", "closed_at", "closes_at"])
    # Before publishing, and in this transaction (it touches no invitation): the pool's answers become responses.
    # Submits hold the campaign row lock this one waits for, so none arrives in the pool after.
    pool_move(campaign_id=campaign.pk, closing=True)
    published.freeze(campaign)  # its results are published on the team tree as it is now, whatever moves later
    from surveys import tasks  # tasks import services

    transaction.on_commit(lambda: tasks.queue_publish_scores(campaign.pk))
    logger.info("Closed campaign %s", campaign.pk)
    return _next_wave(campaign)


RECURRENCE_MONTHS: dict[str, int] = {
    Campaign.Recurrence.MONTHLY: 1,
    Campaign.Recurrence.QUARTERLY: 3,
    Campaign.Recurrence.HALF_YEARLY: 6,
}


def _next_wave(campaign: Campaign) -> Campaign | None:
    months = RECURRENCE_MONTHS.get(campaign.recurrence)
    if months is None:
        return None
    if Campaign.objects.filter(series=campaign.series, wave=campaign.wave + 1).exists():
        return None
    zone = ZoneInfo(campaign.time_zone)
    started = campaign.opened_at or campaign.opens_at  # a wave that never opened: as planned
    opens = add_months(started.astimezone(zone), months)
    length = campaign.closes_at - started
    nxt = Campaign.objects.create(
        series=campaign.series,
        wave=campaign.wave + 1,
        name=_wave_name(campaign.series.name, campaign.wave + 1),
        template=campaign.template,
        everyone=campaign.everyone,
        opens_at=opens,
        closes_at=opens + max(length, timedelta(days=1)),
        time_zone=campaign.time_zone,
        recurrence=campaign.recurrence,
        reminder_days=campaign.reminder_days,
        k=campaign.k,
        text_threshold=campaign.text_threshold,
        status=Campaign.Status.SCHEDULED,
    )
    nxt.teams.set(campaign.teams.all())
    return nxt


def add_months(moment: datetime, months: int) -> datetime:
    month = moment.month - 1 + months
    year, month = moment.year + month // 12, month % 12 + 1
    for day in (moment.day, 30, 29, 28):  # the 31st of a shorter month: its last day
        try:
            return moment.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def _wave_name(series: str, wave: int) -> str:
    return f"{series} — wave {wave}"


def campaign_create(*, template: Template, name: str, **fields: Any) -> Campaign:
    """A campaign in a new series of its own (recurring ones add their next waves to it)."""
    teams = fields.pop("teams", ())
    with transaction.atomic():
        series = Series.objects.create(name=name)
        campaign = Campaign(series=series, wave=1, name=name, template=template, **fields)
        campaign.full_clean()
        campaign.save()
        campaign.teams.set(teams)
    return campaign


def reminder_steps_due(campaign: Campaign, now: datetime) -> int:
    """How many of the campaign's reminder steps are due by ``now`` (never after closing)."""
    if campaign.status != Campaign.Status.OPEN or campaign.opened_at is None or now >= campaign.closes_at:
        return 0
    return sum(1 for day in sorted(campaign.reminder_days) if campaign.opened_at + timedelta(days=day) <= now)


def reminder_step_next(campaign: Campaign, now: datetime) -> int:
    """The reminder step "send reminders now" sends: the next of the plan, at once.

    That is the step after the latest one anybody got, or the latest one due if no worker
    sent it yet (who missed a step gets only the latest). Raises ``CampaignError`` when the
    campaign is not open, its closing time has passed or every step of its plan was sent.
    """
    if campaign.status != Campaign.Status.OPEN or now >= campaign.closes_at:
        raise CampaignError(f"{campaign} is not open: reminders are sent only while a campaign is open.")
    planned = len(campaign.reminder_days)
    if not planned:
        raise CampaignError(f"{campaign} has no reminder plan: add reminder days (e.g. 2, 5) to send reminders.")
    sent = campaign.invitations.aggregate(n=Max("reminders_sent"))["n"] or 0
    step = max(sent + 1, reminder_steps_due(campaign, now))
    if step > planned:
        raise CampaignError(
            f"{campaign}: all {planned} reminders of its plan were sent; add a reminder day to send another."
        )
    return step


def invitation_claim_reminder(*, invitation_id: int, step: int) -> bool:
    """Mark reminder ``step`` (1-based) as sent to the invitation, once: True for the one caller
    that should send it; False when it (or a later step) was sent already, or the person has
    answered. A person who missed a step (no worker ran) gets only the latest one due."""
    # Conditions on the invitation's own row only (the campaign's through ``IN``, not a join): an
    # UPDATE with a join becomes ``WHERE id IN (SELECT ... WHERE reminders_sent < step)``, whose
    # subquery PostgreSQL does not re-check after waiting for a concurrent claim, so both would win.
    open_campaigns = Campaign.objects.filter(status=Campaign.Status.OPEN).values("pk")
    claimed = Invitation.objects.filter(
        pk=invitation_id, responded=False, reminders_sent__lt=step, campaign__in=open_campaigns
    ).update(reminders_sent=step)
    return claimed == 1


def invitation_release_reminder(*, invitation_id: int, step: int, previous: int) -> None:
    """Undo a claim whose email could not be sent, so that a retry sends it."""
    Invitation.objects.filter(pk=invitation_id, reminders_sent=step).update(reminders_sent=previous)


@dataclass(frozen=True)
class AnswerValue:
    """One cleaned answer: a number (1–5 or 0–10), chosen options, or text."""

    number: int | None = None
    choices: tuple[str, ...] | None = None
    text: str = ""


def pool_entry(*, campaign_id: int, label_id: int | None, answers: Mapping[int, AnswerValue]) -> PooledResponse:
    """The pool row (unsaved) holding one respondent's answers: question ids to cleaned values."""
    return PooledResponse(
        campaign_id=campaign_id,
        label_id=label_id,
        answers=[
            {
                "question": question,
                "number": value.number,
                "choices": list(value.choices) if value.choices is not None else None,
                "text": value.text,
            }
            for question, value in sorted(answers.items())
        ],
    )


def response_submit(
    *, invitation: Invitation, answers: Mapping[int, AnswerValue], today: date | None = None
) -> PooledResponse:
    """Mark the invitation answered and put the answers in the campaign's pool, in one transaction.

    The campaign row is locked first (submits and moves of the campaign take turns on it for a few milliseconds;
    closing waits for it), so a submit either lands in the pool before the campaign closes or is refused
    (``NotOpen``): closing empties the pool, and nothing arrives after. The invitation is then claimed with a
    conditional update: of two submits racing, one claims it and pools its answers, the other finds it answered
    (``AlreadyAnswered``) and stores nothing.
    ``answers`` maps question ids to cleaned values (``surveys.forms``); skipped questions are absent.

    The pooled row shares this transaction's id with the invitation, so it says whose answers it holds until
    ``pool_move`` turns it into a response, in a later transaction that touches no invitation (docs/surveys.md, rule 1,
    rule 1). The move is queued after the commit, with the campaign id only.
    """
    campaign = invitation.campaign
    zone = ZoneInfo(campaign.time_zone)
    with transaction.atomic():
        now = timezone.now()
        # FOR NO KEY UPDATE: submits of a campaign take turns for a few milliseconds; closing (FOR UPDATE) waits.
        current = (
            Campaign.objects.select_for_update(no_key=True)
            .filter(pk=campaign.pk, status=Campaign.Status.OPEN, closes_at__gt=now)
            .order_by()
            .values_list("pk", flat=True)
        )
        if not current:
            raise NotOpen(campaign.pk)
        claimed = Invitation.objects.filter(pk=invitation.pk, responded=False).update(
            responded=True, responded_on=today or now.astimezone(zone).date()
        )
        if not claimed:
            raise AlreadyAnswered(invitation.pk)
        pooled = pool_entry(campaign_id=campaign.pk, label_id=invitation.label_id, answers=answers)
        pooled.save(force_insert=True)
        from surveys import tasks  # tasks import services

        # robust: the answers are stored whatever the queue says; the next tick moves them if the queue failed.
        transaction.on_commit(lambda: tasks.queue_pool_move(campaign.pk), robust=True)
    return pooled


def pool_move(*, campaign_id: int, closing: bool = False) -> int:
    """Move pooled answers of the campaign into responses and answers, in a shuffled order; returns how many.

    Which entries move is ``anonymity.pool_selection``: while the campaign is open, a storage label's pool moves
    only once it holds at least 2k entries, and then all but k of them at random; at closing (``closing``, from
    ``campaign_close``) everything moves. The transaction touches no invitation, and the responses get new random
    keys (never the pooled row's), so nothing ties them to the submits that pooled them but the pool's make-up,
    which holds at least k candidates for each.

    It holds the campaign row lock that submits take: two moves take turns, and closing waits for a move. A
    move finding nothing to do (the pool is too small, the campaign closed and emptied) does nothing, so running it
    twice is harmless.
    """
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update(no_key=True).filter(pk=campaign_id).first()
        if campaign is None or (campaign.status != Campaign.Status.OPEN and not closing):
            return 0
        by_label: dict[int | None, list[tuple[uuid.UUID, int | None]]] = defaultdict(list)
        label: int | None
        for pk, label in PooledResponse.objects.filter(campaign_id=campaign_id).values_list("pk", "label_id"):
            by_label[label].append((pk, label))
        chosen = anonymity.pool_selection(by_label, campaign.k, secrets.SystemRandom(), closing=closing)
        if not chosen:
            return 0
        answers = dict(PooledResponse.objects.filter(pk__in=[pk for pk, _ in chosen]).values_list("pk", "answers"))
        responses: list[Response] = []
        rows: list[Answer] = []
        for pk, label in chosen:  # shuffled: inserted in an order unrelated to arrival
            response = Response(campaign_id=campaign_id, label_id=label)
            responses.append(response)
            rows += [
                Answer(
                    response=response,
                    question_id=answer["question"],
                    number=answer["number"],
                    choices=answer["choices"],
                    text=answer["text"],
                )
                for answer in answers[pk]
            ]
        Response.objects.bulk_create(responses, batch_size=1000)
        Answer.objects.bulk_create(rows, batch_size=2000)
        PooledResponse.objects.filter(pk__in=list(answers)).delete()
    logger.info("Moved %d pooled responses of campaign %s", len(responses), campaign_id)
    return len(responses)


def templates_load_bank(using: str = DEFAULT_DB_ALIAS) -> tuple[int, int]:
    """Create the shipped templates (``surveys.bank``) that do not exist yet; returns (created, kept).

    A template already present is left as it is, so re-running never undoes an admin's edits. Every
    ``migrate`` runs it (``surveys.apps``).
    """
    created = kept = 0
    with transaction.atomic(using=using):
        for shipped in bank.TEMPLATES:
            _, new = _template_from_bank(shipped, using)
            created += new
            kept += not new
    return created, kept


def _template_from_bank(shipped: bank.BankTemplate, using: str = DEFAULT_DB_ALIAS) -> tuple[Template, bool]:
    """The shipped template's row, created with its questions if it does not exist (one an admin edited is kept)."""
    template, new = Template.objects.using(using).get_or_create(
        slug=shipped.slug, defaults={"name": shipped.name, "description": shipped.description}
    )
    if new:
        TemplateQuestion.objects.using(using).bulk_create(
            [
                TemplateQuestion(
                    template=template,
                    position=position,
                    key=q.key,
                    text=q.text,
                    kind=q.kind,
                    dimension=q.dimension,
                    reverse_coded=q.reverse_coded,
                    required=q.required,
                    options=list(q.options),
                )
                for position, q in enumerate(shipped.questions, start=1)
            ]
        )
    return template, new


# --- Pulses -------------------------------------------------------------------------------------------------------

PULSE_DAYS_OPEN = 7


def pulse_template(*, dimension: str) -> Template:
    """The pulse template of one dimension: the Developer experience questions on it (``bank.dimension_pulse``),
    created the first time a pulse asks it; an admin's edits to it are kept, as for every shipped template."""
    if dimension not in Dimension.values:
        raise CampaignError(f"{dimension!r} is not a survey dimension.")
    return _template_from_bank(bank.dimension_pulse(dimension, Dimension(dimension).label))[0]


@dataclass(frozen=True)
class Pulse:
    campaign: Campaign
    opened: bool  # False: a campaign of this key existed already (a retry), returned as it is


def pulse_open(
    *,
    key: str,
    name: str,
    reason: str,
    people: Iterable[int] = (),
    teams: Iterable[int] = (),
    template: Template | None = None,
    dimension: str = "",
    days_open: int = PULSE_DAYS_OPEN,
    now: datetime | None = None,
) -> Pulse:
    """Open a short survey now, for ``days_open`` days, to ``people`` and the members of ``teams`` (each with its
    sub-teams; ids), asking ``template`` or the questions of one ``dimension`` (``pulse_template``): a campaign like
    any other — frozen questions, invitations (emailed after the commit), the answer pool, scores published when it
    closes under the same anonymity rules (docs/surveys.md#pulses).

    Once per ``key``: a caller retrying (an automation run executed twice) gets the campaign it opened. An audience
    smaller than the default k is refused (``AudienceError``, as a campaign's opening refuses it) and nothing is
    written: asking people whose answers could never be shown would be a survey in name only.
    """
    now = now or timezone.now()
    if days_open < 1:
        raise CampaignError("A pulse stays open at least one day.")
    people, teams = sorted(set(people)), sorted(set(teams))
    with transaction.atomic():
        existing = Campaign.objects.filter(pulse_key=key).first()
        if existing is not None:
            return Pulse(existing, False)
        if not people and not teams:
            raise AudienceError("The pulse names nobody to invite.")
        if template is None:
            if not dimension:
                raise CampaignError("A pulse asks a template or one dimension's questions: give one.")
            template = pulse_template(dimension=dimension)
        try:
            with transaction.atomic():  # a savepoint: a concurrent caller's pulse of this key wins
                campaign = campaign_create(
                    template=template,
                    name=name[:200],
                    teams=teams,
                    opens_at=now,
                    closes_at=now + timedelta(days=days_open),
                    # One reminder halfway through a pulse of four days or more, to whom has not answered.
                    reminder_days=[days_open // 2] if days_open >= 4 else [],
                    pulse_key=key,
                    pulse_reason=reason[:300],
                )
                campaign.people.set(people)
                campaign_open(campaign_id=campaign.pk, now=now)
        except (IntegrityError, ValidationError):
            existing = Campaign.objects.filter(pulse_key=key).first()
            if existing is None:
                raise
            return Pulse(existing, False)
    campaign.refresh_from_db()
    logger.info("Opened pulse %s (%s)", campaign.pk, key)
    return Pulse(campaign, True)

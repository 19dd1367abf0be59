"""Surveys: templates of questions, campaigns (waves of a series), invitations, anonymous responses.

Anonymity holds by construction (docs/surveys.md, rule 1): a ``Response`` and its ``Answer`` rows
have random keys and no reference to a person, an invitation, a time or an order of arrival.
The ``Invitation`` records only *that* its person answered, and on which day. A response is
labelled with a team chosen when the campaign opens so that at least k invitees share the
label (rule 2): ``Invitation.label`` is copied to the response, never the person's team.
"""

from __future__ import annotations

import uuid
import zoneinfo

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from e360.models import Person, Team
from surveys.anonymity import DEFAULT_K, DEFAULT_TEXT_THRESHOLD, MIN_K, Status

MAX_QUESTIONS = 30
MAX_TEXT_LENGTH = 2000
MAX_REMINDERS = 3


class Dimension(models.TextChoices):
    CI_CD = "ci_cd", "CI/CD"
    CODE_REVIEW = "code_review", "Code review"
    RELEASE = "release", "Release"
    STABILITY = "stability", "Stability"
    COGNITIVE_LOAD = "cognitive_load", "Cognitive load"
    FOCUS = "focus", "Focus"
    TOOLING = "tooling", "Tooling"
    CLARITY = "clarity", "Clarity"
    SATISFACTION = "satisfaction", "Satisfaction"


class Kind(models.TextChoices):
    AGREEMENT = "agreement", "Agreement, 1–5"
    FREQUENCY = "frequency", "Frequency, 1–5"
    ENPS = "enps", "eNPS, 0–10"
    SINGLE = "single", "Single choice"
    MULTI = "multi", "Multiple choice"
    TEXT = "text", "Free text"


LIKERT_KINDS = (Kind.AGREEMENT, Kind.FREQUENCY)
CHOICE_KINDS = (Kind.SINGLE, Kind.MULTI)


class QuestionFields(models.Model):
    """What a question is: shared by a template's editable questions and a version's frozen ones."""

    position = models.PositiveSmallIntegerField(default=0)
    key = models.SlugField(
        max_length=60, help_text="Stable handle of the question, the same across versions and waves (compared on it)."
    )
    text = models.CharField(max_length=300)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.AGREEMENT)
    dimension = models.CharField(
        max_length=20, choices=Dimension.choices, blank=True, help_text="Empty for questions outside the dimensions."
    )
    reverse_coded = models.BooleanField(default=False, help_text="Agreeing is bad: scored as 6 − answer.")
    required = models.BooleanField(default=False)
    options = models.JSONField(
        default=list, blank=True, help_text="The choices of a single or multiple choice question."
    )

    class Meta:
        abstract = True
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return self.text

    def clean(self) -> None:
        if self.reverse_coded and self.kind not in LIKERT_KINDS:
            raise ValidationError({"reverse_coded": "Only a 1–5 question can be reverse-coded."})
        options = self.options or []
        if self.kind in CHOICE_KINDS:
            if not isinstance(options, list) or len(options) < 2 or not all(isinstance(o, str) and o for o in options):
                raise ValidationError({"options": "A choice question needs at least two options (a list of texts)."})
            if len(set(options)) != len(options):
                raise ValidationError({"options": "Options must differ from each other."})
        elif options:
            raise ValidationError({"options": "Only a choice question has options."})

    def frozen(self) -> dict:
        """The fields that make the question what it is, to compare and copy."""
        return {name: getattr(self, name) for name in FROZEN_FIELDS}


FROZEN_FIELDS = ("position", "key", "text", "kind", "dimension", "reverse_coded", "required", "options")


class Template(models.Model):
    """A questionnaire. Its questions are edited freely; a campaign freezes them as a version when it opens."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    created = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TemplateQuestion(QuestionFields):
    template = models.ForeignKey(Template, models.CASCADE, related_name="questions")

    class Meta(QuestionFields.Meta):
        constraints = [models.UniqueConstraint(fields=["template", "key"], name="template_question_unique_key")]


class TemplateVersion(models.Model):
    """A template's questions as a campaign used them: never edited once written."""

    template = models.ForeignKey(Template, models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    created = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["template", "-number"]
        constraints = [models.UniqueConstraint(fields=["template", "number"], name="template_version_unique")]

    def __str__(self) -> str:
        return f"{self.template} v{self.number}"


class Question(QuestionFields):
    """A question of a template version: what answers refer to."""

    version = models.ForeignKey(TemplateVersion, models.CASCADE, related_name="questions")

    class Meta(QuestionFields.Meta):
        constraints = [models.UniqueConstraint(fields=["version", "key"], name="question_unique_key")]


class Series(models.Model):
    """Campaigns that repeat: each is a wave, compared with the wave before it."""

    name = models.CharField(max_length=200)
    created = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "series"

    def __str__(self) -> str:
        return self.name


class CampaignQuerySet(models.QuerySet["Campaign"]):
    def open(self) -> CampaignQuerySet:
        return self.filter(status=Campaign.Status.OPEN)

    def due_to_open(self, now) -> CampaignQuerySet:
        return self.filter(status=Campaign.Status.SCHEDULED, opens_at__lte=now, closes_at__gt=now)

    def due_to_close(self, now) -> CampaignQuerySet:
        return self.filter(Q(status=Campaign.Status.OPEN) | Q(status=Campaign.Status.SCHEDULED), closes_at__lte=now)

    def with_participation(self) -> CampaignQuerySet:
        """Annotated with ``invited`` and ``responded``: counts of the whole campaign, shown while it is open."""
        return self.annotate(
            invited=models.Count("invitations"),
            responded=models.Count("invitations", filter=Q(invitations__responded=True)),
        )


class Campaign(models.Model):
    """One wave of a survey: a template version put to an audience between two moments."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SCHEDULED = "scheduled", "Scheduled"
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    class Recurrence(models.TextChoices):
        NONE = "none", "Once"
        MONTHLY = "monthly", "Monthly"
        QUARTERLY = "quarterly", "Quarterly"
        HALF_YEARLY = "half_yearly", "Every six months"

    series = models.ForeignKey(Series, models.PROTECT, related_name="campaigns")
    wave = models.PositiveIntegerField(default=1)
    name = models.CharField(max_length=200)
    template = models.ForeignKey(Template, models.PROTECT, related_name="campaigns")
    version = models.ForeignKey(
        TemplateVersion, models.PROTECT, null=True, blank=True, related_name="campaigns", editable=False
    )
    everyone = models.BooleanField(default=False, help_text="Invite every active person, whatever their team.")
    teams = models.ManyToManyField(
        Team, blank=True, related_name="survey_campaigns", help_text="Invite their members and their sub-teams'."
    )
    # A pulse's audience may name people (``services.pulse_open``: an onboarding cohort); the admin's campaigns
    # invite teams or everyone.
    people = models.ManyToManyField(
        Person, blank=True, editable=False, related_name="pulse_campaigns", help_text="Invite these people too."
    )
    opens_at = models.DateTimeField()
    closes_at = models.DateTimeField()
    time_zone = models.CharField(max_length=64, default="UTC", help_text="For dates in emails and reminders.")
    recurrence = models.CharField(max_length=12, choices=Recurrence.choices, default=Recurrence.NONE)
    reminder_days = models.JSONField(
        default=list,
        blank=True,
        help_text="Days after opening to remind who has not answered, e.g. [2, 5]; at most 3.",
    )
    k = models.PositiveSmallIntegerField(
        "anonymity threshold (k)",
        default=DEFAULT_K,
        validators=[MinValueValidator(MIN_K)],
        help_text="No figure is shown for fewer responses; never below 3.",
    )
    text_threshold = models.PositiveSmallIntegerField(
        default=DEFAULT_TEXT_THRESHOLD,
        validators=[MinValueValidator(MIN_K), MaxValueValidator(1000)],
        help_text="Free text is shown only for groups with at least this many responses.",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT, editable=False)
    opened_at = models.DateTimeField(null=True, blank=True, editable=False)
    closed_at = models.DateTimeField(null=True, blank=True, editable=False)
    frozen_tree = models.JSONField(
        null=True,
        blank=True,
        editable=False,
        help_text="The team tree its results are published on, stored when it closed (``surveys.published``).",
    )
    pulse_key = models.CharField(
        max_length=200,
        null=True,
        blank=True,
        unique=True,
        editable=False,
        help_text="A pulse's idempotency key, given by what opened it (an automation run): one campaign per key.",
    )
    pulse_reason = models.CharField(max_length=300, blank=True, editable=False, help_text="Why a pulse was opened.")
    created = models.DateTimeField(default=timezone.now, editable=False)

    objects = CampaignQuerySet.as_manager()

    class Meta:
        ordering = ["-opens_at"]
        constraints = [
            models.UniqueConstraint(fields=["series", "wave"], name="campaign_unique_wave"),
            models.CheckConstraint(
                condition=Q(closes_at__gt=models.F("opens_at")), name="campaign_closes_after_opening"
            ),
            models.CheckConstraint(condition=Q(k__gte=MIN_K), name="campaign_k_at_least_3"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("surveys:answer", args=[self.pk])

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.opens_at and self.closes_at and self.closes_at <= self.opens_at:
            errors["closes_at"] = "A campaign must close after it opens."
        if self.k is not None and self.k < MIN_K:
            errors["k"] = f"k must be at least {MIN_K}: smaller groups would identify people."
        if self.text_threshold is not None and self.k is not None and self.text_threshold < self.k:
            errors["text_threshold"] = "The text threshold cannot be below k."
        try:
            zoneinfo.ZoneInfo(self.time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            errors["time_zone"] = f"Unknown time zone {self.time_zone!r}; use a name such as Europe/Paris."
        days = self.reminder_days
        if not isinstance(days, list) or not all(isinstance(day, int) and day > 0 for day in days):
            errors["reminder_days"] = "Give reminder days as a list of whole days after opening, e.g. [2, 5]."
        elif len(days) > MAX_REMINDERS:
            errors["reminder_days"] = f"At most {MAX_REMINDERS} reminders."
        elif len(set(days)) != len(days):
            errors["reminder_days"] = "Each reminder day once."
        if errors:
            raise ValidationError(errors)

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN

    @property
    def is_closed(self) -> bool:
        return self.status == self.Status.CLOSED


class Invitation(models.Model):
    """A person invited to a campaign, with their team when it opened: records *that* they answered, never what."""

    campaign = models.ForeignKey(Campaign, models.CASCADE, related_name="invitations")
    person = models.ForeignKey(Person, models.CASCADE, related_name="survey_invitations")
    team = models.ForeignKey(Team, models.SET_NULL, null=True, blank=True, related_name="+")
    # Kept when the team is deleted (no database constraint): a closed campaign's figures are decided on the team
    # tree frozen at its close, where the team still is, and its labels must still say where each answer belongs.
    label = models.ForeignKey(
        Team,
        models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
        help_text="The team the response is stored under (at least k invitees share it); empty: the organisation.",
    )
    responded = models.BooleanField(default=False)
    responded_on = models.DateField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    reminders_sent = models.PositiveSmallIntegerField(default=0)
    email_error = models.CharField(
        max_length=200,
        blank=True,
        help_text="Why the mail server refused this person's address; that email is not tried again.",
    )

    class Meta:
        ordering = ["campaign", "person__name"]
        constraints = [models.UniqueConstraint(fields=["campaign", "person"], name="invitation_unique_person")]

    def __str__(self) -> str:
        return f"{self.person} to {self.campaign}"


class Response(models.Model):
    """An anonymous set of answers: a random key, the campaign, the storage label. Nothing else, by design."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    campaign = models.ForeignKey(Campaign, models.CASCADE, related_name="responses")
    # Kept when the team is deleted, as ``Invitation.label`` is.
    label = models.ForeignKey(Team, models.DO_NOTHING, db_constraint=False, null=True, blank=True, related_name="+")

    class Meta:
        # Random keys: no order of arrival. Pages never list single responses.
        ordering = []

    def __str__(self) -> str:
        return f"A response to {self.campaign}"


class Answer(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    response = models.ForeignKey(Response, models.CASCADE, related_name="answers")
    question = models.ForeignKey(Question, models.PROTECT, related_name="answers")
    number = models.SmallIntegerField(null=True, blank=True, help_text="1–5, or 0–10 for eNPS.")
    choices = models.JSONField(null=True, blank=True, help_text="The options chosen.")
    text = models.TextField(blank=True, max_length=MAX_TEXT_LENGTH)

    class Meta:
        ordering = []
        constraints = [models.UniqueConstraint(fields=["response", "question"], name="answer_unique_question")]

    def __str__(self) -> str:
        return f"An answer to {self.question}"


class PooledResponse(models.Model):
    """Submitted answers waiting in the campaign's pool to become a ``Response`` (docs/surveys.md, rule 1).

    Submitting claims the invitation and writes this row in one transaction, so the two share the transaction id
    (``xmin`` in PostgreSQL): the pool is the window that remains. ``services.pool_move`` moves pooled answers into
    responses in shuffled batches, in transactions that touch no invitation, and deletes them here. Like a response,
    the row holds a random key, the campaign and the storage label, and nothing else: no person, invitation, time
    or sequence. ``answers`` lists ``{"question", "number", "choices", "text"}`` per answered question.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    campaign = models.ForeignKey(Campaign, models.CASCADE, related_name="pooled")
    # Kept when the team is deleted, as ``Invitation.label`` and ``Response.label`` are.
    label = models.ForeignKey(Team, models.DO_NOTHING, db_constraint=False, null=True, blank=True, related_name="+")
    answers = models.JSONField(default=list)

    class Meta:
        ordering = []

    def __str__(self) -> str:
        return f"Answers to {self.campaign} waiting in its pool"


class GroupScore(models.Model):
    """A closed campaign's figures for one group — a team, or the organisation when ``team`` is empty — as the
    anonymity rules let them out, decided on one ``basis``: the campaign's frozen team tree, k and the text threshold.

    A closed campaign takes no more answers, so its figures are computed once (``surveys.published``) and read by
    the results pages, the CSV, the API and the insights. Only a shown group carries numbers: a hidden one carries
    its status alone. They are decided on the tree frozen when the campaign closed, so moving, renaming or deleting a
    team later changes none of them (a deleted team's row stays: no database constraint).
    """

    campaign = models.ForeignKey(Campaign, models.CASCADE, related_name="group_scores")
    basis = models.CharField(max_length=64, help_text="A digest of what the cells were decided on.")
    team = models.ForeignKey(Team, models.DO_NOTHING, db_constraint=False, null=True, blank=True, related_name="+")
    depth = models.PositiveSmallIntegerField(help_text="Levels below the organisation (0: the organisation).")
    status = models.CharField(max_length=10, help_text="shown, too_few, suppressed or no_data (k).")
    text_status = models.CharField(max_length=10, help_text="The same decided with the text threshold.")
    responses = models.PositiveIntegerField(null=True, blank=True)
    # Defaults are the status's value, not the member: migrations then hold the word, not an import of anonymity.
    participation_status = models.CharField(
        max_length=10, default=Status.NO_DATA.value, help_text="The cell of the group's invitee count (k)."
    )
    invited = models.PositiveIntegerField(null=True, blank=True)
    responded = models.PositiveIntegerField(null=True, blank=True)
    dimensions = models.JSONField(
        default=dict,
        blank=True,
        help_text="Dimension → score (% favourable), mean, percentile among teams and peers (teams compared).",
    )
    enps = models.JSONField(
        null=True, blank=True, help_text="score, answered, promoters, passives, detractors, percentile and peers."
    )
    counts = models.JSONField(
        default=dict, blank=True, help_text="Question → {value: answers} or [[options chosen, answers], …]."
    )
    withheld = models.JSONField(
        default=dict,
        blank=True,
        help_text="Question → too_few or suppressed: its answers in this shown group are withheld (not in counts).",
    )
    change_status = models.CharField(
        max_length=10,
        default=Status.NO_DATA.value,
        help_text="Whether its change since the previous wave may be shown: shown, too_few, suppressed or no_data.",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "basis", "team"], name="groupscore_unique_team"),
            models.UniqueConstraint(
                fields=["campaign", "basis"], condition=Q(team__isnull=True), name="groupscore_unique_org"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.campaign}: {f'team {self.team_id}' if self.team_id else 'the organisation'}"

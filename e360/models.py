"""The catalog: teams (a tree), people and their memberships, services."""

from __future__ import annotations

from datetime import time
from fnmatch import fnmatchcase
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone


class User(AbstractUser):
    """A login. The catalog entry for the human behind it is ``Person``."""


def validate_time_zone(value: str) -> None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"{value!r} is not a time zone: use an IANA name such as Europe/Paris.") from None


def default_working_days() -> list[int]:
    return [1, 2, 3, 4, 5]


class Team(models.Model):
    class Kind(models.TextChoices):
        ORGANIZATION = "organization", "Organization"
        GROUP = "group", "Group"
        TEAM = "team", "Team"

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True, help_text="Stable handle, e.g. the Backstage group name.")
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.TEAM)
    parent = models.ForeignKey("self", models.PROTECT, null=True, blank=True, related_name="children")
    description = models.TextField(blank=True)
    email = models.EmailField(blank=True)
    # When the team works: reminders count business hours in them, automations keep quiet outside them.
    time_zone = models.CharField(
        max_length=64, default="UTC", validators=[validate_time_zone], help_text="An IANA time zone, e.g. Europe/Paris."
    )
    working_days = models.JSONField(
        default=default_working_days, help_text="ISO weekdays the team works, 1 (Monday) to 7 (Sunday)."
    )
    work_starts = models.TimeField(default=time(9), help_text="The working day's start, in the team's time zone.")
    work_ends = models.TimeField(default=time(17), help_text="The working day's end, in the team's time zone.")
    created = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]
        permissions = [("view_org", "Can see every team, person and service")]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("catalog:team-detail", args=[self.slug])

    def clean(self) -> None:
        days = self.working_days
        if not isinstance(days, list) or not days or any(type(d) is not int or not 1 <= d <= 7 for d in days):
            raise ValidationError({"working_days": "List the working days as ISO weekdays, e.g. [1, 2, 3, 4, 5]."})
        if self.work_starts >= self.work_ends:
            raise ValidationError({"work_ends": "The working day must end after it starts."})

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


class PersonQuerySet(models.QuerySet["Person"]):
    def search(self, text: str) -> PersonQuerySet:
        if not text:
            return self
        return self.filter(
            Q(name__icontains=text)
            | Q(email__icontains=text)
            | Q(handle__icontains=text)
            | Q(github_login__icontains=text)
            | Q(gitlab_login__icontains=text)
        )


class Person(models.Model):
    """Someone in the organisation, with or without a login yet.

    The GitHub and GitLab logins tie pull-request authors to people later.
    """

    name = models.CharField(max_length=200)
    handle = models.SlugField(max_length=100, unique=True, help_text="Stable handle, e.g. the Backstage user name.")
    email = models.EmailField(unique=True)
    title = models.CharField(max_length=200, blank=True)
    github_login = models.CharField("GitHub login", max_length=100, blank=True, db_index=True)
    gitlab_login = models.CharField("GitLab login", max_length=100, blank=True, db_index=True)
    user = models.OneToOneField(User, models.SET_NULL, null=True, blank=True, related_name="person")
    is_active = models.BooleanField(default=True)
    joined_on = models.DateField(
        null=True,
        blank=True,
        help_text="When they joined the organisation (the catalog's joined_on, when it says): onboarding pulses "
        "count from it. Empty: unknown, and never asked as a newcomer.",
    )
    teams = models.ManyToManyField(Team, through="Membership", related_name="people")

    objects = PersonQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "people"
        indexes = [models.Index(fields=["name"])]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("catalog:person-detail", args=[self.handle])


class Membership(models.Model):
    class Role(models.TextChoices):
        MEMBER = "member", "Member"
        LEAD = "lead", "Lead"

    person = models.ForeignKey(Person, models.CASCADE, related_name="memberships")
    team = models.ForeignKey(Team, models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["person", "team"], name="membership_unique_person_team")]
        ordering = ["team__name", "person__name"]

    def __str__(self) -> str:
        return f"{self.person} in {self.team} ({self.get_role_display()})"


class Service(models.Model):
    class Tier(models.IntegerChoices):
        CRITICAL = 1, "Tier 1 — critical"
        IMPORTANT = 2, "Tier 2 — important"
        STANDARD = 3, "Tier 3 — standard"
        EXPERIMENTAL = 4, "Tier 4 — experimental"

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True, help_text="Stable handle, e.g. the Backstage component name.")
    owner = models.ForeignKey(Team, models.PROTECT, related_name="services")
    description = models.TextField(blank=True)
    tier = models.PositiveSmallIntegerField(choices=Tier.choices, default=Tier.STANDARD)
    lifecycle = models.CharField(max_length=40, blank=True, help_text="e.g. production, experimental, deprecated")
    repositories = models.JSONField(
        default=list, blank=True, help_text="Repositories as host/owner/name or owner/name, one per line."
    )
    production_environments = models.JSONField(
        default=list,
        blank=True,
        help_text="Environment names or glob patterns (fnmatch) that count as production, one per line.",
    )
    created = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("catalog:service-detail", args=[self.slug])

    def is_production(self, environment: str) -> bool:
        patterns = self.production_environments or DEFAULT_PRODUCTION_PATTERNS
        return any(fnmatchcase(environment.lower(), pattern.lower()) for pattern in patterns)


# docs/metrics.md#production-deployment: production, prod, prd (case-insensitive; DevLake sends PRODUCTION).
DEFAULT_PRODUCTION_PATTERNS = ["production", "prod", "prd"]


class WorkerHeartbeat(models.Model):
    """One row per worker cluster, touched by a scheduled task; read by /healthz."""

    name = models.CharField(max_length=100, unique=True)
    last_seen = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} at {self.last_seen:%Y-%m-%d %H:%M:%S}"

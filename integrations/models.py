"""How e360 talks to GitHub, GitLab and PagerDuty: one ``Connection`` per source of those kinds,
what a backfill has done (``Backfill``) and where each sync stands (``SyncCursor``)."""

from __future__ import annotations

import uuid
from fnmatch import fnmatchcase

from django.db import models
from django.utils import timezone

from e360.models import Service
from e360.secrets import EncryptedTextField
from metrics.models import InboundEvent, Source

DEFAULT_API_URLS: dict[str, str] = {
    Source.Kind.GITHUB: "https://api.github.com",
    Source.Kind.GITLAB: "https://gitlab.com/api/v4",
    Source.Kind.PAGERDUTY: "https://api.pagerduty.com",
}


class Connection(models.Model):
    """A GitHub, GitLab or PagerDuty source's webhook secret, API credentials and rate-limit budget."""

    class DeploysBy(models.TextChoices):
        """How a GitHub connection's repositories deploy, so what e360 records as their deployments."""

        DEPLOYMENTS = "deployments", "GitHub deployments"
        RELEASES = "releases", "Published releases"
        TAGS = "tags", "Tags matching a pattern"

    source = models.OneToOneField(Source, models.CASCADE, primary_key=True, related_name="connection")
    webhook_id = models.UUIDField(
        default=uuid.uuid4, unique=True, editable=False, help_text="The webhook URL's last part; not a secret."
    )
    webhook_secret = EncryptedTextField(
        blank=True, help_text="GitHub's webhook secret, GitLab's secret token, PagerDuty's signing secret."
    )
    api_url = models.URLField(
        blank=True,
        help_text="Empty: the provider's public API. GitHub Enterprise Server or self-managed GitLab: its API.",
    )
    api_token = EncryptedTextField(
        blank=True, help_text="A fine-grained GitHub token, a GitLab access token or a PagerDuty API key (read-only)."
    )
    app_id = models.CharField("GitHub App id", max_length=40, blank=True)
    app_private_key = EncryptedTextField("GitHub App private key", blank=True)
    installation_id = models.BigIntegerField("GitHub App installation id", null=True, blank=True)
    repositories = models.JSONField(
        default=list,
        blank=True,
        help_text=(
            "Repositories (owner/name) or GitLab project paths to backfill; a GitHub App's come from its installation."
        ),
    )
    incident_label = models.CharField(
        max_length=100, default="incident", blank=True, help_text="GitHub issues with this label are incidents."
    )
    deploys_by = models.CharField(
        max_length=20,
        choices=DeploysBy.choices,
        default=DeploysBy.DEPLOYMENTS,
        help_text=(
            "GitHub: what a production deployment of these repositories is. GitHub deployments (their statuses); "
            "a published release (not a draft nor a prerelease); or a pushed tag matching the pattern below. "
            "Only that one is recorded."
        ),
    )
    tag_pattern = models.CharField(
        max_length=100,
        default="v*",
        blank=True,
        help_text="GitHub, deploying by tags: the tags that deploy, a glob (v* matches v1.2.0; * matches every tag).",
    )
    # The shared budget of every request made with these credentials (an installation's, a token's).
    rate_limit = models.PositiveIntegerField(null=True, blank=True, editable=False)
    rate_remaining = models.PositiveIntegerField(null=True, blank=True, editable=False)
    rate_reset_at = models.DateTimeField(null=True, blank=True, editable=False)
    paused_until = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="A secondary rate limit or Retry-After: no request before."
    )
    # A GitHub App installation's token, kept until shortly before it expires (an hour).
    access_token = EncryptedTextField(blank=True, editable=False)
    access_token_expires_at = models.DateTimeField(null=True, blank=True, editable=False)

    def __str__(self) -> str:
        return str(self.source)

    @property
    def kind(self) -> str:
        return self.source.kind

    def deploys_by_tag(self, name: str) -> bool:
        """Whether pushing the tag ``name`` deploys (the connection deploys by tags matching the pattern)."""
        return self.deploys_by == self.DeploysBy.TAGS and bool(self.tag_pattern) and fnmatchcase(name, self.tag_pattern)

    @property
    def base_url(self) -> str:
        return (self.api_url or DEFAULT_API_URLS.get(self.kind, "")).rstrip("/")


class Backfill(models.Model):
    """Filling ``days`` of history from a provider's API, resumable: each step records its progress."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        WAITING = "waiting", "Waiting for the rate limit"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    connection = models.ForeignKey(Connection, models.CASCADE, related_name="backfills")
    days = models.PositiveIntegerField(default=365)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    resume_at = models.DateTimeField(null=True, blank=True, help_text="When a rate-limited backfill goes on.")
    repositories_total = models.PositiveIntegerField(default=0)
    repositories_done = models.PositiveIntegerField(default=0)
    records = models.PositiveIntegerField(default=0)
    requests = models.PositiveIntegerField(default=0)
    not_modified = models.PositiveIntegerField(default=0, help_text="Answers 304 (conditional requests): free.")
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.connection}: {self.days} days ({self.get_status_display()})"


class SyncCursor(models.Model):
    """Where the sync of one kind of record of one repository stands: the page to resume from after a
    crash, the newest change already stored (the next incremental sync starts there) and its ETag."""

    connection = models.ForeignKey(Connection, models.CASCADE, related_name="cursors")
    repository = models.CharField(max_length=300)
    resource = models.CharField(max_length=40, help_text="e.g. pulls, deployments, workflow_runs")
    next_url = models.URLField(max_length=2000, blank=True, help_text="The page to fetch next; empty when done.")
    watermark = models.DateTimeField(null=True, blank=True, help_text="Records changed before this are stored.")
    etag = models.CharField(max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "repository", "resource"], name="sync_cursor_unique")
        ]

    def __str__(self) -> str:
        return f"{self.repository} {self.resource}"


class ExternalService(models.Model):
    """A provider's service (a PagerDuty service) and the e360 service its records belong to."""

    connection = models.ForeignKey(Connection, models.CASCADE, related_name="external_services")
    external_id = models.CharField(max_length=200)
    name = models.CharField(max_length=300, blank=True)
    service = models.ForeignKey(Service, models.SET_NULL, null=True, blank=True, related_name="+")
    first_seen_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["connection", "external_id"], name="external_service_unique")]

    def __str__(self) -> str:
        return self.name or self.external_id


class ExternalIncident(models.Model):
    """A provider's incident (a PagerDuty incident) and its stored events: the incident is written from
    all of them (``integrations.pagerduty.events``), found here by its id through indexes rather than
    by a scan of the source's event payloads."""

    connection = models.ForeignKey(Connection, models.CASCADE, related_name="+")
    external_id = models.CharField(max_length=200)
    events = models.ManyToManyField(InboundEvent, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["connection", "external_id"], name="external_incident_unique")]

    def __str__(self) -> str:
        return self.external_id

"""Delivery data: where it comes from (sources, raw inbound events, API tokens), the
normalised records (repositories, pull requests, commits, deployments,
incidents, pipeline runs, pushes), the links between them, and the daily
rollups the pages and the metrics API read.

Every external record is unique on ``(source, external_id)`` so ingestion is
idempotent and can be replayed.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.db import models
from django.db.models import Count, Q
from django.db.models.functions import Coalesce, Least
from django.utils import timezone

from e360.models import Person, Service, Team
from metrics import definitions as d


class Source(models.Model):
    """A system that sends or lends us delivery data."""

    class Kind(models.TextChoices):
        API = "api", "JSON API"
        DEVLAKE = "devlake", "DevLake-compatible webhook"
        GITHUB = "github", "GitHub"
        GITLAB = "gitlab", "GitLab"
        PAGERDUTY = "pagerduty", "PagerDuty"

    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.API)
    team = models.ForeignKey(
        Team,
        models.SET_NULL,
        null=True,
        blank=True,
        help_text="Who runs this source. It may write to the services of this team and of the teams below it.",
    )
    # A source holds no secret of its own: its keys are ApiTokens, shown once and stored hashed.
    default_service = models.ForeignKey(
        Service,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Service for records that name none (e.g. a DevLake connection for one service).",
    )
    repo_service_map = models.JSONField(
        default=dict, blank=True, help_text='Repository → service slug, e.g. {"acme/checkout": "checkout"}.'
    )
    create_unknown_services = models.BooleanField(
        default=False, help_text="Create a service (owned by this source's team) when a record names an unknown one."
    )
    may_write_every_service = models.BooleanField(
        "may write to every service",
        default=False,
        help_text=(
            "Otherwise the source writes only to its team's services (sub-teams' included), "
            "the services of its repository map and its default service."
        ),
    )
    is_active = models.BooleanField(default=True)
    created = models.DateTimeField(default=timezone.now, editable=False)
    last_event_at = models.DateTimeField(null=True, blank=True)
    drain_queued = models.BooleanField(
        default=False, editable=False, help_text="A task to process this source's waiting inbound events is queued."
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def active(self) -> ApiTokenQuerySet:
        """Keys that open their source: not revoked, or revoked from a time still to come (a rotation's overlap)."""
        unrevoked = Q(revoked_at__isnull=True) | Q(revoked_at__gt=timezone.now())
        return self.filter(unrevoked, source__is_active=True)


class ApiToken(models.Model):
    """A bearer key for the JSON API and the DevLake webhook; shown once, stored hashed."""

    PREFIX = "e360_"

    source = models.ForeignKey(Source, models.CASCADE, related_name="tokens")
    name = models.CharField(max_length=200)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    hint = models.CharField(max_length=12, editable=False, help_text="The key's last characters, to tell keys apart.")
    created = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(
        null=True, blank=True, help_text="Refused from this time on; a rotation sets it to the end of the overlap."
    )

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} (…{self.hint})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None or self.revoked_at > timezone.now()

    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    @classmethod
    def generate_key(cls) -> str:
        return cls.PREFIX + secrets.token_urlsafe(32)


class InboundEvent(models.Model):
    """A raw payload as received (a webhook's body), stored before it is acknowledged and processed
    into records (``metrics.ingest``)."""

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        PROCESSED = "processed", "Processed"
        IGNORED = "ignored", "Ignored"
        FAILED = "failed", "Failed"

    # No index of its own: the unique constraint's index below leads with it.
    source = models.ForeignKey(Source, models.CASCADE, db_index=False, related_name="inbound_events")
    # The sender's term: GitHub's X-GitHub-Delivery header, DevLake's retries of the same body.
    delivery_id = models.CharField(max_length=200, help_text="The sender's id, or a hash of the body.")
    kind = models.CharField(max_length=60, help_text="What the payload is, e.g. devlake.deployment.")
    path_params = models.JSONField(default=dict, blank=True)
    headers = models.JSONField(default=dict, blank=True)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RECEIVED)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(fields=["source", "delivery_id"], name="inbound_event_unique_per_source")
        ]
        indexes = [models.Index(fields=["status", "received_at"], name="inbound_event_waiting")]

    def __str__(self) -> str:
        return f"{self.kind} {self.delivery_id}"


class Repository(models.Model):
    name = models.CharField(max_length=300, unique=True, help_text="owner/name, or host/owner/name off GitHub.")
    service = models.ForeignKey(Service, models.SET_NULL, null=True, blank=True, related_name="repository_rows")
    default_branch = models.CharField(max_length=200, default="main")
    url = models.URLField(max_length=500, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "repositories"

    def __str__(self) -> str:
        return self.name


class PullRequestQuerySet(models.QuerySet["PullRequest"]):
    def merged(self) -> PullRequestQuerySet:
        return self.filter(merged_at__isnull=False)

    def deployed_in(self, start: datetime, end: datetime) -> PullRequestQuerySet:
        return self.filter(deployed_at__gte=start, deployed_at__lt=end)

    def waiting_for_review_count(self, at: datetime, longer_than: timedelta) -> int:
        """How many pull requests (not direct pushes) were open and unreviewed at ``at``, opened more
        than ``longer_than`` before: ``definitions.waiting_for_review``, counted by the database.

        Two counts, each an index range: never attended (the partial index ``pr_unattended``),
        and attended only after ``at`` (the ``attended_at`` index).
        """
        waiting = self.filter(is_direct_push=False, opened_at__lte=at - longer_than)
        return waiting.filter(attended_at__isnull=True).count() + waiting.filter(attended_at__gt=at).count()

    def waiting_for_review_counts(self, ats: Sequence[datetime], longer_than: timedelta) -> list[int]:
        """``waiting_for_review_count`` at each of ``ats``, in two queries however many (a backtest's
        90 days): the same two index ranges, read once from the earliest ``at``, counted per ``at``."""
        if not ats:
            return []
        found = self._waiting_counts(ats, longer_than, [])
        return found.get((), [0] * len(ats))

    def waiting_for_review_counts_by_service(
        self, ats: Sequence[datetime], longer_than: timedelta
    ) -> dict[int, list[int]]:
        """``waiting_for_review_counts`` of each service (those with none waiting left out): the same two
        queries, grouped by service."""
        if not ats:
            return {}
        return {key[0]: counts for key, counts in self._waiting_counts(ats, longer_than, ["service_id"]).items()}

    def _waiting_counts(
        self, ats: Sequence[datetime], longer_than: timedelta, group: list[str]
    ) -> dict[tuple, list[int]]:
        waiting = self.filter(is_direct_push=False, opened_at__lte=max(ats) - longer_than)
        never = waiting.filter(attended_at__isnull=True)
        later = waiting.filter(attended_at__gt=min(ats))
        found: dict[tuple, list[int]] = {}
        for rows, attended in ((never, False), (later, True)):
            counts = {
                f"n{n}": Count(
                    "pk", filter=Q(opened_at__lte=at - longer_than, **({"attended_at__gt": at} if attended else {}))
                )
                for n, at in enumerate(ats)
            }
            grouped = [rows.aggregate(**counts)] if not group else rows.values(*group).order_by().annotate(**counts)
            for row in grouped:
                key = tuple(row[name] for name in group)
                total = found.setdefault(key, [0] * len(ats))
                for n in range(len(ats)):
                    total[n] += row[f"n{n}"]
        return found


class PullRequest(models.Model):
    """A change: a merged pull request, or a direct push to the default branch."""

    # No index of its own: the unique constraint's index below leads with it.
    source = models.ForeignKey(Source, models.CASCADE, db_index=False, related_name="pull_requests")
    external_id = models.CharField(max_length=200)
    repository = models.ForeignKey(Repository, models.CASCADE, related_name="pull_requests")
    service = models.ForeignKey(Service, models.SET_NULL, null=True, blank=True, related_name="pull_requests")
    number = models.PositiveIntegerField(null=True, blank=True)
    title = models.CharField(max_length=500, blank=True)
    url = models.URLField(max_length=500, blank=True)
    author = models.CharField(max_length=200, blank=True, help_text="The author's login (GitHub or GitLab).")
    person = models.ForeignKey(
        Person, models.SET_NULL, null=True, blank=True, related_name="pull_requests", help_text="Who the author is."
    )
    base_branch = models.CharField(max_length=200, blank=True)
    is_direct_push = models.BooleanField(default=False)
    first_commit_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField()
    first_review_at = models.DateTimeField(null=True, blank=True, help_text="First review or comment by someone else.")
    approved_at = models.DateTimeField(null=True, blank=True)
    merged_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    merge_sha = models.CharField(max_length=64, blank=True, db_index=True)
    # Lines added and deleted; empty when the sender did not say (unknown, not 0).
    additions = models.PositiveIntegerField(null=True, blank=True)
    deletions = models.PositiveIntegerField(null=True, blank=True)
    # Set by linking: the first production deployment that contains the change.
    deployment = models.ForeignKey(
        "Deployment", models.SET_NULL, null=True, blank=True, related_name="linked_changes", editable=False
    )
    deployed_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The first of first review, merge and close: until then the pull request waits for attention.
    # Each Coalesce is the column itself or, when it is empty, one of the others, so the least of
    # the three is the earliest time set (PostgreSQL's LEAST skips NULLs, SQLite's MIN does not).
    attended_at = models.GeneratedField(
        expression=Least(
            Coalesce("first_review_at", "merged_at", "closed_at"),
            Coalesce("merged_at", "closed_at", "first_review_at"),
            Coalesce("closed_at", "first_review_at", "merged_at"),
        ),
        output_field=models.DateTimeField(null=True),
        db_persist=True,
    )

    objects = PullRequestQuerySet.as_manager()

    class Meta:
        ordering = ["-opened_at"]
        constraints = [models.UniqueConstraint(fields=["source", "external_id"], name="pr_unique_per_source")]
        indexes = [
            # A scope's changes of a window. With the source and the id, which sources sent them (the delivery pages'
            # data-quality line) and a page of them (``metrics.views.lists.CappedPaginator``) are found from the
            # index alone, reading no row but the page's.
            models.Index(fields=["service", "deployed_at"], include=["source", "id"], name="pr_service_deployed"),
            # The newest changes deployed of a large scope (a group's, the organisation's) are found
            # walking this backwards, not by sorting every change of every service in it.
            models.Index(fields=["deployed_at"]),
            models.Index(fields=["service", "merged_at"]),
            models.Index(fields=["repository", "merged_at"]),
            models.Index(fields=["service", "attended_at"]),  # the review queue at a moment
            models.Index(fields=["attended_at"]),  # the organisation's, read without a service filter
            models.Index(fields=["source", "deployed_at"]),  # a source's changes of a window
            models.Index(  # the review queue now: pull requests nobody has looked at yet
                fields=["service", "opened_at"],
                condition=Q(attended_at__isnull=True, is_direct_push=False),
                name="pr_unattended",
            ),
            models.Index(  # the same, oldest first without a service filter (the organisation's queue)
                fields=["opened_at"],
                condition=Q(attended_at__isnull=True, is_direct_push=False),
                name="pr_unattended_by_age",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.repository} #{self.number}" if self.number else self.title or self.external_id

    @property
    def size(self) -> int | None:
        """Lines changed; None when either count is unknown."""
        if self.additions is None or self.deletions is None:
            return None
        return self.additions + self.deletions


class Review(models.Model):
    class State(models.TextChoices):
        APPROVED = "approved", "Approved"
        CHANGES_REQUESTED = "changes_requested", "Changes requested"
        COMMENTED = "commented", "Commented"

    # No index of its own: the unique constraint's index below leads with it.
    pull_request = models.ForeignKey(PullRequest, models.CASCADE, db_index=False, related_name="reviews")
    external_id = models.CharField(max_length=200)
    author = models.CharField(max_length=200, help_text="The reviewer's login.")
    person = models.ForeignKey(
        Person, models.SET_NULL, null=True, blank=True, related_name="reviews", help_text="Who the reviewer is."
    )
    state = models.CharField(max_length=20, choices=State.choices, default=State.COMMENTED)
    submitted_at = models.DateTimeField()

    class Meta:
        ordering = ["submitted_at"]
        constraints = [
            models.UniqueConstraint(fields=["pull_request", "external_id"], name="review_unique_per_pr"),
        ]

    def __str__(self) -> str:
        return f"{self.get_state_display()} by {self.author}"


class Commit(models.Model):
    # No index of its own: the unique constraint's index below leads with it.
    repository = models.ForeignKey(Repository, models.CASCADE, db_index=False, related_name="commits")
    sha = models.CharField(max_length=64)
    authored_at = models.DateTimeField()
    pull_request = models.ForeignKey(PullRequest, models.SET_NULL, null=True, blank=True, related_name="commits")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["repository", "sha"], name="commit_unique_per_repo")]

    def __str__(self) -> str:
        return self.sha[:12]


class DeploymentQuerySet(models.QuerySet["Deployment"]):
    def production(self) -> DeploymentQuerySet:
        return self.filter(is_production=True, status=Deployment.Status.SUCCESS)

    def finished_in(self, start: datetime, end: datetime) -> DeploymentQuerySet:
        return self.filter(finished_at__gte=start, finished_at__lt=end)


class Deployment(models.Model):
    class Status(models.TextChoices):
        SUCCESS = "success", "Success"
        FAILURE = "failure", "Failure"
        ERROR = "error", "Error"
        IN_PROGRESS = "in_progress", "In progress"
        CANCELLED = "cancelled", "Cancelled"

    class LinkRule(models.IntegerChoices):  # values: the definitions' rules (``definitions.link_changes``)
        NONE = d.LINK_NONE, "No changes linked"
        SENT = d.LINK_SENT, "Change list sent with the deployment"
        COMMIT_RANGE = d.LINK_COMMIT_RANGE, "Commit range since the previous deployment"
        MERGED_BETWEEN = d.LINK_MERGED_BETWEEN, "Pull requests merged since the previous deployment"

    # No index of its own: the unique constraint's index below leads with it.
    source = models.ForeignKey(Source, models.CASCADE, db_index=False, related_name="deployments")
    external_id = models.CharField(max_length=200)
    service = models.ForeignKey(Service, models.CASCADE, related_name="deployments")
    environment = models.CharField(max_length=100)
    is_production = models.BooleanField(default=False, help_text="The environment matches the service's patterns.")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.SUCCESS)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField()
    sha = models.CharField(max_length=64, blank=True)
    repository = models.ForeignKey(Repository, models.SET_NULL, null=True, blank=True, related_name="deployments")
    ref = models.CharField(max_length=200, blank=True, help_text="Branch or tag deployed.")
    title = models.CharField(max_length=500, blank=True)
    url = models.URLField(max_length=500, blank=True)
    is_rollback = models.BooleanField(default=False)
    is_hotfix = models.BooleanField(default=False)
    # Change ids (PR external ids or commit shas) sent with the deployment: linking rule 1. The
    # changes linking attributes to it, by whatever rule, are ``linked_changes``.
    changes = models.JSONField(null=True, blank=True, help_text="The change ids sent with the deployment.")
    # Set by linking.
    link_rule = models.PositiveSmallIntegerField(choices=LinkRule.choices, default=LinkRule.NONE, editable=False)
    is_failed = models.BooleanField(default=False, editable=False)
    failure_causes = models.JSONField(default=list, blank=True, editable=False)
    recovered_at = models.DateTimeField(null=True, blank=True, editable=False)
    is_rework = models.BooleanField(default=False, editable=False)

    objects = DeploymentQuerySet.as_manager()

    class Meta:
        ordering = ["-finished_at"]
        constraints = [models.UniqueConstraint(fields=["source", "external_id"], name="deployment_unique_per_source")]
        indexes = [
            # A scope's deployments of a window, with the source and the id: as ``pr_service_deployed``.
            models.Index(
                fields=["service", "is_production", "finished_at"],
                include=["source", "id"],
                name="deployment_service_finished",
            ),
            models.Index(fields=["finished_at"]),
            models.Index(  # a source's production deployments of a window
                fields=["source", "finished_at"], condition=Q(is_production=True), name="deployment_source_production"
            ),
            # Failed deployments of a scope and window (those left unrecovered): a tenth of the rows,
            # counted from the index alone.
            models.Index(
                fields=["service", "finished_at"],
                condition=Q(is_failed=True),
                include=["recovered_at"],
                name="deployment_failed",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.service} → {self.environment} at {self.finished_at:%Y-%m-%d %H:%M}"


class Incident(models.Model):
    class LinkRule(models.TextChoices):
        NONE = "", "Not linked"
        EXPLICIT = d.INCIDENT_EXPLICIT, "Named by the incident (caused by / root cause)"
        WINDOW = d.INCIDENT_WINDOW, "Latest production deployment before it started"

    # No index of its own: the unique constraint's index below leads with it.
    source = models.ForeignKey(Source, models.CASCADE, db_index=False, related_name="incidents")
    external_id = models.CharField(max_length=200)
    service = models.ForeignKey(Service, models.CASCADE, related_name="incidents")
    title = models.CharField(max_length=500, blank=True)
    severity = models.CharField(max_length=40, blank=True)
    url = models.URLField(max_length=500, blank=True)
    started_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    caused_by = models.ForeignKey(
        Deployment, models.SET_NULL, null=True, blank=True, related_name="+", help_text="Named by the sender."
    )
    root_cause_sha = models.CharField(max_length=64, blank=True)
    # Set by linking.
    deployment = models.ForeignKey(
        Deployment, models.SET_NULL, null=True, blank=True, related_name="incidents", editable=False
    )
    link_rule = models.CharField(
        max_length=10, choices=LinkRule.choices, default=LinkRule.NONE, blank=True, editable=False
    )

    class Meta:
        ordering = ["-started_at"]
        constraints = [models.UniqueConstraint(fields=["source", "external_id"], name="incident_unique_per_source")]
        indexes = [
            # A scope's incidents of a window, with the source and the id: as ``pr_service_deployed``.
            models.Index(fields=["service", "started_at"], include=["source", "id"], name="incident_service_started"),
            models.Index(fields=["service", "resolved_at"]),
            # The organisation's page reads without a service filter: its list, and each source's records.
            models.Index(fields=["started_at"]),
            models.Index(fields=["source", "started_at"]),
        ]

    def __str__(self) -> str:
        return self.title or self.external_id


class PipelineRun(models.Model):
    class Status(models.TextChoices):
        SUCCESS = "success", "Success"
        FAILURE = "failure", "Failure"
        CANCELLED = "cancelled", "Cancelled"
        IN_PROGRESS = "in_progress", "In progress"

    # No index of its own: the unique constraint's index below leads with it.
    source = models.ForeignKey(Source, models.CASCADE, db_index=False, related_name="pipeline_runs")
    external_id = models.CharField(max_length=200)
    service = models.ForeignKey(Service, models.CASCADE, related_name="pipeline_runs")
    repository = models.ForeignKey(Repository, models.SET_NULL, null=True, blank=True, related_name="pipeline_runs")
    workflow = models.CharField(max_length=200)
    branch = models.CharField(max_length=200, blank=True)
    is_default_branch = models.BooleanField(default=True)
    sha = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices)
    attempt = models.PositiveSmallIntegerField(default=1)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.PositiveIntegerField(null=True, blank=True)
    url = models.URLField(max_length=500, blank=True)

    class Meta:
        ordering = ["-finished_at"]
        constraints = [models.UniqueConstraint(fields=["source", "external_id"], name="pipeline_run_unique_per_source")]
        indexes = [
            models.Index(fields=["service", "finished_at"]),
            # The window's runs without a service filter (the organisation's pipeline page), and what it
            # counts of them per workflow read from the index alone, not from rows all over the table.
            models.Index(
                fields=["finished_at"],
                include=["service", "workflow", "status", "is_default_branch", "duration_seconds"],
                name="pipeline_run_window",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.workflow} #{self.attempt} {self.status}"


class Push(models.Model):
    """A push to a branch (GitHub's push event): the branch moved from ``before`` to ``after``.

    Consecutive pushes chain (one's ``before`` is the previous one's ``after``),
    which gives the commit range between two deployments (linking rule 2, ``metrics.ranges``).
    """

    # No index of its own: the unique constraint's index below leads with it.
    source = models.ForeignKey(Source, models.CASCADE, db_index=False, related_name="pushes")
    external_id = models.CharField(max_length=200)
    service = models.ForeignKey(Service, models.CASCADE, related_name="pushes")
    repository = models.ForeignKey(Repository, models.CASCADE, related_name="pushes")
    branch = models.CharField(max_length=200, blank=True)
    before = models.CharField(max_length=64, help_text="The branch's head before the push.")
    after = models.CharField(max_length=64, help_text="The branch's head after the push.")
    commits = models.JSONField(default=list, blank=True, help_text="The shas of the commits pushed, in push order.")
    pushed_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(default=timezone.now, editable=False)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-pushed_at"]
        constraints = [models.UniqueConstraint(fields=["source", "external_id"], name="push_unique_per_source")]
        indexes = [models.Index(fields=["repository", "after"], name="push_repository_after")]
        verbose_name_plural = "pushes"

    def __str__(self) -> str:
        return f"{self.repository} {self.branch} {self.before[:7]}..{self.after[:7]}"


# Rollup rows for what has no environment (incidents, pipelines, PR sizes) use this one.
SERVICE_WIDE = ""
LIST_FIELDS = (
    "lead_times",
    "coding_times",
    "pickup_times",
    "review_times",
    "deploy_times",
    "recovery_times",
    "restore_times",
    "pipeline_durations",
    "pr_pickup_times",
    "pr_review_times",
    "pr_sizes",
)
COUNT_FIELDS = (
    "deployments",
    "failed_deployments",
    "rework_deployments",
    "deployments_with_changes",
    "failed_attempts",
    "changes_deployed",
    "incidents",
    "incidents_linked",
    "pipeline_runs",
    "pipeline_failures",
    "pipeline_commits",
    "pipeline_flaky_commits",
)


class RollupCounts(models.Model):
    """The counts a rollup row holds (``COUNT_FIELDS``), of the day it covers."""

    deployments = models.PositiveIntegerField(default=0)
    failed_deployments = models.PositiveIntegerField(default=0)
    rework_deployments = models.PositiveIntegerField(default=0)
    deployments_with_changes = models.PositiveIntegerField(default=0)
    failed_attempts = models.PositiveIntegerField(default=0)
    changes_deployed = models.PositiveIntegerField(default=0)
    incidents = models.PositiveIntegerField(default=0)
    incidents_linked = models.PositiveIntegerField(default=0)
    pipeline_runs = models.PositiveIntegerField(default=0)
    pipeline_failures = models.PositiveIntegerField(default=0)
    pipeline_commits = models.PositiveIntegerField(default=0, help_text="Commits whose first CI run finished that day.")
    pipeline_flaky_commits = models.PositiveIntegerField(default=0, help_text="Those of them that were flaky.")

    class Meta:
        abstract = True


class DailyRollup(RollupCounts):
    """Per service, environment and org-time-zone day: what pages and the metrics API read
    (``metrics.rollups.days`` writes and reads them).

    Distributions are stored as sorted lists of seconds, so percentiles computed
    from rollups are exact, and merging days is concatenation. They share one JSON
    column: a read decodes one value per row, not one per list.
    """

    service = models.ForeignKey(Service, models.CASCADE, related_name="rollups")
    environment = models.CharField(max_length=100)
    day = models.DateField()
    distributions = models.JSONField(
        default=dict,
        help_text=(
            "Sorted lists of values by name (``LIST_FIELDS``), empty ones left out: seconds of "
            "lead time and its components of the changes deployed that day, recovery times of failed "
            "deployments recovered that day, restore times of incidents resolved that day, durations of the "
            "day's CI runs, pickup and review times and sizes of the pull requests merged that day."
        ),
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["service", "environment", "day"], name="rollup_unique_service_env_day")
        ]
        indexes = [models.Index(fields=["day", "service"])]

    def __str__(self) -> str:
        return f"{self.service} {self.environment} {self.day}"


class TeamRollup(RollupCounts):
    """Per team and org-time-zone day: the ``DailyRollup`` rows of every service in the team's subtree, summed.

    A team or the whole organisation reads one row per day and kind, however many
    services it holds. Counts are exact sums. Distributions are log-bucketed
    histograms (``metrics.definitions.histogram``): percentiles read from them are
    within 1% of the exact ones. ``metrics.rollups.teams`` keeps the rows in step
    with the service rollups and the team tree.
    """

    team = models.ForeignKey(Team, models.CASCADE, related_name="+")
    production = models.BooleanField(
        help_text="Production environments summed, or the service-wide rows (incidents, CI runs, pull requests)."
    )
    day = models.DateField()
    distributions = models.JSONField(
        default=dict, help_text="Histograms (``Histogram.to_json``) by the names of ``DailyRollup.distributions``."
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "production", "day"], name="team_rollup_unique")]

    def __str__(self) -> str:
        return f"{self.team} {'production' if self.production else 'service-wide'} {self.day}"


class TeamWeekRollup(models.Model):
    """A team's distributions of an ISO week (org time zone): its seven ``TeamRollup`` days' merged.

    A window reads these for the whole weeks it holds and day rows only for the days at
    its edges, so a quarter decodes some twenty rows of histograms instead of ninety.
    Counts stay in the day rows, which are small to read: deployment frequency needs
    them per day.
    """

    team = models.ForeignKey(Team, models.CASCADE, related_name="+")
    production = models.BooleanField()
    week = models.DateField(help_text="Its Monday.")
    distributions = models.JSONField(default=dict, help_text="As ``TeamRollup.distributions``.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "production", "week"], name="team_week_rollup_unique")]

    def __str__(self) -> str:
        return f"{self.team} {'production' if self.production else 'service-wide'} week of {self.week}"


class TeamRollupVersion(models.Model):
    """A token that changes whenever a team's rollup rows change: ``metrics.rollups.teams`` sets a new one in the
    transaction of every write to them. Figures computed from the rows may be kept under the tokens they were read
    after (``metrics.rollups.version``) and are not read again once a token moved on. Random rather than a
    counter, so a database rolled back or restored never hands out an old token again."""

    team = models.OneToOneField(Team, models.CASCADE, primary_key=True, related_name="+")
    token = models.UUIDField(default=uuid.uuid4)

    def __str__(self) -> str:
        return f"team {self.team_id} rollups at {self.token}"


class RolledUpService(models.Model):
    """Which teams' rollups count a service: its owner and the owner's ancestors when last synced.

    ``metrics.rollups.teams.sync`` compares this with the catalog to find the teams
    to recompute after a service changes team, a team moves or a service is deleted
    (so ``service_id`` is a plain number: it outlives the service).
    """

    service_id = models.PositiveIntegerField(primary_key=True)
    team_ids = models.JSONField(default=list, help_text="Nearest first.")

    def __str__(self) -> str:
        return f"service {self.service_id} in teams {self.team_ids}"


class WorkflowPeriodRollup(models.Model):
    """A service's CI workflow over one of the pipelines page's periods: the last ``days`` org-zone
    days up to ``day``, of today and tomorrow (``metrics.rollups.workflows``).

    A window's per-workflow figures are a percentile each over all its runs, which no sum of day
    rows gives, and an organisation's 180 days of day rows are a third to a half as many as its
    runs. So each period is stored whole, and a page reads one row per workflow however long its
    window.
    The service refresh rewrites a service's rows with its rollups; a schedule writes tomorrow's
    for services no refresh reached (``WorkflowRollupCoverage`` says which days are in step).
    """

    service = models.ForeignKey(Service, models.CASCADE, db_index=False, related_name="+")
    workflow = models.CharField(max_length=200)
    days = models.PositiveSmallIntegerField(help_text="The period's length in days.")
    day = models.DateField(help_text="The period's last day (org time zone), today included in a page's window.")
    runs = models.PositiveIntegerField(help_text="Judged default-branch runs that finished in the period.")
    failed = models.PositiveIntegerField()
    median = models.FloatField(null=True, help_text="Seconds; None when no run was timed.")
    p90 = models.FloatField(null=True)
    last_pass = models.DateTimeField(null=True, help_text="When the period's latest passing run finished.")
    last_fail = models.DateTimeField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["service", "day", "days", "workflow"], name="workflow_period_unique")
        ]
        indexes = [models.Index(fields=["day", "days"], name="workflow_period_by_day")]  # the organisation's

    def __str__(self) -> str:
        return f"{self.workflow} of service {self.service_id}, {self.days} days to {self.day}"


class WorkflowRollupCoverage(models.Model):
    """The days whose ``WorkflowPeriodRollup`` rows of a service are in step with its runs: those its
    last refresh (or the schedule) wrote (``metrics.rollups.coverage``). A page whose day is outside
    reads the service's runs."""

    service = models.OneToOneField(Service, models.CASCADE, primary_key=True, related_name="+")
    first_day = models.DateField()
    last_day = models.DateField()

    def __str__(self) -> str:
        return f"service {self.service_id}: {self.first_day} to {self.last_day}"


class RefreshRequest(models.Model):
    """A service refresh wanted: the row outlives a lost task or a killed worker (``metrics.tasks``).

    Each request adds one to ``requests``; the refresh that takes the row records the count it
    saw in ``taken``, and deletes the row at its end only when no request came since. A request
    that arrives while the refresh runs (perhaps after it read its inputs) thus gets a refresh
    of its own."""

    service = models.OneToOneField(Service, models.CASCADE, primary_key=True, related_name="+")
    since = models.DateTimeField(help_text="The earliest record time the waiting writes touched.")
    requests = models.PositiveBigIntegerField(default=1)
    taken = models.PositiveBigIntegerField(null=True, help_text="``requests`` when a refresh took the row.")
    queued_at = models.DateTimeField(
        default=timezone.now, help_text="When a task was last queued for it or took it; older ones are re-queued."
    )

    def __str__(self) -> str:
        return f"refresh of service {self.service_id} wanted since {self.since:%Y-%m-%d %H:%M}"

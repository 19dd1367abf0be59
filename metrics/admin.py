from __future__ import annotations

import json
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from metrics.ingest import (
    KIND_DEPLOYMENT,
    KIND_ISSUE,
    KIND_ISSUE_CLOSE,
    inbound_mark_ignored,
    inbound_retry,
)
from metrics.models import (
    ApiToken,
    ApiTokenQuerySet,
    DailyRollup,
    Deployment,
    InboundEvent,
    Incident,
    PipelineRun,
    PullRequest,
    Push,
    RefreshRequest,
    Repository,
    Review,
    RolledUpService,
    Source,
    TeamRollup,
    TeamRollupVersion,
    TeamWeekRollup,
    WorkflowPeriodRollup,
    WorkflowRollupCoverage,
)
from metrics.services import ROTATION_OVERLAP, api_token_create, api_token_rotate


def devlake_webhook_url(source: Source) -> str:
    return f"{settings.SITE_URL}/api/rest/plugins/webhook/connections/{source.pk}/"


class ReadOnlyAdminMixin:
    """Rows written by ingestion and refresh only: browse, never edit by hand."""

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class ApiTokenInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = ApiToken
    fields = readonly_fields = ("name", "hint", "created", "last_used_at", "revoked_at")
    extra = 0
    show_change_link = True


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "team", "default_service", "may_write_every_service", "is_active", "last_event_at"]
    list_filter = ["kind", "is_active", "may_write_every_service", ("team", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["name"]
    autocomplete_fields = ["team", "default_service"]
    list_select_related = ["team", "default_service"]
    readonly_fields = ["webhook_url", "add_key", "created", "last_event_at"]
    inlines = [ApiTokenInline]

    @admin.display(description="DevLake webhook URL")
    def webhook_url(self, obj: Source) -> str:
        if obj.pk is None or obj.kind != Source.Kind.DEVLAKE:
            return "—"
        return devlake_webhook_url(obj)

    @admin.display(description="keys")
    def add_key(self, obj: Source) -> str:
        if obj.pk is None:
            return "Save the source first."
        url = reverse("admin:metrics_apitoken_add") + "?" + urlencode({"source": obj.pk})
        return format_html('<a href="{}">Add a key for this source</a> (shown once)', url)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "source", "hint", "created", "last_used_at", "revoked_at", "is_active"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter), "source__kind"]
    search_fields = ["name", "hint", "source__name"]
    autocomplete_fields = ["source"]
    list_select_related = ["source"]
    actions = ["rotate", "revoke"]

    def get_fields(self, request: HttpRequest, obj: ApiToken | None = None) -> tuple[str, ...]:
        if obj is None:
            return ("source", "name")
        return ("source", "name", "hint", "created", "last_used_at", "revoked_at")

    def get_readonly_fields(self, request: HttpRequest, obj: ApiToken | None = None) -> list[str]:
        if obj is None:
            return []
        return ["source", "hint", "created", "last_used_at", "revoked_at"]

    @admin.display(boolean=True, description="active")
    def is_active(self, obj: ApiToken) -> bool:
        return obj.is_active

    @staticmethod
    def _show_once(request: HttpRequest, token: ApiToken, key: str, note: str = "") -> None:
        """The key, on the next page the admin sees and never again: only its hash is stored."""
        messages.warning(
            request,
            format_html(
                "The key of “{}” is <code>{}</code>. Copy it now: it is not stored and cannot be shown again.{}",
                token.name,
                key,
                note,
            ),
        )

    def save_model(self, request: HttpRequest, obj: ApiToken, form, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        token, key = api_token_create(source=obj.source, name=obj.name)
        # The admin goes on with ``obj`` (history, redirect): make it the row just created.
        obj.pk, obj.key_hash, obj.hint, obj.created = token.pk, token.key_hash, token.hint, token.created
        obj._state.adding = False
        obj._state.db = token._state.db
        self._show_once(request, token, key)

    @admin.action(
        description=f"Rotate selected keys (the old key works {ROTATION_OVERLAP.total_seconds() / 3600:g} h more)",
        permissions=["change"],
    )
    def rotate(self, request: HttpRequest, queryset: ApiTokenQuerySet) -> None:
        rotated = 0
        for token in queryset.active().select_related("source"):
            new, key = api_token_rotate(token=token)
            note = format_html(
                " The old key (…{}) works until {} UTC; revoke it to end that sooner.",
                token.hint,
                f"{token.revoked_at:%Y-%m-%d %H:%M}",  # UTC: timezone.now() + the overlap
            )
            self._show_once(request, new, key, note)
            rotated += 1
        if rotated < queryset.count():
            self.message_user(request, "Revoked keys are not rotated: add a new key instead.", messages.WARNING)

    @admin.action(description="Revoke selected tokens now", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        now = timezone.now()
        # A rotated key still in its overlap is revoked too: that ends the overlap.
        count = queryset.filter(Q(revoked_at__isnull=True) | Q(revoked_at__gt=now)).update(revoked_at=now)
        self.message_user(request, f"Revoked {count} token(s).", messages.SUCCESS)


class InboundEventKindFilter(admin.SimpleListFilter):
    # The known kinds, rather than a DISTINCT over every event ever received.
    title = "kind"
    parameter_name = "kind"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [(kind, kind) for kind in (KIND_DEPLOYMENT, KIND_ISSUE, KIND_ISSUE_CLOSE)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[InboundEvent]) -> QuerySet[InboundEvent]:
        return queryset.filter(kind=self.value()) if self.value() else queryset


@admin.register(InboundEvent)
class InboundEventAdmin(admin.ModelAdmin):
    list_display = ["id", "source", "kind", "short_delivery_id", "status", "attempts", "received_at", "short_error"]
    list_filter = ["status", InboundEventKindFilter, "source"]
    search_fields = ["delivery_id", "error", "source__name"]
    list_select_related = ["source"]
    show_full_result_count = False
    fields = readonly_fields = (
        "source",
        "kind",
        "delivery_id",
        "status",
        "error",
        "attempts",
        "received_at",
        "processed_at",
        "path_params",
        "headers",
        "payload_pretty",
    )
    actions = ["retry", "mark_ignored"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: InboundEvent | None = None) -> bool:
        return False  # raw events are evidence: read them, retry or ignore them, never edit them

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("metrics.change_inboundevent")

    @admin.display(description="delivery id")
    def short_delivery_id(self, obj: InboundEvent) -> str:
        return obj.delivery_id[:16]

    @admin.display(description="error")
    def short_error(self, obj: InboundEvent) -> str:
        return obj.error[:80]

    @admin.display(description="payload")
    def payload_pretty(self, obj: InboundEvent) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.payload, indent=2, ensure_ascii=False, sort_keys=True))

    @admin.action(description="Retry selected inbound events", permissions=["retry"])
    def retry(self, request: HttpRequest, queryset: QuerySet[InboundEvent]) -> None:
        count = inbound_retry(event_ids=queryset.values_list("pk", flat=True))
        self.message_user(request, f"Queued {count} inbound event(s) for processing.", messages.SUCCESS)

    @admin.action(description="Mark selected inbound events ignored", permissions=["retry"])
    def mark_ignored(self, request: HttpRequest, queryset: QuerySet[InboundEvent]) -> None:
        count = inbound_mark_ignored(event_ids=queryset.values_list("pk", flat=True))
        self.message_user(request, f"Marked {count} inbound event(s) ignored.", messages.SUCCESS)


@admin.register(Repository)
class RepositoryAdmin(admin.ModelAdmin):
    list_display = ["name", "service", "default_branch"]
    list_filter = [("service", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["name", "url"]
    autocomplete_fields = ["service"]
    list_select_related = ["service"]


@admin.register(Deployment)
class DeploymentAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "service",
        "environment",
        "status",
        "is_production",
        "is_failed",
        "finished_at",
        "source",
    ]
    list_filter = ["status", "is_production", "is_failed", "is_rollback", "is_hotfix", "source"]
    search_fields = ["external_id", "sha", "title", "service__slug", "service__name"]
    autocomplete_fields = ["source", "service", "repository"]
    list_select_related = ["service", "source"]
    readonly_fields = ["link_rule", "is_failed", "failure_causes", "recovered_at", "is_rework"]
    show_full_result_count = False


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    list_display = ["__str__", "service", "severity", "started_at", "resolved_at", "deployment", "source"]
    list_filter = ["severity", "link_rule", ("resolved_at", admin.EmptyFieldListFilter), "source"]
    search_fields = ["external_id", "title", "service__slug", "service__name"]
    autocomplete_fields = ["source", "service", "caused_by"]
    list_select_related = ["service", "source", "deployment__service"]
    readonly_fields = ["deployment", "link_rule"]
    show_full_result_count = False


class ReviewInline(admin.TabularInline):
    model = Review
    extra = 0
    fields = ["external_id", "author", "state", "submitted_at"]


@admin.register(PullRequest)
class PullRequestAdmin(admin.ModelAdmin):
    list_display = ["__str__", "repository", "service", "author", "opened_at", "merged_at", "deployed_at"]
    list_filter = [("merged_at", admin.EmptyFieldListFilter), "is_direct_push", "source"]
    search_fields = ["external_id", "title", "merge_sha", "author", "repository__name"]
    autocomplete_fields = ["source", "repository", "service", "person"]
    list_select_related = ["repository", "service"]
    readonly_fields = ["deployment", "deployed_at"]
    inlines = [ReviewInline]
    show_full_result_count = False


@admin.register(PipelineRun)
class PipelineRunAdmin(admin.ModelAdmin):
    list_display = ["__str__", "service", "branch", "status", "attempt", "finished_at", "duration_seconds"]
    list_filter = ["status", "is_default_branch", "source"]
    search_fields = ["external_id", "workflow", "sha", "branch", "service__slug"]
    autocomplete_fields = ["source", "service", "repository"]
    list_select_related = ["service"]
    show_full_result_count = False


@admin.register(Push)
class PushAdmin(admin.ModelAdmin):
    list_display = ["__str__", "service", "branch", "pushed_at", "source"]
    list_filter = ["source"]
    search_fields = ["external_id", "before", "after", "branch", "repository__name", "service__slug"]
    autocomplete_fields = ["source", "service", "repository"]
    list_select_related = ["repository", "service", "source"]
    readonly_fields = ["created", "updated"]
    show_full_result_count = False


@admin.register(DailyRollup)
class DailyRollupAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["service", "environment", "day", "deployments", "failed_deployments", "incidents", "updated_at"]
    search_fields = ["service__slug", "service__name", "environment"]
    list_select_related = ["service"]
    show_full_result_count = False


@admin.register(TeamRollup)
class TeamRollupAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["team", "production", "day", "deployments", "failed_deployments", "incidents"]
    list_filter = ["production"]
    search_fields = ["team__slug", "team__name"]
    list_select_related = ["team"]
    show_full_result_count = False


@admin.register(TeamWeekRollup)
class TeamWeekRollupAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["team", "production", "week"]
    list_filter = ["production"]
    search_fields = ["team__slug", "team__name"]
    list_select_related = ["team"]
    show_full_result_count = False


@admin.register(TeamRollupVersion)
class TeamRollupVersionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["team", "token"]
    search_fields = ["team__slug", "team__name"]
    list_select_related = ["team"]


@admin.register(RolledUpService)
class RolledUpServiceAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["service_id", "team_ids"]
    search_fields = ["service_id"]


@admin.register(WorkflowPeriodRollup)
class WorkflowPeriodRollupAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["service", "workflow", "days", "day", "runs", "failed", "median", "p90"]
    list_filter = ["days"]
    search_fields = ["service__slug", "service__name", "workflow"]
    list_select_related = ["service"]
    show_full_result_count = False


@admin.register(WorkflowRollupCoverage)
class WorkflowRollupCoverageAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["service", "first_day", "last_day"]
    search_fields = ["service__slug", "service__name"]
    list_select_related = ["service"]


@admin.register(RefreshRequest)
class RefreshRequestAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Service refreshes waiting for the worker (or running): one that stays here more than a
    minute or two is being re-queued because its task failed or was lost (see the failed tasks)."""

    list_display = ["service", "since", "requests", "taken", "queued_at"]
    search_fields = ["service__slug", "service__name"]
    list_select_related = ["service"]

"""The actions app in the admin, one section per area."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from actions.models import ActionAudit, ActionPolicy

# --- self-service actions ---


@admin.register(ActionPolicy)
class ActionPolicyAdmin(admin.ModelAdmin):
    """Who may run each self-service action, and how often. A kind without a policy runs with the defaults
    (``actions.selfservice.DEFAULTS``: the team's members)."""

    list_display = [
        "kind",
        "enabled",
        "who",
        "platform_group",
        "platform_team",
        "per_user_per_hour",
        "per_target_per_hour",
    ]
    list_editable = ["enabled"]
    autocomplete_fields = ["platform_team"]
    fieldsets = [
        (None, {"fields": ["kind", "enabled"]}),
        ("Who may run it", {"fields": ["who", "platform_group", "platform_team"]}),
        ("How often", {"fields": ["per_user_per_hour", "per_target_per_hour"]}),
    ]


@admin.register(ActionAudit)
class ActionAuditAdmin(admin.ModelAdmin):
    """Every self-service action asked for: read-only, the audit trail."""

    list_display = ["started_at", "kind", "actor", "target", "team", "status", "duration_ms"]
    list_filter = ["kind", "status", "started_at"]
    search_fields = ["actor", "target", "message", "response"]
    date_hierarchy = "started_at"
    list_select_related = ["team"]
    fields = readonly_fields = (
        "started_at",
        "kind",
        "actor",
        "user",
        "person",
        "team",
        "pipeline_run",
        "target",
        "status",
        "message",
        "response",
        "duration_ms",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ActionAudit | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ActionAudit | None = None) -> bool:
        return False


# --- end of self-service actions ---

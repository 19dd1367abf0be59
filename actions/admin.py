from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from actions.models import Reminder, ReminderPolicy

# --- reminders ---


@admin.register(ReminderPolicy)
class ReminderPolicyAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "after_hours",
        "again_after_hours",
        "digest",
        "digest_at",
        "holdout_percent",
        "recipients",
        "is_active",
    ]
    list_filter = ["is_active", "digest", "recipients"]
    list_select_related = ["team", "service"]
    search_fields = ["team__name", "team__slug", "service__name", "service__slug"]
    autocomplete_fields = ["team", "service"]
    readonly_fields = ["created", "last_digest_on"]
    fieldsets = [
        (None, {"fields": ["team", "service", "include_sub_teams", "is_active"]}),
        ("When", {"fields": ["after_hours", "again_after_hours", "digest", "digest_at"]}),
        ("Who", {"fields": ["recipients"]}),
        ("Measuring the effect", {"fields": ["holdout_percent"]}),
        ("History", {"fields": ["created", "last_digest_on"]}),
    ]


@admin.register(Reminder)
class ReminderAdmin(admin.ModelAdmin):
    """Recorded by the schedule and the sender only: read, never edit."""

    list_display = ["due_at", "pull_request", "policy", "round", "status", "held_out", "waited", "sent_at"]
    list_filter = ["status", "held_out", "policy"]
    list_select_related = ["pull_request__repository", "policy__team", "policy__service"]
    search_fields = ["pull_request__title", "pull_request__repository__name", "why"]
    date_hierarchy = "due_at"
    show_full_result_count = False
    fields = readonly_fields = (
        "policy",
        "pull_request",
        "round",
        "held_out",
        "status",
        "due_at",
        "digest_on",
        "waited",
        "reviewers",
        "why",
        "commits",
        "last_commit_at",
        "reviews",
        "sent_at",
        "error",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Reminder]:
        return (
            super().get_queryset(request).select_related("pull_request__repository", "policy__team", "policy__service")
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Reminder | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Reminder | None = None) -> bool:
        return False  # the holdout's evidence

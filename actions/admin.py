"""The actions app's admin, one delimited section per area."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from actions import thresholds
from actions.forms import ThresholdForm
from actions.models import Threshold, ThresholdEvent

# --- thresholds ---


class ThresholdEventInline(admin.TabularInline):
    model = ThresholdEvent
    fields = ("at", "kind", "value", "comparison", "limit", "window_start", "window_end", "key")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    ordering = ("-at",)
    verbose_name_plural = "Crossings and recoveries (the latest first)"

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).order_by("-at")


@admin.register(Threshold)
class ThresholdAdmin(admin.ModelAdmin):
    """The portal's form (the same choices for the same user) and its backtest, on the change page's
    "Backtest" button (``admin/actions/threshold/change_form.html``)."""

    form = ThresholdForm
    list_display = ("name", "rule_text", "scope_text", "is_active", "is_firing", "crossings", "last_evaluated_at")
    list_filter = ("is_active", "is_firing", "scope", "metric")
    search_fields = ("name", "team__name", "service__name")
    readonly_fields = ("is_firing", "firing_since", "crossed_at", "crossings", "last_value", "last_evaluated_at")
    inlines = [ThresholdEventInline]
    list_select_related = ("team", "service")

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        base = super().get_form(request, obj, change, **kwargs)
        user = request.user

        class BoundThresholdForm(base):  # type: ignore[valid-type, misc]  # the admin's form class, for this user
            def __init__(self, *args: Any, **kw: Any) -> None:
                super().__init__(*args, user=user, **kw)

        return BoundThresholdForm

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).of_teams(thresholds.managed_team_ids(request.user))  # type: ignore[attr-defined, arg-type]

    def save_model(self, request: HttpRequest, obj: Threshold, form: Any, change: bool) -> None:
        thresholds.threshold_save(threshold=obj, by=request.user)  # type: ignore[arg-type]


@admin.register(ThresholdEvent)
class ThresholdEventAdmin(admin.ModelAdmin):
    """The log automations trigger on: read-only."""

    list_display = ("threshold", "kind", "at", "value", "limit", "key")
    list_filter = ("kind",)
    search_fields = ("threshold__name", "key")
    list_select_related = ("threshold",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

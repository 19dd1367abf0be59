"""The integrations' admin."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from integrations.models import ExternalService
from integrations.pagerduty.events import failed_event_ids
from metrics.ingest import inbound_retry
from metrics.services import SourceScope

# --- PagerDuty service mapping


class ExternalServiceForm(forms.ModelForm):
    """A mapping only to a service the connection's source may write to (its scope)."""

    class Meta:
        model = ExternalService
        fields = ["service"]

    def clean_service(self):
        service = self.cleaned_data["service"]
        connection = self.instance.connection if self.instance.connection_id else None
        if service is not None and connection is not None and not SourceScope(connection.source).allows(service):
            raise forms.ValidationError(
                f'Source "{connection.source}" may not write to service "{service.slug}" (outside its scope): '
                "choose a service of its team, or widen the source's scope."
            )
        return service


@admin.register(ExternalService)
class ExternalServiceAdmin(admin.ModelAdmin):
    """PagerDuty's services as e360 records them when their first event arrives: map each to an
    e360 service (in the list itself), then retry the events that failed for want of it."""

    form = ExternalServiceForm
    list_display = ["__str__", "external_id", "connection", "service", "first_seen_at"]
    list_editable = ["service"]
    list_filter = [("service", admin.EmptyFieldListFilter), "connection"]
    list_select_related = ["connection__source", "service"]
    search_fields = ["name", "external_id", "service__slug"]
    fields = ["connection", "external_id", "name", "service", "first_seen_at"]
    readonly_fields = ["connection", "external_id", "name", "first_seen_at"]
    actions = ["retry_failed_events"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # recorded from the events: a mapping names a service PagerDuty has sent

    def get_changelist_form(self, request: HttpRequest, **kwargs):
        return super().get_changelist_form(request, form=ExternalServiceForm, **kwargs)

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("metrics.change_inboundevent")

    @admin.action(description="Retry the failed events of the selected services", permissions=["retry"])
    def retry_failed_events(self, request: HttpRequest, queryset: QuerySet[ExternalService]) -> None:
        count = inbound_retry(event_ids=failed_event_ids(queryset))
        self.message_user(request, f"Queued {count} failed event(s) for processing.", messages.SUCCESS)


class ExternalServiceInline(admin.TabularInline):
    """The PagerDuty services of a connection, mapped in place (for the connection's admin)."""

    model = ExternalService
    form = ExternalServiceForm
    fields = ["external_id", "name", "service", "first_seen_at"]
    readonly_fields = ["external_id", "name", "first_seen_at"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

"""Setting a GitHub, GitLab or PagerDuty source up, in the admin.

- *Add connection* makes the source and its connection in one form: the name, the kind, the team, the API
  credentials. On save the admin sees the webhook URL and, once, the generated webhook secret (never
  stored in clear text, never shown again; "Generate a new webhook secret" shows a new one once).
- Credentials are write-only: their fields never render what is stored; empty keeps it.
- Actions (on the list and on a connection's page): test the connection (a real API call, through
  ``integrations.health.check_connection``), generate a new webhook secret, start a backfill of N days,
  load a PagerDuty connection's services to map (listed on its page, mapped in place).
- *Unmapped repositories*: what arrived for repositories no service claims, and one click to map one to a
  service (``Service.repositories``, the catalog) and retry what waited for it.
- The sources' page (``metrics``' Source admin) links each source to its connection and its health page.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Max, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from e360.models import Service, Team
from integrations import health, services
from integrations.http import IntegrationError
from integrations.models import Backfill, Connection, ExternalService
from integrations.pagerduty.events import failed_event_ids
from integrations.pagerduty.services import external_services_load
from metrics.admin import SourceAdmin as MetricsSourceAdmin
from metrics.ingest import inbound_retry
from metrics.models import InboundEvent, Source
from metrics.services import SourceScope

KINDS = [(kind.value, kind.label) for kind in (Source.Kind.GITHUB, Source.Kind.GITLAB, Source.Kind.PAGERDUTY)]
BOTH = [admin.ActionLocation.CHANGE_LIST, admin.ActionLocation.CHANGE_FORM]
KEEP = "Leave empty to keep what is stored; it is never shown."


def webhook_url(connection: Connection) -> str:
    return settings.SITE_URL + reverse("integrations:webhook", args=[connection.kind, connection.webhook_id])


class WriteOnlyTextarea(forms.Textarea):
    """A textarea that never shows what is stored (a private key)."""

    def format_value(self, value: Any) -> None:
        return None


class ConnectionForm(forms.ModelForm):
    """The connection's settings; its secrets are entered here and never rendered back."""

    # The source, made with the connection (add only).
    name = forms.CharField(max_length=200, help_text="e.g. “GitHub acme”.")
    kind = forms.ChoiceField(choices=KINDS)
    team = forms.ModelChoiceField(
        Team.objects.all(),
        required=False,
        help_text="Who runs this source: it may write to the services of this team and the teams below it.",
    )
    # Write-only.
    new_webhook_secret = forms.CharField(
        label="Webhook secret",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False),
        help_text=(
            "PagerDuty: paste the signing secret PagerDuty shows when you add the webhook subscription. "
            "GitHub and GitLab: leave empty, e360 generates one and shows it once. " + KEEP
        ),
    )
    new_api_token = forms.CharField(
        label="API token",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False),
        help_text=(
            "A fine-grained GitHub token, a GitLab access token (read_api) or a PagerDuty read-only API key. " + KEEP
        ),
    )
    forget_api_token = forms.BooleanField(label="Forget the stored API token", required=False)
    new_app_private_key = forms.CharField(
        label="GitHub App private key",
        required=False,
        strip=True,
        widget=WriteOnlyTextarea(attrs={"rows": 4, "autocomplete": "off", "spellcheck": "false"}),
        help_text="The App's private key (PEM). " + KEEP,
    )
    forget_app_private_key = forms.BooleanField(label="Forget the stored private key", required=False)
    repositories_text = forms.CharField(
        label="Repositories",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="One per line: owner/name (GitHub) or a project path (GitLab), to backfill. "
        "A GitHub App's come from its installation.",
    )

    class Meta:
        model = Connection
        fields = ["api_url", "app_id", "installation_id", "incident_label", "deploys_by", "tag_pattern"]
        labels = {"api_url": "API URL"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None and "repositories_text" in self.fields:
            self.fields["repositories_text"].initial = "\n".join(self.instance.repositories or [])

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if Source.objects.filter(name=name).exists():
            raise forms.ValidationError("A source has this name already.")
        return name

    def clean_repositories_text(self) -> list[str]:
        lines = (line.strip().strip("/") for line in self.cleaned_data["repositories_text"].splitlines())
        return list(dict.fromkeys(line for line in lines if line))

    def clean_tag_pattern(self) -> str:
        return self.cleaned_data["tag_pattern"].strip()

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("deploys_by") == Connection.DeploysBy.TAGS and not data.get("tag_pattern"):
            self.add_error("tag_pattern", "Deploying by tags: say which tags deploy (e.g. v*).")
        return data

    def save(self, commit: bool = True) -> Connection:
        connection = super().save(commit=False)
        data = self.cleaned_data
        connection.repositories = data.get("repositories_text", connection.repositories)
        if data.get("new_webhook_secret"):
            connection.webhook_secret = data["new_webhook_secret"]
        if data.get("new_api_token"):
            connection.api_token = data["new_api_token"]
        elif data.get("forget_api_token"):
            connection.api_token = ""
        if data.get("new_app_private_key"):
            connection.app_private_key = data["new_app_private_key"]
        elif data.get("forget_app_private_key"):
            connection.app_private_key = ""
        if commit:
            connection.save()
        return connection


# The settings a kind of connection does not use: its page leaves them out.
GITHUB_ONLY = frozenset(
    {
        *("app_id", "installation_id", "new_app_private_key", "forget_app_private_key"),
        *("incident_label", "deploys_by", "tag_pattern"),
    }
)
UNUSED_FIELDS: dict[str, frozenset[str]] = {
    Source.Kind.GITLAB: GITHUB_ONLY,
    Source.Kind.PAGERDUTY: GITHUB_ONLY | {"repositories_text"},
}


class BackfillForm(forms.Form):
    days = forms.IntegerField(
        min_value=1, max_value=3650, initial=365, help_text="How far back to fetch history, in days."
    )


class MapRepositoryForm(forms.Form):
    service = forms.ModelChoiceField(Service.objects.select_related("owner").order_by("name"))


class BackfillInline(admin.TabularInline):
    model = Backfill
    fields = ("status", "days", "created_at", "repositories_done", "repositories_total", "records", "requests")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = False
    verbose_name_plural = "backfills (the latest first)"


@admin.register(Connection)
class ConnectionAdmin(admin.ModelAdmin):
    form = ConnectionForm
    list_display = ["source", "kind_label", "team_name", "stored_credentials", "rate_budget", "health_link"]
    list_filter = ["source__kind"]
    search_fields = ["source__name"]
    list_select_related = ["source__team"]
    actions = ["test", "new_webhook_secret", "start_backfill", "load_pagerduty_services"]
    inlines = [BackfillInline]
    change_list_template = "admin/integrations/connection/change_list.html"

    def get_inlines(self, request: HttpRequest, obj: Connection | None) -> list:
        if obj is None:
            return []
        # A PagerDuty connection's services, mapped in place (ExternalServiceInline, below).
        return [*self.inlines, ExternalServiceInline] if obj.kind == Source.Kind.PAGERDUTY else self.inlines

    @staticmethod
    def _unconnected(request: HttpRequest) -> Source | None:
        """The source of ``?source=<id>`` (the Source admin's "Connect it"): of a provider's kind, not connected."""
        source_id = request.GET.get("source", "")
        if not source_id.isdigit():
            return None
        kinds = [kind for kind, _ in KINDS]
        return Source.objects.filter(pk=source_id, kind__in=kinds, connection__isnull=True).first()

    def get_fieldsets(self, request: HttpRequest, obj: Connection | None = None) -> Any:
        settings_ = ["api_url", "new_api_token", "app_id", "installation_id", "new_app_private_key"]
        if obj is None:
            source = [] if self._unconnected(request) else [(None, {"fields": ["name", "kind", "team"]})]
            return [
                *source,
                ("Webhook", {"fields": ["new_webhook_secret"]}),
                ("API", {"fields": settings_}),
                ("Records", {"fields": ["repositories_text", "incident_label", "deploys_by", "tag_pattern"]}),
            ]
        settings_ = [*settings_[:2], "forget_api_token", *settings_[2:], "forget_app_private_key"]
        fieldsets = [
            (None, {"fields": ["source_link", "kind_label", "health_link"]}),
            ("Webhook", {"fields": ["webhook_url", "new_webhook_secret"]}),
            ("API", {"fields": [*settings_, "stored_credentials", "rate_budget"]}),
            ("Records", {"fields": ["repositories_text", "incident_label", "deploys_by", "tag_pattern"]}),
        ]
        # A connection's page shows what its kind uses.
        unused = UNUSED_FIELDS.get(obj.kind, frozenset())
        shown = [(title, {"fields": [f for f in spec["fields"] if f not in unused]}) for title, spec in fieldsets]
        return [(title, spec) for title, spec in shown if spec["fields"]]

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: dict | None = None) -> HttpResponse:
        if (source := self._unconnected(request)) is not None:
            extra_context = {**(extra_context or {}), "title": f"Connect {source} ({source.get_kind_display()})"}
        return super().add_view(request, form_url, extra_context)

    def get_readonly_fields(self, request: HttpRequest, obj: Connection | None = None) -> list[str]:
        if obj is None:
            return []
        return ["source_link", "kind_label", "health_link", "webhook_url", "stored_credentials", "rate_budget"]

    def get_form(
        self, request: HttpRequest, obj: Connection | None = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm]:
        form = super().get_form(request, obj, change, **kwargs)
        if obj is not None or self._unconnected(request) is not None:
            # The source exists: its name, kind and team are edited on the source.
            for name in ("name", "kind", "team"):
                form.base_fields.pop(name, None)
        for name in UNUSED_FIELDS.get(obj.kind, ()) if obj is not None else ():
            form.base_fields.pop(name, None)  # a declared field not on the page: not posted, not saved
        return form

    # --- Read-only fields and columns

    @admin.display(description="source", ordering="source__name")
    def source_link(self, obj: Connection) -> str:
        return format_html('<a href="{}">{}</a>', reverse("admin:metrics_source_change", args=[obj.pk]), obj.source)

    @admin.display(description="kind", ordering="source__kind")
    def kind_label(self, obj: Connection) -> str:
        return obj.source.get_kind_display()

    @admin.display(description="team", ordering="source__team__name")
    def team_name(self, obj: Connection) -> str:
        return str(obj.source.team or "—")

    @admin.display(description="health")
    def health_link(self, obj: Connection) -> str:
        return format_html('<a href="{}">Source health</a>', reverse("integrations:source-detail", args=[obj.pk]))

    @admin.display(description="webhook URL")
    def webhook_url(self, obj: Connection) -> str:
        return format_html("<code>{}</code>", webhook_url(obj))

    @admin.display(description="credentials stored")
    def stored_credentials(self, obj: Connection) -> str:
        held = [
            label
            for label, value in (
                ("webhook secret", obj.webhook_secret),
                ("API token", obj.api_token),
                ("App private key", obj.app_private_key),
            )
            if value
        ]
        return ", ".join(held) or "none"

    @admin.display(description="rate-limit budget")
    def rate_budget(self, obj: Connection) -> str:
        if obj.rate_limit is None:
            return "not known yet"
        reset = f", reset at {obj.rate_reset_at:%H:%M} UTC" if obj.rate_reset_at else ""
        return f"{obj.rate_remaining} of {obj.rate_limit} left{reset}"

    # --- Saving: the secret shown once

    @staticmethod
    def _show_once(request: HttpRequest, connection: Connection, secret: str, note: str = "") -> None:
        """The secret, on the next page the admin sees and never again: no page renders it."""
        messages.warning(
            request,
            format_html(
                "The webhook secret of “{}” is <code>{}</code>. Copy it now into the webhook's settings: "
                "it is not shown again.{}",
                connection.source,
                secret,
                note,
            ),
        )

    def save_model(self, request: HttpRequest, obj: Connection, form: ConnectionForm, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        data = form.cleaned_data
        if (source := self._unconnected(request)) is not None:
            secret = services.connection_attach(source=source, connection=obj)
        else:
            secret = services.connection_create(name=data["name"], kind=data["kind"], team=data["team"], connection=obj)
        url = format_html(" Its webhook URL is <code>{}</code>.", webhook_url(obj))
        if secret is not None:
            self._show_once(request, obj, secret, url)
        else:
            self.message_user(request, format_html("The webhook secret is stored.{}", url), messages.SUCCESS)

    # --- Actions

    @admin.action(description="Test the connection (an API call)", permissions=["view"], location=BOTH)
    def test(self, request: HttpRequest, queryset: QuerySet[Connection]) -> None:
        for connection in queryset.select_related("source"):
            ok, message = health.check_connection(connection)
            self.message_user(request, f"{connection}: {message}", messages.SUCCESS if ok else messages.ERROR)

    @admin.action(description="Generate a new webhook secret (shown once)", permissions=["change"], location=BOTH)
    def new_webhook_secret(self, request: HttpRequest, queryset: QuerySet[Connection]) -> None:
        for connection in queryset.select_related("source"):
            if connection.kind == Source.Kind.PAGERDUTY:
                text = f"{connection}: PagerDuty makes its own signing secret; paste a new one on the connection."
                self.message_user(request, text, messages.WARNING)
                continue
            secret = services.webhook_secret_rotate(connection=connection)
            self._show_once(request, connection, secret, " The old secret no longer works.")

    @admin.action(description="Start a backfill…", permissions=["change"], location=BOTH)
    def start_backfill(self, request: HttpRequest, queryset: QuerySet[Connection]) -> HttpResponse | None:
        connections = list(queryset.select_related("source"))
        form = BackfillForm(request.POST if "days" in request.POST else None)
        if form.is_valid():
            for connection in connections:
                try:
                    backfill = services.backfill_start(connection=connection, days=form.cleaned_data["days"])
                except services.BackfillRunning as exc:
                    self.message_user(request, str(exc), messages.WARNING)
                    continue
                text = format_html(
                    '{}: a backfill of {} days is queued. <a href="{}">Follow it on the source\'s health page</a>.',
                    connection,
                    backfill.days,
                    reverse("integrations:source-detail", args=[connection.pk]),
                )
                self.message_user(request, text, messages.SUCCESS)
            return None
        posted = [
            (key, value)
            for key, values in request.POST.lists()
            if key not in ("csrfmiddlewaretoken", "days")
            for value in values
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Start a backfill",
            "connections": connections,
            "form": form,
            "posted": posted,
            "action_url": request.get_full_path(),
        }
        return TemplateResponse(request, "admin/integrations/connection/backfill.html", context)

    @admin.action(description="Load PagerDuty services (to map)", permissions=["change"], location=BOTH)
    def load_pagerduty_services(self, request: HttpRequest, queryset: QuerySet[Connection]) -> None:
        """A separate action from the test: it writes (``ExternalService`` rows), the test only reads."""
        for connection in queryset.select_related("source"):
            if connection.kind != Source.Kind.PAGERDUTY:
                self.message_user(request, f"{connection}: not a PagerDuty source.", messages.WARNING)
                continue
            try:
                loaded = external_services_load(connection=connection)
            except IntegrationError as exc:
                self.message_user(request, f"{connection}: {exc}", messages.ERROR)
                continue
            listed = (
                reverse("admin:integrations_externalservice_changelist")
                + "?"
                + urlencode({"connection__source__exact": connection.pk, "service__isempty": "1"})
            )
            text = format_html('{}: {} <a href="{}">The unmapped ones</a>.', connection, loaded, listed)
            self.message_user(request, text, messages.SUCCESS)

    # --- Unmapped repositories

    def get_urls(self) -> list:
        return [
            path("unmapped/", self.admin_site.admin_view(self.unmapped_view), name="integrations_unmapped"),
            path("unmapped/map/", self.admin_site.admin_view(self.map_view), name="integrations_unmapped_map"),
            *super().get_urls(),
        ]

    def unmapped_view(self, request: HttpRequest) -> HttpResponse:
        """Repositories that sent events no service claims: the events failed, waiting for a mapping."""
        if not request.user.has_perm("metrics.view_inboundevent"):
            raise PermissionDenied
        rows = (
            InboundEvent.objects.filter(services.unmapped_events())
            .values("error", "source__name")
            .annotate(count=Count("pk"), last=Max("received_at"))
            .order_by()
        )
        found: dict[str, dict[str, Any]] = {}
        for row in rows:
            repository = row["error"][len(services.UNMAPPED_PREFIX) : -len(services.UNMAPPED_SUFFIX)]
            item = found.setdefault(repository, {"repository": repository, "count": 0, "last": None, "sources": []})
            item["count"] += row["count"]
            item["last"] = max(filter(None, (item["last"], row["last"])))
            item["sources"].append(row["source__name"])
        repositories = sorted(found.values(), key=lambda item: (-item["count"], item["repository"]))
        for item in repositories:
            item["sources"].sort()
            item["map_url"] = (
                reverse("admin:integrations_unmapped_map") + "?" + urlencode({"repository": item["repository"]})
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Unmapped repositories",
            "repositories": repositories,
        }
        return TemplateResponse(request, "admin/integrations/connection/unmapped.html", context)

    def map_view(self, request: HttpRequest) -> HttpResponse:
        """Map one repository to a service, and retry the events that waited for it."""
        if not (request.user.has_perm("e360.change_service") and request.user.has_perm("metrics.change_inboundevent")):
            raise PermissionDenied
        repository = (request.POST.get("repository") or request.GET.get("repository") or "").strip()
        waiting = InboundEvent.objects.filter(
            status=InboundEvent.Status.FAILED, error=services.unmapped_error(repository)
        )
        unmapped = reverse("admin:integrations_unmapped")
        if not repository or not waiting.exists():
            self.message_user(request, "No event waits for that repository.", messages.WARNING)
            return HttpResponseRedirect(unmapped)
        form = MapRepositoryForm(request.POST if request.method == "POST" else None)
        if form.is_valid():
            service = form.cleaned_data["service"]
            retried, refused = services.repository_map(repository=repository, service=service)
            self.message_user(
                request,
                f"{repository} now belongs to {service.name}; {retried} event(s) queued for processing again.",
                messages.SUCCESS,
            )
            for source in refused:
                change = reverse("admin:metrics_source_change", args=[source.pk])
                text = format_html(
                    '<a href="{}">{}</a> may not write to {}: its events are left failed. Add the repository to its '
                    "repository map (or give it the service's team), then retry them.",
                    change,
                    source,
                    service.name,
                )
                self.message_user(request, text, messages.WARNING)
            return HttpResponseRedirect(unmapped)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Map {repository} to a service",
            "repository": repository,
            "waiting": waiting.count(),
            "form": form,
        }
        return TemplateResponse(request, "admin/integrations/connection/map_repository.html", context)


# The sources' page links each source to its connection and health page: metrics' Source admin, extended here
# (metrics does not import integrations).
admin.site.unregister(Source)


@admin.register(Source)
class SourceAdmin(MetricsSourceAdmin):
    readonly_fields = [*MetricsSourceAdmin.readonly_fields, "connection_link", "health_link"]
    list_display = [*MetricsSourceAdmin.list_display, "health_column"]

    @admin.display(description="health")
    def health_column(self, obj: Source) -> str:
        return format_html('<a href="{}">Health</a>', reverse("integrations:source-detail", args=[obj.pk]))

    @admin.display(description="connection")
    def connection_link(self, obj: Source) -> str:
        if obj.pk is None:
            return "—"
        if health.connection_of(obj) is not None:
            url = reverse("admin:integrations_connection_change", args=[obj.pk])
            return format_html('<a href="{}">Webhook, credentials and backfills</a>', url)
        if obj.kind in {kind for kind, _ in KINDS}:
            url = reverse("admin:integrations_connection_add") + "?" + urlencode({"source": obj.pk})
            return format_html('<a href="{}">Connect it</a>: its webhook secret and API credentials', url)
        return "—"

    @admin.display(description="health")
    def health_link(self, obj: Source) -> str:
        if obj.pk is None:
            return "—"
        url = reverse("integrations:source-detail", args=[obj.pk])
        return format_html('<a href="{}">Source health</a>: last event, failures, backfill, what is missing', url)


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


class ServiceChoicesOnce:
    """A formset of ``ExternalServiceForm`` rows whose service choices come from one query, not one per row."""

    def _construct_form(self, i: int, **kwargs: Any) -> forms.Form:
        form = super()._construct_form(i, **kwargs)  # type: ignore[misc]
        if not hasattr(self, "_service_choices"):
            self._service_choices = list(form.fields["service"].choices)
        form.fields["service"].choices = self._service_choices
        return form


class ExternalServiceFormSet(ServiceChoicesOnce, forms.BaseModelFormSet):
    pass


class ExternalServiceInlineFormSet(ServiceChoicesOnce, forms.BaseInlineFormSet):
    pass


@admin.register(ExternalService)
class ExternalServiceAdmin(admin.ModelAdmin):
    """PagerDuty's services as e360 records them when their first event arrives, or ahead of it from the
    API (the connection's *Load PagerDuty services*): map each to an e360 service (in the list itself),
    then retry the events that failed for want of it."""

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
        return False  # recorded from the events or the API: a mapping names a service PagerDuty has

    def get_changelist_form(self, request: HttpRequest, **kwargs):
        return super().get_changelist_form(request, form=ExternalServiceForm, **kwargs)

    def get_changelist_formset(self, request: HttpRequest, **kwargs: Any) -> Any:
        return super().get_changelist_formset(request, formset=ExternalServiceFormSet, **kwargs)

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
    formset = ExternalServiceInlineFormSet
    fields = ["external_id", "name", "service", "first_seen_at"]
    readonly_fields = ["external_id", "name", "first_seen_at"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

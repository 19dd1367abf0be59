"""The actions app's admin; each area in its own section."""

from __future__ import annotations

import json
import re
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ImproperlyConfigured
from django.core.validators import URLValidator, validate_email
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from actions import automations, initiatives, thresholds
from actions.channels import Fact, Message, send
from actions.forms import InitiativeForm, ReminderPolicyForm, ThresholdForm, offer_managed
from actions.models import (
    ActionAudit,
    ActionPolicy,
    Automation,
    AutomationRun,
    Channel,
    Initiative,
    InitiativeTeam,
    OutboxMessage,
    Reminder,
    ReminderPolicy,
    Threshold,
    ThresholdEvent,
)
from actions.models.automations import PULSE_TRIGGERS, THRESHOLD_TRIGGERS, Do, Trigger
from actions.models.channels import SECRET_OF
from actions.models.initiatives import FROZEN_MESSAGE, CreatedFrom, org_today
from actions.models.initiatives import Status as InitiativeStatus
from actions.threshold_metrics import METRICS
from e360.env import env_str
from e360.models import Person, Service, Team, User
from e360.tree import TeamTree
from insights import engine


class UserFormAdmin(admin.ModelAdmin):
    """An admin whose form takes the request's user (the portal's ``ThresholdForm``, ``ReminderPolicyForm``,
    ``InitiativeForm``; ``AutomationForm``): the same choices and checks for the same user, and only the rows of the
    teams they manage."""

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        base = super().get_form(request, obj, change, **kwargs)
        user = request.user

        class BoundForm(base):  # type: ignore[valid-type, misc]  # the admin's form class, for this user
            def __init__(self, *args: Any, **kw: Any) -> None:
                super().__init__(*args, user=user, **kw)

        return BoundForm

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).of_teams(thresholds.managed_team_ids(request.user))  # type: ignore[attr-defined, arg-type]


# --- channels ---

CHANNEL_ACTIONS = [admin.ActionLocation.CHANGE_LIST, admin.ActionLocation.CHANGE_FORM]
KEEP = "Leave empty to keep what is stored; it is never shown."
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# The settings each kind uses: a channel's page shows these.
CHANNEL_SETTINGS: dict[str, tuple[str, ...]] = {
    Channel.Kind.EMAIL: ("addresses_text",),
    Channel.Kind.SLACK_WEBHOOK: ("new_secret", "secret_env"),
    Channel.Kind.SLACK_BOT: ("slack_channel", "api_url", "new_secret", "secret_env"),
    Channel.Kind.TEAMS: ("new_secret", "secret_env"),
    Channel.Kind.WEBHOOK: ("url", "new_secret", "secret_env"),
    Channel.Kind.OUTBOX: (),
}
SECRET_FIELDS = ("new_secret", "forget_secret", "secret_env")


class ChannelForm(forms.ModelForm):
    """A channel's settings. Its secret is entered here and never rendered back; or the name of the
    environment variable holding it, which must be set when the form is saved."""

    addresses_text = forms.CharField(
        label="Email addresses",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line (or comma-separated). Messages for one person (a reminder) go to them instead.",
    )
    new_secret = forms.CharField(
        label="Secret",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=(
            "Slack incoming webhook: its URL (https://hooks.slack.com/services/…). Slack bot: its token (xoxb-…). "
            "Teams: the workflow's URL (“When a Teams webhook request is received”). Signed webhook: the signing "
            "key you share with the receiver. " + KEEP
        ),
    )
    forget_secret = forms.BooleanField(label="Forget the stored secret", required=False)

    class Meta:
        model = Channel
        fields = ["name", "kind", "team", "slack_channel", "url", "api_url", "secret_env"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None and "addresses_text" in self.fields:
            self.fields["addresses_text"].initial = "\n".join(self.instance.addresses or [])

    def clean_addresses_text(self) -> list[str]:
        found = [item.strip() for item in re.split(r"[\s,;]+", self.cleaned_data["addresses_text"]) if item.strip()]
        for address in found:
            try:
                validate_email(address)
            except forms.ValidationError:
                raise forms.ValidationError(f"“{address}” is not an email address.") from None
        return list(dict.fromkeys(found))

    def clean_slack_channel(self) -> str:
        value = self.cleaned_data["slack_channel"].strip()
        if value and not re.fullmatch(r"[CGD][A-Z0-9]{2,}", value):
            raise forms.ValidationError("A Slack channel id, e.g. C0123ABCD (the channel's details show it).")
        return value

    def clean_secret_env(self) -> str:
        name = self.cleaned_data["secret_env"].strip()
        if not name:
            return ""
        if not ENV_NAME.match(name):
            raise forms.ValidationError("An environment variable's name: letters, digits and underscores.")
        try:
            value = env_str(name)
        except ImproperlyConfigured as exc:  # NAME_FILE names a file that cannot be read
            raise forms.ValidationError(str(exc)) from None
        if not value:
            raise forms.ValidationError(f"{name} is not set in e360's environment (nor {name}_FILE).")
        return name

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = data.get("kind") or self.instance.kind
        secret, secret_env = data.get("new_secret", ""), data.get("secret_env", "")
        if secret and secret_env:
            self.add_error("new_secret", "Either a stored secret or an environment variable, not both.")
            return data
        if kind in (Channel.Kind.SLACK_WEBHOOK, Channel.Kind.TEAMS) and secret:
            try:
                URLValidator(schemes=["https", "http"])(secret)
            except forms.ValidationError:
                # Never echo the value: it is a secret even when mistyped.
                self.add_error("new_secret", "This kind's secret is its webhook's URL (https://…).")
        if kind == Channel.Kind.SLACK_BOT and secret and not secret.startswith("xox"):
            self.add_error("new_secret", "A Slack bot token starts with xoxb-.")
        if kind == Channel.Kind.WEBHOOK and not data.get("url"):
            self.add_error("url", "Where to post the webhook.")
        kept = bool(self.instance.secret) and not data.get("forget_secret")
        if kind in SECRET_OF and not (secret or secret_env or kept):
            self.add_error("new_secret", "This kind needs its secret: enter it, or name an environment variable.")
        return data

    def save(self, commit: bool = True) -> Channel:
        channel = super().save(commit=False)
        data = self.cleaned_data
        if "addresses_text" in data:
            channel.addresses = data["addresses_text"]
        if data.get("new_secret"):
            channel.secret = data["new_secret"]
        elif data.get("forget_secret") or data.get("secret_env"):
            channel.secret = ""  # the environment's is used: none is kept besides
        if commit:
            channel.save()
        return channel


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    form = ChannelForm
    list_display = ["name", "kind", "team", "destination", "secret_source", "paused"]
    list_filter = ["kind", "team"]
    search_fields = ["name"]
    list_select_related = ["team"]
    actions = ["send_test_message", "resume"]

    def get_fieldsets(self, request: HttpRequest, obj: Channel | None = None) -> Any:
        if obj is None:
            shown = [field for fields in CHANNEL_SETTINGS.values() for field in fields]
            return [
                (None, {"fields": ["name", "kind", "team"]}),
                (
                    "Settings (each kind uses some: see their help)",
                    {"fields": list(dict.fromkeys(["addresses_text", "slack_channel", "url", "api_url", *shown]))},
                ),
            ]
        used = list(CHANNEL_SETTINGS[obj.kind])
        if "new_secret" in used:
            used.insert(used.index("new_secret") + 1, "forget_secret")
            used.append("secret_source")
        return [
            (None, {"fields": ["name", "kind", "team"]}),
            (f"{obj.get_kind_display()} settings", {"fields": [*used, "paused", "outbox_link"]}),
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: Channel | None = None) -> list[str]:
        # The kind decides which settings mean anything: it is chosen once.
        return ["kind", "secret_source", "paused", "outbox_link"] if obj is not None else []

    def get_form(
        self, request: HttpRequest, obj: Channel | None = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm]:
        form = super().get_form(request, obj, change, **kwargs)
        if obj is not None:
            used = set(CHANNEL_SETTINGS[obj.kind])
            unused = {"addresses_text", "slack_channel", "url", "api_url", *SECRET_FIELDS} - used
            if "new_secret" in used:
                unused.discard("forget_secret")
            for name in unused:
                form.base_fields.pop(name, None)  # not on the page: not posted, not saved
        return form

    @admin.display(description="sends to")
    def destination(self, obj: Channel) -> str:
        """Where it posts, as far as it is no secret (a webhook's URL is one)."""
        match obj.kind:
            case Channel.Kind.EMAIL:
                return ", ".join(obj.addresses) or "the person each message is for"
            case Channel.Kind.SLACK_BOT:
                return f"{obj.slack_channel or 'no channel'}; direct messages"
            case Channel.Kind.WEBHOOK:
                return obj.url
            case Channel.Kind.OUTBOX:
                return "the outbox (nothing is sent)"
        return "the webhook's channel"

    @admin.display(description="secret")
    def secret_source(self, obj: Channel) -> str:
        if obj.secret_env:
            return f"from the environment variable {obj.secret_env}"
        if obj.secret:
            return f"{obj.secret_label} is stored (encrypted)"
        return "none" if not obj.secret_label else f"missing: {obj.secret_label}"

    @admin.display(description="rate limit")
    def paused(self, obj: Channel) -> str:
        if obj.is_paused(timezone.now()):
            return f"paused until {obj.paused_until:%Y-%m-%d %H:%M:%S} UTC"
        return "—"

    @admin.display(description="outbox")
    def outbox_link(self, obj: Channel) -> str:
        """What it kept instead of sending: the outbox's messages, or the dry runs'."""
        count = OutboxMessage.objects.filter(channel=obj).count()
        url = reverse("admin:actions_outboxmessage_changelist") + f"?channel__id__exact={obj.pk}"
        return format_html('<a href="{}">{} message(s) kept</a>', url, count) if count else "none kept"

    @admin.action(description="Send a test message", permissions=["change"], location=CHANNEL_ACTIONS)
    def send_test_message(self, request: HttpRequest, queryset: QuerySet[Channel]) -> None:
        """A real message through each channel, and what it answered. A bot with no channel and an email
        channel with no address send it to the admin's own catalog person."""
        person = Person.objects.filter(user=request.user).first() if request.user.is_authenticated else None
        for channel in queryset.select_related("team"):
            to_admin = (channel.kind == Channel.Kind.EMAIL and not channel.addresses) or (
                channel.kind == Channel.Kind.SLACK_BOT and not channel.slack_channel
            )
            message = Message(
                title="Test message from e360",
                text=f"{request.user} sent this from e360's admin to check the channel “{channel}”.",
                url=settings.SITE_URL + reverse("admin:actions_channel_change", args=[channel.pk]),
                facts=(Fact("Channel", channel.name), Fact("Kind", channel.get_kind_display())),
                recipient=person if to_admin else None,
            )
            sent = send(channel, message, dedupe_key=f"test:{channel.pk}:{timezone.now().timestamp()}")
            answer = f" (status {sent.status})" if sent.status else ""
            if sent.ok:
                self.message_user(request, f"{channel}: sent{answer}: {sent.response}", messages.SUCCESS)
            else:
                self.message_user(request, f"{channel}: not sent{answer}: {sent.response}", messages.ERROR)

    @admin.action(description="Resume a rate-limited channel now", permissions=["change"], location=CHANNEL_ACTIONS)
    def resume(self, request: HttpRequest, queryset: QuerySet[Channel]) -> None:
        resumed = queryset.filter(paused_until__isnull=False).update(paused_until=None)
        self.message_user(request, f"{resumed} channel(s) resumed.", messages.SUCCESS)


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    """What the outbox channels and the dry runs would have sent: read-only."""

    list_display = ["created_at", "channel", "kind", "dry_run", "recipient", "title"]
    list_filter = ["kind", "dry_run", "channel"]
    search_fields = ["title", "recipient", "dedupe_key"]
    list_select_related = ["channel"]
    date_hierarchy = "created_at"
    fields = readonly_fields = (
        "created_at",
        "channel",
        "kind",
        "dry_run",
        "dedupe_key",
        "recipient",
        "title",
        "text",
        "url",
        "facts",
        "payload_json",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: OutboxMessage | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: OutboxMessage | None = None) -> bool:
        return False

    @admin.display(description="payload (what would have been posted)")
    def payload_json(self, obj: OutboxMessage) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.payload, indent=2, ensure_ascii=False))


# --- end of channels ---


# --- reminders ---


@admin.register(ReminderPolicy)
class ReminderPolicyAdmin(UserFormAdmin):
    """The portal's form (``/actions/reminders/``, for the teams' leads): the same choices and checks."""

    form = ReminderPolicyForm
    list_display = [
        "__str__",
        "after_hours",
        "again_after_hours",
        "digest",
        "digest_at",
        "holdout_percent",
        "recipients",
        "channel",
        "is_active",
    ]
    list_filter = ["is_active", "digest", "recipients"]
    list_select_related = ["team", "service", "channel"]
    search_fields = ["team__name", "team__slug", "service__name", "service__slug"]
    autocomplete_fields = ["team", "service"]
    readonly_fields = ["created", "last_digest_on"]
    fieldsets = [
        (None, {"fields": ["team", "service", "include_sub_teams", "is_active"]}),
        ("When", {"fields": ["after_hours", "again_after_hours", "digest", "digest_at"]}),
        ("Who", {"fields": ["recipients", "channel"]}),
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
        "requested_by",
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
        "pull_request",
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
class ThresholdAdmin(UserFormAdmin):
    """The portal's form (the same choices for the same user) and its backtest, on the change page's
    "Backtest" button (``admin/actions/threshold/change_form.html``)."""

    form = ThresholdForm
    list_display = ("name", "rule_text", "scope_text", "is_active", "is_firing", "crossings", "last_evaluated_at")
    list_filter = ("is_active", "is_firing", "scope", "metric")
    search_fields = ("name", "team__name", "service__name")
    readonly_fields = ("is_firing", "firing_since", "crossed_at", "crossings", "last_value", "last_evaluated_at")
    inlines = [ThresholdEventInline]
    list_select_related = ("team", "service")

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


# --- automations ---


class AutomationForm(forms.ModelForm):
    """An automation, checked whole: the trigger's parameters, a channel the owner team may use, a threshold and
    conditions within the owner's scope (a misconfigured automation is refused with why, nothing saved)."""

    tiers = forms.TypedMultipleChoiceField(
        choices=Service.Tier.choices,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Only services of these tiers; none ticked: any tier.",
    )

    class Meta:
        model = Automation
        fields = [
            "name",
            "team",
            "is_active",
            "trigger",
            "threshold",
            "failures_in_a_row",
            "waiting_hours",
            "every_hours",
            "daily_at",
            "survey_dimension",
            "favourable_below",
            "weeks_after_start",
            "days_after_joining",
            "tiers",
            "teams",
            "services",
            "action",
            "channel",
            "note",
            "initiative_dimension",
            "pulse_template",
            "pulse_dimension",
            "pulse_days_open",
            "dry_run",
            "quiet_hours",
        ]

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "pulse_days_open" in self.fields:
            self.fields["pulse_days_open"].required = False  # empty: the default
        self.managed = offer_managed(self, user)
        if self.managed is not None and "team" in self.fields:
            self.fields["team"].required = True

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        team = data.get("team")
        if self.managed is not None and team is None:
            self.add_error("team", "Only org viewers set up organisation-wide automations: choose your team.")
            return data
        scope = None if team is None else TeamTree.load().subtree([team.pk])
        owner = str(team) if team else "the organisation"
        trigger = data.get("trigger")
        threshold = data.get("threshold")
        if threshold is not None:
            if trigger not in THRESHOLD_TRIGGERS:
                self.add_error("threshold", "Only a threshold trigger names a threshold.")
            elif threshold.metric_spec is None:
                self.add_error("threshold", f"“{threshold}” watches an unknown metric ({threshold.metric}).")
            elif scope is not None and threshold.owner_team_id not in scope:
                self.add_error("threshold", f"{owner} cannot see “{threshold}”: choose one of its thresholds.")
        if trigger == Trigger.PIPELINE_FAILING and not data.get("failures_in_a_row"):
            self.add_error("failures_in_a_row", "How many failures in a row trigger it.")
        if trigger == Trigger.PULL_REQUEST_WAITING and not data.get("waiting_hours"):
            self.add_error("waiting_hours", "How many business hours a pull request may wait.")
        if trigger == Trigger.SCHEDULE and bool(data.get("every_hours")) == (data.get("daily_at") is not None):
            self.add_error("every_hours", "A schedule runs either every N hours or daily at a time: give one.")
        if trigger == Trigger.SURVEY_CLOSED:
            if not data.get("survey_dimension"):
                self.add_error("survey_dimension", "Which survey dimension a closed survey is read on.")
            if data.get("favourable_below") is None and "favourable_below" not in self.errors:
                self.add_error("favourable_below", "Below what % favourable (0–100) a team triggers it.")
            for name in ("tiers", "services"):
                if data.get(name):
                    self.add_error(name, "A survey's figures are a team's, not a service's: only teams apply.")
        if trigger == Trigger.INITIATIVE_STARTED and not data.get("weeks_after_start"):
            self.add_error("weeks_after_start", "How many weeks after the teams' start it fires.")
        if trigger == Trigger.PEOPLE_JOINED and not data.get("days_after_joining"):
            self.add_error("days_after_joining", "How many days after joining it fires, e.g. 7 or 30.")
        if trigger in (Trigger.INITIATIVE_STARTED, Trigger.PEOPLE_JOINED):
            for name in ("tiers", "teams", "services"):
                if data.get(name):
                    self.add_error(name, "This trigger concerns no service: only the owner team's scope applies.")
        for name, rows in (("teams", data.get("teams")), ("services", data.get("services"))):
            if scope is None or not rows:
                continue
            outside = [str(row) for row in rows if (row.pk if name == "teams" else row.owner_id) not in scope]
            if outside:
                self.add_error(name, f"Not {owner}'s: {', '.join(outside)}.")
        action = data.get("action")
        channel = data.get("channel")
        if action == Do.MESSAGE:
            if channel is None:
                self.add_error("channel", "Where the message goes.")
            elif not channel.usable_by(TeamTree.load().chain(team.pk) if team else ()):
                self.add_error("channel", f"“{channel}” is another team's channel: {owner} may not post there.")
        elif action == Do.RERUN_FAILED_JOBS and trigger != Trigger.PIPELINE_FAILING:
            self.add_error("action", "Re-running the failed jobs follows a failing pipeline trigger only.")
        dimension = data.get("initiative_dimension")
        if action == Do.CREATE_INITIATIVE:
            if not dimension:
                self.add_error("initiative_dimension", "Drafting an initiative needs the dimension it addresses.")
            elif not initiatives.mapped_metrics(dimension):
                self.add_error(
                    "initiative_dimension",
                    f"{engine.DIMENSIONS_BY_KEY[dimension].label} maps to no delivery metric: an initiative on it "
                    "would measure nothing. Choose another dimension.",
                )
            if team is None and trigger == Trigger.SCHEDULE:
                self.add_error("team", "A scheduled draft is for the owner team: choose one.")
        elif dimension:
            self.add_error("initiative_dimension", "Only drafting an initiative uses a dimension.")
        self._clean_pulse(data, action, trigger)
        return data

    def _clean_pulse(self, data: dict[str, Any], action: str | None, trigger: str | None) -> None:
        if data.get("pulse_days_open") is None and "pulse_days_open" not in self.errors:
            data["pulse_days_open"] = Automation._meta.get_field("pulse_days_open").default  # left empty
        template, dimension = data.get("pulse_template"), data.get("pulse_dimension")
        if action != Do.OPEN_PULSE:
            for name, value in (("pulse_template", template), ("pulse_dimension", dimension)):
                if value:
                    self.add_error(name, "Only opening a pulse survey uses it.")
            return
        if trigger not in PULSE_TRIGGERS:
            self.add_error("action", "A pulse survey follows an incident, an initiative's start or people joining.")
        elif template is not None and dimension:
            self.add_error("pulse_dimension", "Choose a template or a dimension, not both.")
        elif trigger == Trigger.INITIATIVE_STARTED:
            if template is not None or dimension:
                self.add_error("pulse_dimension", "An initiative's pulse asks its own survey dimension: leave empty.")
        elif trigger != Trigger.PEOPLE_JOINED and template is None and not dimension:
            self.add_error("pulse_dimension", "What the pulse asks: choose a template or a dimension.")


@admin.register(Automation)
class AutomationAdmin(UserFormAdmin):
    form = AutomationForm
    list_display = ["name", "team", "trigger", "action", "channel", "dry_run", "is_active", "checked_at"]
    list_filter = ["trigger", "action", "is_active", "dry_run"]
    search_fields = ["name"]
    list_select_related = ["team", "channel"]
    autocomplete_fields = ["threshold", "teams", "services"]
    readonly_fields = ["checked_at", "log"]
    fieldsets = [
        (None, {"fields": ["name", "team", "is_active", "log"]}),
        (
            "When",
            {
                "fields": [
                    "trigger",
                    "threshold",
                    "failures_in_a_row",
                    "waiting_hours",
                    "every_hours",
                    "daily_at",
                    "survey_dimension",
                    "favourable_below",
                    "weeks_after_start",
                    "days_after_joining",
                ]
            },
        ),
        ("Only for (empty: everything of the owner team)", {"fields": ["tiers", "teams", "services"]}),
        (
            "Then",
            {
                "fields": [
                    "action",
                    "channel",
                    "note",
                    "initiative_dimension",
                    "pulse_template",
                    "pulse_dimension",
                    "pulse_days_open",
                    "dry_run",
                    "quiet_hours",
                    "checked_at",
                ]
            },
        ),
    ]

    def save_model(self, request: HttpRequest, obj: Automation, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = request.user  # type: ignore[assignment]
        super().save_model(request, obj, form, change)

    @admin.display(description="runs")
    def log(self, obj: Automation) -> str:
        if obj.pk is None:
            return "—"
        return format_html('<a href="{}">its run log</a>', reverse("actions:automation-detail", args=[obj.pk]))


@admin.register(AutomationRun)
class AutomationRunAdmin(admin.ModelAdmin):
    """What the automations did: read-only; a failed run can be put back to pending (“Retry”)."""

    list_display = ["created_at", "automation", "trigger", "dedupe_key", "status", "attempts", "duration_ms"]
    list_filter = ["status", "trigger"]
    search_fields = ["automation__name", "dedupe_key"]
    list_select_related = ["automation"]
    date_hierarchy = "created_at"
    actions = ["retry"]
    fields = readonly_fields = (
        "automation",
        "trigger",
        "dedupe_key",
        "status",
        "not_before",
        "response",
        "attempts",
        "duration_ms",
        "created_at",
        "claimed_at",
        "finished_at",
        "inputs",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[AutomationRun]:
        managed = thresholds.managed_team_ids(request.user)  # type: ignore[arg-type]
        found = super().get_queryset(request)
        return found if managed is None else found.filter(automation__team_id__in=managed)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A run is never edited; the list's "Retry" is the one change allowed.
        return obj is None and super().has_change_permission(request)

    @admin.action(
        description="Retry the failed runs, and those stuck sending (the channel's key is kept)", permissions=["change"]
    )
    def retry(self, request: HttpRequest, queryset: QuerySet[AutomationRun]) -> None:
        retried = automations.retry(run_ids=queryset.values_list("pk", flat=True))
        self.message_user(request, f"{retried} run(s) will run again at the next tick.", messages.SUCCESS)


# --- end of automations ---


# --- initiatives ---


class InitiativeTeamFormSet(forms.BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        initiative = self.instance
        if initiative.pk is None or initiative.stored_frozen_at() is None:
            return
        if self.deleted_forms or any(form.has_changed() for form in self.forms if form not in self.deleted_forms):
            raise forms.ValidationError(FROZEN_MESSAGE, code="frozen")


class InitiativeTeamInline(admin.TabularInline):
    model = InitiativeTeam
    formset = InitiativeTeamFormSet
    fields = ("team", "starts_on", "baseline_at")
    readonly_fields = ("baseline_at",)
    min_num = 1
    extra = 0
    verbose_name = "target team"
    verbose_name_plural = "Target teams (a team's own start: a staggered start)"

    # The teams are part of the initiative: whoever may add or change it edits them (no separate permission).
    def _edits(self, request: HttpRequest, obj: Any) -> bool:
        user = request.user
        return user.has_perm("actions.change_initiative") or (obj is None and user.has_perm("actions.add_initiative"))

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("actions.view_initiative") or self._edits(request, obj)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._edits(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._edits(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._edits(request, obj)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "team":
            managed = thresholds.managed_team_ids(request.user)  # type: ignore[arg-type]
            kwargs["queryset"] = Team.objects.all() if managed is None else Team.objects.filter(pk__in=managed)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class InitiativeStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return list(InitiativeStatus.choices)

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        today = org_today()
        match self.value():
            case InitiativeStatus.PLANNED:
                return queryset.planned(today)
            case InitiativeStatus.STARTING:
                return queryset.starting(today)
            case InitiativeStatus.FROZEN:
                return queryset.frozen()
        return queryset


@admin.register(Initiative)
class InitiativeAdmin(UserFormAdmin):
    """Initiatives, with their target teams. Saving one whose start has come freezes it at once (else the hourly
    task does on its start date); its frozen definitions and baselines are shown read-only."""

    form = InitiativeForm
    inlines = [InitiativeTeamInline]
    list_display = ["name", "dimension", "starts_on", "status_text", "owner", "created_from", "frozen_at"]
    list_filter = [InitiativeStatusFilter, "dimension", "created_from"]
    search_fields = ["name", "hypothesis", "targets__team__name"]
    list_select_related = ["owner"]
    autocomplete_fields = ["owner"]
    filter_horizontal = ["automations", "thresholds", "reminder_policies"]
    readonly_fields = [
        "status_text",
        "page",
        "created_from",
        "drafted_by",
        "created_by",
        "created_at",
        "frozen_at",
        "snapshot",
    ]
    view_on_site = False  # its page is linked in the form ("View page"), once
    fieldsets = [
        (None, {"fields": ["name", "dimension", "hypothesis", "owner", "status_text", "page"]}),
        (
            "Definitions (frozen at the start: a change is refused after it)",
            {
                "fields": [
                    "starts_on",
                    "primary_metrics",
                    "survey_dimension",
                    "guardrail_metric",
                    "guardrail_worse_when",
                    "ramp_up_days",
                    "window_days",
                ]
            },
        ),
        ("What belongs to it", {"fields": ["automations", "thresholds", "reminder_policies"]}),
        ("Frozen", {"fields": ["frozen_at", "snapshot"]}),
        ("History", {"fields": ["created_from", "drafted_by", "created_by", "created_at"]}),
    ]

    def save_model(self, request: HttpRequest, obj: Initiative, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = request.user  # type: ignore[assignment]
            obj.created_from = CreatedFrom.ADMIN
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        frozen = initiatives.initiative_freeze(initiative_id=form.instance.pk)
        if frozen.definitions or frozen.baselines:
            self.message_user(
                request,
                f"Its start has come: its definitions and {frozen.baselines} team baseline(s) are frozen.",
                messages.INFO,
            )

    @admin.display(description="status")
    def status_text(self, obj: Initiative) -> str:
        return obj.status().label if obj.pk else "—"

    @admin.display(description="page")
    def page(self, obj: Initiative) -> str:
        if obj.pk is None:
            return "—"
        return format_html('<a href="{}">View page</a> (its timelines and estimates)', obj.get_absolute_url())

    @admin.display(description="drafted by the run")
    def drafted_by(self, obj: Initiative) -> str:
        run = obj.automation_run
        if run is None:
            return "—"
        url = reverse("actions:automation-detail", args=[run.automation_id])
        return format_html('<a href="{}">{}</a>', url, run)

    @admin.display(description="frozen definitions and baselines")
    def snapshot(self, obj: Initiative) -> str:
        if not obj.frozen:
            return "Not frozen yet: its start has not come."
        rows = []
        for baseline in obj.frozen.get("baselines", {}).values():
            values = "; ".join(f"{_metric_text(key, value)}" for key, value in baseline["values"].items())
            rows.append((baseline["team"], baseline["starts_on"], values))
        return format_html(
            "<ul>{}</ul><details><summary>As stored</summary><pre>{}</pre></details>",
            format_html_join("", "<li>{} (starts {}): {}</li>", rows) if rows else "No team has started yet.",
            json.dumps(obj.frozen, indent=2, ensure_ascii=False),
        )


def _metric_text(key: str, value: float | None) -> str:
    metric = METRICS.get(key)
    return f"{metric.label} {metric.text(value)}" if metric else f"{key} {value}"


# --- end of initiatives ---

"""The surveys admin: build templates, create and run campaigns (schedule, open now, send
reminders now, close, preview the form).

Responses and answers are not registered (docs/surveys.md, rule 7): an admin sees participation
counts, never what anybody answered. Invitations are listed read-only (who was invited, to
which team), never whether a person answered: staff also read the results, and knowing who
answered this wave would let a figure that moved be pinned on them. A campaign's page shows
answered counts per team instead, as the results pages show them. Closing a campaign with fewer than k answers in
most of those groups asks for confirmation first, listing them with their counts.

The admin parses input and calls ``surveys.services``; the one write it does itself is the
series a new campaign starts (wave 1), as ``services.campaign_create`` does for code.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.defaultfilters import floatformat
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_http_methods

from e360.forms import LinesField
from surveys import results, services, tasks
from surveys.anonymity import Status
from surveys.forms import AnswerForm
from surveys.models import (
    MAX_QUESTIONS,
    MAX_REMINDERS,
    Campaign,
    Invitation,
    Series,
    Template,
    TemplateQuestion,
)

if TYPE_CHECKING:
    from typing import TypedDict

    from django_stubs_ext import WithAnnotations

    from e360.models import User

    # What the admin's querysets annotate (``get_queryset``, ``Campaign.objects.with_participation``).
    class _TemplateCounts(TypedDict):
        n_questions: int
        n_versions: int
        n_campaigns: int

    class _Participation(TypedDict):
        invited: int
        responded: int
        viewer: User  # set by CampaignAdmin.get_object

    class _Waves(TypedDict):
        n_waves: int


# --- Templates ------------------------------------------------------------------------


class TemplateQuestionForm(forms.ModelForm):
    options = LinesField(
        required=False,
        initial=list,  # as the model's default: an untouched extra row has not changed
        widget=forms.Textarea(attrs={"rows": 2, "cols": 16}),
        help_text="Choice questions only: one option per line.",
    )

    class Meta:
        model = TemplateQuestion
        fields = ["position", "key", "text", "kind", "dimension", "reverse_coded", "required", "options"]
        # Narrow enough for the eight columns of a row to fit beside each other.
        widgets = {
            "position": forms.NumberInput(attrs={"min": 0, "size": 3, "class": "vIntegerField"}),
            "key": forms.TextInput(attrs={"size": 16}),
            "text": forms.Textarea(attrs={"rows": 2, "cols": 32}),
        }


class TemplateQuestionFormSet(forms.BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        kept = [f for f in self.forms if f.has_changed() or f.instance.pk]
        kept = [f for f in kept if not (self.can_delete and self._should_delete_form(f))]  # type: ignore[attr-defined]  # BaseFormSet's, not in the stubs
        if len(kept) > MAX_QUESTIONS:
            raise ValidationError(f"A template has at most {MAX_QUESTIONS} questions (this one has {len(kept)}).")


class TemplateQuestionInline(admin.TabularInline):
    model = TemplateQuestion
    form = TemplateQuestionForm
    formset = TemplateQuestionFormSet
    extra = 1
    max_num = MAX_QUESTIONS
    ordering = ["position", "pk"]


@admin.register(Template)
class TemplateAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "question_count", "version_count", "campaign_count"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["versions_used", "preview_link"]
    inlines = [TemplateQuestionInline]
    fieldsets = [
        (None, {"fields": ["name", "slug", "description"]}),
        (
            "Versions",
            {
                "fields": ["versions_used", "preview_link"],
                "description": "A campaign freezes the questions when it opens. Edits made here reach the "
                "campaigns that open later, as a new version; campaigns already open or closed keep theirs.",
            },
        ),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Template]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_questions=Count("questions", distinct=True),
                n_versions=Count("versions", distinct=True),
                n_campaigns=Count("campaigns", distinct=True),
            )
        )

    @admin.display(description="questions", ordering="n_questions")
    def question_count(self, obj: WithAnnotations[Template, _TemplateCounts]) -> int:
        return obj.n_questions

    @admin.display(description="versions", ordering="n_versions")
    def version_count(self, obj: WithAnnotations[Template, _TemplateCounts]) -> int:
        return obj.n_versions

    @admin.display(description="campaigns", ordering="n_campaigns")
    def campaign_count(self, obj: WithAnnotations[Template, _TemplateCounts]) -> int:
        return obj.n_campaigns

    @admin.display(description="versions used by campaigns")
    def versions_used(self, obj: Template) -> str:
        if obj.pk is None:
            return "None yet."
        versions = obj.versions.annotate(used=Count("campaigns")).order_by("-number")
        if not versions:
            return "None yet: the first campaign to open freezes these questions as version 1."
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                "<li>v{} — {}, used by {} campaign{}</li>",
                (
                    (v.number, timezone.localtime(v.created).strftime("%-d %b %Y"), v.used, "" if v.used == 1 else "s")
                    for v in versions
                ),
            ),
        )

    @admin.display(description="preview")
    def preview_link(self, obj: Template) -> str:
        if obj.pk is None:
            return "Save the template first."
        url = reverse("admin:surveys_template_preview", args=[obj.pk])
        return format_html('<a href="{}">Preview the form with the current questions</a>', url)

    def get_urls(self):
        view = self.admin_site.admin_view(self.preview_view)
        return [path("<path:object_id>/preview/", view, name="surveys_template_preview"), *super().get_urls()]

    def preview_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        template = self.get_object(request, object_id)
        if template is None:
            raise Http404("No such template.")
        if not self.has_view_permission(request, template):
            raise PermissionDenied
        back = reverse("admin:surveys_template_change", args=[template.pk])
        return _preview(request, title=template.name, questions=template.questions.all(), back=back, campaign=None)


# --- Campaigns ------------------------------------------------------------------------


class ReminderDaysField(forms.CharField):
    """The reminder plan typed as days after opening, such as "2, 5"; a list of whole days."""

    default_error_messages = {
        "invalid": "Write whole days after opening, separated by commas, such as 2, 5.",
        "zero": "Day 0 is the day the campaign opens: reminders start on day 1.",
        "too_many": f"At most {MAX_REMINDERS} reminders.",
        "twice": "Each reminder day once.",
    }

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list):
            return ", ".join(str(day) for day in value)
        return value

    def to_python(self, value: Any) -> list[int]:  # type: ignore[override]  # days, where CharField gives text
        text = (super().to_python(value) or "").strip().strip("[]")
        if not text:
            return []
        parts = [part for part in re.split(r"[,;\s]+", text) if part]
        if not all(part.isdigit() for part in parts):
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        days = [int(part) for part in parts]
        if 0 in days:
            raise ValidationError(self.error_messages["zero"], code="zero")
        if len(days) > MAX_REMINDERS:
            raise ValidationError(self.error_messages["too_many"], code="too_many")
        if len(set(days)) != len(days):
            raise ValidationError(self.error_messages["twice"], code="twice")
        return sorted(days)


@cache
def _time_zones() -> list[str]:
    return sorted(zoneinfo.available_timezones())


class TimeZoneInput(forms.TextInput):
    """A text input suggesting the known time zones (a datalist: typing "Par" offers Europe/Paris)."""

    template_name = "admin/surveys/widgets/time_zone.html"

    def get_context(self, name: str, value: Any, attrs: dict | None) -> dict:
        context = super().get_context(name, value, attrs)
        context["widget"]["zones"] = _time_zones()
        context["widget"]["attrs"]["list"] = f"{context['widget']['attrs'].get('id', name)}-zones"
        return context


DATE_FIELDS = ("opens_at", "closes_at")
BOTH = [admin.ActionLocation.CHANGE_LIST, admin.ActionLocation.CHANGE_FORM]


SETUP_FIELDS = [
    "name",
    "template",
    "everyone",
    "teams",
    "time_zone",
    "opens_at",
    "closes_at",
    "recurrence",
    "reminder_days",
    "k",
    "text_threshold",
]


class CampaignAdminForm(forms.ModelForm):
    """The campaign, with its dates typed in its own time zone and its set-up checked as a whole."""

    reminder_days = ReminderDaysField(
        required=False,
        help_text=f"Days after opening to remind who has not answered, such as 2, 5; at most {MAX_REMINDERS}. "
        "Empty: no reminders.",
    )

    class Meta:
        model = Campaign
        fields = SETUP_FIELDS
        widgets = {"time_zone": TimeZoneInput(attrs={"size": 30})}
        help_texts = {
            "opens_at": "In the campaign's time zone.",
            "closes_at": "In the campaign's time zone.",
            "time_zone": "Such as Europe/Paris: the opening and closing below, and dates in emails, are in this zone.",
        }
        error_messages = {
            "k": {"min_value": "k must be at least 3: smaller groups would identify people."},
            "text_threshold": {"min_value": "The text threshold must be at least 3 (and not below k)."},
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            # Shown as wall-clock times of the campaign's zone (the form reads them back the same way).
            zone = _zone_or_none(self.instance.time_zone) or timezone.get_current_timezone()
            for name in DATE_FIELDS:
                if name in self.fields:
                    self.initial[name] = timezone.make_naive(getattr(self.instance, name), zone)

    def _zone(self) -> ZoneInfo | None:
        if "time_zone" in self.fields:
            return _zone_or_none(self.cleaned_data.get("time_zone") or "")
        return _zone_or_none(self.instance.time_zone)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        assert cleaned is not None  # Form.clean() returns cleaned_data
        zone = self._zone()
        if zone is not None:
            for name in DATE_FIELDS:
                value = cleaned.get(name)
                if name in self.fields and value is not None:
                    cleaned[name] = timezone.make_aware(timezone.make_naive(value), zone)
        if "everyone" in self.fields:
            everyone, teams = cleaned.get("everyone"), cleaned.get("teams")
            if not everyone and not teams and "teams" not in self.errors:
                self.add_error("teams", "The audience is empty: choose at least one team, or everyone.")
            elif everyone and teams:
                self.add_error("teams", "Choose teams or everyone, not both: everyone includes every team.")
        closes = cleaned.get("closes_at")
        opens = cleaned.get("opens_at") if "opens_at" in self.fields else self.instance.opened_at
        opens = opens or self.instance.opens_at
        changed = "closes_at" in self.fields and "closes_at" in self.changed_data
        before_opening = opens is not None and closes is not None and closes <= opens  # the model says so
        if changed and closes is not None and not before_opening and closes <= timezone.now():
            self.add_error("closes_at", "This moment has passed: a campaign must close in the future.")
        days = cleaned.get("reminder_days")
        if days and opens and closes and closes > opens:
            late = [day for day in days if timedelta(days=day) >= closes - opens]
            if late:
                length = f"{(closes - opens).total_seconds() / 86400:.1f}".removesuffix(".0")
                self.add_error(
                    "reminder_days", f"Day {late[0]} comes after the campaign closes (it is open {length} days)."
                )
        return cleaned


def _zone_or_none(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


EDITABLE_WHILE_OPEN = {"name", "closes_at", "recurrence", "reminder_days"}
STATUS_FIELDS = ["status", "wave_of_series", "version", "preview_link"]
PULSE_FIELDS = ["pulse_reason", "pulse_key", "named_people"]  # shown, read-only, for a pulse
PARTICIPATION_FIELDS = [
    "invited_count",
    "responded_count",
    "participation_rate",
    "participation_by_team",
    "opened_at",
    "closed_at",
]


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    """Create campaigns, then run them with the actions, from the list or from a campaign's page."""

    form = CampaignAdminForm
    list_display = [
        "name",
        "status",
        "template",
        "opens",
        "closes",
        "invited_count",
        "responded_count",
        "participation_rate",
    ]
    list_filter = ["status", "recurrence", ("template", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["name", "series__name"]
    filter_horizontal = ["teams"]
    date_hierarchy = "opens_at"
    actions = ["schedule", "open_now", "send_reminders_now", "close", "preview", "back_to_draft"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Campaign]:
        campaigns = super().get_queryset(request)
        return campaigns.with_participation().select_related("template", "version", "series")  # type: ignore[attr-defined]  # Campaign's manager is a CampaignQuerySet

    def get_readonly_fields(self, request: HttpRequest, obj: Campaign | None = None) -> list[str]:
        if obj is None:
            return []
        readonly = [*STATUS_FIELDS, *PARTICIPATION_FIELDS, *PULSE_FIELDS]
        if obj.status == Campaign.Status.OPEN:
            readonly += [name for name in SETUP_FIELDS if name not in EDITABLE_WHILE_OPEN]
        elif obj.status == Campaign.Status.CLOSED:
            readonly += SETUP_FIELDS
        return readonly

    def get_fieldsets(self, request: HttpRequest, obj: Campaign | None = None) -> list:
        fieldsets: list = [
            (None, {"fields": ["name", "template"] + (STATUS_FIELDS if obj else [])}),
            ("Audience", {"fields": ["everyone", "teams"]}),
            ("When", {"fields": ["time_zone", "opens_at", "closes_at", "recurrence", "reminder_days"]}),
            (
                "Anonymity",
                {
                    "fields": ["k", "text_threshold"],
                    "description": "No figure is shown for fewer than k responses; free text only for groups "
                    "of at least the text threshold.",
                },
            ),
        ]
        if obj is not None and obj.pulse_key:
            fieldsets.insert(1, ("Pulse (opened by an automation)", {"fields": PULSE_FIELDS}))
        if obj is not None:
            fieldsets.append(("Participation", {"fields": PARTICIPATION_FIELDS}))
        return fieldsets

    def has_delete_permission(self, request: HttpRequest, obj: Campaign | None = None) -> bool:
        # An open or closed campaign holds invitations and responses: it is closed, never deleted.
        if obj is not None and obj.status in (Campaign.Status.OPEN, Campaign.Status.CLOSED):
            return False
        return super().has_delete_permission(request, obj)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        # Its moments (read-only ones too) are shown, and typed, in the campaign's time zone.
        campaign = Campaign.objects.filter(pk=object_id).only("time_zone").first() if object_id.isdigit() else None
        zone = _zone_or_none(campaign.time_zone) if campaign else None
        with timezone.override(zone or timezone.get_current_timezone()):
            response = super().change_view(request, object_id, form_url, extra_context)
            if isinstance(response, TemplateResponse):
                response.render()  # here, in the zone (it would otherwise render after returning)
            return response

    def save_model(self, request: HttpRequest, obj: Campaign, form: forms.ModelForm, change: bool) -> None:
        if obj.series_id is None:  # a new campaign starts its own series, as services.campaign_create does
            obj.series = Series.objects.create(name=obj.name)
            obj.wave = 1
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: forms.ModelForm, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        campaign = form.instance
        if campaign.status in (Campaign.Status.DRAFT, Campaign.Status.SCHEDULED):
            try:
                services.campaign_check(campaign=campaign)
            except services.AudienceError as exc:
                self.message_user(request, f"{campaign} could not open as it is: {exc}", messages.WARNING)

    # Read-only columns and fields.

    @admin.display(description="people named")
    def named_people(self, obj: Campaign) -> str:
        """A pulse may invite people by name (an onboarding cohort) besides, or instead of, teams."""
        return str(obj.people.count())

    @admin.display(description="opens", ordering="opens_at")
    def opens(self, obj: Campaign) -> str:
        return _local(obj.opens_at, obj)

    @admin.display(description="closes", ordering="closes_at")
    def closes(self, obj: Campaign) -> str:
        return _local(obj.closes_at, obj)

    @admin.display(description="invited", ordering="invited")
    def invited_count(self, obj: WithAnnotations[Campaign, _Participation]) -> int:
        return obj.invited

    @admin.display(description="responded", ordering="responded")
    def responded_count(self, obj: WithAnnotations[Campaign, _Participation]) -> int:
        return obj.responded

    @admin.display(description="participation")
    def participation_rate(self, obj: WithAnnotations[Campaign, _Participation]) -> str:
        if not obj.invited:
            return "—"
        # floatformat, as the results pages round it: round() would read 12.5% as 12% here and 13% there.
        return f"{floatformat(100 * obj.responded / obj.invited, 0)}%"

    @admin.display(description="answered per team")
    def participation_by_team(self, obj: WithAnnotations[Campaign, _Participation]) -> str:
        """Answered counts per team as the results pages show them to this admin (``surveys.results``: groups of
        fewer than k invitees, or hidden against differencing, say so instead): the admin's only view of who
        answered, since invitations do not say it per person."""
        try:
            scope = results.campaign_for_user(obj.viewer, obj.pk)
        except Http404:
            return "—"
        rows = results.campaign_results(scope, every_question=False, texts=False).groups
        return format_html(
            '<table><thead><tr><th scope="col">team</th><th scope="col">answered</th></tr></thead>'
            "<tbody>{}</tbody></table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td></tr>",
                (
                    (
                        row.group.label,
                        f"{row.participation.participation.responded} of {row.participation.participation.invited}"  # type: ignore[union-attr]  # shown: figures
                        if row.participation.shown
                        else row.participation.status_text,
                    )
                    for row in rows
                ),
            ),
        )

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Campaign | None:
        campaign = super().get_object(request, object_id, from_field)
        if campaign is not None:
            campaign.viewer = request.user  # whose results scope ``participation_by_team`` shows
        return campaign

    @admin.display(description="series")
    def wave_of_series(self, obj: Campaign) -> str:
        url = reverse("admin:surveys_series_change", args=[obj.series_id])
        return format_html('<a href="{}">{}</a>, wave {}', url, obj.series.name, obj.wave)

    @admin.display(description="preview")
    def preview_link(self, obj: Campaign) -> str:
        url = reverse("admin:surveys_campaign_preview", args=[obj.pk])
        return format_html('<a href="{}">Preview the form</a>', url)

    # The actions, for the list and for the buttons of a campaign's page.

    @admin.action(
        description="Schedule (it opens on time)",
        description_plural="Schedule the selected campaigns (they open on time)",
        permissions=["change"],
        location=BOTH,
    )
    def schedule(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        def act(campaign: Campaign) -> list[tuple[str, int]]:
            services.campaign_schedule(campaign_id=campaign.pk)
            when = (
                "within a minute"
                if campaign.opens_at <= timezone.now()
                else f"on {_local(campaign.opens_at, campaign)}"
            )
            return [(f"{campaign} is scheduled: it opens {when}.", messages.SUCCESS)]

        self._each(request, queryset, act)

    @admin.action(
        description="Open now",
        description_plural="Open the selected campaigns now",
        permissions=["change"],
        location=BOTH,
    )
    def open_now(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        def act(campaign: Campaign) -> list[tuple[str, int]]:
            invited = services.campaign_open(campaign_id=campaign.pk)
            if not invited:
                status = campaign.get_status_display().lower()
                return [(f"{campaign} is {status} already: nothing changed.", messages.WARNING)]
            text = f"{campaign} is open: {invited} people are invited, and their emails are on their way."
            return [(text, messages.SUCCESS)]

        self._each(request, queryset, act, refused="{campaign} did not open. {error}")

    @admin.action(
        description="Send reminders now (the next step of the plan)",
        permissions=["change"],
        location=BOTH,
    )
    def send_reminders_now(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        now = timezone.now()

        def act(campaign: Campaign) -> list[tuple[str, int]]:
            step = services.reminder_step_next(campaign, now)
            waiting = campaign.invitations.filter(responded=False, reminders_sent__lt=step).count()
            if not waiting:
                return [(f"{campaign}: everybody has answered; no reminder to send.", messages.INFO)]
            transaction.on_commit(lambda: tasks.queue_reminder_step(campaign.pk, step))
            planned = len(campaign.reminder_days)
            text = (
                f"{campaign}: reminder {step} of {planned} is on its way to the {waiting} people who have not answered."
            )
            return [(text, messages.SUCCESS)]

        self._each(request, queryset, act)

    @admin.action(
        description="Close (publish the results)",
        description_plural="Close the selected campaigns (publish the results)",
        permissions=["change"],
        location=BOTH,
    )
    def close(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> HttpResponse | None:
        if request.POST.get("confirmed") != "yes":
            hiding = [(c, below) for c in queryset if c.is_open and _mostly_below_k(below := _below_k(c, request.user))]
            if hiding:
                return self._confirm_close(request, hiding)

        def act(campaign: Campaign) -> list[tuple[str, int]]:
            if campaign.status != Campaign.Status.OPEN:
                status = campaign.get_status_display().lower()
                raise services.CampaignError(f"{campaign} is {status}: only an open campaign closes.")
            following = services.campaign_close(campaign_id=campaign.pk)
            # with_participation() annotated them (get_queryset).
            responded, invited = campaign.responded, campaign.invited  # type: ignore[attr-defined]
            text = f"{campaign} is closed: {responded} of {invited} answered; results are published."
            said = [(text, messages.SUCCESS)]
            if following is not None:
                text = f"{following} is scheduled to open on {_local(following.opens_at, following)}."
                said.append((text, messages.INFO))
            return said

        self._each(request, queryset, act)
        return None

    def _confirm_close(self, request: HttpRequest, hiding: list[tuple[Campaign, BelowK]]) -> HttpResponse:
        """The page asking to confirm closing campaigns with fewer than k answers in most groups: it lists those
        groups with their answered counts (participation, never who answered) and posts the action again."""
        posted = [
            (key, value) for key, values in request.POST.lists() if key != "csrfmiddlewaretoken" for value in values
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Close with fewer than k answers in most teams?",
            "hiding": hiding,
            "posted": posted,
            "action_url": request.get_full_path(),
        }
        return TemplateResponse(request, "admin/surveys/campaign/close_confirmation.html", context)

    @admin.action(description="Preview the form", permissions=["view"], location=BOTH)
    def preview(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> HttpResponse | None:
        campaigns = list(queryset[:2])
        if len(campaigns) != 1:
            self.message_user(request, "Choose one campaign to preview.", messages.ERROR)
            return None
        return HttpResponseRedirect(reverse("admin:surveys_campaign_preview", args=[campaigns[0].pk]))

    @admin.action(
        description="Move back to draft (it will not open)",
        description_plural="Move the selected scheduled campaigns back to draft",
        permissions=["change"],
        location=BOTH,
    )
    def back_to_draft(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        def act(campaign: Campaign) -> list[tuple[str, int]]:
            services.campaign_unschedule(campaign_id=campaign.pk)
            return [(f"{campaign} is a draft again: it will not open.", messages.SUCCESS)]

        self._each(request, queryset, act)

    def _each(
        self,
        request: HttpRequest,
        queryset: QuerySet[Campaign],
        act: Callable[[Campaign], list[tuple[str, int]]],
        *,
        refused: str = "{error}",
    ) -> None:
        """Run ``act`` on each campaign and show what it says; a refused one says why, and the others still run."""
        for campaign in queryset:
            try:
                said = act(campaign)
            except services.CampaignError as exc:
                said = [(refused.format(campaign=campaign, error=exc), messages.ERROR)]
            for text, level in said:
                self.message_user(request, text, level)

    # The form's preview.

    def get_urls(self):
        view = self.admin_site.admin_view(self.preview_view)
        return [path("<path:object_id>/preview/", view, name="surveys_campaign_preview"), *super().get_urls()]

    def preview_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        campaign = self.get_object(request, object_id)
        if campaign is None:
            raise Http404("No such campaign.")
        if not self.has_view_permission(request, campaign):
            raise PermissionDenied
        # What respondents see: the frozen version once open, else the template's current questions.
        version = campaign.version
        questions = version.questions.all() if version is not None else campaign.template.questions.all()
        back = reverse("admin:surveys_campaign_change", args=[campaign.pk])
        return _preview(request, title=campaign.name, questions=questions, back=back, campaign=campaign)


@require_http_methods(["GET", "POST"])
def _preview(
    request: HttpRequest, *, title: str, questions: QuerySet, back: str, campaign: Campaign | None
) -> HttpResponse:
    """The form as respondents see it. "Check" validates what was typed and stores nothing."""
    threshold = campaign.text_threshold if campaign is not None else None
    data = request.POST if request.method == "POST" else None
    form = AnswerForm(questions.order_by("position", "pk"), data, text_threshold=threshold)
    checked = request.method == "POST" and form.is_valid()
    context = {"title": title, "form": form, "back": back, "campaign": campaign, "checked": checked}
    return TemplateResponse(request, "admin/surveys/preview.html", context, status=200)


@dataclass(frozen=True)
class BelowK:
    """An open campaign's groups as its admin's participation shows them: those with fewer than k answers so far."""

    groups: int  # every group listed: the organisation and the teams
    below: tuple[
        tuple[str, str], ...
    ]  # (group, what its participation says: "2 of 8 answered", "fewer than 5 invited")


def _below_k(campaign: Campaign, user: Any) -> BelowK:
    """The groups whose figures closing now would hide for fewer than k responses, read from the participation the
    campaign's page shows this admin (``surveys.results``, under the same rules): counts only, never who answered."""
    try:
        scope = results.campaign_for_user(user, campaign.pk)
    except Http404:
        return BelowK(0, ())
    rows = results.campaign_results(scope, every_question=False, texts=False).groups
    below = []
    for row in rows:
        shown = row.participation.participation
        if row.participation.shown and shown is not None and shown.responded < campaign.k:
            below.append((row.group.label, f"{shown.responded} of {shown.invited} answered"))
        elif row.participation.status == Status.TOO_FEW:  # fewer than k invitees: fewer than k answers too
            below.append((row.group.label, row.participation.status_text))
    return BelowK(len(rows), tuple(below))


def _mostly_below_k(found: BelowK) -> bool:
    return 2 * len(found.below) > found.groups


def _local(moment: datetime, campaign: Campaign) -> str:
    zone = _zone_or_none(campaign.time_zone) or timezone.get_current_timezone()
    return moment.astimezone(zone).strftime("%-d %b %Y %H:%M %Z")


# --- Series and invitations -------------------------------------------------------------


@admin.register(Series)
class SeriesAdmin(admin.ModelAdmin):
    """Waves of a recurring campaign. A series starts with its first campaign; only its name is edited."""

    list_display = ["name", "wave_count", "created"]
    search_fields = ["name"]
    fields = ["name", "waves", "created"]
    readonly_fields = ["waves", "created"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Series]:
        return super().get_queryset(request).annotate(n_waves=Count("campaigns"))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="waves", ordering="n_waves")
    def wave_count(self, obj: WithAnnotations[Series, _Waves]) -> int:
        return obj.n_waves

    @admin.display(description="waves")
    def waves(self, obj: Series) -> str:
        campaigns = obj.campaigns.order_by("wave")
        return format_html(
            "<ol>{}</ol>",
            format_html_join(
                "",
                '<li value="{}"><a href="{}">{}</a> — {}, {} to {}</li>',
                (
                    (
                        c.wave,
                        reverse("admin:surveys_campaign_change", args=[c.pk]),
                        c.name,
                        c.get_status_display().lower(),
                        _local(c.opens_at, c),
                        _local(c.closes_at, c),
                    )
                    for c in campaigns
                ),
            ),
        )


# Whether, when and how often a person was reminded says who answered: never per person (rule 7, issue 13).
WHO_ANSWERED = ("responded", "responded_on", "reminders_sent")


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    """Who was invited and to which team: never whether a person answered (staff also read the results, and a
    person's answering next to a figure that moved would tell what they answered). A campaign's page shows answered
    counts per team instead, under the anonymity rules."""

    list_display = ["person", "team", "campaign", "emailed_at", "email_error"]
    list_filter = [("campaign", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["person__name", "person__email", "campaign__name"]
    list_select_related = ["person", "team", "campaign"]
    fields = ["campaign", "person", "team", "label", "emailed_at", "email_error"]

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest) -> bool:
        # The admin lets a URL filter on any field of the model itself (?responded__exact=1): not these.
        if lookup.split("__")[0] in WHO_ANSWERED:
            return False
        return super().lookup_allowed(lookup, value, request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Invitation | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Invitation | None = None) -> bool:
        return False

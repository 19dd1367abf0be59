"""The actions app's forms (``RunIdsForm``, ``PullIdsForm``: which runs' or pull requests' actions a page asks for)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS
from django.db.models import QuerySet

from actions import crossings, threshold_metrics
from actions.gains import MAX_YEAR, MIN_YEAR, Quarter
from actions.models import Automation, Channel, Initiative, ReminderPolicy, Threshold
from actions.models.initiatives import FROZEN_MESSAGE, MAX_PRIMARY_METRICS, delivery_metrics
from actions.models.thresholds import ScopeKind
from actions.thresholds import managed_team_ids
from e360.forms import QueryField, QueryForm, whole_number
from e360.models import Service, Team, User
from e360.tree import TeamTree

# A page of runs lists 25; more than this in one request is not a page's.
MAX_RUNS = 100


class IdsField(QueryField):
    """Repeated ids (``?run=1&run=2``): whole numbers, at most ``MAX_RUNS`` of them."""

    widget = forms.MultipleHiddenInput
    noun = "run"

    def read(self, value: list[str] | None) -> list[int]:  # type: ignore[override]  # a list, not one text
        values = value or []
        if len(values) > MAX_RUNS:
            raise forms.ValidationError(f"At most {MAX_RUNS} {self.noun}s at a time.")
        ids = [whole_number(text) for text in values]
        if any(pk is None for pk in ids):
            raise forms.ValidationError(f"A {self.noun} is named by its number.")
        return [pk for pk in ids if pk is not None]


class RunIdsForm(QueryForm):
    run = IdsField()


class PullIdsField(IdsField):
    noun = "pull request"


class PullIdsForm(QueryForm):
    """Which pull requests' actions the review queue asks for (``?pr=1&pr=2``)."""

    pr = PullIdsField()


class QuarterField(QueryField):
    """``quarter``: a quarter written ``2026Q4`` (absent or empty: the form's ``default``)."""

    def __init__(self, **kwargs: Any) -> None:
        self.default: Quarter | None = None
        super().__init__(**kwargs)

    def read(self, value: str | None) -> Quarter | None:
        if not value:
            return self.default
        quarter = Quarter.parse(value[:20])
        if quarter is None:
            raise forms.ValidationError(
                f"Unknown quarter “{value[:20]}”: write a quarter as its year and number, e.g. 2026Q4 "
                f"(years {MIN_YEAR} to {MAX_YEAR})."
            )
        return quarter


class GainsForm(QueryForm):
    """The velocity gains page's quarter (default: the current one, in the org's time zone) and ``format``
    (``csv`` for the export)."""

    quarter = QuarterField()
    format = QueryField()

    def __init__(self, data: Any, *, default: Quarter) -> None:
        super().__init__(data)
        field = self.fields["quarter"]
        assert isinstance(field, QuarterField)
        field.default = default

    def clean_format(self) -> str:
        asked = self.cleaned_data["format"] or ""
        if asked not in ("", "csv"):
            raise forms.ValidationError(f"Unknown format “{asked[:20]}”: the page offers csv only.")
        return asked


# --- portal forms of a team's settings ---


def offer_managed(form: forms.ModelForm, user: User) -> set[int] | None:
    """Offer in ``form``'s fields that choose a team's rows only those of the teams ``user`` manages
    (``managed_team_ids``: leads, their teams and those below; org viewers, every row): the ``team`` (and an
    initiative's ``target_teams``), the ``service`` (the teams' own), and the ``automations``, ``thresholds`` and
    ``reminder_policies`` an initiative links (``of_teams``). Any other is refused with "Select a valid choice", so
    nobody sets something on, or links, a team's rows they may not see. The managed teams' ids (None: all)."""
    managed = managed_team_ids(user)
    if managed is None:
        return None
    offered: dict[str, QuerySet[Any]] = {
        "team": Team.objects.filter(pk__in=managed),
        "target_teams": Team.objects.filter(pk__in=managed),
        "service": Service.objects.filter(owner_id__in=managed),
        "automations": Automation.objects.of_teams(managed),
        "thresholds": Threshold.objects.of_teams(managed),
        "reminder_policies": ReminderPolicy.objects.of_teams(managed),
    }
    for name, queryset in offered.items():
        if name in form.fields:
            field = form.fields[name]
            assert isinstance(field, forms.ModelChoiceField)
            field.queryset = queryset
    return managed


# --- thresholds ---


class ThresholdForm(forms.ModelForm):
    """A threshold, for the portal and the admin alike. The teams and services offered are those ``user`` manages
    (leads: their teams and those below; org viewers: all, and the organisation scope): any other is refused with
    "Select a valid choice", so nobody sets a threshold on a team they may not see."""

    # The fields a link may pre-fill (``?metric=…&team=…``), as the admin's add forms take theirs.
    PREFILLED = ("name", "metric", "scope", "team", "service", "comparison", "value", "window_days", "cooldown_hours")

    metric = forms.ChoiceField(choices=threshold_metrics.metric_choices)
    value = forms.FloatField(help_text="In the metric's unit: %, hours, minutes, per week, pull requests or lines.")

    class Meta:
        model = Threshold
        fields = [
            "name",
            "metric",
            "scope",
            "team",
            "service",
            "comparison",
            "value",
            "window_days",
            "cooldown_hours",
            "is_active",
        ]
        labels = {"is_active": "Active (evaluated every 15 minutes)", "window_days": "Window (days)"}
        help_texts = {
            "window_days": "The value is the metric over the last this many days, today included (not for surveys).",
        }

    def __init__(self, *args, user: User, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        managed = offer_managed(self, user)
        self.org_allowed = managed is None
        if not self.org_allowed:
            scope_field = self.fields["scope"]
            assert isinstance(scope_field, forms.ChoiceField)
            scope_field.choices = [(k, label) for k, label in ScopeKind.choices if k != ScopeKind.ORGANISATION]

    def clean(self) -> dict:
        data = super().clean()
        assert data is not None  # a ModelForm's clean returns its cleaned data
        scope, team, service = data.get("scope"), data.get("team"), data.get("service")
        metric = threshold_metrics.METRICS.get(data.get("metric") or "")
        if scope == ScopeKind.ORGANISATION:
            if not self.org_allowed:
                self.add_error("scope", "Only org viewers may set thresholds on the whole organisation.")
            data["team"] = data["service"] = None
        elif scope in (ScopeKind.TEAM, ScopeKind.TEAM_SUBTREE):
            if team is None and "team" not in self.errors:
                self.add_error("team", "Pick the team this threshold watches.")
            data["service"] = None
        elif scope == ScopeKind.SERVICE:
            if service is None and "service" not in self.errors:
                self.add_error("service", "Pick the service this threshold watches.")
            data["team"] = None
        if metric is not None and metric.source == threshold_metrics.Source.SURVEY and scope == ScopeKind.SERVICE:
            self.add_error("scope", "Survey figures are a team's or the organisation's, never a service's.")
        return data

    def subject_and_rule(self) -> tuple[threshold_metrics.Subject, crossings.Rule]:
        """What a valid form watches and decides: what the backtest runs."""
        data = self.cleaned_data
        subject = threshold_metrics.Subject(
            threshold_metrics.METRICS[data["metric"]],
            ScopeKind(data["scope"]),
            data.get("team"),
            data.get("service"),
            data["window_days"],
        )
        rule = crossings.Rule(
            crossings.Comparison(data["comparison"]),
            data["value"],
            timedelta(hours=data["cooldown_hours"]),
        )
        return subject, rule


# --- reminders ---


class ReminderPolicyForm(forms.ModelForm):
    """A team's (or one service's) review reminder policy, for the portal and the admin alike. The teams and
    services offered are those ``user`` manages (``offer_managed``); the channels, those their teams may post to
    (the organisation's, their own and the teams' above: ``Channel.usable_by``), checked against the team or
    service chosen. The model's rules (a team or a service; a channel whose kind reaches the recipients) and its one
    policy per team or service are checked on saving, each with its message."""

    # The fields a link may pre-fill (``?team=…``: a bottleneck's suggestion, ``actions.suggestions``).
    PREFILLED = ("team", "service")

    class Meta:
        model = ReminderPolicy
        fields = [
            "team",
            "service",
            "include_sub_teams",
            "is_active",
            "after_hours",
            "again_after_hours",
            "digest",
            "digest_at",
            "recipients",
            "channel",
            "holdout_percent",
        ]
        labels = {
            "include_sub_teams": "Cover its sub-teams",
            "is_active": "Active (pull requests are checked every 15 minutes)",
        }
        widgets = {"digest_at": forms.TimeInput(attrs={"type": "time"}, format="%H:%M")}
        error_messages = {
            "team": {"unique": "This team already has a review reminder policy: change that one instead."},
            "service": {"unique": "This service already has a review reminder policy: change that one instead."},
        }

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        managed = offer_managed(self, user)
        self.tree = TeamTree.for_user(user)
        channel_field = self.fields["channel"]
        assert isinstance(channel_field, forms.ModelChoiceField)
        channel_field.queryset = Channel.objects.of_teams(None if managed is None else self.tree.closure(managed))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        team, service, channel = data.get("team"), data.get("service"), data.get("channel")
        owner = team.pk if team is not None else service.owner_id if service is not None else None
        if channel is not None and owner is not None and not channel.usable_by(self.tree.chain(owner)):
            self.add_error("channel", f"“{channel}” is another team's channel: {team or service} may not post there.")
        return data

    def validate_constraints(self) -> None:
        # ``ReminderPolicy.clean`` says "a team or a service" in words; the check constraint behind it would say it
        # again, by the constraint's name: it is checked once the model's rules hold.
        if not self.has_error(NON_FIELD_ERRORS):
            super().validate_constraints()


# --- initiatives ---


def _metric_choices() -> list[tuple[str, str]]:
    return [(key, f"{metric.label} ({metric.unit})") for key, metric in delivery_metrics().items()]


class InitiativeForm(forms.ModelForm):
    """An initiative's definitions. Once its start has come they are frozen: a change is refused with why (the
    model's ``clean``), the name, hypothesis, owner and what belongs to it may still change."""

    primary_metrics = forms.MultipleChoiceField(
        choices=_metric_choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=f"1 to {MAX_PRIMARY_METRICS} delivery metrics that should move (the dimension's, usually).",
    )
    guardrail_metric = forms.ChoiceField(
        choices=lambda: [("", "None"), *_metric_choices()],
        required=False,
        help_text="A metric that must not get worse meanwhile, e.g. the change failure rate while lead time falls.",
    )

    class Meta:
        model = Initiative
        fields = [
            "name",
            "dimension",
            "hypothesis",
            "owner",
            "starts_on",
            "primary_metrics",
            "survey_dimension",
            "guardrail_metric",
            "guardrail_worse_when",
            "ramp_up_days",
            "window_days",
            "automations",
            "thresholds",
            "reminder_policies",
        ]

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "owner" in self.fields:  # the admin's: the portal's is whoever starts it
            self.fields["owner"].required = True
        offer_managed(self, user)  # a lead links their teams' automations, thresholds and policies only


class InitiativeStartForm(InitiativeForm):
    """An initiative in the portal (a team's lead, from a bottleneck card): the admin's form with its target teams —
    those the user manages — sharing its start (a staggered start per team is set in the admin), owned by whoever
    starts it. After the start the teams are frozen with the rest."""

    # The fields a link may pre-fill (``?dimension=…&target_teams=…``), as the thresholds' form takes its own.
    PREFILLED = ("name", "dimension", "hypothesis", "target_teams", "primary_metrics", "guardrail_metric")

    target_teams = forms.ModelMultipleChoiceField(
        queryset=Team.objects.all(),  # those the user manages: ``offer_managed``
        label="Target teams",
        help_text="The teams it changes how they work (with their sub-teams, as their pages read them).",
    )

    class Meta(InitiativeForm.Meta):
        fields = [name for name in InitiativeForm.Meta.fields if name != "owner"]

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, user=user, **kwargs)
        if self.instance.pk is not None and "target_teams" not in self.initial:
            self.initial["target_teams"] = list(self.instance.targets.values_list("team_id", flat=True))

    def clean(self) -> dict:
        data = super().clean()
        assert data is not None
        initiative = self.instance
        teams = data.get("target_teams")
        frozen = initiative.pk is not None and initiative.stored_frozen_at() is not None
        if (
            frozen
            and teams is not None
            and {t.pk for t in teams} != set(initiative.targets.values_list("team_id", flat=True))
        ):
            self.add_error("target_teams", FROZEN_MESSAGE)
        return data

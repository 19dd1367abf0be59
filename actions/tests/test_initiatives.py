"""Initiatives: checked whole; frozen at the start with each team's baseline (the metric read over the window before
it), after which a definition change is refused; a future start frozen by the hourly task on its date, once; seen
by whoever sees all its teams; the admin; and the automation action that drafts one per run."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from actions import automations, initiatives, tasks, threshold_metrics
from actions.models import Automation, AutomationRun, Initiative, InitiativeTeam, Threshold, ThresholdEvent
from actions.models.automations import Do, Trigger
from actions.models.initiatives import FROZEN_MESSAGE, CreatedFrom, Status, org_today
from actions.models.thresholds import ScopeKind
from actions.tests.pipeline_runs import runs
from actions.threshold_metrics import METRICS, Subject
from e360.tests.factories import UserFactory
from metrics import definitions as d

pytestmark = pytest.mark.django_db


@pytest.fixture
def now():
    """Noon of a day already past or today (never in the future): a run a minute before it is that day's."""
    return (timezone.now() - timedelta(hours=12)).replace(hour=12, minute=0, second=0, microsecond=0)


def make(team, starts_on: date, *, teams=(), **fields) -> Initiative:
    fields = {
        "name": "Stop the flaky tests",
        "dimension": "ci_cd",
        "hypothesis": "Quarantining flaky tests: we expect CI/CD to improve",
        "primary_metrics": ["pipeline_failure_rate", "flaky_rate", "pipeline_p90_duration"],
        "guardrail_metric": "change_failure_rate",
        "window_days": 7,
        **fields,
    }
    initiative = Initiative(starts_on=starts_on, **fields)
    initiative.full_clean()
    initiative.save()
    InitiativeTeam.objects.create(initiative=initiative, team=team)
    for other, start in teams:
        InitiativeTeam.objects.create(initiative=initiative, team=other, starts_on=start)
    return initiative


def refused(initiative: Initiative) -> str:
    with pytest.raises(ValidationError) as caught:
        initiative.full_clean()
    return " ".join(caught.value.messages)


# --- The model ---------------------------------------------------------------------------------------------------


def test_an_initiative_is_checked_whole(team):
    initiative = Initiative(
        name="Faster reviews",
        dimension="code_review",
        hypothesis="Review reminders after 4 business hours: pickup time falls",
        starts_on=date(2026, 12, 14),
        primary_metrics=["pickup_time"],
        guardrail_metric="change_failure_rate",
    )
    initiative.full_clean()
    # The survey dimension is the bottleneck's unless chosen; worse is the guardrail's bad direction unless chosen.
    assert (initiative.survey_dimension, initiative.guardrail_worse_when) == ("code_review", "rises")
    initiative.guardrail_metric, initiative.guardrail_worse_when = "deployment_frequency", ""
    initiative.full_clean()
    assert initiative.guardrail_worse_when == "falls"

    cases = [
        ({"primary_metrics": []}, "Choose 1 to 3 different metrics."),
        ({"primary_metrics": ["pickup_time", "review_time", "lead_time", "pr_size"]}, "Choose 1 to 3 different"),
        ({"primary_metrics": ["pickup_time", "pickup_time"]}, "Choose 1 to 3 different metrics."),
        ({"primary_metrics": ["pickup_time", "survey.code_review"]}, "Not a delivery metric: survey.code_review."),
        ({"guardrail_metric": "pickup_time"}, "A guardrail watches another metric than the primary ones."),
        ({"guardrail_metric": "happiness"}, "Not a delivery metric: happiness."),
        ({"hypothesis": "x" * 301}, "at most 300 characters"),
        ({"dimension": "vibes"}, "is not a valid choice"),
        ({"window_days": 3}, "greater than or equal to 7"),
    ]
    for change, message in cases:
        candidate = Initiative(**{**{f: getattr(initiative, f) for f in ("name", "hypothesis", "starts_on")}})
        candidate.dimension, candidate.primary_metrics = "code_review", ["pickup_time"]
        for name, value in change.items():
            setattr(candidate, name, value)
        assert message in refused(candidate), change


def test_a_team_starts_on_or_after_the_initiative(team, subteam):
    initiative = make(team, date(2026, 12, 14))
    early = InitiativeTeam(initiative=initiative, team=subteam, starts_on=date(2026, 12, 13))
    with pytest.raises(ValidationError, match="A team starts on or after the initiative's start"):
        early.full_clean()
    InitiativeTeam(initiative=initiative, team=subteam, starts_on=date(2026, 12, 21)).full_clean()


# --- Freezing ----------------------------------------------------------------------------------------------------


@pytest.fixture
def ci_history(history, service):
    """Checkout's CI: the 7 days before today, 3 failed runs of 14; today and the days before that week, all
    failed (outside the window: they must not count)."""
    for days_ago in range(1, 8):
        runs(history, service, days_ago, "failure" if days_ago <= 3 else "success", "success")
    for days_ago in (0, 8, 9, 10):
        runs(history, service, days_ago, "failure", "failure", "failure")
    history.refresh()
    return history


def test_at_its_start_the_definitions_and_each_teams_baseline_are_frozen(ci_history, team, service, now):
    today = org_today(now)
    initiative = make(team, today)

    frozen = initiatives.initiative_freeze(initiative_id=initiative.pk, now=now)

    assert (frozen.definitions, frozen.baselines) == (True, 1)
    initiative.refresh_from_db()
    assert initiative.frozen_at == now and initiative.status() == Status.FROZEN
    definitions = initiative.frozen["definitions"]
    assert definitions["primary_metrics"][0] == {
        "key": "pipeline_failure_rate",
        "label": "Pipeline failure rate",
        "unit": "%",
        "better": "lower",
    }
    assert definitions["guardrail"] == {
        "key": "change_failure_rate",
        "label": "Change failure rate",
        "unit": "%",
        "better": "lower",
        "worse_when": "rises",
    }
    assert definitions["survey_dimension"] == {"key": "ci_cd", "label": "CI/CD"}
    assert (definitions["window_days"], definitions["ramp_up_days"], definitions["starts_on"]) == (7, 14, str(today))
    assert definitions["teams"] == [{"id": team.pk, "name": "Payments", "starts_on": str(today)}]
    assert definitions["metric_definitions"]["time_zone"] == settings.TIME_ZONE
    assert definitions["metric_definitions"]["review_wait_hours"] == 24

    baseline = initiative.frozen["baselines"][str(team.pk)]
    values = baseline["values"]
    # The 7 days before the start: 3 failed runs of 14; today's and older failures left out.
    assert values["pipeline_failure_rate"] == pytest.approx(300 / 14)
    assert values["pipeline_p90_duration"] == pytest.approx(5.0)  # minutes
    assert values["change_failure_rate"] is None  # no deployment: no value, never 0
    assert values["survey.ci_cd"] is None  # no survey wave
    # Each the metric read for the team over that window, as thresholds read it.
    end = threshold_metrics._day_end(today - timedelta(days=1), threshold_metrics.reading_profile(), now)
    for key in ("pipeline_failure_rate", "flaky_rate", "pipeline_p90_duration", "change_failure_rate"):
        subject = Subject(METRICS[key], ScopeKind.TEAM_SUBTREE, team, None, 7)
        assert values[key] == threshold_metrics.current(subject, end).value, key
    window = {edge: datetime.fromisoformat(at) for edge, at in baseline["window"].items()}
    assert window == {
        "start": d.local_midnight(today - timedelta(days=7), settings.TIME_ZONE),
        "end": d.local_midnight(today, settings.TIME_ZONE),
    }
    assert InitiativeTeam.objects.get().baseline_at == now


def test_a_frozen_definition_cannot_change_but_its_name_and_owner_can(team, subteam, owner, now):
    initiative = make(team, org_today(now), owner=owner)
    initiatives.initiative_freeze(initiative_id=initiative.pk, now=now)
    initiative.refresh_from_db()

    for name, value in [
        ("primary_metrics", ["pipeline_failure_rate"]),
        ("dimension", "tooling"),
        ("guardrail_metric", "deployment_frequency"),
        ("window_days", 30),
        ("ramp_up_days", 7),
        ("starts_on", org_today(now) + timedelta(days=1)),
        ("survey_dimension", "tooling"),
    ]:
        changed = Initiative.objects.get(pk=initiative.pk)
        setattr(changed, name, value)
        assert refused(changed) == FROZEN_MESSAGE, name

    reordered = Initiative.objects.get(pk=initiative.pk)
    reordered.primary_metrics = list(reversed(reordered.primary_metrics))  # as a form may post them: no change
    reordered.full_clean()

    initiative.name, initiative.hypothesis, initiative.owner = "Renamed", "A better sentence", None
    initiative.full_clean()
    initiative.save()

    target = InitiativeTeam.objects.get()
    target.starts_on = org_today(now) + timedelta(days=3)
    with pytest.raises(ValidationError, match="its definitions are frozen"):
        target.full_clean()
    with pytest.raises(ValidationError, match="its definitions are frozen"):
        InitiativeTeam(initiative=initiative, team=subteam).full_clean()
    frozen = Initiative.objects.get(pk=initiative.pk).frozen
    assert frozen == initiative.frozen


def test_a_future_start_is_frozen_by_the_task_on_its_date_once(ci_history, team, subteam, now):
    today = org_today(now)
    # Payments starts in 2 days, Payments API (staggered) in 4.
    initiative = make(team, today + timedelta(days=2), teams=[(subteam, today + timedelta(days=4))])
    assert initiative.status(today) == Status.PLANNED

    assert initiatives.initiatives_freeze_due(now=now) == (0, 0, 0)
    assert initiatives.initiatives_freeze_due(now=now + timedelta(days=1)) == (0, 0, 0)
    initiative.refresh_from_db()
    assert initiative.frozen_at is None and initiative.frozen == {}

    two_days = now + timedelta(days=2)
    assert initiative.status(today + timedelta(days=2)) == Status.STARTING  # until the task freezes it
    assert initiatives.initiatives_freeze_due(now=two_days) == (1, 1, 0)
    assert initiatives.initiatives_freeze_due(now=two_days) == (0, 0, 0)  # run again: nothing more
    initiative.refresh_from_db()
    assert initiative.frozen_at == two_days
    assert list(initiative.frozen["baselines"]) == [str(team.pk)]
    first = initiative.frozen["baselines"][str(team.pk)]

    four_days = now + timedelta(days=4)
    assert initiatives.initiatives_freeze_due(now=four_days) == (0, 1, 0)  # the staggered team's own start
    assert initiatives.initiatives_freeze_due(now=four_days + timedelta(hours=1)) == (0, 0, 0)
    initiative.refresh_from_db()
    assert initiative.frozen_at == two_days and initiative.frozen["baselines"][str(team.pk)] == first
    later = initiative.frozen["baselines"][str(subteam.pk)]
    assert later["starts_on"] == str(today + timedelta(days=4)) and later["frozen_at"] == four_days.isoformat()


def test_the_hourly_task_freezes_what_has_started_once(team):
    initiative = make(team, org_today())
    assert tasks.initiatives_freeze_due() == "1 initiatives frozen, 1 team baselines frozen, 0 failed"
    assert tasks.initiatives_freeze_due() == "0 initiatives frozen, 0 team baselines frozen, 0 failed"
    assert Initiative.objects.get(pk=initiative.pk).frozen_at is not None


# --- Access ------------------------------------------------------------------------------------------------------


def test_an_initiative_is_visible_to_whoever_sees_all_its_teams(team, subteam, other_team, owner, teammate, outsider):
    staff = UserFactory(username="root", is_superuser=True)
    both = make(team, date(2026, 12, 14), teams=[(subteam, None)], name="Both")
    payments = make(team, date(2026, 12, 14), name="Payments alone")
    search = make(other_team, date(2026, 12, 14), name="Search")

    def seen(user):
        return set(initiatives.visible_initiatives(user).values_list("name", flat=True))

    assert seen(owner) == {"Both", "Payments alone"}  # a lead sees the sub-team too
    assert seen(teammate) == {"Payments alone"}  # a member does not see the sub-team: not all of Both's
    assert seen(outsider) == {"Search"}
    assert seen(staff) == {both.name, payments.name, search.name}
    stranger = UserFactory(username="nobody")
    assert seen(stranger) == set()


# --- Admin -------------------------------------------------------------------------------------------------------

ADD = "admin:actions_initiative_add"


def posted(owner, team, starts_on: date, *, target_id=None, initial=0, **more) -> dict:
    data = {
        "name": "Faster reviews",
        "dimension": "code_review",
        "hypothesis": "Review reminders: pickup time falls",
        "owner": owner.pk,
        "starts_on": starts_on.isoformat(),
        "primary_metrics": ["pickup_time", "review_time"],
        "survey_dimension": "",
        "guardrail_metric": "change_failure_rate",
        "guardrail_worse_when": "",
        "ramp_up_days": "14",
        "window_days": "90",
        "targets-TOTAL_FORMS": "1",
        "targets-INITIAL_FORMS": str(initial),
        "targets-MIN_NUM_FORMS": "1",
        "targets-MAX_NUM_FORMS": "1000",
        "targets-0-team": team.pk,
        "targets-0-starts_on": "",
        "targets-0-id": target_id or "",
        **more,
    }
    return data


def errors(response) -> list[str]:
    found = list(response.context["adminform"].form.non_field_errors())
    found += [str(error) for error in response.context["adminform"].form.errors.values()]
    for formset in response.context["inline_admin_formsets"]:
        found += list(formset.formset.non_form_errors())
    return found


def test_an_initiative_is_added_and_frozen_at_once_when_its_start_has_come(client, staff, owner, team):
    client.force_login(staff)
    assert client.get(reverse(ADD)).status_code == 200
    later = org_today() + timedelta(days=7)
    response = client.post(reverse(ADD), posted(owner, team, later))
    assert response.status_code == 302, errors(response)
    planned = Initiative.objects.get()
    assert (planned.created_by, planned.created_from, planned.owner) == (staff, CreatedFrom.ADMIN, owner)
    assert planned.survey_dimension == "code_review" and planned.frozen_at is None
    assert list(planned.teams.all()) == [team]

    response = client.post(reverse(ADD), posted(owner, team, org_today(), name="Started"))
    assert response.status_code == 302, errors(response)
    started = Initiative.objects.get(name="Started")
    assert started.frozen_at is not None and list(started.frozen["baselines"]) == [str(team.pk)]

    changelist = reverse("admin:actions_initiative_changelist")
    with CaptureQueriesContext(connection) as two:
        assert client.get(changelist).status_code == 200
    for n in range(5):
        make(team, later, name=f"More {n}", owner=owner)
    with CaptureQueriesContext(connection) as seven:
        client.get(changelist)
    assert len(seven) == len(two)  # the same queries however many initiatives
    for status, names in [("planned", {"Faster reviews", *(f"More {n}" for n in range(5))}), ("frozen", {"Started"})]:
        page = client.get(changelist, {"status": status})
        assert {i.name for i in page.context["cl"].result_list} == names
    assert not client.get(changelist, {"status": "starting"}).context["cl"].result_list
    page = client.get(reverse("admin:actions_initiative_change", args=[started.pk]))
    assert page.status_code == 200
    assert "Payments (starts" in page.content.decode() and "Pickup time no value" in page.content.decode()


def test_the_admin_refuses_a_definition_change_after_the_start(client, staff, owner, team, subteam):
    client.force_login(staff)
    initiative = make(team, org_today(), owner=owner, dimension="code_review", primary_metrics=["pickup_time"])
    initiatives.initiative_freeze(initiative_id=initiative.pk)
    target = InitiativeTeam.objects.get()
    url = reverse("admin:actions_initiative_change", args=[initiative.pk])
    same = {
        "primary_metrics": ["pickup_time"],
        "window_days": "7",
        "target_id": target.pk,
        "initial": 1,
    }

    for change in [
        {"primary_metrics": ["pickup_time", "review_time"]},
        {"window_days": "30"},
        {"targets-0-starts_on": (org_today() + timedelta(days=2)).isoformat()},
        {"targets-0-team": subteam.pk},
        {"targets-0-DELETE": "on"},
    ]:
        response = client.post(url, posted(owner, team, org_today(), **{**same, **change}))
        assert response.status_code == 200, change
        assert FROZEN_MESSAGE in errors(response), change

    response = client.post(url, posted(owner, team, org_today(), **same, name="Renamed", hypothesis="Sharper"))
    assert response.status_code == 302, errors(response)
    initiative.refresh_from_db()
    assert (initiative.name, initiative.hypothesis, initiative.primary_metrics) == (
        "Renamed",
        "Sharper",
        ["pickup_time"],
    )
    assert list(initiative.targets.values_list("team_id", "starts_on")) == [(team.pk, None)]


def test_a_lead_manages_the_initiatives_of_their_teams_only(client, owner, team, subteam, other_team):
    from django.contrib.auth.models import Permission

    owner.is_staff = True
    owner.save()
    # The initiative's permissions only: its target teams are edited with it.
    owner.user_permissions.add(*Permission.objects.filter(codename__endswith="_initiative"))
    client.force_login(owner)
    make(team, date(2026, 12, 14), teams=[(subteam, None)], name="Ours")
    make(other_team, date(2026, 12, 14), name="Search's")
    make(team, date(2026, 12, 14), teams=[(other_team, None)], name="Shared")
    page = client.get(reverse("admin:actions_initiative_changelist"))
    assert [i.name for i in page.context["cl"].result_list] == ["Ours"]

    response = client.post(reverse(ADD), posted(owner, other_team, org_today() + timedelta(days=7)))
    assert response.status_code == 200
    assert any("Select a valid choice" in error for error in errors_of_inline(response))
    assert not Initiative.objects.filter(name="Faster reviews").exists()


def errors_of_inline(response) -> list[str]:
    return [str(e) for formset in response.context["inline_admin_formsets"] for e in formset.formset.errors]


# --- The automation action ------------------------------------------------------------------------------------------


@pytest.fixture
def threshold(service):
    return Threshold.objects.create(
        name="Checkout failures",
        metric="pipeline_failure_rate",
        scope="service",
        service=service,
        comparison="gt",
        value=20,
    )


def drafting(team, threshold, **fields) -> Automation:
    made = Automation.objects.create(
        name="Draft on CI failures",
        team=team,
        trigger=Trigger.THRESHOLD_CROSSED,
        threshold=threshold,
        action=Do.CREATE_INITIATIVE,
        initiative_dimension=fields.pop("initiative_dimension", "ci_cd"),
        quiet_hours=False,
        **fields,
    )
    Automation.objects.filter(pk=made.pk).update(created_at=timezone.now() - timedelta(days=1))
    return made


def crossed(threshold, at) -> ThresholdEvent:
    return ThresholdEvent.objects.create(
        threshold=threshold,
        key=f"threshold-{threshold.pk}-1-crossed",
        kind="crossed",
        at=at,
        value=24.0,
        comparison="gt",
        limit=20,
    )


def test_a_crossing_drafts_one_initiative_for_the_team_however_often_it_runs(team, owner, threshold):
    auto = drafting(team, threshold)
    now = timezone.now()
    crossed(threshold, now)

    assert automations.automations_tick(now=now) == "1 runs recorded; 1 sent"

    run = AutomationRun.objects.get()
    initiative = Initiative.objects.get()
    assert run.status == AutomationRun.Status.SENT
    change = settings.SITE_URL + reverse("admin:actions_initiative_change", args=[initiative.pk])
    assert run.response == f"Initiative #{initiative.pk} drafted: {change}"
    assert list(initiative.teams.all()) == [team] and initiative.owner == owner  # the team's lead
    assert initiative.starts_on == org_today(run.created_at) + timedelta(days=7)
    assert initiative.hypothesis == "Checkout failures crossed: 24%: we expect CI/CD to improve"
    assert initiative.primary_metrics == ["pipeline_failure_rate", "flaky_rate", "pipeline_p90_duration"]
    assert (initiative.guardrail_metric, initiative.guardrail_worse_when) == ("change_failure_rate", "rises")
    assert (initiative.dimension, initiative.survey_dimension) == ("ci_cd", "ci_cd")
    assert (initiative.created_from, initiative.automation_run, initiative.frozen_at) == ("automation", run, None)
    assert list(initiative.automations.all()) == [auto] and list(initiative.thresholds.all()) == [threshold]
    initiative.full_clean()  # a draft a lead can save as it is

    # Retried (as the admin's "Retry" does), or executed twice: still one initiative.
    AutomationRun.objects.filter(pk=run.pk).update(status=AutomationRun.Status.FAILED)
    assert automations.retry(run_ids=[run.pk]) == 1
    automations.automations_tick(now=now)
    assert initiatives.initiative_draft(run=AutomationRun.objects.get(), now=now).initiative == initiative
    assert Initiative.objects.count() == 1 and InitiativeTeam.objects.count() == 1
    assert "(by an earlier attempt)" in AutomationRun.objects.get().response


def test_a_team_without_a_lead_gets_the_automations_creator_as_owner(team, threshold, teammate):
    creator = UserFactory(username="creator")
    drafting(team, threshold, created_by=creator)
    now = timezone.now()
    crossed(threshold, now)
    automations.automations_tick(now=now)
    assert Initiative.objects.get().owner == creator


def test_a_dry_run_drafts_nothing_and_says_what_it_would(team, owner, threshold):
    drafting(team, threshold, dry_run=True)
    now = timezone.now()
    crossed(threshold, now)
    automations.automations_tick(now=now)
    run = AutomationRun.objects.get()
    assert run.status == AutomationRun.Status.DRY_RUN and not Initiative.objects.exists()
    assert run.response.startswith("dry run: would draft the initiative “Payments: CI/CD (drafted by")
    assert "measured by Pipeline failure rate, Flaky rate, Pipeline p90 duration" in run.response


def test_the_admin_refuses_a_draft_without_a_dimension(client, staff, team):
    client.force_login(staff)
    base = {
        "name": "Draft",
        "team": team.pk,
        "is_active": "on",
        "trigger": "incident_opened",
        "action": "create_initiative",
        "quiet_hours": "on",
    }
    cases = [
        ({}, "initiative_dimension", "Drafting an initiative needs the dimension it addresses."),
        (
            {"initiative_dimension": "focus"},
            "initiative_dimension",
            "Focus maps to no delivery metric: an initiative on it would measure nothing. Choose another dimension.",
        ),
        ({"initiative_dimension": "ci_cd", "action": "message"}, "initiative_dimension", "Only drafting"),
        (
            {"initiative_dimension": "ci_cd", "team": "", "trigger": "schedule", "every_hours": "24"},
            "team",
            "A scheduled draft is for the owner team: choose one.",
        ),
    ]
    for change, field, message in cases:
        response = client.post(reverse("admin:actions_automation_add"), {**base, **change})
        assert response.status_code == 200, change
        assert message in " ".join(response.context["adminform"].form.errors[field]), change
    assert not Automation.objects.exists()
    response = client.post(reverse("admin:actions_automation_add"), {**base, "initiative_dimension": "code_review"})
    assert response.status_code == 302
    assert Automation.objects.get().initiative_dimension == "code_review"


def test_an_incident_drafts_for_its_services_team(team, owner, service):
    from metrics.tests.factories import IncidentFactory

    auto = Automation.objects.create(
        name="Org-wide drafts",
        team=None,
        trigger=Trigger.INCIDENT_OPENED,
        action=Do.CREATE_INITIATIVE,
        initiative_dimension="stability",
        quiet_hours=False,
    )
    Automation.objects.filter(pk=auto.pk).update(created_at=timezone.now() - timedelta(days=1))
    now = timezone.now()
    IncidentFactory(service=service, started_at=now - timedelta(minutes=5), title="Checkout down")
    automations.automations_tick(now=now)
    initiative = Initiative.objects.get()
    assert list(initiative.teams.all()) == [team] and initiative.owner == owner
    assert initiative.primary_metrics == ["change_failure_rate", "recovery_time", "rework_rate"]
    # Stability work must not cost speed.
    assert (initiative.guardrail_metric, initiative.guardrail_worse_when) == ("deployment_frequency", "falls")

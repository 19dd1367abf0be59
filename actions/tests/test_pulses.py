"""The automation action "Open a pulse survey" (``actions.pulses``): after an incident is resolved, to its service's
team; N weeks after an initiative's teams started, on its survey dimension only; to newcomers at day 7 and day 30 —
one pulse per run, none in a dry run, none for fewer than k people."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from actions import automations
from actions.models import Automation, AutomationRun, Initiative, InitiativeTeam
from actions.models.automations import Do, Trigger
from actions.models.initiatives import org_today
from e360.models import Person
from e360.tests.factories import TeamFactory
from metrics.tests.factories import IncidentFactory
from surveys.models import Campaign, Invitation
from surveys.tests.factories import members

pytestmark = pytest.mark.django_db
Status = AutomationRun.Status


def automation(**fields) -> Automation:
    made = Automation.objects.create(
        **{"name": "Pulse", "team": None, "action": Do.OPEN_PULSE, "quiet_hours": False} | fields
    )
    Automation.objects.filter(pk=made.pk).update(created_at=timezone.now() - timedelta(days=60))
    made.refresh_from_db()
    return made


def invited(campaign: Campaign) -> set[str]:
    return set(Invitation.objects.filter(campaign=campaign).values_list("person__handle", flat=True))


def handles(users) -> set[str]:
    return {user.person.handle for user in users}


# --- After an incident -----------------------------------------------------------------------------------------------


def test_a_resolved_incident_opens_one_pulse_for_its_services_team(team, service, other_team):
    crew = members(team, 6, prefix="pay")
    members(other_team, 5, prefix="search")
    auto = automation(trigger=Trigger.INCIDENT_RESOLVED, pulse_dimension="stability")
    now = timezone.now()
    incident = IncidentFactory(service=service, started_at=now - timedelta(hours=3), title="Checkout down")
    assert automations.automations_tick(now=now) == "0 runs recorded; none executed"  # not resolved yet

    incident.resolved_at = now - timedelta(minutes=5)
    incident.save()
    assert automations.automations_tick(now=now) == "1 runs recorded; 1 sent"

    run = AutomationRun.objects.get()
    campaign = Campaign.objects.get()
    assert run.dedupe_key == f"incident-resolved:{incident.pk}" and run.status == Status.SENT
    assert campaign.pulse_key == f"automation-{auto.pk}:incident-resolved:{incident.pk}"
    assert campaign.is_open and invited(campaign) == handles(crew)
    assert [q.dimension for q in campaign.version.questions.all()] == ["stability"] * 3
    assert campaign.name == "Pulse: Incident resolved on Checkout: Checkout down"
    change = reverse("admin:surveys_campaign_change", args=[campaign.pk])
    assert run.response.startswith(f"Pulse #{campaign.pk} opened for Payments (6 people), asking the Stability ")
    assert run.response.endswith(change)

    # Retried (the admin's "Retry"), or collected again: still one pulse.
    AutomationRun.objects.filter(pk=run.pk).update(status=Status.FAILED)
    assert automations.retry(run_ids=[run.pk]) == 1
    assert automations.automations_tick(now=now) == "0 runs recorded; 1 sent"
    assert Campaign.objects.count() == 1 and Invitation.objects.count() == 6
    assert "opened (by an earlier attempt)" in AutomationRun.objects.get().response


def test_an_incident_of_a_team_of_two_opens_nothing(team, service):
    members(team, 2, prefix="pay")
    post_incident = automation(trigger=Trigger.INCIDENT_OPENED, pulse_template_id=None, pulse_dimension="stability")
    now = timezone.now()
    IncidentFactory(service=service, started_at=now - timedelta(minutes=5))

    automations.automations_tick(now=now)

    run = AutomationRun.objects.get(automation=post_incident)
    assert run.status == Status.SKIPPED
    assert run.response == (
        "skipped: no pulse for Payments: The audience has 2 people, fewer than k = 5: no answer could stay anonymous."
    )
    assert not Campaign.objects.exists() and not Invitation.objects.exists()


def test_a_dry_run_opens_no_pulse_and_says_what_it_would(team, service):
    members(team, 6, prefix="pay")
    from surveys.models import Template

    automation(
        trigger=Trigger.INCIDENT_RESOLVED, pulse_template=Template.objects.get(slug="post-incident"), dry_run=True
    )
    now = timezone.now()
    IncidentFactory(service=service, started_at=now - timedelta(hours=1), resolved_at=now - timedelta(minutes=1))

    automations.automations_tick(now=now)

    run = AutomationRun.objects.get()
    assert run.status == Status.DRY_RUN and not Campaign.objects.exists()
    assert run.response.startswith("dry run: would open “Pulse: Incident resolved on Checkout")
    assert run.response.endswith("for Payments (6 people), asking Post-incident, for 7 days")


# --- After an initiative's start -------------------------------------------------------------------------------------


def initiative(team, starts_on: date, *, later=()) -> Initiative:
    made = Initiative.objects.create(
        name="Faster reviews",
        dimension="code_review",
        survey_dimension="code_review",
        hypothesis="Review reminders: pickup time falls",
        starts_on=starts_on,
        primary_metrics=["pickup_time"],
    )
    InitiativeTeam.objects.create(initiative=made, team=team)
    for other, start in later:
        InitiativeTeam.objects.create(initiative=made, team=other, starts_on=start)
    return made


def test_n_weeks_after_their_start_an_initiatives_teams_get_a_pulse_on_its_dimension(team, other_team):
    platform = TeamFactory(name="Platform", slug="platform")
    pay, search = members(team, 5, prefix="pay"), members(other_team, 5, prefix="search")
    members(platform, 5, prefix="platform")  # not in the initiative
    now = timezone.now()
    today = org_today(now)
    started = initiative(team, today - timedelta(weeks=2), later=[(other_team, today - timedelta(weeks=1))])
    auto = automation(trigger=Trigger.INITIATIVE_STARTED, weeks_after_start=2)

    assert automations.automations_tick(now=now) == "1 runs recorded; 1 sent"
    campaign = Campaign.objects.get()
    run = AutomationRun.objects.get()
    start = today - timedelta(weeks=2)
    assert run.dedupe_key == f"initiative:{started.pk}:{start.isoformat()}:2w"
    assert run.inputs["team_ids"] == [team.pk] and run.inputs["dimension"] == "code_review"
    assert invited(campaign) == handles(pay)  # the staggered team has not had its two weeks yet
    assert [q.key for q in campaign.version.questions.all()] == ["code_review_first_review", "code_review_useful"]
    assert campaign.pulse_reason == f"Opened by the automation “{auto.name}” ({run.dedupe_key})"

    assert automations.automations_tick(now=now) == "0 runs recorded; none executed"  # once
    # A week later, the staggered team's own two weeks.
    later = now + timedelta(weeks=1)
    assert automations.automations_tick(now=later) == "1 runs recorded; 1 sent"
    second = Campaign.objects.exclude(pk=campaign.pk).get()
    assert invited(second) == handles(search)


def test_an_initiatives_pulse_in_a_dry_run_opens_nothing(team):
    members(team, 5, prefix="pay")
    now = timezone.now()
    initiative(team, org_today(now) - timedelta(weeks=4))
    automation(trigger=Trigger.INITIATIVE_STARTED, weeks_after_start=4, dry_run=True)

    automations.automations_tick(now=now)

    run = AutomationRun.objects.get()
    assert run.status == Status.DRY_RUN and not Campaign.objects.exists()
    assert "for Payments (5 people), asking the Code review questions" in run.response


# --- Onboarding ------------------------------------------------------------------------------------------------------


def joined(users, day: date) -> None:
    Person.objects.filter(user__in=users).update(joined_on=day)


def test_newcomers_get_their_onboarding_pulse_at_day_7_and_day_30_once_each(team, other_team):
    now = timezone.now()
    today = org_today(now)
    cohort = members(team, 3, prefix="new") + members(other_team, 2, prefix="new-search")
    joined(cohort, today - timedelta(days=7))
    joined(members(team, 2, prefix="early"), today - timedelta(days=6))  # not yet at day 7
    joined(members(team, 2, prefix="old"), today - timedelta(days=400))  # long since
    members(team, 3, prefix="unknown")  # no joining date: never a newcomer
    week = automation(name="Onboarding, day 7", trigger=Trigger.PEOPLE_JOINED, days_after_joining=7)
    month = automation(name="Onboarding, day 30", trigger=Trigger.PEOPLE_JOINED, days_after_joining=30)

    assert automations.automations_tick(now=now) == "1 runs recorded; 1 sent"
    first = Campaign.objects.get()
    assert invited(first) == handles(cohort)
    assert first.template.slug == "onboarding-week-1"
    run = AutomationRun.objects.get(automation=week)
    assert run.dedupe_key == f"onboarding:7:{today.isoformat()}" and "joined between" in run.inputs["lines"][0]

    # The next days: the two who joined a day later reach day 7, but two are fewer than k — they wait.
    assert automations.automations_tick(now=now + timedelta(days=1)) == "0 runs recorded; none executed"
    # Three more join; once five wait, they are asked together, the first cohort not again.
    late = members(team, 3, prefix="late")
    joined(late, today - timedelta(days=2))
    assert automations.automations_tick(now=now + timedelta(days=5)) == "1 runs recorded; 1 sent"
    second = Campaign.objects.exclude(pk=first.pk).get()
    assert invited(second) == handles(late) | {"early-0", "early-1"}

    # Day 30 of the first cohort: the month's pulse, once.
    at_30 = now + timedelta(days=23)
    assert automations.automations_tick(now=at_30) == "1 runs recorded; 1 sent"
    third = Campaign.objects.exclude(pk__in=[first.pk, second.pk]).get()
    assert invited(third) == handles(cohort) and third.template.slug == "onboarding-month-1"
    assert AutomationRun.objects.filter(automation=month).count() == 1
    assert automations.automations_tick(now=at_30 + timedelta(hours=1)) == "0 runs recorded; none executed"


def test_a_newcomer_never_in_a_cohort_of_k_within_the_grace_days_is_not_asked(team):
    now = timezone.now()
    alone = members(team, 2, prefix="new")
    joined(alone, org_today(now) - timedelta(days=7))
    automation(trigger=Trigger.PEOPLE_JOINED, days_after_joining=7)
    assert automations.automations_tick(now=now) == "0 runs recorded; none executed"

    later = members(team, 3, prefix="late")
    joined(later, org_today(now) + timedelta(days=8))  # their day 7 comes 15 days later: past the two's grace days
    assert automations.automations_tick(now=now + timedelta(days=15)) == "0 runs recorded; none executed"


def test_an_owner_teams_onboarding_counts_its_newcomers_only_in_constant_queries(
    team, other_team, django_assert_max_num_queries
):
    now = timezone.now()
    joined(members(team, 4, prefix="new"), org_today(now) - timedelta(days=7))
    joined(members(other_team, 20, prefix="search"), org_today(now) - timedelta(days=7))
    auto = automation(team=team, trigger=Trigger.PEOPLE_JOINED, days_after_joining=7, dry_run=True)

    with django_assert_max_num_queries(8):
        automations.automations_collect(now=now, automations=[auto])
    assert not AutomationRun.objects.exists()  # Payments has 4 newcomers, fewer than k

    joined(members(team, 1, prefix="one-more"), org_today(now) - timedelta(days=8))
    automations.automations_tick(now=now)
    run = AutomationRun.objects.get()
    assert len(run.inputs["person_ids"]) == 5 and run.status == Status.DRY_RUN
    assert run.response == (
        "dry run: would open “Pulse: 5 people joined 7 days ago or a little earlier” for 5 newcomers (5 people), "
        "asking Onboarding — week 1, for 7 days"
    )
    assert not Campaign.objects.exists()


# --- The admin -------------------------------------------------------------------------------------------------------


def test_the_admin_checks_a_pulses_set_up(client, staff, team):
    client.force_login(staff)
    base = {"name": "Pulse", "team": team.pk, "is_active": "on", "action": "open_pulse", "pulse_days_open": "7"}
    cases = [
        ({"trigger": "incident_resolved"}, "pulse_dimension", "What the pulse asks: choose a template or a dimension."),
        (
            {"trigger": "pipeline_failing", "failures_in_a_row": "3", "pulse_dimension": "ci_cd"},
            "action",
            "A pulse survey follows an incident, an initiative's start or people joining.",
        ),
        (
            {"trigger": "initiative_started", "weeks_after_start": "4", "pulse_dimension": "focus"},
            "pulse_dimension",
            "An initiative's pulse asks its own survey dimension: leave empty.",
        ),
        ({"trigger": "initiative_started"}, "weeks_after_start", "How many weeks after the teams' start it fires."),
        ({"trigger": "people_joined"}, "days_after_joining", "How many days after joining it fires, e.g. 7 or 30."),
        (
            {
                "trigger": "incident_resolved",
                "action": "create_initiative",
                "initiative_dimension": "stability",
                "pulse_dimension": "stability",
            },
            "pulse_dimension",
            "Only opening a pulse survey uses it.",
        ),
        (
            {"trigger": "incident_resolved", "pulse_dimension": "stability", "pulse_days_open": "31"},
            "pulse_days_open",
            "Ensure this value is less than or equal to 30.",
        ),
    ]
    for change, field, message in cases:
        response = client.post(reverse("admin:actions_automation_add"), {**base, **change})
        assert response.status_code == 200, change
        assert message in " ".join(response.context["adminform"].form.errors[field]), change
    assert not Automation.objects.exists()
    response = client.post(
        reverse("admin:actions_automation_add"), {**base, "trigger": "people_joined", "days_after_joining": "30"}
    )
    assert response.status_code == 302
    made = Automation.objects.get()
    assert (made.trigger_text, made.get_action_display()) == ("people joined 30 days ago", "Open a pulse survey")

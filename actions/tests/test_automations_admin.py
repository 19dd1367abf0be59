"""The automations' admin: an automation checked whole (the trigger's parameters, a channel the owner may use,
a threshold it can see, a known metric, conditions in its scope), refused with why and nothing saved; a lead
manages their teams' only; runs read only, a failed one retried."""

from __future__ import annotations

from django.urls import reverse

from actions.models import Automation, AutomationRun, Threshold
from actions.tests.factories import ChannelFactory
from e360.tests.factories import ServiceFactory

ADD = "admin:actions_automation_add"


def fields(team, channel, **more):
    return {
        "name": "Page the team",
        "team": team.pk if team else "",
        "is_active": "on",
        "trigger": "incident_opened",
        "action": "message",
        "channel": channel.pk,
        "quiet_hours": "on",
        **more,
    }


def errors(response) -> dict:
    return response.context["adminform"].form.errors


def test_an_automation_is_added(client, staff, team, service):
    client.force_login(staff)
    assert client.get(reverse(ADD)).status_code == 200
    channel = ChannelFactory(team=team)
    response = client.post(reverse(ADD), fields(team, channel, tiers=["1", "2"], services=[service.pk]))
    assert response.status_code == 302, errors(response)
    automation = Automation.objects.get()
    assert (automation.team, automation.channel, automation.tiers) == (team, channel, [1, 2])
    assert list(automation.services.all()) == [service] and automation.created_by == staff
    assert client.get(reverse("admin:actions_automation_changelist")).status_code == 200
    assert client.get(reverse("admin:actions_automation_change", args=[automation.pk])).status_code == 200


def test_a_misconfigured_automation_is_refused_with_why(client, staff, team, other_team):
    client.force_login(staff)
    mine = ChannelFactory(team=team)
    theirs_channel = ChannelFactory(name="#search", team=other_team)
    theirs = Threshold.objects.create(
        name="Search lead time", metric="pipeline_failure_rate", scope="team", team=other_team, comparison="gt", value=1
    )
    unknown = Threshold.objects.create(
        name="Gone metric", metric="no_such_metric", scope="team", team=team, comparison="gt", value=1
    )
    other_service = ServiceFactory(name="Search API", slug="search-api", owner=other_team)
    cases = [
        (fields(team, theirs_channel), "channel", "“#search” is another team's channel: Payments may not post there."),
        (
            fields(team, mine, trigger="threshold_crossed", threshold=theirs.pk),
            "threshold",
            "Payments cannot see “Search lead time”: choose one of its thresholds.",
        ),
        (
            fields(team, mine, trigger="threshold_crossed", threshold=unknown.pk),
            "threshold",
            "“Gone metric” watches an unknown metric (no_such_metric).",
        ),
        (fields(team, mine, trigger="pipeline_failing"), "failures_in_a_row", "How many failures in a row trigger it."),
        (
            fields(team, mine, trigger="pull_request_waiting"),
            "waiting_hours",
            "How many business hours a pull request may wait.",
        ),
        (
            fields(team, mine, trigger="schedule"),
            "every_hours",
            "A schedule runs either every N hours or daily at a time: give one.",
        ),
        (
            fields(team, mine, trigger="schedule", every_hours=6, daily_at="09:00"),
            "every_hours",
            "A schedule runs either every N hours or daily at a time: give one.",
        ),
        (fields(team, mine, services=[other_service.pk]), "services", "Not Payments's: Search API."),
        (
            fields(team, mine, action="rerun_failed_jobs"),
            "action",
            "Re-running the failed jobs follows a failing pipeline trigger only.",
        ),
        (
            fields(None, theirs_channel),
            "channel",
            "“#search” is another team's channel: the organisation may not post there.",
        ),
    ]
    for data, field, said in cases:
        response = client.post(reverse(ADD), data)
        assert response.status_code == 200
        assert errors(response)[field] == [said], (field, errors(response))
    assert not Automation.objects.exists()


def test_a_lead_manages_their_teams_automations_only(client, owner, team, other_team):
    owner.is_staff = True
    owner.save()
    from django.contrib.auth.models import Permission

    owner.user_permissions.add(*Permission.objects.filter(codename__endswith="automation"))
    client.force_login(owner)
    Automation.objects.create(name="Search's", team=other_team, trigger="incident_opened", channel=ChannelFactory())
    listed = client.get(reverse("admin:actions_automation_changelist")).content.decode()
    assert "Search&#x27;s" not in listed and "Search's" not in listed
    org_wide = client.post(reverse(ADD), fields(None, ChannelFactory()))
    assert errors(org_wide)["team"]


def test_runs_are_read_only_and_a_failed_one_is_retried(client, staff, team):
    automation = Automation.objects.create(name="A", team=team, trigger="incident_opened", channel=ChannelFactory())
    run = AutomationRun.objects.create(
        automation=automation, trigger="incident_opened", dedupe_key="incident:1", status="failed"
    )
    client.force_login(staff)
    assert client.get(reverse("admin:actions_automationrun_add")).status_code == 403
    page = client.get(reverse("admin:actions_automationrun_change", args=[run.pk])).content.decode()
    assert 'name="_save"' not in page
    client.post(reverse("admin:actions_automationrun_changelist"), {"action": "retry", "_selected_action": [run.pk]})
    run.refresh_from_db()
    assert run.status == "pending"


def test_a_survey_automation_needs_its_dimension_and_value_and_takes_no_service_condition(client, staff, team, service):
    client.force_login(staff)
    channel = ChannelFactory(team=team)
    survey = fields(team, channel, trigger="survey_closed")
    response = client.post(reverse(ADD), survey)
    assert errors(response) == {
        "survey_dimension": ["Which survey dimension a closed survey is read on."],
        "favourable_below": ["Below what % favourable (0–100) a team triggers it."],
    }
    response = client.post(
        reverse(ADD),
        {**survey, "survey_dimension": "ci_cd", "favourable_below": "120", "tiers": ["1"], "services": [service.pk]},
    )
    assert errors(response) == {
        "favourable_below": ["Ensure this value is less than or equal to 100."],
        "tiers": ["A survey's figures are a team's, not a service's: only teams apply."],
        "services": ["A survey's figures are a team's, not a service's: only teams apply."],
    }
    assert not Automation.objects.exists()

    response = client.post(reverse(ADD), {**survey, "survey_dimension": "ci_cd", "favourable_below": "60"})
    assert response.status_code == 302, errors(response)
    automation = Automation.objects.get()
    assert (automation.survey_dimension, automation.favourable_below) == ("ci_cd", 60)
    assert automation.trigger_text == "a survey closed with CI/CD below 60% favourable"

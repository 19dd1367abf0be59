"""Initiatives started and edited in the portal: a lead from a bottleneck card's link (pre-filled), only the teams
they manage, the definitions frozen after the start (teams too), outsiders' 404s and a plain member's 403."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse

from actions import suggestions
from actions.models import Initiative, InitiativeTeam
from actions.models.initiatives import FROZEN_MESSAGE, CreatedFrom, org_today

pytestmark = pytest.mark.django_db

ADD = reverse("actions:initiative-add")


def edit_url(initiative):
    return reverse("actions:initiative-edit", args=[initiative.pk])


def posted(team, **fields):
    data = {
        "name": "Review reminders for Payments",
        "dimension": "code_review",
        "hypothesis": "Reminding reviewers after 8 business hours: pickup time falls",
        "target_teams": [team.pk],
        "starts_on": (org_today() + timedelta(days=7)).isoformat(),
        "primary_metrics": ["pickup_time"],
        "survey_dimension": "code_review",
        "guardrail_metric": "change_failure_rate",
        "guardrail_worse_when": "rises",
        "ramp_up_days": 14,
        "window_days": 90,
    }
    data.update(fields)
    return data


def test_the_bottleneck_cards_link_pre_fills_the_form(client, owner, team):
    links = suggestions.for_team(owner, team)["code_review"]
    (start,) = [link for link in links if link.title == "Start an initiative on Code review"]
    query = parse_qs(urlsplit(start.url).query)
    assert query["target_teams"] == [str(team.pk)] and query["from"] == ["bottleneck"]
    client.force_login(owner)
    response = client.get(start.url)
    assert response.status_code == 200
    form = response.context["form"]
    assert form.initial["dimension"] == "code_review"
    assert form.initial["target_teams"] == [str(team.pk)]
    assert "pickup_time" in form.initial["primary_metrics"]  # the dimension's mapped metrics


def test_a_lead_starts_an_initiative_from_the_card(client, owner, team):
    client.force_login(owner)
    response = client.post(ADD, {**posted(team), "from": "bottleneck"})
    initiative = Initiative.objects.get()
    assert response.status_code == 302 and response["Location"] == initiative.get_absolute_url()
    assert (initiative.owner, initiative.created_by, initiative.created_from) == (
        owner,
        owner,
        CreatedFrom.BOTTLENECK_CARD,
    )
    assert list(initiative.targets.values_list("team_id", "starts_on")) == [(team.pk, None)]
    assert initiative.frozen_at is None  # starts next week


def test_a_start_that_has_come_is_frozen_at_once(client, owner, team):
    client.force_login(owner)
    client.post(ADD, posted(team, starts_on=org_today().isoformat()))
    initiative = Initiative.objects.get()
    assert initiative.frozen_at is not None
    assert str(team.pk) in initiative.frozen["baselines"]


def test_only_the_teams_one_manages_are_offered(client, owner, team, other_team):
    client.force_login(owner)
    response = client.post(ADD, posted(team, target_teams=[team.pk, other_team.pk]))
    assert response.status_code == 400
    assert "Select a valid choice" in str(response.context["form"].errors["target_teams"])
    assert not Initiative.objects.exists()


def test_bad_input_says_what_is_wrong_and_saves_nothing(client, owner, team):
    client.force_login(owner)
    response = client.post(ADD, posted(team, primary_metrics=[], hypothesis=""))
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert "primary_metrics" in errors and "hypothesis" in errors
    assert not Initiative.objects.exists() and not InitiativeTeam.objects.exists()


def test_after_the_start_definitions_and_teams_are_frozen_but_the_name_is_not(client, owner, team, subteam):
    client.force_login(owner)
    client.post(ADD, posted(team, starts_on=org_today().isoformat()))
    initiative = Initiative.objects.get()
    response = client.post(edit_url(initiative), posted(team, target_teams=[team.pk, subteam.pk]))
    assert response.status_code == 400
    assert FROZEN_MESSAGE in str(response.context["form"].errors["target_teams"])
    response = client.post(edit_url(initiative), posted(team, primary_metrics=["review_time"]))
    assert response.status_code == 400
    data = posted(team, name="Reminders for Payments, renamed", starts_on=initiative.starts_on.isoformat())
    assert client.post(edit_url(initiative), data).status_code == 302
    initiative.refresh_from_db()
    assert initiative.name == "Reminders for Payments, renamed"
    assert initiative.primary_metrics == ["pickup_time"]


def test_a_planned_initiatives_teams_may_change(client, owner, team, subteam):
    client.force_login(owner)
    client.post(ADD, posted(team))
    initiative = Initiative.objects.get()
    assert client.post(edit_url(initiative), posted(team, target_teams=[subteam.pk])).status_code == 302
    assert list(initiative.targets.values_list("team_id", flat=True)) == [subteam.pk]


def test_outsiders_get_404_and_plain_members_403(client, owner, teammate, outsider, team):
    client.force_login(owner)
    client.post(ADD, posted(team))
    initiative = Initiative.objects.get()
    client.force_login(outsider)
    assert client.get(ADD).status_code == 404  # leads no team
    assert client.get(edit_url(initiative)).status_code == 404
    client.force_login(teammate)
    assert client.get(edit_url(initiative)).status_code == 403

"""The bottleneck cards' suggested actions (``actions.suggestions``): the mapping names real metrics and dimensions,
each link pre-fills its portal form (the thresholds', the review reminder policies'), and only those who may follow
a suggestion see it (the team's leads and org viewers, no admin rights needed; outsiders 404)."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from actions import suggestions, threshold_metrics
from actions.models import Channel, ReminderPolicy, Threshold
from actions.tests.factories import ChannelFactory
from e360.tests.factories import UserFactory
from insights import engine, services

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def _text(response) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def _links(response) -> dict[str, str]:
    """The suggestions' links by their text."""
    html = response.content.decode()
    return {unescape(text): unescape(href) for href, text in re.findall(r'<li><a href="([^"]+)">([^<]+)</a>', html)}


def _suggest(client, user, team):
    client.force_login(user)
    return client.get(reverse("actions:team-suggestions", args=[team.slug]), headers=HTMX)


def test_the_mapping_names_the_engines_dimensions_and_the_thresholds_metrics():
    assert set(suggestions.SUGGESTIONS) <= set(engine.DIMENSIONS_BY_KEY)
    for found in suggestions.SUGGESTIONS.values():
        for suggestion in found:
            if isinstance(suggestion, suggestions.Alert):
                metric = threshold_metrics.METRICS[suggestion.metric]
                # Each alert fires on things getting worse.
                assert suggestion.comparison.value in metric.bad_comparisons


def test_a_lead_gets_the_alerts_of_each_dimension_on_its_card(client, owner, team):
    response = _suggest(client, owner, team)
    assert response.status_code == 200
    html = response.content.decode()
    assert "hx-swap-oob=\"innerHTML:[data-suggestions='ci_cd']\"" in html
    assert "hx-swap-oob=\"innerHTML:[data-suggestions='code_review']\"" in html
    links = _links(response)
    assert "Alert when pipeline failures exceed 20%" in links
    assert "Set up review reminders for Payments" in links  # a lead, neither staff nor allowed in the admin
    assert "(Pipeline failure rate > 20%)" in _text(response)


def test_the_threshold_link_pre_fills_the_form(client, owner, team):
    url = _links(_suggest(client, owner, team))["Alert when pipeline failures exceed 20%"]
    assert parse_qs(urlsplit(url).query) == {
        "name": ["Payments: pipeline failures over 20%"],
        "metric": ["pipeline_failure_rate"],
        "scope": ["team_subtree"],
        "team": [str(team.pk)],
        "comparison": ["gt"],
        "value": ["20"],
    }
    form = client.get(url).context["form"]
    assert {name: form[name].value() for name in ("name", "metric", "scope", "team", "comparison", "value")} == {
        "name": "Payments: pipeline failures over 20%",
        "metric": "pipeline_failure_rate",
        "scope": "team_subtree",
        "team": str(team.pk),
        "comparison": "gt",
        "value": "20",
    }
    html = client.get(url).content.decode()
    assert re.search(rf'<option value="{team.pk}" selected>Payments</option>', html)
    assert re.search(r'<option value="pipeline_failure_rate" selected>', html)

    saved = client.post(url, {**{k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}, "window_days": 28,
                              "cooldown_hours": 24, "is_active": "on"})  # fmt: skip
    assert saved.status_code == 302
    threshold = Threshold.objects.get()
    assert (threshold.metric, threshold.team, threshold.value) == ("pipeline_failure_rate", team, 20)


def test_a_pre_filled_team_the_user_may_not_manage_is_not_selected(client, owner, other_team):
    query = f"?metric=pipeline_failure_rate&team={other_team.pk}&comparison=gt&value=20"
    client.force_login(owner)
    html = client.get(reverse("actions:threshold-add") + query).content.decode()
    assert f'value="{other_team.pk}"' not in html


def test_a_lead_gets_the_reminder_policy_form_pre_filled_with_the_team(client, owner, team):
    assert not owner.is_staff and not owner.user_permissions.exists()
    response = _suggest(client, owner, team)
    url = _links(response)["Set up review reminders for Payments"]
    assert url == f"{reverse('actions:reminder-add')}?team={team.pk}"
    page = client.get(url)
    assert page.status_code == 200 and page.context["form"]["team"].value() == str(team.pk)
    assert re.search(rf'<option value="{team.pk}" selected>Payments</option>', page.content.decode())


def test_an_existing_policy_is_linked_for_a_change(client, owner, team):
    policy = ReminderPolicy.objects.create(team=team, channel=ChannelFactory(kind=Channel.Kind.OUTBOX))
    links = _links(_suggest(client, owner, team))
    assert links["Review reminders of Payments (on)"] == reverse("actions:reminder-edit", args=[policy.pk])
    assert "Set up review reminders for Payments" not in links
    assert client.get(links["Review reminders of Payments (on)"]).status_code == 200


def test_a_plain_member_sees_no_suggestions_and_an_outsider_gets_404(client, teammate, outsider, team):
    response = _suggest(client, teammate, team)
    assert response.status_code == 200 and "data-suggestions" not in response.content.decode()
    assert _suggest(client, outsider, team).status_code == 404


def test_an_org_viewer_gets_every_suggestion_without_any_admin_right(client, team):
    user = UserFactory(username="ops", email="ops@example.com")
    user.user_permissions.add(Permission.objects.get(codename="view_org", content_type__app_label="e360"))
    links = _links(_suggest(client, user, team))
    assert "Set up review reminders for Payments" in links
    assert "Alert when pipeline failures exceed 20%" in links


def test_staff_allowed_in_the_admin_get_no_suggestion_on_a_team_they_do_not_manage(client, teammate, team):
    teammate.is_staff = True
    teammate.save()
    teammate.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="actions", codename__in=["add_reminderpolicy", "add_threshold"]
        )
    )
    response = _suggest(client, teammate, team)
    assert response.status_code == 200 and not _links(response)


def test_without_htmx_it_is_a_page_of_every_suggestion(client, owner, team):
    client.force_login(owner)
    response = client.get(reverse("actions:team-suggestions", args=[team.slug]))
    assert response.status_code == 200 and "<html" in response.content.decode()
    assert "Alert when pipeline failures exceed 20%" in _text(response)


def test_the_bottleneck_page_loads_the_suggestions_into_its_cards(client, org, closed):
    services.insights_refresh(days=90)
    lead = org.users["paula"]
    client.force_login(lead)
    html = client.get(reverse("insights:team-bottlenecks", args=["pay"])).content.decode()
    assert '<div class="bottleneck__actions" data-suggestions="ci_cd"></div>' in html
    assert 'hx-get="/actions/teams/pay/suggestions/" hx-trigger="load" hx-swap="none"' in html
    assert "Alert when pipeline failures exceed 20%" in _text(_suggest(client, lead, org.pay))

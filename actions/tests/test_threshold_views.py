"""The thresholds' pages: the list (what each user may see), the form for the team's leads (refusing a scope they
cannot see and a metric that does not exist), the backtest fragment, outsiders' 404s, and the admin's form."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from pytest_django.asserts import assertContains

from actions.models import Threshold
from actions.models.thresholds import ScopeKind

LIST = reverse("actions:threshold-list")
ADD = reverse("actions:threshold-add")
BACKTEST = reverse("actions:threshold-backtest")


# The management form of the events' inline (read-only, none added).
ADMIN_INLINE = {
    "events-TOTAL_FORMS": "0",
    "events-INITIAL_FORMS": "0",
    "events-MIN_NUM_FORMS": "0",
    "events-MAX_NUM_FORMS": "0",
}


def edit_url(threshold):
    return reverse("actions:threshold-edit", args=[threshold.pk])


@pytest.fixture
def threshold(service, owner):
    return Threshold.objects.create(
        name="Checkout CI failing",
        metric="pipeline_failure_rate",
        scope=ScopeKind.SERVICE,
        service=service,
        comparison="gt",
        value=20,
        window_days=7,
        created_by=owner,
    )


@pytest.fixture
def search_threshold(other_team):
    return Threshold.objects.create(
        name="Search reviews slow",
        metric="pickup_time",
        scope=ScopeKind.TEAM,
        team=other_team,
        comparison="gt",
        value=24,
    )


def posted(team, **changes):
    """The form's fields for a threshold on ``team`` with its sub-teams, with ``changes``."""
    data = {
        "name": "Payments pipelines",
        "metric": "pipeline_failure_rate",
        "scope": "team_subtree",
        "team": team.pk if team is not None else "",
        "service": "",
        "comparison": "gt",
        "value": "20",
        "window_days": "7",
        "cooldown_hours": "24",
        "is_active": "on",
    }
    return {**data, **changes}


# --- The list -------------------------------------------------------------------------------------------------------


def test_the_list_shows_the_thresholds_of_the_teams_one_sees(
    client, teammate, threshold, search_threshold, django_assert_max_num_queries
):
    client.force_login(teammate)
    with django_assert_max_num_queries(8):
        response = client.get(LIST)
    assert response.status_code == 200
    assert b"Checkout CI failing" in response.content
    assert b"Search reviews slow" not in response.content
    # A plain member sees it but does not manage it: no link to its form, nothing to add.
    assert edit_url(threshold).encode() not in response.content
    assert ADD.encode() not in response.content
    # The main menu's "Actions" (the automations' run log, which links here) is marked current.
    assertContains(response, '<a href="/actions/" aria-current="page">Actions</a>', html=True)


def test_the_list_runs_the_same_queries_however_many_thresholds(
    client, owner, team, service, django_assert_max_num_queries
):
    for n in range(30):
        Threshold.objects.create(
            name=f"T{n}", metric="lead_time", scope="service", service=service, comparison="gt", value=n
        )
    client.force_login(owner)
    with django_assert_max_num_queries(8):
        response = client.get(LIST)
    assert response.content.count(b"Lead time &gt;") == 30


def test_a_lead_manages_the_thresholds_of_the_teams_below(client, owner, subteam, threshold):
    below = Threshold.objects.create(
        name="API lead time", metric="lead_time", scope="team", team=subteam, comparison="gt", value=48
    )
    client.force_login(owner)
    response = client.get(LIST)
    assert edit_url(below).encode() in response.content and edit_url(threshold).encode() in response.content
    assert client.get(edit_url(below)).status_code == 200


# --- The form -------------------------------------------------------------------------------------------------------


def test_a_lead_adds_a_threshold_on_their_team(client, owner, team):
    client.force_login(owner)
    assert client.get(ADD).status_code == 200
    response = client.post(ADD, posted(team))
    assert response.status_code == 302
    saved = Threshold.objects.get()
    assert (saved.team, saved.scope, saved.value, saved.created_by, saved.is_firing) == (
        team,
        "team_subtree",
        20,
        owner,
        False,
    )


def test_a_lead_edits_a_threshold_and_the_page_lists_its_events(client, owner, threshold):
    threshold.events.create(key="k1", kind="crossed", at=threshold.created_at, value=33, comparison="gt", limit=20)
    client.force_login(owner)
    page = client.get(edit_url(threshold))
    assert page.status_code == 200 and b"Crossed" in page.content
    response = client.post(
        edit_url(threshold),
        posted(None, scope="service", service=threshold.service_id, value="30", name="Renamed"),
    )
    assert response.status_code == 302
    threshold.refresh_from_db()
    assert (threshold.name, threshold.value) == ("Renamed", 30)


def test_the_form_refuses_a_team_the_lead_cannot_see(client, owner, other_team):
    client.force_login(owner)
    response = client.post(ADD, posted(other_team))
    assert response.status_code == 400
    assert b"Select a valid choice" in response.content
    assert not Threshold.objects.exists()


def test_the_form_refuses_an_unknown_metric(client, owner, team):
    client.force_login(owner)
    response = client.post(ADD, posted(team, metric="happiness_index"))
    assert response.status_code == 400
    assert b"Select a valid choice. happiness_index is not one of the available choices." in response.content
    assert not Threshold.objects.exists()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"scope": "organisation"}, b"Select a valid choice. organisation is not one of the available choices."),
        ({"team": ""}, b"Pick the team this threshold watches."),
        ({"scope": "service", "team": ""}, b"Pick the service this threshold watches."),
        ({"value": "inf"}, b"Enter a number."),
        ({"window_days": "0"}, b"Ensure this value is greater than or equal to 1."),
        ({"window_days": "400"}, b"Ensure this value is less than or equal to 180."),
        ({"metric": "survey.ci_cd", "scope": "service", "team": "", "service": "SERVICE"}, b"never a service"),
    ],
)
def test_the_form_says_what_is_wrong(client, owner, team, service, changes, message):
    client.force_login(owner)
    if changes.get("service") == "SERVICE":
        changes = {**changes, "service": service.pk}
    team_or_none = None if changes.pop("team", None) == "" else team
    response = client.post(ADD, posted(team_or_none, **changes))
    assert response.status_code == 400
    assert message in response.content
    assert not Threshold.objects.exists()


def test_an_org_viewer_sets_an_organisation_wide_threshold(client, staff):
    client.force_login(staff)
    response = client.post(ADD, posted(None, scope="organisation"))
    assert response.status_code == 302
    assert Threshold.objects.get().scope == "organisation"


def test_a_plain_member_may_not_change_the_team_s_threshold(client, teammate, team, threshold):
    client.force_login(teammate)
    assert client.get(edit_url(threshold)).status_code == 403
    assert client.post(edit_url(threshold), posted(team)).status_code == 403
    assert client.get(ADD).status_code == 404  # they lead no team


def test_an_outsider_gets_404_on_everything_of_the_team(client, outsider, threshold):
    client.force_login(outsider)
    assert client.get(edit_url(threshold)).status_code == 404
    assert client.post(reverse("actions:threshold-delete", args=[threshold.pk])).status_code == 404
    assert client.post(BACKTEST, {"threshold": threshold.pk}).status_code == 404
    assert Threshold.objects.filter(pk=threshold.pk).exists()


def test_a_lead_deletes_a_threshold(client, owner, threshold):
    client.force_login(owner)
    assert client.post(reverse("actions:threshold-delete", args=[threshold.pk])).status_code == 302
    assert not Threshold.objects.exists()


def test_the_pages_ask_to_sign_in(client, threshold):
    assert client.get(LIST).status_code == 302
    assert client.post(BACKTEST, {}).status_code == 302


# --- The backtest fragment -----------------------------------------------------------------------------------------


def test_the_backtest_fragment_says_how_often_and_when_it_would_have_fired(
    client, owner, team, service, history, now, django_assert_max_num_queries
):
    history.deploy(service, "ok-1", 20)
    failed = history.deploy(service, "bad-1", 12)
    history.incident(service, "INC-1", 12 - 1 / 24, hours_to_restore=2)
    history.refresh()
    assert failed.pk
    client.force_login(owner)
    data = posted(team, metric="change_failure_rate", value="40", window_days="3")
    with django_assert_max_num_queries(20):
        response = client.post(BACKTEST, data, headers={"HX-Request": "true", "HX-Target": "backtest"})
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="backtest"')
    assert "this would have fired <strong>1 time</strong>" in body
    day = (now - timedelta(days=12)).strftime("%-d %b")
    assert f">{day}</time>" in body
    assert 'id="backtest-series"' in body and "<script" not in body.replace('<script id="backtest-series"', "")


def test_the_backtest_of_a_bad_form_says_what_to_correct(client, owner, other_team):
    client.force_login(owner)
    response = client.post(BACKTEST, posted(other_team), headers={"HX-Request": "true"})
    assert response.status_code == 400
    assert b"Correct the form to run the backtest" in response.content
    assert b"Select a valid choice" in response.content


# --- The admin ------------------------------------------------------------------------------------------------------


def test_the_admin_uses_the_same_form_and_offers_the_backtest(client, staff, team, threshold):
    client.force_login(staff)
    page = client.get(reverse("admin:actions_threshold_change", args=[threshold.pk]))
    assert page.status_code == 200
    assert BACKTEST.encode() in page.content and b"Backtest the last 90 days" in page.content
    response = client.post(reverse("admin:actions_threshold_add"), posted(team, metric="nope") | ADMIN_INLINE)
    assert response.status_code == 200 and b"Select a valid choice" in response.content
    response = client.post(reverse("admin:actions_threshold_add"), posted(team) | ADMIN_INLINE)
    assert response.status_code == 302
    assert Threshold.objects.filter(name="Payments pipelines", created_by=staff).exists()


def test_the_event_log_is_read_only_in_the_admin(client, staff, threshold):
    event = threshold.events.create(
        key="k1", kind="crossed", at=threshold.created_at, value=33, comparison="gt", limit=20
    )
    client.force_login(staff)
    assert client.get(reverse("admin:actions_thresholdevent_changelist")).status_code == 200
    assert client.get(reverse("admin:actions_thresholdevent_add")).status_code == 403
    assert (
        client.post(reverse("admin:actions_thresholdevent_delete", args=[event.pk]), {"post": "yes"}).status_code == 403
    )


def test_a_service_moved_to_another_team_takes_its_thresholds_along(client, owner, other_team, threshold):
    threshold.service.owner = other_team
    threshold.service.save()
    client.force_login(owner)
    assert client.get(edit_url(threshold)).status_code == 404


def test_a_refused_backtest_is_swapped_in_place_of_the_backtest(client, owner, team):
    client.force_login(owner)
    response = client.post(
        BACKTEST, posted(team, value="lots"), headers={"HX-Request": "true", "HX-Target": "backtest"}
    )
    assert response.status_code == 400
    assert response.headers["HX-Retarget"] == "#backtest"
    assert b"Enter a number." in response.content


def test_the_edit_page_runs_a_few_queries(client, owner, threshold, django_assert_max_num_queries):
    for n in range(25):
        threshold.events.create(
            key=f"k{n}", kind="crossed", at=threshold.created_at, value=n, comparison="gt", limit=20
        )
    client.force_login(owner)
    with django_assert_max_num_queries(12):
        response = client.get(edit_url(threshold))
    assert response.status_code == 200
    assert response.content.count(b"<td>Crossed</td>") == 20  # the latest twenty


def test_the_admin_s_backtest_runs_on_the_fields_it_posts(client, staff, team, threshold):
    client.force_login(staff)
    response = client.post(BACKTEST, posted(team) | {"threshold": threshold.pk}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert b"Over the last 90 days this would have fired <strong>0 times</strong>" in response.content
    assert b"silent" in response.content

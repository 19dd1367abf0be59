"""Pulses (``services.pulse_open``): a short campaign opened by code for some people or teams, once per key, with a
template or one dimension's questions, answered and published like any campaign — nothing shown below k."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from e360.models import Membership
from e360.tests.factories import TeamFactory
from surveys import services
from surveys.anonymity import DEFAULT_K
from surveys.models import Campaign, GroupScore, Invitation, PooledResponse, Response, Series, Template
from surveys.services import AudienceError, CampaignError
from surveys.tests.factories import members
from surveys.tests.results_readers import api_url, csv_rows, csv_url, heatmap, page_url
from surveys.tests.test_results_api import numbers

pytestmark = pytest.mark.django_db


def pulse(**fields) -> services.Pulse:
    return services.pulse_open(
        **{"key": "incident-resolved:42", "name": "After the Checkout incident", "reason": "Incident 42"} | fields
    )


def test_a_pulse_opens_once_per_key_for_exactly_its_teams_people(team, subteam, other_team, outsider):
    payments = members(team, 4, prefix="pay")
    api = members(subteam, 2, prefix="api")
    away = members(team, 1, prefix="gone")
    away[0].person.is_active = False
    away[0].person.save()

    first = pulse(teams=[team.pk], dimension="stability")

    campaign = first.campaign
    assert first.opened and campaign.status == Campaign.Status.OPEN and campaign.pulse_key == "incident-resolved:42"
    assert campaign.pulse_reason == "Incident 42" and not campaign.everyone
    assert campaign.closes_at - campaign.opened_at == timedelta(days=services.PULSE_DAYS_OPEN)
    assert campaign.reminder_days == [3]  # halfway through
    invited = set(Invitation.objects.filter(campaign=campaign).values_list("person__user__username", flat=True))
    assert invited == {u.username for u in payments + api}  # the team with its sub-team, active people only
    # The stability questions of the Developer experience survey, nothing else.
    assert [q.key for q in campaign.version.questions.all()] == [
        "stability_rare_incidents",
        "stability_restore",
        "stability_on_call",
    ]
    assert campaign.template.slug == "pulse-stability" and campaign.template.name == "Pulse — Stability"

    # Retried, with the same key: the same campaign, nothing new.
    again = pulse(teams=[team.pk, other_team.pk], dimension="focus")
    assert (again.opened, again.campaign) == (False, campaign)
    assert Campaign.objects.count() == Series.objects.count() == 1
    assert Invitation.objects.count() == 6

    # Another key, another pulse; the dimension's template is made once.
    second = pulse(key="incident-resolved:43", teams=[team.pk], dimension="stability")
    assert second.opened and second.campaign != campaign and second.campaign.template == campaign.template
    assert Template.objects.filter(slug="pulse-stability").count() == 1


def test_a_pulse_to_named_people_invites_them_with_their_own_teams(team, subteam, other_team):
    newcomers = members(team, 3, prefix="new") + members(other_team, 2, prefix="new-search")
    members(team, 3, prefix="old")  # their teammates are not asked
    onboarding = Template.objects.get(slug="onboarding-week-1")

    people = [u.person.pk for u in newcomers]
    campaign = pulse(key="onboarding:7:2026-12-07", people=people, template=onboarding).campaign

    rows = Invitation.objects.filter(campaign=campaign).values_list("person__user__username", "team__slug")
    assert sorted(rows) == sorted(
        [(u.username, "payments") for u in newcomers[:3]] + [(u.username, "search") for u in newcomers[3:]]
    )
    assert campaign.version.template == onboarding and not campaign.teams.exists()
    assert set(campaign.people.all()) == {u.person for u in newcomers}


def test_a_pulse_below_k_is_refused_and_writes_nothing(team, service):
    responders = members(team, 2, prefix="responder")

    for fields in ({"teams": [team.pk]}, {"people": [u.person.pk for u in responders]}):
        with pytest.raises(AudienceError, match=f"The audience has 2 people, fewer than k = {DEFAULT_K}"):
            pulse(dimension="stability", **fields)
    with pytest.raises(AudienceError, match="names nobody"):
        pulse(dimension="stability")
    with pytest.raises(CampaignError, match="a template or one dimension"):
        pulse(teams=[team.pk])
    with pytest.raises(CampaignError, match="'speed' is not a survey dimension"):
        pulse(teams=[team.pk], dimension="speed")
    assert not Campaign.objects.exists() and not Series.objects.exists() and not Invitation.objects.exists()
    assert not Template.objects.filter(slug__startswith="pulse-").exists()


def answer_through_the_form(client, user, campaign: Campaign, value: str) -> None:
    client.force_login(user)
    form = client.get(reverse("surveys:answer", args=[campaign.pk]))
    assert form.status_code == 200 and "Production incidents caused by our changes are rare." in form.content.decode()
    data = {f"q{q.pk}": value for q in campaign.version.questions.all()}
    response = client.post(reverse("surveys:answer", args=[campaign.pk]), data)
    assert response.status_code == 302 and response["Location"] == reverse("surveys:thanks", args=[campaign.pk])


def test_an_incidents_two_responders_are_never_shown_anywhere(client, team, owner, teammate):
    """Six people of the service's team are asked; the two who worked the incident answer: no figure, anywhere."""
    members(team, 4, prefix="dev")
    campaign = pulse(teams=[team.pk], dimension="stability").campaign
    for user, value in ((owner, "5"), (teammate, "1")):
        answer_through_the_form(client, user, campaign, value)
    assert Invitation.objects.filter(campaign=campaign, responded=True).count() == 2
    assert PooledResponse.objects.filter(campaign=campaign).count() == 2  # waiting: fewer than 2k

    services.campaign_close(campaign_id=campaign.pk)
    assert Response.objects.filter(campaign=campaign).count() == 2

    client.force_login(owner)  # the team's lead
    page = client.get(page_url(campaign))
    assert page.status_code == 200
    assert heatmap(page) == {
        "Whole organisation": ["fewer than 5 responses"] * 2,
        "Payments": ["fewer than 5 responses"] * 2,
    }
    api = client.get(api_url(campaign)).json()
    assert [g["responses"]["status"] for g in api["groups"]] == ["too_few", "too_few"]
    for g in api["groups"]:
        assert numbers([g["responses"], g["dimensions"], g["enps"], g["questions"]]) == []
    assert api["texts"] == [] or all(t["status"] != "shown" for t in api["texts"])
    rows = [r for r in csv_rows(client.get(csv_url(campaign))) if r["figure"] != "participation"]
    assert rows and all(r["status"] == "too_few" for r in rows)
    for r in rows:  # each figure's cell says why it is empty, never a number
        values = [r[c] for c in ("n", "percent_favourable", "mean", "enps", "distribution") if r[c]]
        assert set(values) <= {"fewer than 5 responses"}, r
    assert not GroupScore.objects.filter(campaign=campaign, status="shown").exists()


def test_a_pulse_to_people_lists_their_teams_and_not_the_teams_above(client, team, subteam, other_team):
    newcomers = members(subteam, 3, prefix="new") + members(other_team, 3, prefix="new-search")
    lead = members(team, 1, prefix="lead")[0]
    Membership.objects.filter(person=lead.person).update(role=Membership.Role.LEAD)
    stranger_team = TeamFactory(name="Platform", slug="platform")
    stranger = members(stranger_team, 1, prefix="platform")[0]

    campaign = pulse(key="onboarding:7:x", people=[u.person.pk for u in newcomers], dimension="clarity").campaign
    services.campaign_close(campaign_id=campaign.pk, now=timezone.now())

    client.force_login(lead)  # a lead of Payments, above Payments API
    rows = heatmap(client.get(page_url(campaign)))
    assert list(rows) == ["Whole organisation", "Payments API"]  # not Payments: it would be Payments API renamed
    client.force_login(stranger)
    assert client.get(page_url(campaign)).status_code == 404  # none of the campaign's teams is theirs


def test_the_admin_shows_why_a_pulse_was_opened(admin_client, team):
    newcomers = members(team, 5, prefix="new")
    campaign = pulse(people=[u.person.pk for u in newcomers], dimension="focus").campaign

    response = admin_client.get(reverse("admin:surveys_campaign_change", args=[campaign.pk]))

    page = response.content.decode()
    assert response.status_code == 200 and "Pulse (opened by an automation)" in page
    assert "Incident 42" in page and "incident-resolved:42" in page


@pytest.mark.django_db(transaction=True)
def test_two_callers_racing_with_one_key_open_one_pulse(team):
    """The second caller's insert waits on the key's unique index for the first to commit, then finds its pulse
    (PostgreSQL; SQLite serialises its writers with the database lock instead)."""
    import threading

    from django.db import connection, connections, transaction

    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers are PostgreSQL's")
    members(team, 5, prefix="pay")
    opened, release = threading.Event(), threading.Event()
    first: list[services.Pulse] = []

    def opening() -> None:
        try:
            with transaction.atomic():
                first.append(pulse(teams=[team.pk], dimension="stability"))
                opened.set()
                release.wait(10)
        finally:
            connections.close_all()

    worker = threading.Thread(target=opening)
    worker.start()
    assert opened.wait(10)
    threading.Timer(0.5, release.set).start()  # the first commits while the second waits on the index
    try:
        second = pulse(teams=[team.pk], dimension="stability")
    finally:
        release.set()
        worker.join()
    assert first[0].opened and not second.opened and second.campaign == first[0].campaign
    assert Campaign.objects.count() == 1 and Invitation.objects.count() == 5

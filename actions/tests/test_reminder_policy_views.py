"""The review reminder policies' portal pages: the list (what each user may see, the last 30 days' reminders), the
form for the team's leads and org viewers (only teams, services and channels they may use; the model's rules; one
policy per team or service), pre-filled from a link; outsiders' 404s, a plain member's 403; and the admin on the
same form."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains

from actions.models import Channel, Reminder, ReminderPolicy
from actions.tests.factories import ChannelFactory
from e360.models import Membership
from e360.tests.factories import MembershipFactory, PersonFactory, UserFactory
from metrics.tests.factories import PullRequestFactory

pytestmark = pytest.mark.django_db

LIST = reverse("actions:reminder-list")
ADD = reverse("actions:reminder-add")


def edit_url(policy):
    return reverse("actions:reminder-edit", args=[policy.pk])


def delete_url(policy):
    return reverse("actions:reminder-delete", args=[policy.pk])


@pytest.fixture
def outbox(db):
    return ChannelFactory(kind=Channel.Kind.OUTBOX, name="Outbox")


@pytest.fixture
def policy(team, outbox):
    return ReminderPolicy.objects.create(team=team, channel=outbox, after_hours=6, holdout_percent=10)


@pytest.fixture
def search_policy(other_team, outbox):
    return ReminderPolicy.objects.create(team=other_team, channel=outbox)


@pytest.fixture
def org_viewer(db):
    user = UserFactory(username="olga", email="olga@example.com")
    user.user_permissions.add(Permission.objects.get(codename="view_org", content_type__app_label="e360"))
    return user


def lead_of(team, username):
    user = UserFactory(username=username, email=f"{username}@example.com")
    person = PersonFactory(name=username.capitalize(), handle=username, email=user.email, user=user)
    MembershipFactory(person=person, team=team, role=Membership.Role.LEAD)
    return user


def posted(team=None, channel=None, **changes):
    """The form's fields for a policy on ``team`` reminding each reviewer by direct message, with ``changes``."""
    data = {
        "team": team.pk if team is not None else "",
        "service": "",
        "is_active": "on",
        "after_hours": "8",
        "again_after_hours": "16",
        "digest_at": "09:30",
        "recipients": "reviewers_dm",
        "channel": channel.pk if channel is not None else "",
        "holdout_percent": "10",
    }
    return {**data, **changes}


def remind(policy, service, *, days_ago, status=Reminder.Status.SENT, held_out=False):
    at = timezone.now() - timedelta(days=days_ago)
    return Reminder.objects.create(
        policy=policy,
        pull_request=PullRequestFactory(service=service),
        round=1,
        held_out=held_out,
        status=Reminder.Status.HELD_OUT if held_out else status,
        due_at=at,
        sent_at=at if status == Reminder.Status.SENT and not held_out else None,
        waited=timedelta(hours=9),
        why="No first review after 9 business hours",
        commits=1,
        reviews=0,
    )


# --- The list -------------------------------------------------------------------------------------------------------


def test_the_list_shows_the_policies_of_the_teams_one_sees(
    client, teammate, policy, search_policy, django_assert_max_num_queries
):
    client.force_login(teammate)
    with django_assert_max_num_queries(8):
        response = client.get(LIST)
    assert response.status_code == 200
    assertContains(response, "Payments")
    assert b"Search" not in response.content
    assertContains(response, "6 business hours")
    assertContains(response, '<td class="num">10%</td>', html=True)
    # A plain member sees it but does not manage it: no link to its form, nothing to add.
    assert edit_url(policy).encode() not in response.content
    assert ADD.encode() not in response.content
    assertContains(response, '<a href="/actions/" aria-current="page">Actions</a>', html=True)


def test_the_list_counts_the_last_30_days_reminders_sent_and_held_out(client, owner, policy, service):
    remind(policy, service, days_ago=1)
    remind(policy, service, days_ago=2)
    remind(policy, service, days_ago=3, held_out=True)
    remind(policy, service, days_ago=3, status=Reminder.Status.FAILED)
    remind(policy, service, days_ago=45)  # too old
    client.force_login(owner)
    listed = client.get(LIST).context["listed"]
    assert [(row.sent, row.held_out, manages) for row, manages in listed] == [(2, 1, True)]


def test_the_list_runs_the_same_queries_however_many_policies_and_reminders(
    client, owner, team, subteam, outbox, django_assert_max_num_queries
):
    from e360.tests.factories import ServiceFactory

    for n in range(20):
        service = ServiceFactory(name=f"Service {n}", slug=f"service-{n}", owner=team if n % 2 else subteam)
        policy = ReminderPolicy.objects.create(service=service, channel=outbox)
        remind(policy, service, days_ago=1)
    client.force_login(owner)
    with django_assert_max_num_queries(8):
        response = client.get(LIST)
    assert len(re.findall(r'href="/actions/reminders/\d+/"', response.content.decode())) == 20  # each editable
    assert len(response.context["listed"]) == 20


def test_a_lead_manages_the_policies_of_the_teams_below_and_their_services(client, owner, subteam, service, outbox):
    below = ReminderPolicy.objects.create(team=subteam, channel=outbox, include_sub_teams=True)
    of_service = ReminderPolicy.objects.create(service=service, channel=outbox)
    client.force_login(owner)
    response = client.get(LIST)
    assert edit_url(below).encode() in response.content and edit_url(of_service).encode() in response.content
    assertContains(response, "and its sub-teams")
    assertContains(response, f'href="{ADD}"')
    assert client.get(edit_url(below)).status_code == 200
    assert client.get(edit_url(of_service)).status_code == 200


def test_an_org_viewer_sees_and_manages_every_policy(client, org_viewer, policy, search_policy):
    client.force_login(org_viewer)
    response = client.get(LIST)
    assert edit_url(policy).encode() in response.content and edit_url(search_policy).encode() in response.content
    assert client.get(edit_url(search_policy)).status_code == 200
    response = client.post(edit_url(search_policy), posted(search_policy.team, search_policy.channel, after_hours="4"))
    assert response.status_code == 302
    search_policy.refresh_from_db()
    assert search_policy.after_hours == 4


# --- Adding and editing ----------------------------------------------------------------------------------------------


def test_a_lead_sets_up_review_reminders_for_their_team(client, owner, team, outbox):
    client.force_login(owner)
    assert client.get(ADD).status_code == 200
    response = client.post(ADD, posted(team, outbox, digest="on", digest_at="10:15"))
    assert response.status_code == 302 and response.url == LIST
    saved = ReminderPolicy.objects.get()
    assert (saved.team, saved.channel, saved.after_hours, saved.again_after_hours, saved.holdout_percent) == (
        team,
        outbox,
        8,
        16,
        10,
    )
    assert (saved.digest, saved.digest_at.strftime("%H:%M"), saved.is_active) == (True, "10:15", True)
    assertContains(client.get(LIST), "Review reminders of Payments saved.")


def test_a_lead_sets_up_review_reminders_for_one_service(client, owner, service, outbox):
    client.force_login(owner)
    response = client.post(ADD, posted(None, outbox, service=service.pk))
    assert response.status_code == 302
    assert ReminderPolicy.objects.get().service == service


def test_a_link_pre_fills_the_team(client, owner, team):
    client.force_login(owner)
    response = client.get(f"{ADD}?team={team.pk}")
    assert response.context["form"]["team"].value() == str(team.pk)
    assertContains(response, f'<option value="{team.pk}" selected>Payments</option>', html=True)


def test_a_pre_filled_team_the_user_may_not_manage_is_not_offered(client, owner, other_team):
    client.force_login(owner)
    response = client.get(f"{ADD}?team={other_team.pk}")
    assert response.status_code == 200
    assert f'value="{other_team.pk}"'.encode() not in response.content


def test_a_lead_edits_the_policy(client, owner, team, policy, outbox):
    client.force_login(owner)
    page = client.get(edit_url(policy))
    assert page.status_code == 200
    assertContains(page, "<h1>Review reminders of Payments</h1>", html=True)
    assertContains(page, "Delete this policy")  # it reminded nobody yet
    response = client.post(edit_url(policy), posted(team, outbox, after_hours="12", is_active=""))
    assert response.status_code == 302
    policy.refresh_from_db()
    assert (policy.after_hours, policy.is_active) == (12, False)
    assertContains(client.get(LIST), '<span class="badge badge--plain">off</span>', html=True)


def test_a_plain_member_may_not_change_the_team_s_policy(client, teammate, team, policy, outbox):
    client.force_login(teammate)
    assert client.get(edit_url(policy)).status_code == 403
    assert client.post(edit_url(policy), posted(team, outbox, after_hours="1")).status_code == 403
    assert client.post(delete_url(policy)).status_code == 403
    assert client.get(ADD).status_code == 404  # they lead no team
    assert client.post(ADD, posted(team, outbox)).status_code == 404
    policy.refresh_from_db()
    assert policy.after_hours == 6


def test_an_outsider_gets_404_on_everything_of_the_team(client, outsider, team, policy, outbox):
    client.force_login(outsider)
    assert client.get(edit_url(policy)).status_code == 404
    assert client.post(edit_url(policy), posted(team, outbox)).status_code == 404
    assert client.post(delete_url(policy)).status_code == 404
    assert b"Payments" not in client.get(LIST).content
    assert ReminderPolicy.objects.filter(pk=policy.pk, after_hours=6).exists()


def test_an_unknown_policy_is_404(client, owner):
    client.force_login(owner)
    assert client.get(reverse("actions:reminder-edit", args=[999])).status_code == 404
    assert client.post(reverse("actions:reminder-delete", args=[999])).status_code == 404


def test_the_pages_ask_to_sign_in(client, policy):
    for url in (LIST, ADD, edit_url(policy)):
        assert client.get(url).status_code == 302
    assert client.post(delete_url(policy)).status_code == 302
    assert ReminderPolicy.objects.filter(pk=policy.pk).exists()


def test_the_edit_page_runs_a_few_queries(client, owner, policy, service, django_assert_max_num_queries):
    for n in range(10):
        remind(policy, service, days_ago=n)
    client.force_login(owner)
    with django_assert_max_num_queries(14):
        response = client.get(edit_url(policy))
    assert response.status_code == 200
    assertContains(response, "It has recorded 10 reminders")


# --- What the form refuses -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"team": ""}, "Choose a team or a service (one of them)."),
        ({"service": "SERVICE"}, "Choose a team or a service (one of them)."),
        ({"team": "", "service": "SERVICE", "include_sub_teams": "on"}, "Only a team&#x27;s policy covers sub-teams."),
        ({"channel": "EMAIL"}, "Each reviewer, by direct message needs a channel of kind Slack bot (token) or Outbox"),
        ({"recipients": "email", "channel": "BOT"}, "Each reviewer, by email needs a channel of kind Email or Outbox"),
        ({"channel": ""}, "This field is required."),
        ({"holdout_percent": "80"}, "Ensure this value is less than or equal to 50."),
        ({"after_hours": "0"}, "Ensure this value is greater than or equal to 1."),
        ({"again_after_hours": "many"}, "Enter a whole number."),
        ({"digest_at": "25:00"}, "Enter a valid time."),
        (
            {"recipients": "carrier_pigeon"},
            "Select a valid choice. carrier_pigeon is not one of the available choices.",
        ),
    ],
)
def test_the_form_says_what_is_wrong(client, owner, team, service, outbox, changes, message):
    channels = {
        "EMAIL": ChannelFactory(kind=Channel.Kind.EMAIL).pk,
        "BOT": ChannelFactory(kind=Channel.Kind.SLACK_BOT).pk,
    }
    changes = {k: service.pk if v == "SERVICE" else channels.get(v, v) for k, v in changes.items()}
    client.force_login(owner)
    response = client.post(ADD, posted(team, outbox) | changes)
    assert response.status_code == 400
    assertContains(response, message, status_code=400)
    assertContains(response, "The policy was not saved", status_code=400)
    assert b"Constraint" not in response.content  # the model's own words, once
    assert not ReminderPolicy.objects.exists()


def test_the_form_refuses_a_team_the_lead_does_not_manage(client, owner, other_team, outbox):
    client.force_login(owner)
    response = client.post(ADD, posted(other_team, outbox))
    assertContains(response, "Select a valid choice", status_code=400)
    assert not ReminderPolicy.objects.exists()


def test_the_form_refuses_a_second_policy_for_a_team_or_a_service(client, owner, team, service, policy, outbox):
    ReminderPolicy.objects.create(service=service, channel=outbox)
    client.force_login(owner)
    response = client.post(ADD, posted(team, outbox))
    assertContains(
        response, "This team already has a review reminder policy: change that one instead.", status_code=400
    )
    response = client.post(ADD, posted(None, outbox, service=service.pk))
    assertContains(
        response, "This service already has a review reminder policy: change that one instead.", status_code=400
    )
    assert ReminderPolicy.objects.count() == 2


def test_a_lead_uses_the_organisation_s_channels_and_those_of_their_team_and_the_teams_above(
    client, owner, team, subteam, other_team, outbox
):
    """A sub-team's lead may post to the department's channel, not to a sibling's or an unrelated team's; the
    department's lead may not post to the sub-team's for the department."""
    sub_lead = lead_of(subteam, "dora")
    payments = ChannelFactory(name="#payments", team=team)
    api = ChannelFactory(name="#payments-api", team=subteam)
    search = ChannelFactory(name="#search", team=other_team)

    client.force_login(sub_lead)
    offered = set(client.get(ADD).context["form"].fields["channel"].queryset)
    assert offered == {outbox, payments, api}
    assert client.post(ADD, posted(subteam, payments)).status_code == 302
    response = client.post(ADD, posted(subteam, search))
    assertContains(response, "Select a valid choice", status_code=400)

    client.force_login(owner)
    assert set(client.get(ADD).context["form"].fields["channel"].queryset) == {outbox, payments, api}
    response = client.post(ADD, posted(team, api))
    assertContains(
        response, "“#payments-api” is another team&#x27;s channel: Payments may not post there.", status_code=400
    )
    assert list(ReminderPolicy.objects.values_list("team__name", "channel__name")) == [("Payments API", "#payments")]


# --- Deleting ---------------------------------------------------------------------------------------------------------


def test_a_lead_deletes_a_policy_that_reminded_nobody(client, owner, policy):
    client.force_login(owner)
    response = client.post(delete_url(policy))
    assert response.status_code == 302 and response.url == LIST
    assert not ReminderPolicy.objects.exists()


def test_a_policy_with_reminders_is_not_deleted_but_may_be_turned_off(client, owner, policy, service):
    remind(policy, service, days_ago=1, held_out=True)
    client.force_login(owner)
    assert b"Delete this policy" not in client.get(edit_url(policy)).content
    response = client.post(delete_url(policy))
    assertContains(response, "The policy was not deleted", status_code=409)
    assertContains(response, "It has recorded 1 reminder, the evidence its holdout is measured from", status_code=409)
    assert ReminderPolicy.objects.filter(pk=policy.pk).exists() and Reminder.objects.count() == 1


# --- The admin ------------------------------------------------------------------------------------------------------


def test_the_admin_uses_the_same_form(client, staff, team, other_team, outbox):
    search = ChannelFactory(name="#search", team=other_team)
    client.force_login(staff)
    fields = posted(team, search) | {"digest_at": "09:30"}
    response = client.post(reverse("admin:actions_reminderpolicy_add"), fields)
    assert response.status_code == 200
    assertContains(response, "is another team&#x27;s channel: Payments may not post there.")
    response = client.post(reverse("admin:actions_reminderpolicy_add"), posted(team, outbox))
    assert response.status_code == 302
    response = client.post(reverse("admin:actions_reminderpolicy_add"), posted(team, outbox))
    assertContains(response, "This team already has a review reminder policy: change that one instead.")
    assert ReminderPolicy.objects.count() == 1


def test_a_policy_saved_meanwhile_by_another_lead_is_a_400_not_a_500(client, owner, team, outbox, monkeypatch):
    from actions.forms import ReminderPolicyForm

    # Another lead's policy lands between this form's uniqueness check and its insert.
    monkeypatch.setattr(ReminderPolicyForm, "validate_unique", lambda form: None)
    ReminderPolicy.objects.create(team=team, channel=outbox)
    client.force_login(owner)
    data = {"team": team.pk, "after_hours": 8, "again_after_hours": 8, "digest_at": "09:30", "holdout_percent": 0}
    response = client.post(ADD, {**data, "recipients": "channel", "channel": outbox.pk, "is_active": "on"})
    assert response.status_code == 400
    assert "got a review reminder policy meanwhile" in response.content.decode()
    assert ReminderPolicy.objects.count() == 1

"""The admin of review reminders: policies edited, reminders read only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.urls import reverse

from actions.models import Channel, Reminder, ReminderPolicy
from actions.tests.factories import ChannelFactory
from metrics.tests.factories import PullRequestFactory


def test_a_policy_is_added_for_a_team_in_the_admin(client, staff, team):
    client.force_login(staff)
    assert client.get(reverse("admin:actions_reminderpolicy_add")).status_code == 200
    response = client.post(
        reverse("admin:actions_reminderpolicy_add"),
        {
            "team": team.pk,
            "after_hours": 8,
            "again_after_hours": 16,
            "digest_at": "09:30",
            "holdout_percent": 10,
            "recipients": ReminderPolicy.Recipients.EMAIL,
            "channel": ChannelFactory(kind=Channel.Kind.EMAIL).pk,
            "is_active": "on",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    policy = ReminderPolicy.objects.get()
    assert (policy.team, policy.holdout_percent, policy.recipients) == (team, 10, "email")
    assert client.get(reverse("admin:actions_reminderpolicy_changelist")).status_code == 200


def test_a_policy_names_a_team_or_a_service_and_a_holdout_of_at_most_half(client, staff, team, service):
    client.force_login(staff)
    fields = {"after_hours": 8, "again_after_hours": 8, "digest_at": "09:30", "recipients": "reviewers_dm"}
    both = client.post(
        reverse("admin:actions_reminderpolicy_add"),
        {**fields, "team": team.pk, "service": service.pk, "holdout_percent": 0},
    )
    assert "Choose a team or a service (one of them)." in both.content.decode()
    neither = client.post(reverse("admin:actions_reminderpolicy_add"), {**fields, "holdout_percent": 0})
    assert "Choose a team or a service (one of them)." in neither.content.decode()
    greedy = client.post(
        reverse("admin:actions_reminderpolicy_add"), {**fields, "team": team.pk, "holdout_percent": 80}
    )
    assert greedy.status_code == 200 and "holdout_percent" in greedy.context["adminform"].form.errors
    sub_teams = client.post(
        reverse("admin:actions_reminderpolicy_add"),
        {**fields, "service": service.pk, "include_sub_teams": "on", "holdout_percent": 0},
    )
    assert "Only a team&#x27;s policy covers sub-teams." in sub_teams.content.decode()
    assert not ReminderPolicy.objects.exists()


def test_reminders_are_listed_and_shown_read_only(client, staff, team, service, django_assert_max_num_queries):
    policy = ReminderPolicy.objects.create(team=team)
    at = datetime(2026, 5, 5, 12, tzinfo=UTC)
    for n in range(5):
        Reminder.objects.create(
            policy=policy,
            pull_request=PullRequestFactory(service=service),
            round=1,
            held_out=n == 0,
            status=Reminder.Status.HELD_OUT if n == 0 else Reminder.Status.DUE,
            due_at=at,
            waited=timedelta(hours=9),
            reviewers=[1],
            why="No first review after 9 business hours",
            commits=1,
            reviews=0,
        )
    client.force_login(staff)
    with django_assert_max_num_queries(12):
        listing = client.get(reverse("admin:actions_reminder_changelist"))
    assert listing.status_code == 200
    assert listing.content.decode().count("Held out (never sent)") >= 1
    row = Reminder.objects.first()
    page = client.get(reverse("admin:actions_reminder_change", args=[row.pk]))
    assert page.status_code == 200 and "No first review after 9 business hours" in page.content.decode()
    assert client.get(reverse("admin:actions_reminder_add")).status_code == 403
    assert client.post(reverse("admin:actions_reminder_delete", args=[row.pk]), {"post": "yes"}).status_code == 403
    assert Reminder.objects.count() == 5

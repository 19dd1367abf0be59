"""“Remind reviewers now” on the review queue: who may (the policy's matrix; outsiders 404), the confirmation, the
rate limits, the audit, the reminder recorded and sent through the policy's channel (the outbox, a loopback Slack
bot), the holdout (left out of "remind all", a lead's alone to remind one by one), why it is not offered, and the
queries the review queue and the actions' fragment cost."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse
from django.utils import timezone

from actions import reminders
from actions.models import ActionAudit, ActionKind, ActionPolicy, Channel, OutboxMessage, Reminder, ReminderPolicy
from actions.tests.factories import ChannelFactory
from actions.tests.fake_slack import BOT_TOKEN
from e360.tests.factories import ServiceFactory, TeamFactory, UserFactory
from metrics.models import PullRequest
from metrics.tests.factories import PullRequestFactory, SourceFactory

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
DAY = timedelta(days=1)


@pytest.fixture
def source(team):
    return SourceFactory(name="github", team=team, kind="github")


@pytest.fixture
def outbox():
    return ChannelFactory(kind=Channel.Kind.OUTBOX, name="Outbox")


@pytest.fixture
def policy(team, outbox):
    return ReminderPolicy.objects.create(team=team, channel=outbox, after_hours=8)


def _pr(source, service, *, waited=3 * DAY, external_id=None, **fields) -> PullRequest:
    extra = {"external_id": external_id} if external_id else {}
    return PullRequestFactory(source=source, service=service, opened_at=timezone.now() - waited, **extra, **fields)


@pytest.fixture
def pull(source, service, owner, teammate):  # the lead and the member are the reviewers (Ada, the author, is not)
    return _pr(source, service)


def _held_out(policy, source, service, *, want=True) -> PullRequest:
    """A pull request whose stable hash is (or is not) in the policy's holdout."""
    for n in range(1000):
        external_id = f"held-{n}"
        if PullRequest.objects.filter(source=source, external_id=external_id).exists():
            continue
        if reminders.is_held_out(policy.holdout_percent, policy.pk, source.pk, external_id) == want:
            return _pr(source, service, external_id=external_id)
    raise AssertionError("no such pull request in 1000")


def _text(response) -> str:
    html = re.sub(r"</?(code|strong|span|a)\b[^>]*>", "", response.content.decode())
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


def _remind(client, user, pull, *, confirmed=True):
    client.force_login(user)
    data = {"confirmed": "yes"} if confirmed else {}
    return client.post(reverse("actions:pr-remind", args=[pull.pk]), data, headers=HTMX)


def _remind_team(client, user, team, *, confirmed=True):
    client.force_login(user)
    data = {"confirmed": "yes"} if confirmed else {}
    return client.post(reverse("actions:team-remind", args=[team.slug]), data, headers=HTMX)


def _org_viewer(username: str):
    user = UserFactory(username=username, email=f"{username}@example.com")
    user.user_permissions.add(Permission.objects.get(codename="view_org", content_type__app_label="e360"))
    return user


# --- One pull request -----------------------------------------------------------------------------------------


def test_a_member_reminds_the_reviewers_now_through_the_outbox_recorded_and_audited(
    client, teammate, owner, pull, policy, outbox
):
    response = _remind(client, teammate, pull)

    assert response.status_code == 200
    assert "Reminded the reviewers of 1 pull request through Outbox." in _text(response)
    sent = OutboxMessage.objects.filter(channel=outbox).order_by("recipient")
    assert sent.count() == 2  # Alice and Bob, each by direct message; not the author
    assert all("1 pull request waiting for a first review" in m.title for m in sent)
    assert all(pull.title in m.text for m in sent)
    reminder = Reminder.objects.get()
    assert (reminder.policy, reminder.pull_request, reminder.round) == (policy, pull, 1)
    assert (reminder.status, reminder.held_out) == (Reminder.Status.SENT, False)
    assert reminder.requested_by == "bob@example.com"
    assert reminder.why == "Reminded now by bob@example.com"
    assert sorted(reminder.reviewers) == sorted([owner.person.pk, teammate.person.pk])
    audit = ActionAudit.objects.get()
    assert (audit.kind, audit.team, audit.pull_request, audit.pipeline_run) == (
        ActionKind.REMIND_REVIEWERS,
        pull.service.owner,
        pull,
        None,
    )
    assert (audit.status, audit.user, audit.response) == (ActionAudit.Status.SUCCEEDED, teammate, "sent")
    assert audit.target == f"{pull.repository.name}#{pull.number} {pull.title}"
    # The 15-minute sender never takes it again; the schedule sees it as the last reminder (its next round is 2).
    assert reminders.reminders_send() == (0, 0)
    assert OutboxMessage.objects.count() == 2


def test_the_schedule_counts_its_pause_from_a_reminder_sent_now(client, teammate, owner, source, service, policy):
    tuesday = datetime(2026, 5, 5, 13, tzinfo=UTC)  # the team works Monday to Friday, 9 to 17 UTC
    pull = _pr(source, service)
    PullRequest.objects.filter(pk=pull.pk).update(opened_at=tuesday - 2 * DAY)
    assert _remind(client, teammate, pull).status_code == 200
    Reminder.objects.update(due_at=tuesday)  # as if sent then

    assert reminders.due_reminders(now=tuesday + timedelta(hours=1)).due == ()  # 1 business hour since: paused
    (due,) = reminders.due_reminders(now=tuesday + DAY).due  # 8 business hours since: again
    assert (due.pull_request_id, due.round) == (pull.pk, 2)
    assert "last reminded 8 business hours ago" in due.why


def test_it_asks_for_confirmation_first_and_sends_nothing_until_then(client, teammate, pull, policy):
    client.force_login(teammate)
    url = reverse("actions:pr-remind", args=[pull.pk])
    response = client.get(url, headers=HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="confirmed" value="yes"' in html and f'hx-post="{url}"' in html
    assert "now, through Outbox (each reviewer, by direct message)?" in _text(response)

    assert _remind(client, teammate, pull, confirmed=False).status_code == 200  # the confirmation again
    assert not Reminder.objects.exists() and not ActionAudit.objects.exists() and not OutboxMessage.objects.exists()


def test_without_htmx_the_confirmation_and_result_are_whole_pages(client, teammate, pull, policy):
    client.force_login(teammate)
    url = reverse("actions:pr-remind", args=[pull.pk])
    page = client.get(url)
    assert page.status_code == 200 and "<html" in page.content.decode() and "Remind reviewers now" in _text(page)
    done = client.post(url, {"confirmed": "yes"})
    assert done.status_code == 200 and "Reminded the reviewers" in _text(done)


def test_outsiders_get_404_and_see_no_actions(client, outsider, pull, policy, team):
    client.force_login(outsider)
    for url in (reverse("actions:pr-remind", args=[pull.pk]), reverse("actions:pr-cell", args=[pull.pk])):
        assert client.get(url, headers=HTMX).status_code == 404
        assert client.post(url, {"confirmed": "yes"}, headers=HTMX).status_code in (404, 405)
    for name in ("actions:team-remind", "actions:team-remind-cell"):
        url = reverse(name, args=[team.slug])
        assert client.get(url, headers=HTMX).status_code == 404
    batch = client.get(reverse("actions:pr-actions"), {"pr": pull.pk}, headers=HTMX)
    assert batch.status_code == 200 and "data-pr-actions" not in batch.content.decode()
    assert not ActionAudit.objects.exists() and not Reminder.objects.exists()


def test_anonymous_users_are_sent_to_sign_in(client, pull):
    response = client.get(reverse("actions:pr-remind", args=[pull.pk]))
    assert response.status_code == 302 and "/login" in response["Location"]


def test_a_leads_only_policy_refuses_members_audited_and_lets_leads(client, teammate, owner, pull, policy):
    ActionPolicy.objects.create(kind=ActionKind.REMIND_REVIEWERS, who=ActionPolicy.Who.LEADS)
    client.force_login(teammate)
    cell = client.get(reverse("actions:pr-cell", args=[pull.pk]), headers=HTMX)
    assert "Only leads of Payments may remind reviewers." in _text(cell) and "pr-remind" not in cell.content.decode()
    assert client.get(reverse("actions:pr-remind", args=[pull.pk]), headers=HTMX).status_code == 403
    assert not ActionAudit.objects.exists()  # a GET is not an attempt

    refused = _remind(client, teammate, pull)
    assert refused.status_code == 403
    audit = ActionAudit.objects.get()
    assert (audit.status, audit.message) == (ActionAudit.Status.REFUSED, "Only leads of Payments may remind reviewers.")
    assert not Reminder.objects.exists()

    assert _remind(client, owner, pull).status_code == 200
    assert Reminder.objects.get().requested_by == "alice@example.com"


def test_a_platform_group_may_remind_on_any_team_it_sees(client, teammate, pull, policy):
    group = Group.objects.create(name="Platform")
    ActionPolicy.objects.create(kind=ActionKind.REMIND_REVIEWERS, who=ActionPolicy.Who.PLATFORM, platform_group=group)
    platform = _org_viewer("pat")
    platform.groups.add(group)
    assert _remind(client, teammate, pull).status_code == 403
    assert _remind(client, platform, pull).status_code == 200
    assert Reminder.objects.get().requested_by == "pat@example.com"


def test_the_rate_limit_per_pull_request_is_counted_from_the_audit(client, teammate, owner, pull, policy):
    ActionPolicy.objects.create(kind=ActionKind.REMIND_REVIEWERS, per_target_per_hour=1, per_user_per_hour=5)
    assert _remind(client, teammate, pull).status_code == 200
    limited = _remind(client, owner, pull)
    assert limited.status_code == 429
    assert "This pull request has reached the limit of 1 “Remind reviewers” an hour: try again in" in _text(limited)
    assert ActionAudit.objects.filter(status=ActionAudit.Status.REFUSED, response="rate limited").count() == 1
    assert Reminder.objects.count() == 1

    # An hour later it counts no more: the second reminder is the pull request's round 2.
    ActionAudit.objects.update(started_at=timezone.now() - timedelta(hours=1, minutes=1))
    assert _remind(client, owner, pull).status_code == 200
    assert sorted(Reminder.objects.values_list("round", flat=True)) == [1, 2]


def test_the_rate_limit_per_person(client, teammate, source, service, policy):
    ActionPolicy.objects.create(kind=ActionKind.REMIND_REVIEWERS, per_target_per_hour=5, per_user_per_hour=1)
    first, second = _pr(source, service), _pr(source, service)
    assert _remind(client, teammate, first).status_code == 200
    limited = _remind(client, teammate, second)
    assert limited.status_code == 429 and "You have reached the limit of 1" in _text(limited)


def test_a_slack_bot_sends_each_reviewer_a_direct_message(client, teammate, owner, pull, team, fake_slack):
    bot = ChannelFactory(kind=Channel.Kind.SLACK_BOT, secret=BOT_TOKEN, api_url=fake_slack.url + "/api", name="Bot")
    ReminderPolicy.objects.create(team=team, channel=bot)
    response = _remind(client, teammate, pull)
    assert response.status_code == 200 and "through Bot" in _text(response)
    assert sorted(target for target, _ in fake_slack.posted) == ["D0ALICE", "D0BOB"]
    assert pull.title in str(fake_slack.posted[0][1]["blocks"])
    assert Reminder.objects.get().status == Reminder.Status.SENT


def test_a_channel_that_fails_is_said_and_its_reminder_failed(client, teammate, owner, pull, team, fake_slack):
    bot = ChannelFactory(kind=Channel.Kind.SLACK_BOT, secret=BOT_TOKEN, api_url=fake_slack.url + "/api", name="Bot")
    ReminderPolicy.objects.create(team=team, channel=bot)
    fake_slack.users.clear()  # Slack knows neither reviewer
    response = _remind(client, teammate, pull)
    assert response.status_code == 200
    assert "1 of 1 reminders could not be sent" in _text(response)
    assert Reminder.objects.get().status == Reminder.Status.FAILED
    assert ActionAudit.objects.get().status == ActionAudit.Status.FAILED


def test_why_it_is_not_offered(client, teammate, pull, team, outbox):
    client.force_login(teammate)
    cell = reverse("actions:pr-cell", args=[pull.pk])
    assert "No review reminder policy covers Checkout" in _text(client.get(cell, headers=HTMX))
    assert _remind(client, teammate, pull).status_code == 409

    ReminderPolicy.objects.create(team=team, channel=None)
    assert "Review reminders of Payments names no channel" in _text(client.get(cell, headers=HTMX))
    ReminderPolicy.objects.update(channel=outbox)

    PullRequest.objects.filter(pk=pull.pk).update(first_review_at=timezone.now())  # a first review came in
    assert "no longer waiting for a first review" in _text(client.get(cell, headers=HTMX))
    assert _remind(client, teammate, pull).status_code == 409
    assert not ActionAudit.objects.exists() and not Reminder.objects.exists()


def test_a_sub_teams_pull_request_follows_the_schedules_policy_rule(client, owner, source, team, outbox):
    sub = TeamFactory(name="Payments API", slug="payments-api", parent=team)
    service = ServiceFactory(name="Ledger", slug="ledger", owner=sub)
    pull = _pr(source, service)
    ReminderPolicy.objects.create(team=team, channel=outbox, include_sub_teams=False)
    client.force_login(owner)
    cell = reverse("actions:pr-cell", args=[pull.pk])
    assert "No review reminder policy covers Ledger" in _text(client.get(cell, headers=HTMX))
    ReminderPolicy.objects.update(include_sub_teams=True, recipients=ReminderPolicy.Recipients.CHANNEL)
    assert "Remind reviewers now" in _text(client.get(cell, headers=HTMX))


# --- The holdout ----------------------------------------------------------------------------------------------


def test_a_held_out_pull_request_is_a_leads_to_remind_and_leaves_the_experiment(
    client, teammate, owner, source, service, policy
):
    ReminderPolicy.objects.update(holdout_percent=50)
    policy.refresh_from_db()
    held = _held_out(policy, source, service)

    client.force_login(teammate)
    cell = client.get(reverse("actions:pr-cell", args=[held.pk]), headers=HTMX)
    assert "holdout" in _text(cell) and "only a lead of Payments may remind it" in _text(cell)
    assert _remind(client, teammate, held).status_code == 403
    assert ActionAudit.objects.get().status == ActionAudit.Status.REFUSED

    client.force_login(owner)
    confirm = client.get(reverse("actions:pr-remind", args=[held.pk]), headers=HTMX)
    assert "takes it out of the holdout's measurement" in _text(confirm)
    done = _remind(client, owner, held)
    assert done.status_code == 200 and "no longer in the holdout's measurement" in _text(done)
    reminder = Reminder.objects.get()
    assert (reminder.status, reminder.held_out, reminder.requested_by) == (
        Reminder.Status.SENT,
        False,
        "alice@example.com",
    )
    assert "in the 50% holdout, so it leaves the experiment" in reminder.why


# --- A team's late pull requests ------------------------------------------------------------------------------


def test_remind_all_reminds_a_teams_late_pull_requests_leaving_the_holdout_out(
    client, owner, teammate, source, service, policy, outbox, team
):
    ReminderPolicy.objects.update(holdout_percent=50)
    policy.refresh_from_db()
    late = _held_out(policy, source, service, want=False)
    also_late = _held_out(policy, source, service, want=False)
    held = _held_out(policy, source, service)
    fresh = _pr(source, service, waited=timedelta(hours=2))  # not late: waits less than the review queue's 24 h

    client.force_login(owner)
    cell = client.get(reverse("actions:team-remind-cell", args=[team.slug]), headers=HTMX)
    assert "Remind all late pull requests of Payments" in _text(cell)
    confirm = client.get(reverse("actions:team-remind", args=[team.slug]), headers=HTMX)
    assert "Remind the reviewers of 2 late pull requests of Payments" in _text(confirm)
    assert "1 in the holdout is left out" in _text(confirm)

    response = _remind_team(client, owner, team)
    assert response.status_code == 200
    assert "Reminded the reviewers of 2 pull requests through Outbox (1 in the holdout left out)." in _text(response)
    assert set(Reminder.objects.values_list("pull_request_id", flat=True)) == {late.pk, also_late.pk}
    assert held.pk not in Reminder.objects.values_list("pull_request_id", flat=True)
    assert fresh.pk not in Reminder.objects.values_list("pull_request_id", flat=True)
    # One message per reviewer naming both pull requests.
    messages = OutboxMessage.objects.filter(channel=outbox)
    assert messages.count() == 2 and all("2 pull requests waiting" in m.title for m in messages)
    audit = ActionAudit.objects.get()
    assert (audit.team, audit.pull_request, audit.target) == (team, None, "The late pull requests of Payments")

    again = _remind_team(client, owner, team)  # all reminded within the hour: nobody is pinged twice in a row
    assert again.status_code == 409 and "none to remind now" in _text(again)
    _held_out(policy, source, service, want=False)  # another late one
    limited = _remind_team(client, owner, team)  # the default: once an hour per team
    assert limited.status_code == 429 and "This team has reached the limit" in _text(limited)


def test_remind_all_says_why_when_there_is_nothing_to_remind(client, owner, source, service, team, outbox):
    client.force_login(owner)
    cell = reverse("actions:team-remind-cell", args=[team.slug])
    assert "No pull request of Payments has waited longer" in _text(client.get(cell, headers=HTMX))
    _pr(source, service)
    assert "No review reminder policy covers Checkout" in _text(client.get(cell, headers=HTMX))
    assert _remind_team(client, owner, team).status_code == 409
    assert not ActionAudit.objects.exists()


def test_remind_all_is_refused_to_outsiders_of_the_role(client, teammate, owner, pull, policy, team):
    ActionPolicy.objects.create(kind=ActionKind.REMIND_REVIEWERS, who=ActionPolicy.Who.LEADS)
    client.force_login(teammate)
    cell = client.get(reverse("actions:team-remind-cell", args=[team.slug]), headers=HTMX)
    assert "Only leads of Payments may remind reviewers." in _text(cell)
    assert _remind_team(client, teammate, team).status_code == 403
    assert not Reminder.objects.exists()


# --- The review queue -----------------------------------------------------------------------------------------


def test_the_review_queue_loads_the_actions_at_no_cost(
    client, owner, team, source, service, policy, django_assert_num_queries, django_assert_max_num_queries
):
    client.force_login(owner)
    url = reverse("metrics:team-reviews", args=[team.slug])
    first = _pr(source, service)
    with django_assert_max_num_queries(12) as few:  # the review queue's own bound (metrics/tests/test_review_queue)
        response = client.get(url)
    html = response.content.decode()
    assert f'<div class="remind-actions" data-pr-actions="{first.pk}"></div>' in html
    assert f'hx-get="/actions/pulls/?pr={first.pk}" hx-trigger="load" hx-swap="none"' in html
    assert f'hx-get="/actions/teams/{team.slug}/remind/cell/"' in html

    more = [_pr(source, service, waited=timedelta(hours=n + 1)) for n in range(10)]
    with django_assert_num_queries(len(few.captured_queries)):
        response = client.get(url)
    assert all(f"pr={p.pk}" in response.content.decode() for p in more)


def test_the_actions_of_a_page_of_pull_requests_cost_a_fixed_number_of_queries(
    client, owner, source, service, policy, django_assert_num_queries, django_assert_max_num_queries
):
    client.force_login(owner)
    url = reverse("actions:pr-actions")
    one = _pr(source, service)
    with django_assert_max_num_queries(16) as few:
        client.get(url, {"pr": one.pk}, headers=HTMX)
    many = [_pr(source, service) for _ in range(24)]
    with django_assert_num_queries(len(few.captured_queries)):
        response = client.get(url, {"pr": [one.pk, *(p.pk for p in many)]}, headers=HTMX)
    assert response.content.decode().count("Remind reviewers now") == 25


@pytest.mark.parametrize(
    ("query", "message"),
    [({"pr": "x"}, "A pull request is named by its number."), ({"pr": list(range(1, 102))}, "At most 100")],
)
def test_bad_pull_request_ids_answer_400(client, owner, query, message):
    client.force_login(owner)
    response = client.get(reverse("actions:pr-actions"), query, headers=HTMX)
    assert response.status_code == 400 and message in _text(response)

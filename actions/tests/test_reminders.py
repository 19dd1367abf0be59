"""Review reminders (``actions.reminders``): one test per selection rule, the holdout, recording
idempotently, the outbox, the schedule's task and the number of queries."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django_q.models import Schedule
from django_q.tasks import async_task

from actions import reminders, tasks
from actions.models import Channel, OutboxMessage, Reminder, ReminderPolicy
from actions.tests.factories import ChannelFactory
from actions.tests.fake_slack import BOT_TOKEN
from e360.tests.factories import MembershipFactory, PersonFactory, ServiceFactory, TeamFactory
from metrics.inputs import CommitInput, PullRequestInput, ReviewInput
from metrics.models import PullRequest, Review
from metrics.services import Dirty, pull_request_amend
from metrics.tests.factories import SourceFactory

PARIS = ZoneInfo("Europe/Paris")
H = timedelta(hours=1)


def paris(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS)


# Tuesday 5 May 2026, 14:00 in Paris: the team works Monday to Friday, 09:00 to 17:00.
NOW = paris(2026, 5, 5, 14)


@pytest.fixture
def org(db):
    """Payments (Paris, 9-17 weekdays) owns checkout; Ada writes pull requests, Bob and Cem review them."""
    team = TeamFactory(name="Payments", slug="payments", time_zone="Europe/Paris")
    service = ServiceFactory(name="Checkout", slug="checkout", owner=team)
    people = {}
    for handle in ("ada", "bob", "cem"):
        people[handle] = PersonFactory(name=handle.title(), handle=handle, github_login=handle)
        MembershipFactory(person=people[handle], team=team)
    source = SourceFactory(name="github", team=team, kind="github")
    return {"team": team, "service": service, "source": source, **people}


def store(org, external_id="1", *, opened, author="ada", reviews=(), commits=(), service="checkout", **fields):
    """A pull request as the integrations store it (the write service sets its first review and approval)."""
    data = PullRequestInput(
        external_id=external_id,
        repository=f"acme/{service}",
        service=service,
        number=int(external_id) if external_id.isdigit() else None,
        title=f"Change {external_id}",
        opened_at=opened,
        author=author,
        reviews=tuple(reviews),
        commits=tuple(commits),
        **fields,
    )
    source = org["source"]
    if not source.may_write_every_service:
        source.may_write_every_service = True
        source.save()
    pr, _ = pull_request_amend(source=source, data=data, dirty=Dirty())
    return pr


def policy(org, **fields) -> ReminderPolicy:
    fields.setdefault("team", org["team"])
    return ReminderPolicy.objects.create(**fields)


def due(now=NOW):
    return reminders.due_reminders(now=now).due


def due_ids(now=NOW) -> list[int]:
    return [r.pull_request_id for r in due(now)]


def tick(now=NOW) -> int:
    return reminders.reminders_record(selection=reminders.due_reminders(now=now))


# --- Rule 1: waiting for a first review ------------------------------------------------------------


def test_a_pull_request_waiting_long_enough_is_due_to_its_teams_other_members(org):
    policy(org, after_hours=8)
    pr = store(org, opened=paris(2026, 5, 4, 10))  # Monday 10:00: 12 business hours by Tuesday 14:00

    (reminder,) = due()

    assert reminder.pull_request_id == pr.pk
    assert reminder.round == 1
    assert reminder.reviewers == (org["bob"].pk, org["cem"].pk)  # not Ada, the author
    assert reminder.waited == 12 * H
    assert reminder.held_out is False
    assert reminder.why == "No first review after 12 business hours"


def test_a_review_by_someone_else_ends_the_wait(org):
    policy(org)
    store(org, "1", opened=paris(2026, 5, 4, 10), reviews=[ReviewInput("r1", "bob", paris(2026, 5, 4, 12))])
    store(org, "2", opened=paris(2026, 5, 4, 10), reviews=[ReviewInput("r2", "ada", paris(2026, 5, 4, 12))])
    assert [PullRequest.objects.get(pk=pk).external_id for pk in due_ids()] == ["2"]  # the author's own review


def test_an_approved_pull_request_is_not_due(org):
    policy(org)
    approval = ReviewInput("r1", "bob", paris(2026, 5, 4, 12), Review.State.APPROVED)
    store(org, opened=paris(2026, 5, 4, 10), reviews=[approval])
    assert due_ids() == []


def test_a_pull_request_waiting_on_its_author_is_not_due(org):
    policy(org)
    changes = ReviewInput("r1", "bob", paris(2026, 5, 4, 12), Review.State.CHANGES_REQUESTED)
    store(org, opened=paris(2026, 5, 4, 10), reviews=[changes], commits=[CommitInput("a" * 40, paris(2026, 5, 4, 9))])
    assert due_ids() == []


def test_merged_closed_and_direct_pushes_are_not_due(org):
    policy(org)
    store(org, "1", opened=paris(2026, 5, 4, 10), merged_at=paris(2026, 5, 4, 11), merge_sha="b" * 40)
    store(org, "2", opened=paris(2026, 5, 4, 10), closed_at=paris(2026, 5, 4, 11))
    store(org, "3", opened=paris(2026, 5, 4, 10), is_direct_push=True, merged_at=paris(2026, 5, 4, 10))
    assert due_ids() == []


# --- Rule 2: waited long enough, in business hours ------------------------------------------------------


def test_a_pull_request_not_waiting_long_enough_is_not_due(org):
    policy(org, after_hours=8)
    store(org, opened=paris(2026, 5, 4, 15))  # 2 hours on Monday, 5 on Tuesday: 7
    assert due_ids() == []
    assert len(due(NOW + H)) == 1


def test_the_weekend_and_nights_do_not_count(org):
    policy(org, after_hours=4)
    store(org, opened=paris(2026, 5, 8, 15))  # Friday 15:00
    monday = paris(2026, 5, 11, 10)  # three days later, three business hours
    assert due_ids(monday) == []
    assert len(due(monday + H)) == 1


def test_business_hours_are_the_owning_teams(org):
    """A Sydney team's pull request under its Paris parent's policy counts Sydney's working hours."""
    sydney = TeamFactory(name="Payments AU", slug="payments-au", parent=org["team"], time_zone="Australia/Sydney")
    ServiceFactory(name="Checkout AU", slug="checkout-au", owner=sydney)
    MembershipFactory(person=org["bob"], team=sydney)
    policy(org, include_sub_teams=True, after_hours=2)
    # Opened Monday 17:00 in Sydney; Tuesday in Sydney runs from Monday 23:00 UTC.
    store(org, "9", service="checkout-au", opened=datetime(2026, 5, 4, 17, tzinfo=ZoneInfo("Australia/Sydney")))
    sydney_tuesday_11 = datetime(2026, 5, 5, 11, tzinfo=ZoneInfo("Australia/Sydney"))
    assert len(due(sydney_tuesday_11)) == 1
    assert due(sydney_tuesday_11 - timedelta(minutes=1)) == ()


# --- Rule 3: not reminded lately, unless changed ------------------------------------------------------


def test_a_reminded_pull_request_is_reminded_again_only_after_the_pause(org):
    policy(org, after_hours=8, again_after_hours=4)
    store(org, opened=paris(2026, 5, 4, 10))
    assert tick(NOW) == 1

    assert due(NOW + 3 * H) == ()  # Tuesday 17:00 is the end of the day anyway
    wednesday = paris(2026, 5, 6, 9, 30)  # 3.5 business hours after the reminder
    assert due(wednesday) == ()
    (again,) = due(wednesday + H)
    assert again.round == 2
    assert "last reminded 4.5 business hours ago" in again.why


def test_a_pull_request_that_changed_since_its_reminder_is_due_again(org):
    policy(org, after_hours=8, again_after_hours=40)
    store(org, opened=paris(2026, 5, 4, 10))
    tick(NOW)
    assert due(NOW + H) == ()

    store(org, opened=paris(2026, 5, 4, 10), commits=[CommitInput("c" * 40, NOW + H / 2)])  # a new commit

    (again,) = due(NOW + H)
    assert again.round == 2
    assert again.snapshot == reminders.Snapshot(1, NOW + H / 2, 0)
    assert "changed since the last reminder" in again.why


# --- Rule 4: at a good moment ---------------------------------------------------------------------------


def test_nobody_is_reminded_outside_working_hours(org):
    policy(org)
    store(org, opened=paris(2026, 5, 4, 10))
    assert due(paris(2026, 5, 5, 18)) == ()  # Tuesday evening
    assert due(paris(2026, 5, 9, 11)) == ()  # Saturday
    assert len(due(paris(2026, 5, 6, 9))) == 1  # Wednesday morning


def test_a_digest_gathers_once_a_working_day_at_its_time(org):
    digest_policy = policy(org, digest=True, digest_at=time(9, 30))
    store(org, "1", opened=paris(2026, 5, 4, 10))
    wednesday = paris(2026, 5, 6, 9)

    assert reminders.due_reminders(now=wednesday).due == ()  # before 09:30
    selection = reminders.due_reminders(now=wednesday + H)
    assert [r.digest_on for r in selection.due] == [wednesday.date()]
    assert selection.digests == ((digest_policy.pk, wednesday.date()),)
    assert reminders.reminders_record(selection=selection) == 1

    store(org, "2", opened=paris(2026, 5, 4, 10))  # due as well, but the day's digest is gathered
    assert reminders.due_reminders(now=wednesday + 2 * H).due == ()
    digest_policy.refresh_from_db()
    assert digest_policy.last_digest_on == wednesday.date()
    assert len(reminders.due_reminders(now=wednesday + timedelta(days=1, hours=1)).due) == 2  # Thursday's digest


def test_a_digest_day_is_gathered_even_when_nothing_is_due(org):
    digest_policy = policy(org, digest=True, digest_at=time(9, 30))
    reminders.reminders_record(selection=reminders.due_reminders(now=paris(2026, 5, 6, 10)))
    digest_policy.refresh_from_db()
    assert digest_policy.last_digest_on == paris(2026, 5, 6, 10).date()
    assert reminders.due_reminders(now=paris(2026, 5, 9, 10)).digests == ()  # Saturday: no digest


# --- Rule 5: someone to remind --------------------------------------------------------------------------


def test_nobody_but_the_author_in_the_team_means_no_direct_reminder(org):
    policy(org)
    org["team"].memberships.exclude(person=org["ada"]).delete()
    store(org, opened=paris(2026, 5, 4, 10))
    assert due() == ()


def test_a_channel_policy_is_due_even_with_nobody_listed(org):
    policy(org, recipients=ReminderPolicy.Recipients.CHANNEL)
    org["team"].memberships.exclude(person=org["ada"]).delete()
    store(org, opened=paris(2026, 5, 4, 10))
    (reminder,) = due()
    assert reminder.reviewers == ()


def test_inactive_people_are_not_reminded(org):
    policy(org)
    org["cem"].is_active = False
    org["cem"].save()
    store(org, opened=paris(2026, 5, 4, 10))
    assert due()[0].reviewers == (org["bob"].pk,)


# --- Which policy ------------------------------------------------------------------------------------------


def test_a_services_policy_wins_over_its_teams(org):
    policy(org, after_hours=40)
    own = ReminderPolicy.objects.create(service=org["service"], after_hours=4)
    store(org, opened=paris(2026, 5, 4, 10))
    (reminder,) = due()
    assert reminder.policy_id == own.pk


def test_a_parent_teams_policy_covers_sub_teams_only_when_it_says_so(org):
    sub = TeamFactory(name="Payments API", slug="payments-api", parent=org["team"], time_zone="Europe/Paris")
    ServiceFactory(name="Ledger", slug="ledger", owner=sub)
    MembershipFactory(person=org["bob"], team=sub)
    parent = policy(org)
    store(org, "5", service="ledger", opened=paris(2026, 5, 4, 10))
    assert due() == ()
    parent.include_sub_teams = True
    parent.save()
    (reminder,) = due()
    assert reminder.reviewers == (org["bob"].pk,)  # the owning team's members


def test_an_inactive_policy_reminds_nobody(org):
    policy(org, is_active=False)
    store(org, opened=paris(2026, 5, 4, 10))
    assert due() == ()


def test_a_team_with_a_broken_working_time_is_skipped_with_why_and_others_still_run(org):
    broken = TeamFactory(name="Broken", slug="broken", time_zone="Europe/Paris", working_days=[])
    ServiceFactory(name="Other", slug="other", owner=broken)
    ReminderPolicy.objects.create(team=broken)
    policy(org)
    store(org, opened=paris(2026, 5, 4, 10))
    selection = reminders.due_reminders(now=NOW)
    assert len(selection.due) == 1
    assert selection.skipped == ("team Broken: working days must be ISO weekdays 1-7, at least one: []",)


# --- Holdout ----------------------------------------------------------------------------------------------


def test_the_holdout_is_a_stable_hash_of_the_policy_and_the_pull_request():
    assert reminders.holdout_bucket(1, 2, "123") == reminders.holdout_bucket(1, 2, "123")
    # Documented: sha256 of the salt, policy, source and external id joined by NUL, 8 bytes, modulo 10 000.
    import hashlib

    digest = hashlib.sha256(b"e360 reminder holdout\x001\x002\x00123").digest()
    assert reminders.holdout_bucket(1, 2, "123") == int.from_bytes(digest[:8], "big") % 10_000
    assert reminders.is_held_out(0, 1, 2, "123") is False
    assert reminders.is_held_out(100, 1, 2, "123") is True


def test_about_the_holdout_share_of_pull_requests_is_held_out_and_raising_it_keeps_them():
    ids = [str(n) for n in range(20_000)]
    ten = {i for i in ids if reminders.is_held_out(10, 7, 3, i)}
    twenty = {i for i in ids if reminders.is_held_out(20, 7, 3, i)}
    assert 0.09 < len(ten) / len(ids) < 0.11
    assert 0.19 < len(twenty) / len(ids) < 0.21
    assert ten <= twenty
    other_policy = {i for i in ids if reminders.is_held_out(10, 8, 3, i)}
    assert len(ten & other_policy) < len(ten) / 5  # policies draw independently


def test_a_held_out_pull_request_is_recorded_never_sent_and_stays_held_out(org):
    holdout = policy(org, holdout_percent=50, again_after_hours=1)
    for n in range(1, 21):
        store(org, str(n), opened=paris(2026, 5, 4, 10))
    first = {r.pull_request_id: r.held_out for r in due()}
    tick(NOW)
    assert 0 < sum(first.values()) < 20
    held = Reminder.objects.held_out()
    assert set(held.values_list("pull_request_id", flat=True)) == {pk for pk, out in first.items() if out}
    assert set(held.values_list("status", flat=True)) == {Reminder.Status.HELD_OUT}
    assert not Reminder.objects.to_send().filter(held_out=True).exists()
    # The next round: the same pull requests in and out.
    PullRequest.objects.filter(pk__in=first).update(title="Renamed")
    assert {r.pull_request_id: r.held_out for r in due(NOW + 2 * H)} == first
    assert all(r.round == 2 for r in due(NOW + 2 * H))
    assert holdout.reminders.count() == 20


# --- Recording ----------------------------------------------------------------------------------------------


def test_recording_twice_records_once(org):
    policy(org)
    store(org, opened=paris(2026, 5, 4, 10))
    selection = reminders.due_reminders(now=NOW)
    assert reminders.reminders_record(selection=selection) == 1
    assert reminders.reminders_record(selection=selection) == 0
    assert tick(NOW + timedelta(minutes=15)) == 0  # reminded 15 minutes ago
    (row,) = Reminder.objects.all()
    assert (row.round, row.status, row.due_at, row.reviewers) == (1, "due", NOW, [org["bob"].pk, org["cem"].pk])
    assert (row.commits, row.last_commit_at, row.reviews, row.waited) == (0, None, 0, 12 * H)


def test_two_workers_selecting_at_once_record_one_reminder(org):
    policy(org)
    store(org, opened=paris(2026, 5, 4, 10))
    first = reminders.due_reminders(now=NOW)
    second = reminders.due_reminders(now=NOW + timedelta(seconds=1))
    assert reminders.reminders_record(selection=first) == 1
    assert reminders.reminders_record(selection=second) == 0
    assert Reminder.objects.count() == 1


def test_a_worker_killed_mid_run_records_nothing_and_the_rerun_records_once(org):
    policy(org, digest=True)
    store(org, opened=paris(2026, 5, 4, 10))
    selection = reminders.due_reminders(now=NOW)

    def killed_after_recording() -> None:
        with transaction.atomic():
            reminders.reminders_record(selection=selection)
            raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        killed_after_recording()
    assert not Reminder.objects.exists()
    assert ReminderPolicy.objects.get().last_digest_on is None
    assert tick(NOW + timedelta(minutes=15)) == 1
    assert tick(NOW + timedelta(minutes=30)) == 0


def test_the_outbox_hands_due_reminders_once(org):
    policy(org)
    store(org, opened=paris(2026, 5, 4, 10))
    tick()
    (row,) = Reminder.objects.to_send()
    assert reminders.reminder_sent(reminder_id=row.pk, at=NOW + H) is True
    assert reminders.reminder_sent(reminder_id=row.pk) is False  # already sent
    assert reminders.reminder_failed(reminder_id=row.pk, error="429") is False
    row.refresh_from_db()
    assert (row.status, row.sent_at) == (Reminder.Status.SENT, NOW + H)
    assert not Reminder.objects.to_send().exists()


def test_a_failed_reminder_keeps_why(org):
    policy(org)
    store(org, opened=paris(2026, 5, 4, 10))
    tick()
    row = Reminder.objects.get()
    assert reminders.reminder_failed(reminder_id=row.pk, error="Slack answered 404: channel_not_found") is True
    row.refresh_from_db()
    assert (row.status, row.error) == (Reminder.Status.FAILED, "Slack answered 404: channel_not_found")


# --- Sending (wired to the channels by the lead) ------------------------------------------------------------


class Outbox:
    """What ``reminders_send`` hands over, standing in for the channels' send: fails for ``failing`` people."""

    def __init__(self, failing=()):
        self.messages, self.failing = [], set(failing)

    def __call__(self, message):
        if message.person_id in self.failing:
            raise RuntimeError("Slack answered 429")
        self.messages.append(message)


def test_sending_gathers_one_message_per_reviewer_and_marks_them_sent(org):
    policy(org, holdout_percent=0)
    one, two = store(org, "1", opened=paris(2026, 5, 4, 10)), store(org, "2", opened=paris(2026, 5, 4, 11))
    tick()
    outbox = Outbox()

    assert reminders.reminders_send(send=outbox) == (2, 0)

    assert sorted((m.person_id, m.pull_request_ids) for m in outbox.messages) == [
        (org["bob"].pk, (one.pk, two.pk)),
        (org["cem"].pk, (one.pk, two.pk)),
    ]
    assert set(Reminder.objects.values_list("status", flat=True)) == {Reminder.Status.SENT}
    assert reminders.reminders_send(send=outbox) == (0, 0)  # nothing sent twice
    assert len(outbox.messages) == 2


def test_a_channel_policy_sends_one_message_and_held_out_reminders_none(org):
    policy(org, recipients=ReminderPolicy.Recipients.CHANNEL, holdout_percent=50)
    for n in range(1, 11):
        store(org, str(n), opened=paris(2026, 5, 4, 10))
    tick()
    outbox = Outbox()
    reminders.reminders_send(send=outbox)
    (message,) = outbox.messages
    assert message.person_id is None
    assert set(message.reminder_ids) == set(Reminder.objects.filter(held_out=False).values_list("id", flat=True))
    assert set(Reminder.objects.held_out().values_list("status", flat=True)) == {Reminder.Status.HELD_OUT}


def test_a_failed_message_fails_its_reminders_with_why_and_not_the_others(org):
    policy(org)
    store(org, opened=paris(2026, 5, 4, 10))
    tick()
    assert reminders.reminders_send(send=Outbox(failing={org["cem"].pk})) == (0, 1)
    row = Reminder.objects.get()
    assert (row.status, row.error) == (Reminder.Status.FAILED, f"to person {org['cem'].pk}: Slack answered 429")


def test_a_worker_killed_while_sending_never_sends_twice(org, monkeypatch):
    policy(org)
    store(org, opened=paris(2026, 5, 4, 10))
    tick()

    def killed(message):
        raise SystemExit("killed")

    with pytest.raises(SystemExit):
        reminders.reminders_send(send=killed)
    assert Reminder.objects.get().status == Reminder.Status.SENDING
    outbox = Outbox()
    assert reminders.reminders_send(send=outbox) == (0, 0)
    assert outbox.messages == []


# --- The schedule's task ------------------------------------------------------------------------------------


def test_the_schedule_runs_the_task_every_15_minutes(db):
    row = Schedule.objects.get(func="actions.tasks.reminders_tick")
    assert (row.schedule_type, row.minutes) == (Schedule.MINUTES, 15)


def test_the_task_records_what_is_due_now(org, monkeypatch):
    monkeypatch.setattr(reminders.timezone, "now", lambda: NOW.astimezone(UTC))
    policy(org, holdout_percent=0)
    store(org, opened=paris(2026, 5, 4, 10))
    task_id = async_task("actions.tasks.reminders_tick")
    from django_q.models import Task

    # The policy names no channel: recorded, and its sending fails with why (admin requires a channel).
    assert Task.objects.get(id=task_id).result == "1 reminders due (0 held out), 1 recorded; 0 sent, 1 failed"
    assert "the policy names no channel: choose one in the admin" in Reminder.objects.get().error
    assert Reminder.objects.count() == 1
    async_task("actions.tasks.reminders_tick")
    assert Reminder.objects.count() == 1


# --- Queries ------------------------------------------------------------------------------------------------


def test_the_selection_runs_the_same_queries_however_many_pull_requests_and_policies(org, django_assert_num_queries):
    policy(org, again_after_hours=1)
    for n in range(1, 4):
        store(org, str(n), opened=paris(2026, 5, 4, 10))
    tick(NOW)
    with django_assert_num_queries(7):
        assert len(due(NOW + 2 * H)) == 3

    for n in range(4, 40):
        store(org, str(n), opened=paris(2026, 5, 4, 10))
    other = TeamFactory(name="Search", slug="search", time_zone="America/New_York")
    ServiceFactory(name="Search API", slug="search-api", owner=other)
    MembershipFactory(person=org["cem"], team=other)
    ReminderPolicy.objects.create(team=other, after_hours=1, again_after_hours=1)
    for n in range(40, 60):
        store(org, str(n), service="search-api", opened=paris(2026, 5, 4, 10))
    tick(NOW + H)
    with django_assert_num_queries(7):
        assert len(due(NOW + 2 * H)) == 59  # 16:00 in Paris, 10:00 in New York


# --- Through the notification channels ---

DM = ReminderPolicy.Recipients.REVIEWERS_DM


def channel_policy(org, channel: Channel, **fields) -> ReminderPolicy:
    return ReminderPolicy.objects.create(team=org["team"], channel=channel, **fields)


def test_each_reviewer_gets_a_slack_direct_message_naming_the_pull_requests(org, fake_slack):
    fake_slack.users.update({"bob@example.com": "U0BOB", "cem@example.com": "U0CEM"})
    for handle in ("bob", "cem"):
        org[handle].email = f"{handle}@example.com"
        org[handle].save()
    bot = ChannelFactory(kind=Channel.Kind.SLACK_BOT, secret=BOT_TOKEN, api_url=fake_slack.url + "/api")
    channel_policy(org, bot, recipients=DM)
    store(org, "7", opened=paris(2026, 5, 4, 10))
    tick()

    assert reminders.reminders_send() == (1, 0)

    assert sorted(target for target, _ in fake_slack.posted) == ["D0BOB", "D0CEM"]
    _, body = fake_slack.posted[0]
    text = str(body["blocks"])
    assert "1 pull request waiting for a first review" in text and "acme/checkout#7 Change 7" in text
    assert "waiting 12 business hours" in text and "/teams/payments/reviews/" in text
    assert Reminder.objects.get().status == Reminder.Status.SENT
    assert reminders.reminders_send() == (0, 0)  # never twice
    assert len(fake_slack.posted) == 2


def test_a_team_channel_policy_posts_once_to_the_outbox(org):
    outbox = ChannelFactory(kind=Channel.Kind.OUTBOX)
    channel_policy(org, outbox, recipients=ReminderPolicy.Recipients.CHANNEL)
    store(org, "1", opened=paris(2026, 5, 4, 10))
    store(org, "2", opened=paris(2026, 5, 4, 11))
    tick()

    assert reminders.reminders_send() == (2, 0)

    (message,) = OutboxMessage.objects.all()
    assert message.title == "2 pull requests waiting for a first review"
    assert "Payments's review queue." in message.text


def test_a_channel_that_fails_fails_its_reminders_with_its_answer(org, fake_slack):
    bot = ChannelFactory(kind=Channel.Kind.SLACK_BOT, secret="xoxb-revoked", api_url=fake_slack.url + "/api")
    channel_policy(org, bot, recipients=DM)
    store(org, opened=paris(2026, 5, 4, 10))
    tick()

    assert reminders.reminders_send() == (0, 1)

    row = Reminder.objects.get()
    assert row.status == Reminder.Status.FAILED
    assert "invalid_auth" in row.error and "xoxb-revoked" not in row.error


def test_the_scheduled_tick_records_and_sends(org, monkeypatch):
    channel_policy(org, ChannelFactory(kind=Channel.Kind.OUTBOX), recipients=ReminderPolicy.Recipients.CHANNEL)
    store(org, opened=paris(2026, 5, 4, 10))
    monkeypatch.setattr("django.utils.timezone.now", lambda: paris(2026, 5, 5, 14))
    assert tasks.reminders_tick().endswith("; 1 sent, 0 failed")
    assert OutboxMessage.objects.count() == 1


@pytest.mark.parametrize(
    ("recipients", "kind", "refused"),
    [
        (DM, Channel.Kind.SLACK_WEBHOOK, True),
        (DM, Channel.Kind.SLACK_BOT, False),
        (ReminderPolicy.Recipients.EMAIL, Channel.Kind.TEAMS, True),
        (ReminderPolicy.Recipients.EMAIL, Channel.Kind.EMAIL, False),
        (ReminderPolicy.Recipients.CHANNEL, Channel.Kind.TEAMS, False),
    ],
)
def test_a_policy_needs_a_channel_that_reaches_its_recipients(org, recipients, kind, refused):
    candidate = ReminderPolicy(team=org["team"], recipients=recipients, channel=ChannelFactory(kind=kind))
    if refused:
        with pytest.raises(ValidationError, match="needs a channel of kind"):
            candidate.full_clean()
    else:
        candidate.full_clean()

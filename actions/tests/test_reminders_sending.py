"""Review reminders sent through the notification channels: a Slack bot's direct messages to each
reviewer, the team's channel, the outbox; a channel that fails fails its reminders with its answer."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from actions import reminders, tasks
from actions.models import Channel, OutboxMessage, Reminder, ReminderPolicy
from actions.tests.factories import ChannelFactory
from actions.tests.fake_slack import BOT_TOKEN
from actions.tests.test_reminders import org, paris, store, tick  # noqa: F401 - the org fixture

DM = ReminderPolicy.Recipients.REVIEWERS_DM


def policy(org, channel: Channel, **fields) -> ReminderPolicy:
    return ReminderPolicy.objects.create(team=org["team"], channel=channel, **fields)


def test_each_reviewer_gets_a_slack_direct_message_naming_the_pull_requests(org, fake_slack):
    fake_slack.users.update({"bob@example.com": "U0BOB", "cem@example.com": "U0CEM"})
    for handle in ("bob", "cem"):
        org[handle].email = f"{handle}@example.com"
        org[handle].save()
    bot = ChannelFactory(kind=Channel.Kind.SLACK_BOT, secret=BOT_TOKEN, api_url=fake_slack.url + "/api")
    policy(org, bot, recipients=DM)
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
    policy(org, outbox, recipients=ReminderPolicy.Recipients.CHANNEL)
    store(org, "1", opened=paris(2026, 5, 4, 10))
    store(org, "2", opened=paris(2026, 5, 4, 11))
    tick()

    assert reminders.reminders_send() == (2, 0)

    (message,) = OutboxMessage.objects.all()
    assert message.title == "2 pull requests waiting for a first review"
    assert "Payments's review queue." in message.text


def test_a_channel_that_fails_fails_its_reminders_with_its_answer(org, fake_slack):
    bot = ChannelFactory(kind=Channel.Kind.SLACK_BOT, secret="xoxb-revoked", api_url=fake_slack.url + "/api")
    policy(org, bot, recipients=DM)
    store(org, opened=paris(2026, 5, 4, 10))
    tick()

    assert reminders.reminders_send() == (0, 1)

    row = Reminder.objects.get()
    assert row.status == Reminder.Status.FAILED
    assert "invalid_auth" in row.error and "xoxb-revoked" not in row.error


def test_the_scheduled_tick_records_and_sends(org, monkeypatch):
    policy(org, ChannelFactory(kind=Channel.Kind.OUTBOX), recipients=ReminderPolicy.Recipients.CHANNEL)
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

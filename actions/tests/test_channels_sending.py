"""Each kind of channel against its loopback server: what it sends, what it answers, its errors,
rate limits (per channel), timeouts, secrets from the environment, and that no secret leaks."""

from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from actions.channels import Fact, Message, http, send
from actions.models import Channel, OutboxMessage, SlackMember
from actions.tests.factories import ChannelFactory
from actions.tests.fake_receiver import KEY
from actions.tests.fake_slack import BOT_TOKEN, GONE_WEBHOOK_PATH, OTHER_WEBHOOK_PATH, WEBHOOK_PATH
from actions.tests.fake_teams import SIGNATURE
from e360.models import Person

pytestmark = pytest.mark.django_db

MESSAGE = Message(
    title="CI/CD: pipeline failures at 24% for Payments",
    text="Above the 20% threshold for 3 days <see the runs> & logs.",
    url="http://127.0.0.1:8000/teams/payments/",
    facts=(Fact("Team", "Payments"), Fact("Failure rate", "24%")),
)


@pytest.fixture
def short_timeout(monkeypatch):
    monkeypatch.setattr(http, "TIMEOUT", 0.5)


@pytest.fixture
def logs(caplog):
    caplog.set_level(logging.DEBUG)
    return caplog


def assert_no_secret(secret: str, *texts: str) -> None:
    for text in texts:
        assert secret not in text


# --- Slack incoming webhook ---------------------------------------------------------------------


def test_slack_webhook_posts_block_kit(fake_slack, logs):
    channel = ChannelFactory(kind=Channel.Kind.SLACK_WEBHOOK, secret=fake_slack.webhook_url())

    sent = send(channel, MESSAGE, dedupe_key="run-1")

    assert sent.ok and sent.status == 200 and sent.response == "ok"
    path, body = fake_slack.posted[0]
    assert path == WEBHOOK_PATH
    assert [block["type"] for block in body["blocks"]] == ["header", "section", "section", "actions"]
    assert body["blocks"][0]["text"]["text"] == MESSAGE.title
    assert body["blocks"][1]["text"] == {
        "type": "mrkdwn",
        "text": "Above the 20% threshold for 3 days &lt;see the runs&gt; &amp; logs.",
    }
    assert body["blocks"][2]["fields"][1] == {"type": "mrkdwn", "text": "*Failure rate*\n24%"}
    assert body["blocks"][3]["elements"][0]["url"] == MESSAGE.url
    assert body["text"].startswith(MESSAGE.title)
    assert_no_secret("webhooksecrettoken0001", logs.text, sent.response)


def test_slack_webhook_names_a_person_it_is_for(fake_slack, owner):
    channel = ChannelFactory(kind=Channel.Kind.SLACK_WEBHOOK, secret=fake_slack.webhook_url())

    send(channel, Message(title="Review waiting", recipient=owner.person), dedupe_key="k")

    fields = fake_slack.posted[0][1]["blocks"][1]["fields"]
    assert fields == [{"type": "mrkdwn", "text": "*For*\nAlice"}]


@pytest.mark.parametrize(
    ("path", "status", "said"),
    [
        ("/services/T0001/B0404/unknownwebhooktoken", 404, "no_service (the webhook was removed or its URL is wrong)"),
        (GONE_WEBHOOK_PATH, 404, "channel_not_found (the channel does not exist"),
    ],
)
def test_slack_webhook_explains_slacks_errors(fake_slack, logs, path, status, said):
    channel = ChannelFactory(kind=Channel.Kind.SLACK_WEBHOOK, secret=fake_slack.webhook_url(path))

    sent = send(channel, MESSAGE, dedupe_key="k")

    assert not sent.ok and sent.status == status
    assert said in sent.response
    assert_no_secret(path.rsplit("/", 1)[1], sent.response, logs.text)


def test_slack_webhook_invalid_payload(fake_slack):
    channel = ChannelFactory(kind=Channel.Kind.SLACK_WEBHOOK, secret=fake_slack.webhook_url())
    fake_slack.fail("/services/", 400, body="invalid_payload")

    sent = send(channel, MESSAGE, dedupe_key="k")

    assert (sent.ok, sent.status) == (False, 400)
    assert sent.response == "Slack answered 400: invalid_payload (Slack could not read the message)"


def test_a_long_title_is_cut_to_slacks_limit(fake_slack):
    channel = ChannelFactory(kind=Channel.Kind.SLACK_WEBHOOK, secret=fake_slack.webhook_url())

    sent = send(channel, Message(title="x" * 400), dedupe_key="k")

    assert sent.ok
    assert len(fake_slack.posted[0][1]["blocks"][0]["text"]["text"]) == 150


def test_slack_429_pauses_that_webhook_only(fake_slack):
    limited = ChannelFactory(kind=Channel.Kind.SLACK_WEBHOOK, secret=fake_slack.webhook_url())
    other = ChannelFactory(kind=Channel.Kind.SLACK_WEBHOOK, secret=fake_slack.webhook_url(OTHER_WEBHOOK_PATH))
    fake_slack.limit(WEBHOOK_PATH, 30)
    before = timezone.now()

    first = send(limited, MESSAGE, dedupe_key="a")

    assert (first.ok, first.status) == (False, 429)
    assert before + timedelta(seconds=29) <= first.retry_at <= timezone.now() + timedelta(seconds=31)
    limited.refresh_from_db()
    assert limited.paused_until == first.retry_at
    calls = len(fake_slack.log)
    # Paused: nothing sent, the same time to come back.
    second = send(Channel.objects.get(pk=limited.pk), MESSAGE, dedupe_key="b")
    assert (second.ok, second.retry_at) == (False, first.retry_at)
    assert "rate-limited" in second.response
    assert len(fake_slack.log) == calls
    # Another webhook goes on.
    assert send(other, MESSAGE, dedupe_key="c").ok
    other.refresh_from_db()
    assert other.paused_until is None


def test_a_pause_that_passed_lets_the_channel_send(fake_slack):
    channel = ChannelFactory(
        kind=Channel.Kind.SLACK_WEBHOOK,
        secret=fake_slack.webhook_url(),
        paused_until=timezone.now() - timedelta(seconds=1),
    )

    assert send(channel, MESSAGE, dedupe_key="k").ok


def test_a_slack_timeout_fails_with_the_reason(fake_slack, short_timeout, logs):
    channel = ChannelFactory(kind=Channel.Kind.SLACK_WEBHOOK, secret=fake_slack.webhook_url())
    fake_slack.delay = 2

    sent = send(channel, MESSAGE, dedupe_key="k")

    assert (sent.ok, sent.status) == (False, 0)
    assert sent.response == "Slack's incoming webhook did not answer within 0.5 seconds"
    assert_no_secret("webhooksecrettoken0001", logs.text)


def test_an_unreachable_webhook_fails_without_its_url(logs):
    channel = ChannelFactory(
        kind=Channel.Kind.SLACK_WEBHOOK, secret="http://127.0.0.1:9/services/T1/B1/unreachablesecret"
    )

    sent = send(channel, MESSAGE, dedupe_key="k")

    assert not sent.ok and "could not be reached (ConnectError)" in sent.response
    assert_no_secret("unreachablesecret", sent.response, logs.text)


@pytest.mark.parametrize("url", ["not a url secretA", "ftp://example.com/secretA", "http://[::1/secretA"])
def test_a_malformed_webhook_url_fails_without_it(url, logs):
    sent = send(ChannelFactory(kind=Channel.Kind.TEAMS, secret=url), MESSAGE, dedupe_key="k")

    assert (sent.ok, sent.response) == (False, "The Teams workflow's URL is not a valid http(s) URL")
    assert_no_secret("secretA", logs.text)


# --- Slack bot ----------------------------------------------------------------------------------


def bot(fake_slack, **kwargs) -> Channel:
    return ChannelFactory(kind=Channel.Kind.SLACK_BOT, secret=BOT_TOKEN, api_url=fake_slack.url + "/api", **kwargs)


def test_the_bot_posts_to_its_channel(fake_slack, logs):
    sent = send(bot(fake_slack, slack_channel="C0ALERTS"), MESSAGE, dedupe_key="k")

    assert sent.ok, sent.response
    assert sent.response == "ok (message 1700000000.000001 in C0ALERTS)"
    target, body = fake_slack.posted[0]
    assert target == "C0ALERTS" and body["blocks"][0]["type"] == "header" and body["unfurl_links"] is False
    assert_no_secret(BOT_TOKEN, logs.text)


def test_the_bot_sends_a_direct_message_and_keeps_the_conversation(fake_slack, owner):
    channel = bot(fake_slack)
    person = owner.person

    first = send(channel, Message(title="Your review is waiting", recipient=person), dedupe_key="a")
    second = send(channel, Message(title="Another one", recipient=person), dedupe_key="b")

    assert first.ok and second.ok
    assert [target for target, _ in fake_slack.posted] == ["D0ALICE", "D0ALICE"]
    # Looked up once: users.lookupByEmail, conversations.open, then two chat.postMessage.
    assert [call[1] for call in fake_slack.log] == [
        "/api/users.lookupByEmail",
        "/api/conversations.open",
        "/api/chat.postMessage",
        "/api/chat.postMessage",
    ]
    kept = SlackMember.objects.get(channel=channel)
    assert (kept.email, kept.user_id, kept.dm_channel) == ("alice@example.com", "U0ALICE", "D0ALICE")


def test_a_stale_conversation_is_looked_up_again(fake_slack, owner):
    channel = bot(fake_slack)
    SlackMember.objects.create(
        channel=channel,
        email="alice@example.com",
        user_id="U0ALICE",
        dm_channel="D0ALICE",
        checked_at=timezone.now() - timedelta(days=8),
    )

    assert send(channel, Message(title="Hi", recipient=owner.person), dedupe_key="a").ok
    assert fake_slack.calls("lookupByEmail")


def test_a_conversation_slack_no_longer_knows_is_forgotten(fake_slack, owner):
    channel = bot(fake_slack)
    SlackMember.objects.create(channel=channel, email="alice@example.com", user_id="U0ALICE", dm_channel="D0GONE")

    sent = send(channel, Message(title="Hi", recipient=owner.person), dedupe_key="a")

    assert not sent.ok and "channel_not_found" in sent.response
    assert not SlackMember.objects.filter(channel=channel).exists()
    assert send(channel, Message(title="Hi", recipient=owner.person), dedupe_key="a").ok


def test_a_person_slack_does_not_know(fake_slack):
    person = Person.objects.create(name="Dana", handle="dana", email="dana@example.com")

    sent = send(bot(fake_slack), Message(title="Hi", recipient=person), dedupe_key="k")

    assert (sent.ok, sent.status) == (False, 200)
    assert sent.response == (
        "Slack's users.lookupByEmail refused: users_not_found (no Slack user has this person's email)"
    )
    assert not fake_slack.posted


@pytest.mark.parametrize(
    ("slack_channel", "error"),
    [("C0NOTJOINED", "not_in_channel (invite the bot to the channel first)"), ("C0NOPE", "channel_not_found")],
)
def test_the_bots_errors_in_a_200(fake_slack, slack_channel, error):
    sent = send(bot(fake_slack, slack_channel=slack_channel), MESSAGE, dedupe_key="k")

    assert (sent.ok, sent.status) == (False, 200)
    assert error in sent.response


def test_a_bad_bot_token(fake_slack, logs):
    channel = ChannelFactory(
        kind=Channel.Kind.SLACK_BOT,
        secret="xoxb-wrong-token",
        api_url=fake_slack.url + "/api",
        slack_channel="C0ALERTS",
    )

    sent = send(channel, MESSAGE, dedupe_key="k")

    assert sent.response == "Slack's chat.postMessage refused: invalid_auth (the bot token is not valid)"
    assert_no_secret("xoxb-wrong-token", logs.text, sent.response)


def test_the_bot_without_a_channel_for_a_message_to_everyone(fake_slack):
    sent = send(bot(fake_slack), MESSAGE, dedupe_key="k")

    assert not sent.ok and sent.response.startswith("no Slack channel id is set")
    assert fake_slack.log == []


def test_the_web_apis_429_pauses_the_bot(fake_slack):
    channel = bot(fake_slack, slack_channel="C0ALERTS")
    fake_slack.limit("chat.postMessage", 12)

    sent = send(channel, MESSAGE, dedupe_key="k")

    assert (sent.ok, sent.status) == (False, 429) and sent.retry_at is not None
    channel.refresh_from_db()
    assert channel.paused_until == sent.retry_at


# --- Microsoft Teams ----------------------------------------------------------------------------


def test_teams_gets_an_adaptive_card(fake_teams, logs):
    channel = ChannelFactory(kind=Channel.Kind.TEAMS, secret=fake_teams.workflow_url())

    sent = send(channel, MESSAGE, dedupe_key="k")

    assert (sent.ok, sent.status, sent.response) == (True, 202, "accepted")
    card = fake_teams.cards[0]
    assert card["version"] == "1.4"
    assert card["body"][0] == {
        "type": "TextBlock",
        "text": MESSAGE.title,
        "weight": "Bolder",
        "size": "Medium",
        "wrap": True,
    }
    assert card["body"][2]["facts"][1] == {"title": "Failure rate", "value": "24%"}
    assert card["actions"] == [{"type": "Action.OpenUrl", "title": "Open in e360", "url": MESSAGE.url}]
    assert_no_secret(SIGNATURE, logs.text)


def test_a_teams_workflow_with_a_wrong_signature(fake_teams, logs):
    channel = ChannelFactory(kind=Channel.Kind.TEAMS, secret=fake_teams.workflow_url(sig="stale-signature"))

    sent = send(channel, MESSAGE, dedupe_key="k")

    assert (sent.ok, sent.status) == (False, 401)
    assert sent.response.startswith("The Teams workflow answered 401: DirectApiAuthorizationRequired: ")
    assert_no_secret("stale-signature", sent.response, logs.text)


def test_a_removed_teams_workflow(fake_teams):
    channel = ChannelFactory(kind=Channel.Kind.TEAMS, secret=fake_teams.workflow_url(workflow="deleted"))

    sent = send(channel, MESSAGE, dedupe_key="k")

    assert (sent.ok, sent.status) == (False, 404) and "WorkflowNotFound" in sent.response


def test_teams_429_pauses_the_channel(fake_teams):
    channel = ChannelFactory(kind=Channel.Kind.TEAMS, secret=fake_teams.workflow_url())
    fake_teams.limit(60)

    sent = send(channel, MESSAGE, dedupe_key="k")

    assert sent.status == 429 and sent.retry_at is not None
    assert not send(Channel.objects.get(pk=channel.pk), MESSAGE, dedupe_key="k").ok
    assert fake_teams.cards == []


# --- Signed webhook -----------------------------------------------------------------------------


def signed(fake_receiver, **kwargs) -> Channel:
    return ChannelFactory(kind=Channel.Kind.WEBHOOK, url=fake_receiver.url, secret=KEY, **kwargs)


def test_the_webhook_is_signed_and_verified(fake_receiver, owner, logs):
    channel = signed(fake_receiver, name="Hooks")

    sent = send(channel, Message(title="T", text="x", recipient=owner.person), dedupe_key="run-7")

    assert (sent.ok, sent.status) == (True, 200), sent.response
    assert fake_receiver.received == [
        {
            "channel": "Hooks",
            "dedupe_key": "run-7",
            "title": "T",
            "text": "x",
            "url": "",
            "facts": [],
            "recipient": {"name": "Alice", "email": "alice@example.com", "handle": "alice"},
        }
    ]
    request = fake_receiver.requests[0]
    assert request.headers["idempotency-key"] == "run-7"
    timestamp = request.headers["x-e360-timestamp"]
    expected = hmac.new(KEY.encode(), f"{timestamp}.".encode() + request.body, hashlib.sha256).hexdigest()
    assert request.headers["x-e360-signature"] == f"sha256={expected}"
    assert_no_secret(KEY, logs.text)


def test_a_retry_carries_the_same_idempotency_key(fake_receiver):
    channel = signed(fake_receiver)

    send(channel, MESSAGE, dedupe_key="run-8")
    again = send(channel, MESSAGE, dedupe_key="run-8")

    assert again.ok and '"duplicate": true' in again.response
    assert len(fake_receiver.received) == 1


def test_a_wrong_key_is_refused_by_the_receiver(fake_receiver):
    channel = ChannelFactory(kind=Channel.Kind.WEBHOOK, url=fake_receiver.url, secret="not-the-key")

    sent = send(channel, MESSAGE, dedupe_key="k")

    assert (sent.ok, sent.status) == (False, 401)
    assert fake_receiver.refused == 1
    assert "not-the-key" not in sent.response


def test_a_replayed_request_is_refused(fake_receiver):
    send(signed(fake_receiver), MESSAGE, dedupe_key="k")
    request = fake_receiver.requests[0]
    old = {**request.headers, "x-e360-timestamp": str(int(request.headers["x-e360-timestamp"]) - 301)}

    from actions.tests.fake_receiver import verify

    assert verify(KEY, request.headers, request.body, now=int(request.headers["x-e360-timestamp"]) + 1)
    assert not verify(KEY, old, request.body, now=int(request.headers["x-e360-timestamp"]))
    assert not verify(KEY, request.headers, request.body + b" ", now=int(request.headers["x-e360-timestamp"]))


def test_the_webhooks_5xx_and_429(fake_receiver):
    channel = signed(fake_receiver)
    fake_receiver.fail(503, body="maintenance")
    fake_receiver.fail(429, headers={"Retry-After": "5"}, body="slow down")

    failed = send(channel, MESSAGE, dedupe_key="k")
    limited = send(channel, MESSAGE, dedupe_key="k")

    assert (failed.ok, failed.status, failed.response) == (False, 503, "The webhook answered 503: maintenance")
    assert limited.status == 429 and limited.retry_at is not None


def test_a_webhook_timeout(fake_receiver, short_timeout):
    fake_receiver.delay = 2

    sent = send(signed(fake_receiver), MESSAGE, dedupe_key="k")

    assert sent.response == "The webhook did not answer within 0.5 seconds"


# --- Secrets from the environment ---------------------------------------------------------------


def test_a_secret_read_from_the_environment_when_sending(fake_slack, monkeypatch):
    channel = ChannelFactory(kind=Channel.Kind.SLACK_WEBHOOK, secret_env="E360_TEST_SLACK_WEBHOOK")
    monkeypatch.setenv("E360_TEST_SLACK_WEBHOOK", fake_slack.webhook_url())

    assert send(channel, MESSAGE, dedupe_key="k").ok


def test_a_secret_from_a_file_named_by_the_environment(fake_receiver, monkeypatch, tmp_path):
    (tmp_path / "key").write_text(KEY + "\n")
    monkeypatch.setenv("E360_TEST_HOOK_KEY_FILE", str(tmp_path / "key"))
    channel = ChannelFactory(kind=Channel.Kind.WEBHOOK, url=fake_receiver.url, secret_env="E360_TEST_HOOK_KEY")

    assert send(channel, MESSAGE, dedupe_key="k").ok


def test_a_missing_environment_variable_fails_the_send_by_its_name(fake_slack, monkeypatch):
    monkeypatch.delenv("E360_TEST_GONE", raising=False)
    channel = ChannelFactory(kind=Channel.Kind.SLACK_WEBHOOK, secret_env="E360_TEST_GONE")

    sent = send(channel, MESSAGE, dedupe_key="k")

    assert (sent.ok, sent.response) == (False, "cannot send: the environment variable E360_TEST_GONE is not set")
    assert fake_slack.log == []


def test_no_stored_secret(fake_slack):
    sent = send(ChannelFactory(kind=Channel.Kind.TEAMS), MESSAGE, dedupe_key="k")

    assert sent.response == "cannot send: no secret is stored (the workflow's URL)"


def test_the_secret_is_stored_encrypted(fake_slack):
    channel = ChannelFactory(kind=Channel.Kind.SLACK_WEBHOOK, secret=fake_slack.webhook_url())

    raw = Channel.objects.filter(pk=channel.pk).values_list("secret", flat=True)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM actions_channel WHERE id = %s", [channel.pk])
        stored = cursor.fetchone()[0]
    assert "webhooksecrettoken0001" not in stored
    assert raw[0] == fake_slack.webhook_url()
    assert "webhooksecrettoken" not in repr(Channel.objects.get(pk=channel.pk).read_secret())


# --- Email --------------------------------------------------------------------------------------


def test_email_through_smtp(fake_smtp):
    channel = ChannelFactory(kind=Channel.Kind.EMAIL, addresses=["platform@example.com", "oncall@example.com"])

    sent = send(channel, MESSAGE, dedupe_key="run-1")

    assert (sent.ok, sent.status) == (True, 250)
    assert sent.response == "sent to platform@example.com, oncall@example.com"
    _, recipients, mail = fake_smtp.messages[0]
    assert recipients == ["platform@example.com", "oncall@example.com"]
    assert mail["Subject"] == MESSAGE.title
    assert mail["Message-ID"] == f"<{hashlib.sha256(b'run-1').hexdigest()[:40]}@localhost>"
    text = mail.get_body(("plain",)).get_content()
    assert "Failure rate: 24%" in text and f"Open in e360: {MESSAGE.url}" in text
    html = mail.get_body(("html",)).get_content()
    assert "&lt;see the runs&gt; &amp; logs" in html and f'<a href="{MESSAGE.url}">' in html


def test_email_for_a_person_goes_to_them(fake_smtp, owner):
    channel = ChannelFactory(kind=Channel.Kind.EMAIL, addresses=["platform@example.com"])

    send(channel, Message(title="Your review", recipient=owner.person), dedupe_key="k")

    assert fake_smtp.messages[0][1] == ["alice@example.com"]


def test_a_refused_address(fake_smtp):
    fake_smtp.refused.add("nobody@example.com")
    channel = ChannelFactory(kind=Channel.Kind.EMAIL, addresses=["nobody@example.com"])

    sent = send(channel, MESSAGE, dedupe_key="k")

    assert (sent.ok, sent.status) == (False, 550)
    assert sent.response == "the mail server refused nobody@example.com (550)"


def test_a_rejected_message(fake_smtp):
    fake_smtp.reject_data = True
    channel = ChannelFactory(kind=Channel.Kind.EMAIL, addresses=["platform@example.com"])

    sent = send(channel, MESSAGE, dedupe_key="k")

    assert (sent.ok, sent.status) == (False, 554)
    assert "Message rejected as spam" in sent.response


def test_a_mail_server_that_hangs(fake_smtp, settings):
    settings.MAILERS["default"]["OPTIONS"]["timeout"] = 0.5
    fake_smtp.delay = 2
    channel = ChannelFactory(kind=Channel.Kind.EMAIL, addresses=["platform@example.com"])

    sent = send(channel, MESSAGE, dedupe_key="k")

    assert (sent.ok, sent.response) == (False, "the mail server did not answer in time")


def test_no_mail_server(settings):
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": 9, "use_tls": False, "timeout": 2},
        }
    }
    channel = ChannelFactory(kind=Channel.Kind.EMAIL, addresses=["platform@example.com"])

    sent = send(channel, MESSAGE, dedupe_key="k")

    assert (sent.ok, sent.response) == (False, "the mail server could not be reached (ConnectionRefusedError)")


def test_email_without_an_address(mailoutbox):
    sent = send(ChannelFactory(kind=Channel.Kind.EMAIL), MESSAGE, dedupe_key="k")

    assert (sent.ok, sent.response) == (False, "no address to send to")
    assert mailoutbox == []


# --- Outbox and dry runs ------------------------------------------------------------------------


def test_the_outbox_stores_and_sends_nothing(owner):
    channel = ChannelFactory(kind=Channel.Kind.OUTBOX)

    sent = send(channel, Message(title="Hi", text="t", facts=(Fact("a", "b"),), recipient=owner.person), dedupe_key="k")
    again = send(channel, Message(title="Hi"), dedupe_key="k")

    stored = OutboxMessage.objects.get()
    assert sent.ok and "kept in the outbox" in sent.response
    assert again.ok and "not stored twice" in again.response
    assert (stored.kind, stored.dry_run, stored.recipient, stored.facts) == (
        "outbox",
        False,
        "Alice <alice@example.com>",
        [{"label": "a", "value": "b"}],
    )


def test_a_dry_run_keeps_what_would_have_been_sent(fake_slack):
    channel = ChannelFactory(kind=Channel.Kind.SLACK_WEBHOOK, secret=fake_slack.webhook_url())

    sent = send(channel, MESSAGE, dedupe_key="run-3", dry_run=True)

    assert sent.ok and "dry run" in sent.response
    assert fake_slack.log == []
    stored = OutboxMessage.objects.get()
    assert (stored.kind, stored.dry_run, stored.dedupe_key) == ("slack_webhook", True, "run-3")
    assert stored.payload["blocks"][0]["text"]["text"] == MESSAGE.title
    assert "webhooksecrettoken" not in str(stored.payload) + stored.recipient


def test_a_dry_run_needs_no_secret():
    channel = ChannelFactory(kind=Channel.Kind.SLACK_BOT, slack_channel="C0ALERTS")

    sent = send(channel, MESSAGE, dedupe_key="k", dry_run=True)

    assert sent.ok
    assert OutboxMessage.objects.get().recipient == "C0ALERTS"

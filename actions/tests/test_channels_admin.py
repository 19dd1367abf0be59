"""Channels in the admin: each kind set up with its settings, the secret write-only (or named by an
environment variable that must be set), the test message and what the channel answered, the outbox
read-only."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from actions.channels import Message, send
from actions.models import Channel, OutboxMessage
from actions.tests.factories import ChannelFactory
from actions.tests.fake_receiver import KEY
from actions.tests.fake_slack import BOT_TOKEN
from e360.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ADD = "admin:actions_channel_add"
CHANGELIST = "admin:actions_channel_changelist"


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def _add(staff_client, **fields):
    data = {
        "name": "Payments alerts",
        "kind": "outbox",
        "team": "",
        "addresses_text": "",
        "slack_channel": "",
        "url": "",
        "api_url": "",
        "new_secret": "",
        "secret_env": "",
        **fields,
    }
    return staff_client.post(reverse(ADD), data, follow=True)


def _errors(response) -> str:
    return str(response.context["adminform"].form.errors) if "adminform" in response.context else ""


def test_adding_a_slack_webhook_stores_its_url_encrypted_and_never_shows_it(staff_client, team, fake_slack):
    url = fake_slack.webhook_url()

    response = _add(staff_client, kind="slack_webhook", team=team.pk, new_secret=url)

    assert response.status_code == 200, _errors(response)
    channel = Channel.objects.get()
    assert (channel.kind, channel.team, channel.secret) == ("slack_webhook", team, url)
    page = staff_client.get(reverse("admin:actions_channel_change", args=[channel.pk]))
    assert "webhooksecrettoken0001" not in page.content.decode()
    assert "the webhook URL is stored (encrypted)" in page.content.decode()
    listing = staff_client.get(reverse(CHANGELIST))
    assert "webhooksecrettoken0001" not in listing.content.decode()


def test_the_add_page_offers_every_kinds_settings(staff_client):
    form = staff_client.get(reverse(ADD)).context["adminform"].form

    assert {"addresses_text", "slack_channel", "url", "api_url", "new_secret", "secret_env"} <= set(form.fields)


def test_an_empty_secret_keeps_the_stored_one(staff_client, fake_slack):
    channel = ChannelFactory(kind=Channel.Kind.SLACK_WEBHOOK, secret=fake_slack.webhook_url(), name="A")

    response = staff_client.post(
        reverse("admin:actions_channel_change", args=[channel.pk]),
        {"name": "Renamed", "team": "", "new_secret": "", "secret_env": ""},
        follow=True,
    )

    assert response.status_code == 200, _errors(response)
    channel.refresh_from_db()
    assert (channel.name, channel.secret) == ("Renamed", fake_slack.webhook_url())


def test_a_secret_in_the_environment(staff_client, monkeypatch):
    monkeypatch.setenv("E360_TEAMS_WORKFLOW", "https://example.invalid/workflows/x?sig=abc")

    response = _add(staff_client, kind="teams", secret_env="E360_TEAMS_WORKFLOW")

    assert response.status_code == 200, _errors(response)
    channel = Channel.objects.get()
    assert (channel.secret_env, channel.secret) == ("E360_TEAMS_WORKFLOW", "")


def test_a_missing_environment_variable_is_refused(staff_client, monkeypatch):
    monkeypatch.delenv("E360_NOT_SET", raising=False)

    response = _add(staff_client, kind="teams", secret_env="E360_NOT_SET")

    assert "E360_NOT_SET is not set in e360&#x27;s environment" in _errors(response)
    assert not Channel.objects.exists()


def test_switching_to_the_environment_forgets_the_stored_secret(staff_client, monkeypatch):
    monkeypatch.setenv("E360_HOOK_KEY", KEY)
    channel = ChannelFactory(kind=Channel.Kind.WEBHOOK, url="https://hooks.example.com/e360", secret="old-key")

    response = staff_client.post(
        reverse("admin:actions_channel_change", args=[channel.pk]),
        {"name": channel.name, "team": "", "url": channel.url, "new_secret": "", "secret_env": "E360_HOOK_KEY"},
        follow=True,
    )

    assert response.status_code == 200, _errors(response)
    channel.refresh_from_db()
    assert (channel.secret, channel.secret_env, channel.read_secret()) == ("", "E360_HOOK_KEY", KEY)


@pytest.mark.parametrize(
    ("fields", "field", "error"),
    [
        ({"kind": "slack_webhook"}, "new_secret", "This kind needs its secret"),
        ({"kind": "slack_webhook", "new_secret": "not a url secret123"}, "new_secret", "webhook&#x27;s URL"),
        ({"kind": "slack_bot", "new_secret": "abc-secret123"}, "new_secret", "starts with xoxb-"),
        ({"kind": "slack_bot", "new_secret": BOT_TOKEN, "slack_channel": "#alerts"}, "slack_channel", "channel id"),
        ({"kind": "webhook", "new_secret": KEY}, "url", "Where to post"),
        ({"kind": "email", "addresses_text": "ops@example.com\nnot-an-address"}, "addresses_text", "not an email"),
        ({"kind": "teams", "new_secret": "https://x.example/?sig=1", "secret_env": "HOME"}, "new_secret", "not both"),
        ({"kind": "teams", "secret_env": "BAD-NAME"}, "secret_env", "letters, digits"),
    ],
)
def test_bad_settings_are_refused_without_echoing_the_secret(staff_client, fields, field, error):
    response = _add(staff_client, **fields)

    errors = response.context["adminform"].form.errors
    assert error in str(errors[field])
    assert "secret123" not in response.content.decode()
    assert not Channel.objects.exists()


def test_an_email_channel_keeps_its_addresses(staff_client):
    response = _add(staff_client, kind="email", addresses_text="ops@example.com, lead@example.com\nops@example.com")

    assert response.status_code == 200, _errors(response)
    assert Channel.objects.get().addresses == ["ops@example.com", "lead@example.com"]


@pytest.mark.parametrize(
    ("kind", "shown"),
    [
        ("email", {"addresses_text"}),
        ("slack_webhook", {"new_secret", "forget_secret", "secret_env"}),
        ("slack_bot", {"slack_channel", "api_url", "new_secret", "forget_secret", "secret_env"}),
        ("teams", {"new_secret", "forget_secret", "secret_env"}),
        ("webhook", {"url", "new_secret", "forget_secret", "secret_env"}),
        ("outbox", set()),
    ],
)
def test_a_channels_page_shows_the_settings_its_kind_uses(staff_client, kind, shown):
    channel = ChannelFactory(kind=kind, secret="secret-of-the-channel" if shown - {"addresses_text"} else "")

    response = staff_client.get(reverse("admin:actions_channel_change", args=[channel.pk]))

    assert response.status_code == 200
    assert set(response.context["adminform"].form.fields) == {"name", "team", *shown}
    assert "secret-of-the-channel" not in response.content.decode()


def test_the_channels_list_reads_in_a_few_queries(staff_client, team, django_assert_max_num_queries):
    for number in range(6):
        ChannelFactory(kind=Channel.Kind.EMAIL, team=team, addresses=[f"ops{number}@example.com"])
        ChannelFactory(kind=Channel.Kind.SLACK_WEBHOOK, secret_env=f"E360_SLACK_{number}")

    with django_assert_max_num_queries(12):
        response = staff_client.get(reverse(CHANGELIST))

    assert response.status_code == 200
    assert "from the environment variable E360_SLACK_5" in response.content.decode()


# --- The test message -------------------------------------------------------------------------------


def _test_action(staff_client, *channels):
    return staff_client.post(
        reverse(CHANGELIST),
        {"action": "send_test_message", "_selected_action": [c.pk for c in channels]},
        follow=True,
    )


def test_the_test_message_says_what_each_channel_answered(staff_client, fake_slack, fake_teams):
    ok = ChannelFactory(name="Slack ok", kind=Channel.Kind.SLACK_WEBHOOK, secret=fake_slack.webhook_url())
    gone = ChannelFactory(
        name="Slack gone", kind=Channel.Kind.SLACK_WEBHOOK, secret=fake_slack.webhook_url("/services/T1/B1/nope")
    )
    teams = ChannelFactory(name="Teams", kind=Channel.Kind.TEAMS, secret=fake_teams.workflow_url())

    response = _test_action(staff_client, ok, gone, teams)

    said = [str(m) for m in response.context["messages"]]
    assert "Slack ok: sent (status 200): ok" in said
    assert (
        "Slack gone: not sent (status 404): Slack answered 404: no_service "
        "(the webhook was removed or its URL is wrong)"
    ) in said
    assert "Teams: sent (status 202): accepted" in said
    assert fake_slack.posted[0][1]["blocks"][0]["text"]["text"] == "Test message from e360"
    assert fake_teams.cards[0]["body"][0]["text"] == "Test message from e360"
    assert "nope" not in response.content.decode()


def test_a_bot_without_a_channel_sends_the_test_to_the_admin(client, fake_slack, owner):
    owner.is_staff = owner.is_superuser = True
    owner.save()
    client.force_login(owner)
    channel = ChannelFactory(kind=Channel.Kind.SLACK_BOT, secret=BOT_TOKEN, api_url=fake_slack.url + "/api")

    response = _test_action(client, channel)

    assert next(str(m) for m in response.context["messages"]).startswith(f"{channel}: sent (status 200): ok")
    assert fake_slack.posted[0][0] == "D0ALICE"


def test_the_test_message_needs_the_change_permission(client, fake_slack):
    viewer = UserFactory(username="viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_channel"))
    client.force_login(viewer)
    channel = ChannelFactory(kind=Channel.Kind.SLACK_WEBHOOK, secret=fake_slack.webhook_url())

    page = client.get(reverse(CHANGELIST))
    response = _test_action(client, channel)

    assert "send_test_message" not in page.content.decode()
    assert response.status_code == 200
    assert fake_slack.log == []


def test_resuming_a_paused_channel(staff_client):
    channel = ChannelFactory(kind=Channel.Kind.TEAMS, secret="https://x", paused_until=timezone.now())

    staff_client.post(reverse(CHANGELIST), {"action": "resume", "_selected_action": [channel.pk]})

    channel.refresh_from_db()
    assert channel.paused_until is None


# --- The outbox ------------------------------------------------------------------------------------


def test_the_outbox_is_listed_read_only(staff_client):
    channel = ChannelFactory(kind=Channel.Kind.OUTBOX, name="Demo outbox")
    send(channel, Message(title="Review waiting on #42"), dedupe_key="k")
    stored = OutboxMessage.objects.get()

    listing = staff_client.get(reverse("admin:actions_outboxmessage_changelist"))
    page = staff_client.get(reverse("admin:actions_outboxmessage_change", args=[stored.pk]))

    assert "Review waiting on #42" in listing.content.decode()
    assert page.status_code == 200 and "Review waiting on #42" in page.content.decode()
    assert 'name="_save"' not in page.content.decode()
    channel_page = staff_client.get(reverse("admin:actions_channel_change", args=[channel.pk])).content.decode()
    assert f'?channel__id__exact={channel.pk}">1 message(s) kept</a>' in channel_page
    filtered = staff_client.get(reverse("admin:actions_outboxmessage_changelist") + f"?channel__id__exact={channel.pk}")
    assert filtered.status_code == 200 and "Review waiting on #42" in filtered.content.decode()
    assert staff_client.get(reverse("admin:actions_outboxmessage_add")).status_code == 403
    assert staff_client.post(reverse("admin:actions_outboxmessage_delete", args=[stored.pk])).status_code == 403

"""The signed webhook every provider shares (integrations/webhooks.py), through GitHub's signing."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from integrations.services import webhook_secret_rotate
from integrations.tests.factories import ConnectionFactory
from integrations.tests.github import SECRET, deliver, sign
from metrics.models import InboundEvent, Source

pytestmark = pytest.mark.django_db

PING = {"zen": "Keep it logically awesome.", "hook_id": 1, "hook": {"id": 1, "events": ["push", "pull_request"]}}


@pytest.fixture
def connection(team):
    return ConnectionFactory(source__team=team, webhook_secret=SECRET)


def test_githubs_documented_example_signature_verifies():
    # docs.github.com, "Validating webhook deliveries": this secret and payload give this signature.
    from integrations.github import verify

    expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert verify({"X-Hub-Signature-256": expected}, b"Hello, World!", SECRET)
    assert not verify({"X-Hub-Signature-256": expected}, b"Hello, World?", SECRET)


def test_a_signed_ping_is_stored_processed_and_acknowledged(client, connection, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = deliver(client, connection, "ping", PING)
    assert response.status_code == 202
    event = InboundEvent.objects.get()
    assert (event.kind, event.delivery_id, event.status) == ("github.ping", "d-1", InboundEvent.Status.PROCESSED)
    assert event.error == "GitHub says hello (hook 1; events: pull_request, push)"
    assert "X-Hub-Signature-256" not in event.headers
    connection.source.refresh_from_db()
    assert connection.source.last_event_at >= event.received_at  # processing marks it, to the minute


@pytest.mark.parametrize(
    "signature",
    ["", "sha256=", "sha1=0000", sign(b"another body"), sign(json.dumps(PING).encode(), "another secret")],
)
def test_a_wrong_or_missing_signature_is_401_and_stores_nothing(client, connection, signature):
    response = deliver(client, connection, "ping", PING, signature=signature)
    assert response.status_code == 401
    assert "signature" in response.json()["message"]
    assert not InboundEvent.objects.exists()


def test_a_redelivery_is_acknowledged_and_stored_once(client, connection):
    assert deliver(client, connection, "ping", PING).status_code == 202
    again = deliver(client, connection, "ping", PING)
    assert again.status_code == 200 and "Already received" in again.json()["message"]
    assert InboundEvent.objects.count() == 1


def test_an_event_e360_does_not_use_is_acknowledged_and_recorded_as_ignored(client, connection):
    response = deliver(client, connection, "star", {"action": "created"})
    assert response.status_code == 202
    event = InboundEvent.objects.get()
    assert (event.kind, event.status) == ("github.star", InboundEvent.Status.IGNORED)
    assert event.error == "e360 does not use github.star events"
    connection.source.refresh_from_db()
    assert connection.source.last_event_at >= event.received_at  # never processed: marked at once


def test_a_body_that_is_not_json_is_stored_failed_with_the_reason(client, connection):
    response = deliver(client, connection, "push", None, raw=b'{"ref": "refs/heads/ma')
    assert response.status_code == 202 and "cannot be processed" in response.json()["message"]
    event = InboundEvent.objects.get()
    assert event.status == InboundEvent.Status.FAILED and event.error.startswith("the body is not JSON")
    assert event.payload == {"body": '{"ref": "refs/heads/ma'}


def test_text_no_database_stores_is_stored_failed_with_the_reason(client, connection):
    response = deliver(client, connection, "push", None, raw=b'{"ref": "a\\u0000b"}')
    assert response.status_code == 202
    event = InboundEvent.objects.get()
    assert event.status == InboundEvent.Status.FAILED and "NUL" in event.error


def test_an_unknown_webhook_another_providers_or_an_inactive_source_is_404(client, connection):
    other = ConnectionFactory(source__kind=Source.Kind.GITLAB)
    assert deliver(client, other, "ping", PING).status_code == 404  # a GitLab connection on GitHub's URL
    Source.objects.filter(pk=connection.pk).update(is_active=False)
    assert deliver(client, connection, "ping", PING).status_code == 404
    url = reverse("integrations:webhook", args=["bitbucket", connection.webhook_id])
    assert client.post(url, b"{}", content_type="application/json").status_code == 404
    assert not InboundEvent.objects.exists()


def test_a_new_secret_or_a_deactivated_source_holds_at_once_in_the_process_that_saved_it(client, connection):
    """The webhook keeps each connection's secret a few seconds (its hot path's only read): saving
    the connection or its source forgets it."""
    assert deliver(client, connection, "ping", PING, delivery="d-1").status_code == 202
    old = connection.webhook_secret
    webhook_secret_rotate(connection=connection)
    assert deliver(client, connection, "ping", PING, delivery="d-2", secret=old).status_code == 401
    assert (
        deliver(client, connection, "ping", PING, delivery="d-3", secret=connection.webhook_secret).status_code == 202
    )
    connection.source.is_active = False
    connection.source.save()
    assert (
        deliver(client, connection, "ping", PING, delivery="d-4", secret=connection.webhook_secret).status_code == 404
    )


def test_a_connection_without_a_secret_accepts_nothing(client, connection):
    connection.webhook_secret = ""
    connection.save()
    assert deliver(client, connection, "ping", PING, secret="").status_code == 401


def test_only_post(client, connection):
    assert client.get(reverse("integrations:webhook", args=["github", connection.webhook_id])).status_code == 405

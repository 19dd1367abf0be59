"""PagerDuty's v3 webhook, through the real webhook path: signature, dedupe on the event id,
incidents in the mapped service, out-of-order events, linking to deployments."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.apps import apps
from django.db import connection as db
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from e360.tests.factories import ServiceFactory
from integrations.models import ExternalIncident, ExternalService
from integrations.pagerduty import verify
from integrations.tests.factories import ConnectionFactory
from integrations.tests.pagerduty import SECRET, deliver, fixture, sign
from metrics.ingest import inbound_retry
from metrics.inputs import DeploymentInput
from metrics.models import InboundEvent, Incident, Source
from metrics.services import Dirty, deployments_upsert
from metrics.tests.factories import SourceFactory

pytestmark = pytest.mark.django_db

Status = InboundEvent.Status
CREATED = datetime(2020, 4, 9, 15, 16, 27, tzinfo=UTC)  # the documented incident's created_at


@pytest.fixture
def connection(team):
    return ConnectionFactory(source__kind=Source.Kind.PAGERDUTY, source__team=team, webhook_secret=SECRET)


@pytest.fixture
def mapped(connection, service):
    return ExternalService.objects.create(
        connection=connection, external_id="PF9KMXH", name="API Service", service=service
    )


@pytest.fixture
def send(client, connection, django_capture_on_commit_callbacks):
    """Deliver and run what the commit queues: the processing, then the refresh."""

    def send(payload, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return deliver(client, connection, payload, **kwargs)

    return send


def incident() -> Incident:
    return Incident.objects.get(external_id="PGR0VU2")


# --- The signature ---------------------------------------------------------------------


def test_it_accepts_the_signature_pagerduty_computes():
    body = b'{"event": {"id": "5ac64822-4adc-4fda-ade0-410becf0de4f"}}'
    assert verify({"X-PagerDuty-Signature": sign(body)}, body, SECRET)
    assert not verify({"X-PagerDuty-Signature": sign(body)}, body + b" ", SECRET)


def test_it_accepts_any_of_the_signatures_sent_while_pagerduty_rotates_secrets():
    body = json.dumps(fixture("incident.triggered")).encode()
    old_then_new = f"{sign(body, 'the old secret')},{sign(body)}"
    assert verify({"X-PagerDuty-Signature": old_then_new}, body, SECRET)
    assert verify({"X-PagerDuty-Signature": f"{sign(body)},{sign(body, 'the next secret')}"}, body, SECRET)
    assert verify({"X-PagerDuty-Signature": f"{sign(body, 'old')}, {sign(body)}"}, body, SECRET)
    assert not verify({"X-PagerDuty-Signature": f"{sign(body, 'old')},{sign(body, 'next')}"}, body, SECRET)


def test_it_compares_every_signature_sent_without_stopping_at_a_match(monkeypatch):
    import integrations.pagerduty as pagerduty

    compared = []
    real = hmac.compare_digest
    monkeypatch.setattr(pagerduty.hmac, "compare_digest", lambda a, b: compared.append(a) or real(a, b))
    body = b"{}"
    assert verify({"X-PagerDuty-Signature": f"{sign(body)},{sign(body, 'a')},{sign(body, 'b')}"}, body, SECRET)
    assert len(compared) == 3


def test_a_rotation_header_through_the_webhook_is_accepted(send, connection, mapped):
    body = json.dumps(fixture("incident.triggered")).encode()
    response = send(None, raw=body, signature=f"{sign(body, 'the old secret')},{sign(body)}")
    assert response.status_code == 202
    assert incident().title == "A little bump in the road"


@pytest.mark.parametrize(
    "signature",
    [
        "",
        "v1=",
        "v0=" + "0" * 64,
        sign(b"another body"),
        sign(b"x", "another secret"),
        "sha256=" + hmac.new(SECRET.encode(), b"{}", hashlib.sha256).hexdigest(),
    ],
)
def test_a_wrong_or_missing_signature_is_401_and_stores_nothing(client, connection, signature):
    response = deliver(client, connection, fixture("incident.triggered"), signature=signature)
    assert response.status_code == 401
    assert not InboundEvent.objects.exists() and not ExternalService.objects.exists()


def test_a_tampered_body_is_401_and_stores_nothing(client, connection, mapped):
    body = json.dumps(fixture("incident.triggered")).encode()
    tampered = body.replace(b"A little bump in the road", b"Nothing to see here")
    assert deliver(client, connection, None, raw=tampered, signature=sign(body)).status_code == 401
    assert not InboundEvent.objects.exists() and not Incident.objects.exists()


def test_a_signature_under_another_sources_secret_is_401(client, connection):
    other = ConnectionFactory(source__kind=Source.Kind.PAGERDUTY, webhook_secret="another source's secret")
    body = json.dumps(fixture("incident.triggered")).encode()
    assert deliver(client, other, None, raw=body, signature=sign(body)).status_code == 401


# --- Deliveries ------------------------------------------------------------------------


def test_a_triggered_incident_is_stored_as_the_mapped_services_incident(send, connection, mapped, service):
    response = send(fixture("incident.triggered"))
    assert response.status_code == 202
    event = InboundEvent.objects.get()
    assert (event.kind, event.delivery_id) == ("pagerduty.incident.triggered", "01DEN5J9PVTCN0N3KX4D3WXZTB")
    assert event.status == Status.PROCESSED, event.error
    assert event.headers == {
        "X-Webhook-Id": "b7c1d54e-0d5e-4dfa-9b0e-7f5d2e1f3a11",
        "User-Agent": "PagerDuty-Webhook/V3.0",
    }
    assert event.error == "incident PGR0VU2 triggered → checkout, open"
    found = incident()
    assert found.source_id == connection.source_id and found.service == service
    assert found.title == "A little bump in the road"
    assert found.url == "https://acme.pagerduty.com/incidents/PGR0VU2"
    assert found.severity == "high"  # no priority yet: the urgency
    assert found.started_at == CREATED and found.resolved_at is None


def test_a_replayed_event_id_is_acknowledged_and_changes_nothing(send, mapped):
    send(fixture("incident.triggered"))
    replay = fixture("incident.triggered", data={"title": "Replayed with another title"})
    response = send(replay)
    assert response.status_code == 200 and "Already received" in response.json()["message"]
    assert InboundEvent.objects.count() == 1
    assert incident().title == "A little bump in the road"


def test_a_redelivery_of_a_processed_event_changes_nothing(send, mapped):
    for event_type in ("incident.triggered", "incident.resolved"):
        send(fixture(event_type))
    before = list(Incident.objects.values())
    assert send(fixture("incident.triggered")).status_code == 200
    assert send(fixture("incident.resolved")).status_code == 200
    assert list(Incident.objects.values()) == before
    assert InboundEvent.objects.count() == 2


def test_the_lifecycle_triggered_acknowledged_priority_resolved_reopened(send, mapped):
    send(fixture("incident.triggered"))
    send(fixture("incident.acknowledged"))
    ack = InboundEvent.objects.get(kind="pagerduty.incident.acknowledged")
    assert ack.status == Status.PROCESSED
    assert ack.error == "incident PGR0VU2 acknowledged → checkout, open (e360 keeps no acknowledgement time)"
    assert (incident().severity, incident().resolved_at) == ("high", None)

    send(fixture("incident.priority_updated"))
    assert incident().severity == "P1"
    assert InboundEvent.objects.get(kind="pagerduty.incident.priority_updated").error.endswith("(severity P1)")

    send(fixture("incident.resolved"))
    assert incident().resolved_at == datetime(2020, 10, 2, 19, 2, 51, 204000, tzinfo=UTC)

    send(fixture("incident.reopened"))
    assert incident().resolved_at is None
    assert incident().started_at == CREATED
    assert set(InboundEvent.objects.values_list("status", flat=True)) == {Status.PROCESSED}


def test_an_incidents_events_are_read_through_its_links_not_a_scan_of_payloads(send, mapped, connection):
    send(fixture("incident.triggered"))
    with CaptureQueriesContext(db) as queries:
        send(fixture("incident.resolved"))
    linked = ExternalIncident.objects.get(connection=connection, external_id="PGR0VU2")
    assert set(linked.events.values_list("kind", flat=True)) == {
        "pagerduty.incident.triggered",
        "pagerduty.incident.resolved",
    }
    assert incident().resolved_at is not None
    # No JSON path lookup on a payload (SQLite's JSON_EXTRACT, PostgreSQL's -> and #>).
    sql = [query["sql"].lower() for query in queries.captured_queries]
    assert not [q for q in sql if "json_extract" in q or '"payload" ->' in q or '"payload" #>' in q]


def test_the_migration_links_the_events_stored_before_it(send, mapped, connection):
    from importlib import import_module

    send(fixture("incident.triggered"))
    send(fixture("incident.resolved"))
    other = fixture("incident.triggered", id="01DEN6A0000000000000000000")
    other["event"]["data"]["id"] = "Q0THER1"
    send(other)
    ExternalIncident.objects.all().delete()  # as before the migration

    import_module("integrations.migrations.0003_external_incident").link_stored_events(apps, None)
    linked = {
        incident.external_id: sorted(incident.events.values_list("kind", flat=True))
        for incident in ExternalIncident.objects.filter(connection=connection)
    }
    assert linked == {
        "PGR0VU2": ["pagerduty.incident.resolved", "pagerduty.incident.triggered"],
        "Q0THER1": ["pagerduty.incident.triggered"],
    }


def test_a_resolve_before_its_trigger_leaves_the_incident_resolved(send, mapped):
    send(fixture("incident.resolved"))
    assert incident().resolved_at is not None
    send(fixture("incident.triggered"))
    assert incident().resolved_at == datetime(2020, 10, 2, 19, 2, 51, 204000, tzinfo=UTC)
    assert incident().started_at == CREATED


def test_a_resolve_processed_after_the_reopen_that_followed_it_leaves_it_open(send, mapped):
    send(fixture("incident.triggered"))
    send(fixture("incident.reopened"))
    send(fixture("incident.resolved"))  # occurred before the reopen
    assert incident().resolved_at is None


def test_without_created_at_the_start_is_the_trigger_and_an_earlier_resolve_waits_for_it(send, mapped):
    resolved = fixture("incident.resolved")
    del resolved["event"]["data"]["created_at"]
    send(resolved)
    event = InboundEvent.objects.get()
    assert event.status == Status.FAILED
    assert "no created_at" in event.error and "applied when it arrives" in event.error
    assert not Incident.objects.exists()

    triggered = fixture("incident.triggered")
    del triggered["event"]["data"]["created_at"]
    send(triggered)
    assert incident().started_at == datetime(2020, 4, 9, 15, 16, 27, 512000, tzinfo=UTC)
    assert incident().resolved_at == datetime(2020, 10, 2, 19, 2, 51, 204000, tzinfo=UTC)


@pytest.mark.parametrize("event_type", ["service.updated", "incident.annotated"])
def test_events_e360_does_not_use_are_acknowledged_and_recorded_as_ignored(send, mapped, event_type):
    response = send(fixture(event_type))
    assert response.status_code == 202
    event = InboundEvent.objects.get()
    assert (event.kind, event.status) == (f"pagerduty.{event_type}", Status.IGNORED)
    assert event.error == f"e360 does not use pagerduty.{event_type} events"
    assert not Incident.objects.exists()


def test_a_malformed_event_is_stored_failed_with_the_reason_and_writes_nothing(send, mapped):
    body = fixture("incident.triggered", occurred_at="yesterday", data={"html_url": "javascript:alert(1)"})
    assert send(body).status_code == 202
    event = InboundEvent.objects.get()
    assert event.status == Status.FAILED and event.error.startswith("event.")
    assert not Incident.objects.exists()


def test_a_body_that_is_not_json_is_stored_failed_with_the_reason(send):
    response = send(None, raw=b'{"event": {"id": "01DEN5J9')
    assert response.status_code == 202
    event = InboundEvent.objects.get()
    assert event.status == Status.FAILED and event.error.startswith("the body is not JSON")
    assert event.delivery_id.startswith("sha256:")


# --- The service mapping ---------------------------------------------------------------


def test_an_unmapped_service_is_recorded_and_its_event_fails_until_it_is_mapped(
    send, connection, service, django_capture_on_commit_callbacks
):
    send(fixture("incident.triggered"))
    event = InboundEvent.objects.get()
    assert event.status == Status.FAILED
    assert 'PagerDuty service "API Service" (PF9KMXH) maps to no e360 service' in event.error
    assert "map it in the admin" in event.error
    assert not Incident.objects.exists()
    seen = ExternalService.objects.get()
    assert (seen.connection, seen.external_id, seen.name, seen.service) == (connection, "PF9KMXH", "API Service", None)

    seen.service = service
    seen.save()
    with django_capture_on_commit_callbacks(execute=True):
        inbound_retry(event_ids=[event.pk])
    event.refresh_from_db()
    assert event.status == Status.PROCESSED
    assert incident().service == service


def test_a_service_is_recorded_once_and_keeps_its_pagerduty_name(send, mapped):
    send(fixture("incident.triggered"))
    send(
        fixture(
            "incident.acknowledged",
            data={"service": {**fixture("incident.triggered")["event"]["data"]["service"], "summary": "Public API"}},
        )
    )
    assert list(ExternalService.objects.values_list("external_id", "name")) == [("PF9KMXH", "Public API")]


def test_a_mapping_outside_the_sources_scope_fails_the_event_and_writes_nothing(send, connection, other_team):
    elsewhere = ServiceFactory(slug="search-api", owner=other_team)
    ExternalService.objects.create(connection=connection, external_id="PF9KMXH", name="API Service", service=elsewhere)
    send(fixture("incident.triggered"))
    event = InboundEvent.objects.get()
    assert event.status == Status.FAILED
    assert "maps to e360 service 'search-api'" in event.error and "outside its scope" in event.error
    assert not Incident.objects.exists()


def test_a_new_mapping_moves_the_incident_with_its_next_event(send, mapped, team):
    send(fixture("incident.triggered"))
    moved = ServiceFactory(slug="public-api", owner=team)
    mapped.service = moved
    mapped.save()
    send(fixture("incident.acknowledged"))
    assert incident().service == moved


# --- Linking ---------------------------------------------------------------------------


def test_the_incident_links_to_the_deployment_before_it_by_the_existing_rules(send, team, service, mapped):
    api = SourceFactory(team=team)
    deployment = DeploymentInput(
        external_id="deploy-1", environment="production", service="checkout", finished_at=CREATED - timedelta(hours=2)
    )
    deployments_upsert(source=api, items=[deployment], dirty=Dirty())
    send(fixture("incident.triggered"))
    found = incident()
    assert found.deployment is not None and found.deployment.external_id == "deploy-1"
    assert found.link_rule == Incident.LinkRule.WINDOW


def test_no_deployment_of_the_service_in_the_window_leaves_it_unlinked(send, team, service, mapped):
    api = SourceFactory(team=team)
    old = DeploymentInput(
        external_id="deploy-0", environment="production", service="checkout", finished_at=CREATED - timedelta(days=8)
    )
    deployments_upsert(source=api, items=[old], dirty=Dirty())
    send(fixture("incident.triggered"))
    assert incident().deployment is None


# --- Over HTTP, as PagerDuty sends ---------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_over_http_out_of_order_events_and_a_retried_delivery_end_as_pagerduty_has_it(live_server, team, service):
    # The production path: a real server on loopback, autocommit, tasks run as their commit queues them.
    connection = ConnectionFactory(source__kind=Source.Kind.PAGERDUTY, source__team=team, webhook_secret=SECRET)
    ExternalService.objects.create(connection=connection, external_id="PF9KMXH", name="API Service", service=service)
    path = reverse("integrations:webhook", args=["pagerduty", connection.webhook_id])

    def post(event_type: str) -> tuple[int, dict]:
        body = json.dumps(fixture(event_type)).encode()
        signature = f"{sign(body, 'the previous secret')},{sign(body)}"
        server = http.client.HTTPConnection(live_server.thread.host, live_server.thread.port, timeout=10)
        try:
            server.request("POST", path, body, {"Content-Type": "application/json", "X-PagerDuty-Signature": signature})
            response = server.getresponse()
            return response.status, json.loads(response.read())
        finally:
            server.close()

    assert post("incident.resolved")[0] == 202
    assert post("incident.triggered")[0] == 202
    assert post("incident.resolved") == (
        200,
        {"message": "Already received: this delivery is stored.", "delivery": "01DEN5QHYX0N8KXBXQ1EPHCM1W"},
    )
    found = incident()
    assert (found.service, found.started_at) == (service, CREATED)
    assert found.resolved_at == datetime(2020, 10, 2, 19, 2, 51, 204000, tzinfo=UTC)
    assert set(InboundEvent.objects.values_list("status", flat=True)) == {Status.PROCESSED}

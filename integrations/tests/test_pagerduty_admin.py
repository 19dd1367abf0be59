"""The PagerDuty service mapping in the admin: list what arrived unmapped, map it within the
source's scope, retry the events that failed for want of it."""

from __future__ import annotations

import pytest
from django.urls import reverse

from e360.tests.factories import ServiceFactory
from integrations.models import ExternalService
from integrations.tests.factories import ConnectionFactory
from integrations.tests.pagerduty import SECRET, deliver, fixture
from metrics.models import InboundEvent, Incident, Source

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:integrations_externalservice_changelist"


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def unmapped(client, connection, django_capture_on_commit_callbacks):
    """The documented incident's service, recorded by its first (failed) event."""
    with django_capture_on_commit_callbacks(execute=True):
        deliver(client, connection, fixture("incident.triggered"))
    assert InboundEvent.objects.get().status == InboundEvent.Status.FAILED
    return ExternalService.objects.get()


@pytest.fixture
def connection(team):
    return ConnectionFactory(source__kind=Source.Kind.PAGERDUTY, source__team=team, webhook_secret=SECRET)


def _map(staff_client, external, service):
    data = {
        "form-TOTAL_FORMS": "1",
        "form-INITIAL_FORMS": "1",
        "form-0-id": str(external.pk),
        "form-0-service": str(service.pk),
        "_save": "Save",
    }
    return staff_client.post(reverse(CHANGELIST), data)


def test_the_unmapped_services_are_listed_and_open(staff_client, unmapped):
    response = staff_client.get(reverse(CHANGELIST), {"service__isempty": "1"})
    assert response.status_code == 200
    assert "API Service" in response.text and "PF9KMXH" in response.text
    change = reverse("admin:integrations_externalservice_change", args=[unmapped.pk])
    assert staff_client.get(change).status_code == 200
    assert staff_client.get(reverse("admin:integrations_externalservice_add")).status_code == 403


def test_mapping_in_the_list_then_retrying_writes_the_incident(
    staff_client, unmapped, team, django_capture_on_commit_callbacks
):
    service = ServiceFactory(slug="checkout", owner=team)
    response = _map(staff_client, unmapped, service)
    assert response.status_code == 302
    unmapped.refresh_from_db()
    assert unmapped.service == service

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            reverse(CHANGELIST), {"action": "retry_failed_events", "_selected_action": [unmapped.pk]}
        )
    assert response.status_code == 302
    assert InboundEvent.objects.get().status == InboundEvent.Status.PROCESSED
    assert Incident.objects.get().service == service


def test_a_service_outside_the_sources_scope_cannot_be_mapped(staff_client, unmapped, other_team):
    elsewhere = ServiceFactory(slug="search-api", owner=other_team)
    response = _map(staff_client, unmapped, elsewhere)
    assert response.status_code == 200
    assert "may not write to service &quot;search-api&quot; (outside its scope)" in response.text
    unmapped.refresh_from_db()
    assert unmapped.service is None


def test_the_retry_leaves_other_services_events_alone(
    staff_client, unmapped, connection, team, client, django_capture_on_commit_callbacks
):
    other = fixture("incident.triggered", id="01DEN6A0000000000000000000")
    other["event"]["data"]["id"] = "Q0THER1"
    other["event"]["data"]["service"] = {**other["event"]["data"]["service"], "id": "PQ2ZZZZ", "summary": "Search"}
    with django_capture_on_commit_callbacks(execute=True):
        deliver(client, connection, other)
    service = ServiceFactory(slug="checkout", owner=team)
    _map(staff_client, unmapped, service)
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(reverse(CHANGELIST), {"action": "retry_failed_events", "_selected_action": [unmapped.pk]})
    statuses = dict(InboundEvent.objects.values_list("payload__event__data__service__id", "status"))
    assert statuses == {"PF9KMXH": InboundEvent.Status.PROCESSED, "PQ2ZZZZ": InboundEvent.Status.FAILED}

"""The PagerDuty connection and service mapping in the admin: the test (a real call to the loopback
PagerDuty), loading the services to map ahead of their first event, listing what arrived unmapped,
mapping it within the source's scope, retrying the events that failed for want of it."""

from __future__ import annotations

import pytest
from django.db import connection as db
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from e360.tests.factories import ServiceFactory
from integrations.models import ExternalService
from integrations.tests.factories import ConnectionFactory
from integrations.tests.fake_pagerduty import API_KEY
from integrations.tests.pagerduty import SECRET, deliver, fixture
from metrics.models import InboundEvent, Incident, Source

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:integrations_externalservice_changelist"
CONNECTIONS = "admin:integrations_connection_changelist"


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


# --- The connection: its test, its services loaded


@pytest.fixture
def keyed(team, fake_pagerduty):
    """A PagerDuty connection with a read-only key, against the loopback PagerDuty and its two services."""
    fake_pagerduty.add_service("PF9KMXH", "API Service")
    fake_pagerduty.add_service("PQ2ZZZZ", "Search")
    return ConnectionFactory(
        source__kind=Source.Kind.PAGERDUTY,
        source__name="PagerDuty acme",
        source__team=team,
        webhook_secret=SECRET,
        api_url=fake_pagerduty.url,
        api_token=API_KEY,
    )


def _action(staff_client, connection, action, *, on_page=False):
    if on_page:
        url = reverse("admin:integrations_connection_change", args=[connection.pk])
        data = {"CHANGE_FORM-action": action, "_selected_action": [connection.pk]}
    else:
        data = {"action": action, "_selected_action": [connection.pk]}
        url = reverse(CONNECTIONS)
    return staff_client.post(url, data, follow=True)


@pytest.mark.parametrize("on_page", [False, True])
def test_the_test_action_is_a_real_call_to_pagerduty_and_writes_nothing(staff_client, keyed, fake_pagerduty, on_page):
    response = _action(staff_client, keyed, "test", on_page=on_page)
    assert f"PagerDuty acme: Connected to PagerDuty ({fake_pagerduty.url}): the API key reads 2 services." in (
        response.text
    )
    assert fake_pagerduty.calls(r"^/services\?") and not ExternalService.objects.exists()


def test_the_test_action_with_a_refused_key_says_so_and_never_shows_it(staff_client, keyed):
    keyed.api_token = "u+revoked-key-0123"
    keyed.save()
    response = _action(staff_client, keyed, "test")
    assert "PagerDuty acme: PagerDuty refused the API key (401)" in response.text
    assert "revoked-key" not in response.text


def test_loading_the_services_lists_them_on_the_connection_to_map(staff_client, keyed, team):
    response = _action(staff_client, keyed, "load_pagerduty_services", on_page=True)
    assert "PagerDuty lists 2 services: 2 new (to map under External services), 0 renamed, 0 unchanged." in (
        response.text
    )
    assert set(ExternalService.objects.values_list("external_id", "name", "service")) == {
        ("PF9KMXH", "API Service", None),
        ("PQ2ZZZZ", "Search", None),
    }
    page = staff_client.get(reverse("admin:integrations_connection_change", args=[keyed.pk]))
    assert "PF9KMXH" in page.text and "Search" in page.text  # the inline, mapped in place


def test_a_service_loaded_ahead_takes_its_first_incident(
    staff_client, keyed, team, client, django_capture_on_commit_callbacks
):
    _action(staff_client, keyed, "load_pagerduty_services")
    service = ServiceFactory(slug="checkout", owner=team)
    _map(staff_client, ExternalService.objects.get(external_id="PF9KMXH"), service)
    with django_capture_on_commit_callbacks(execute=True):
        deliver(client, keyed, fixture("incident.triggered"))
    assert InboundEvent.objects.get().status == InboundEvent.Status.PROCESSED
    assert Incident.objects.get().service == service


def test_loading_with_a_refused_key_writes_nothing(staff_client, keyed):
    keyed.api_token = "u+revoked-key-0123"
    keyed.save()
    response = _action(staff_client, keyed, "load_pagerduty_services")
    assert "PagerDuty acme: PagerDuty refused the credentials for GET /services: Unauthorized" in response.text
    assert "revoked-key" not in response.text and not ExternalService.objects.exists()


def test_loading_services_of_another_kind_of_source_says_it_is_not_pagerduty(staff_client, team):
    github = ConnectionFactory(source__name="GitHub acme", source__team=team)
    response = _action(staff_client, github, "load_pagerduty_services")
    assert "GitHub acme: not a PagerDuty source." in response.text


def test_a_loaded_service_is_mapped_on_the_connections_page_within_its_scope(staff_client, keyed, team, other_team):
    _action(staff_client, keyed, "load_pagerduty_services")
    api, search = (ExternalService.objects.get(external_id=pk) for pk in ("PF9KMXH", "PQ2ZZZZ"))
    checkout = ServiceFactory(slug="checkout", owner=team)
    elsewhere = ServiceFactory(slug="search-api", owner=other_team)

    def save(first, second):
        data = {
            "api_url": keyed.api_url,
            "new_webhook_secret": "",
            "new_api_token": "",
            "app_id": "",
            "installation_id": "",
            "new_app_private_key": "",
            "repositories_text": "",
            "incident_label": "incident",
            "backfills-TOTAL_FORMS": "0",
            "backfills-INITIAL_FORMS": "0",
            "external_services-TOTAL_FORMS": "2",
            "external_services-INITIAL_FORMS": "2",
            "external_services-0-id": str(api.pk),
            "external_services-0-connection": str(keyed.pk),
            "external_services-0-service": first,
            "external_services-1-id": str(search.pk),
            "external_services-1-connection": str(keyed.pk),
            "external_services-1-service": second,
            "_save": "Save",
        }
        return staff_client.post(reverse("admin:integrations_connection_change", args=[keyed.pk]), data)

    refused = save(str(checkout.pk), str(elsewhere.pk))
    assert refused.status_code == 200
    assert "may not write to service &quot;search-api&quot; (outside its scope)" in refused.text
    assert save(str(checkout.pk), "").status_code == 302
    assert dict(ExternalService.objects.values_list("external_id", "service")) == {
        "PF9KMXH": checkout.pk,
        "PQ2ZZZZ": None,
    }
    keyed.refresh_from_db()
    assert keyed.api_token == API_KEY  # the key kept


@pytest.mark.parametrize("url", ["connection", "list"])
def test_the_service_choices_are_read_once_however_many_services(staff_client, keyed, team, url):
    for _ in range(3):
        ServiceFactory(owner=team)
    page = {
        "connection": reverse("admin:integrations_connection_change", args=[keyed.pk]),
        "list": reverse(CHANGELIST),
    }[url]

    def queries(services: int) -> int:
        ExternalService.objects.all().delete()
        ExternalService.objects.bulk_create(
            ExternalService(connection=keyed, external_id=f"P{n:06d}", name=f"Service {n}") for n in range(services)
        )
        with CaptureQueriesContext(db) as captured:
            assert staff_client.get(page).status_code == 200
        return len(captured.captured_queries)

    queries(1)  # the session and the like, once
    assert queries(30) == queries(2)

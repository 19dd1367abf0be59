"""Setting a source up in the admin: the connection and its source in one form, the webhook secret shown
once, write-only credentials, the test, a new secret, a backfill started, unmapped repositories mapped."""

from __future__ import annotations

import re
import sys
from datetime import timedelta

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from e360.tests.factories import ServiceFactory
from integrations import services
from integrations.models import Backfill, Connection
from integrations.tests.factories import ConnectionFactory
from integrations.tests.fake_github import TOKEN as GITHUB_TOKEN
from integrations.tests.fake_gitlab import TOKEN as GITLAB_TOKEN
from metrics.ingest import KIND_DEPLOYMENT, inbound_process
from metrics.models import Deployment, InboundEvent, Source
from metrics.tests.factories import SourceFactory

pytestmark = pytest.mark.django_db

TOKEN = "github_pat_11AAAAAAA0123456789abcdefghij"
PRIVATE_KEY = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA0123456789\n-----END RSA PRIVATE KEY-----"
CHANGELIST = "admin:integrations_connection_changelist"


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def connection(team):
    return ConnectionFactory(
        source__name="GitHub acme", source__team=team, api_token=TOKEN, app_private_key=PRIVATE_KEY
    )


@pytest.fixture
def queued(monkeypatch):
    """The tasks queued through ``integrations.services`` (the backfill task is another module's)."""
    calls = []
    monkeypatch.setattr(services, "async_task", lambda *args, **kwargs: calls.append((args, kwargs)))
    return calls


def _add(staff_client, **fields):
    data = {
        "name": "GitHub acme",
        "kind": "github",
        "team": "",
        "new_webhook_secret": "",
        "api_url": "",
        "new_api_token": TOKEN,
        "app_id": "",
        "installation_id": "",
        "new_app_private_key": "",
        "repositories_text": "acme/checkout\nacme/ledger\n",
        "incident_label": "incident",
        "deploys_by": "deployments",
        "tag_pattern": "v*",
        "backfills-TOTAL_FORMS": "0",
        "backfills-INITIAL_FORMS": "0",
        **fields,
    }
    return staff_client.post(reverse("admin:integrations_connection_add"), data, follow=True)


def test_adding_a_connection_makes_its_source_and_shows_the_secret_once(staff_client, team):
    response = _add(staff_client, team=team.pk)

    connection = Connection.objects.select_related("source").get()
    source = connection.source
    assert (source.name, source.kind, source.team) == ("GitHub acme", Source.Kind.GITHUB, team)
    assert connection.api_token == TOKEN
    assert connection.repositories == ["acme/checkout", "acme/ledger"]
    secret = connection.webhook_secret
    assert len(secret) >= 40  # secrets.token_urlsafe(32)
    url = settings.SITE_URL + reverse("integrations:webhook", args=["github", connection.webhook_id])
    assert secret in response.text and url in response.text
    assert "not shown again" in response.text

    # Never again: not on the list, not on the connection's page (which shows the URL).
    assert secret not in staff_client.get(reverse(CHANGELIST)).text
    page = staff_client.get(reverse("admin:integrations_connection_change", args=[connection.pk]))
    assert page.status_code == 200
    assert secret not in page.text and url in page.text


def test_a_pasted_pagerduty_secret_is_kept_and_not_shown(staff_client):
    response = _add(staff_client, kind="pagerduty", name="PagerDuty", new_webhook_secret="pd-signing-secret")
    connection = Connection.objects.get()
    assert connection.webhook_secret == "pd-signing-secret"
    assert "pd-signing-secret" not in response.text
    assert "The webhook secret is stored" in response.text


def test_a_source_name_is_unique(staff_client, connection):
    response = _add(staff_client)
    assert "A source has this name already." in response.text
    assert Connection.objects.count() == 1


def test_a_connection_that_deploys_by_tags_says_which(staff_client):
    response = _add(staff_client, deploys_by="tags", tag_pattern="  ")
    assert "Deploying by tags: say which tags deploy (e.g. v*)." in response.text
    assert not Connection.objects.exists()

    _add(staff_client, deploys_by="tags", tag_pattern=" release-* ")
    connection = Connection.objects.get()
    assert (connection.deploys_by, connection.tag_pattern) == (Connection.DeploysBy.TAGS, "release-*")
    assert connection.deploys_by_tag("release-2024.1") and not connection.deploys_by_tag("v1.0")


def test_credentials_are_never_rendered(staff_client, connection):
    page = staff_client.get(reverse("admin:integrations_connection_change", args=[connection.pk]))
    assert page.status_code == 200
    for secret in (TOKEN, PRIVATE_KEY, "MIIEowIBAAKCAQEA0123456789", connection.webhook_secret):
        assert secret not in page.text
    assert re.search(r'<input type="password" name="new_api_token"[^>]*>', page.text)
    assert 'value="' not in re.search(r'<input type="password" name="new_api_token"[^>]*>', page.text).group()
    assert "webhook secret, API token, App private key" in page.text  # what is stored, by name only


def _change(staff_client, connection, **fields):
    data = {
        "new_webhook_secret": "",
        "api_url": "",
        "new_api_token": "",
        "app_id": "",
        "installation_id": "",
        "new_app_private_key": "",
        "repositories_text": "acme/checkout",
        "incident_label": "incident",
        "deploys_by": "deployments",
        "tag_pattern": "v*",
        "backfills-TOTAL_FORMS": "0",
        "backfills-INITIAL_FORMS": "0",
        "_save": "Save",
        **fields,
    }
    response = staff_client.post(reverse("admin:integrations_connection_change", args=[connection.pk]), data)
    assert response.status_code == 302, response.text
    connection.refresh_from_db()


def test_empty_credential_fields_keep_what_is_stored(staff_client, connection):
    secret = connection.webhook_secret
    _change(staff_client, connection)
    assert (connection.api_token, connection.app_private_key, connection.webhook_secret) == (
        TOKEN,
        PRIVATE_KEY,
        secret,
    )
    assert connection.repositories == ["acme/checkout"]


def test_credentials_are_replaced_or_forgotten(staff_client, connection):
    _change(staff_client, connection, new_api_token="glpat-new", forget_app_private_key="on")
    assert (connection.api_token, connection.app_private_key) == ("glpat-new", "")
    _change(staff_client, connection, forget_api_token="on", new_app_private_key=PRIVATE_KEY)
    assert (connection.api_token, connection.app_private_key) == ("", PRIVATE_KEY)


def _action(staff_client, connection, action, *, on_page=False, **extra):
    if on_page:
        url = reverse("admin:integrations_connection_change", args=[connection.pk])
        data = {"CHANGE_FORM-action": action, "_selected_action": [connection.pk], **extra}
    else:
        url = reverse(CHANGELIST)
        data = {"action": action, "_selected_action": [connection.pk], **extra}
    return staff_client.post(url, data, follow=True)


@pytest.mark.parametrize("on_page", [False, True])
def test_a_new_webhook_secret_is_shown_once(staff_client, connection, on_page):
    old = connection.webhook_secret
    response = _action(staff_client, connection, "new_webhook_secret", on_page=on_page)
    connection.refresh_from_db()
    assert connection.webhook_secret != old
    assert connection.webhook_secret in response.text and "The old secret no longer works" in response.text
    assert connection.webhook_secret not in staff_client.get(reverse(CHANGELIST)).text


def test_pagerduty_keeps_its_own_secret(staff_client, team):
    connection = ConnectionFactory(source__kind=Source.Kind.PAGERDUTY, webhook_secret="pd")
    response = _action(staff_client, connection, "new_webhook_secret")
    connection.refresh_from_db()
    assert connection.webhook_secret == "pd"
    assert "PagerDuty makes its own signing secret" in response.text


def test_testing_a_provider_without_a_client_says_so(staff_client, monkeypatch):
    monkeypatch.setitem(sys.modules, "integrations.pagerduty.client", None)  # however PagerDuty's stands
    connection = ConnectionFactory(source__kind=Source.Kind.PAGERDUTY)
    response = _action(staff_client, connection, "test")
    assert "Testing the connection is not available for PagerDuty yet." in response.text


def test_testing_a_gitlab_connection_makes_a_real_call(staff_client, team, fake_gitlab):
    fake_gitlab.project("acme/shop")
    connection = ConnectionFactory(
        source__name="GitLab acme",
        source__kind=Source.Kind.GITLAB,
        source__team=team,
        api_url=fake_gitlab.api_url,
        api_token=GITLAB_TOKEN,
        repositories=["acme/shop"],
    )
    response = _action(staff_client, connection, "test", on_page=True)
    assert "GitLab acme: Connected as project_42_bot_3f1a: 1 projects readable (acme/shop)." in response.text
    assert GITLAB_TOKEN not in response.text


def test_testing_makes_a_real_call_to_the_provider(staff_client, team, fake_github):
    fake_github.repo("acme/checkout")
    connection = ConnectionFactory(
        source__name="GitHub acme",
        source__team=team,
        api_url=fake_github.url,
        api_token=GITHUB_TOKEN,
        repositories=["acme/checkout"],
    )
    response = _action(staff_client, connection, "test", on_page=True)
    assert "GitHub acme: Connected: 1 repositories readable (acme/checkout)." in response.text


def test_a_refused_test_is_reported_with_the_providers_reason(staff_client, team, fake_github):
    connection = ConnectionFactory(
        source__name="GitHub acme", source__team=team, api_url=fake_github.url, api_token="revoked"
    )
    response = _action(staff_client, connection, "test")
    assert "GitHub acme" in response.text and "credentials" in response.text.lower()
    assert "revoked" not in response.text


@pytest.mark.parametrize("on_page", [False, True])
def test_a_backfill_asks_for_days_then_is_queued(
    staff_client, connection, queued, on_page, django_capture_on_commit_callbacks
):
    asked = _action(staff_client, connection, "start_backfill", on_page=on_page)
    assert asked.status_code == 200
    assert 'name="days"' in asked.text and not Backfill.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = _action(staff_client, connection, "start_backfill", on_page=on_page, days="90")

    backfill = Backfill.objects.get()
    assert (backfill.connection, backfill.days, backfill.status) == (connection, 90, Backfill.Status.QUEUED)
    assert [args for args, _ in queued] == [("integrations.tasks.backfill_run", backfill.pk)]
    assert "a backfill of 90 days is queued" in response.text
    assert reverse("integrations:source-detail", args=[connection.pk]) in response.text


def test_a_gitlab_backfill_started_from_the_admin_runs_and_shows_on_the_health_page(
    staff_client, team, fake_gitlab, django_capture_on_commit_callbacks
):
    project = fake_gitlab.project("acme/shop")
    fake_gitlab.add_deployment(project, started=timezone.now() - timedelta(days=2))
    ServiceFactory(slug="shop", owner=team, repositories=["gitlab.example.com/acme/shop"])
    connection = ConnectionFactory(
        source__kind=Source.Kind.GITLAB,
        source__team=team,
        api_url=fake_gitlab.api_url,
        api_token=GITLAB_TOKEN,
        repositories=["acme/shop"],
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = _action(staff_client, connection, "start_backfill", days="30")
    assert "a backfill of 30 days is queued" in response.text
    backfill = Backfill.objects.get()
    assert (backfill.status, backfill.records, backfill.repositories_done) == (Backfill.Status.DONE, 1, 1)
    page = staff_client.get(reverse("integrations:source-detail", args=[connection.pk]))
    assert page.status_code == 200 and "Repositories done: 1 of 1" in page.text and ">done</span>" in page.text


def test_a_bad_number_of_days_is_asked_again(staff_client, connection, queued):
    response = _action(staff_client, connection, "start_backfill", days="0")
    assert response.status_code == 200
    assert "greater than or equal to 1" in response.text
    assert not Backfill.objects.exists() and not queued


def test_one_backfill_at_a_time(staff_client, connection, queued):
    Backfill.objects.create(connection=connection, days=30, status=Backfill.Status.RUNNING)
    response = _action(staff_client, connection, "start_backfill", days="90")
    assert "has a backfill under way" in response.text
    assert Backfill.objects.count() == 1 and not queued


def test_the_source_admin_links_to_the_connection_and_the_health_page(staff_client, connection):
    page = staff_client.get(reverse("admin:metrics_source_change", args=[connection.pk]))
    assert reverse("admin:integrations_connection_change", args=[connection.pk]) in page.text
    assert reverse("integrations:source-detail", args=[connection.pk]) in page.text
    listed = staff_client.get(reverse("admin:metrics_source_changelist"))
    assert reverse("integrations:source-detail", args=[connection.pk]) in listed.text
    unconnected = SourceFactory(name="gh", kind=Source.Kind.GITHUB)
    page = staff_client.get(reverse("admin:metrics_source_change", args=[unconnected.pk]))
    assert reverse("admin:integrations_connection_add") in page.text


# --- Unmapped repositories


@pytest.fixture
def search(other_team):
    return ServiceFactory(name="Search API", slug="search-api", owner=other_team)


@pytest.fixture
def devlake(team):
    return SourceFactory(name="devlake", kind=Source.Kind.DEVLAKE, team=team)


def _unmapped(source, repository: str, n: int) -> list[InboundEvent]:
    events = []
    for i in range(n):
        event = InboundEvent.objects.create(
            source=source,
            delivery_id=f"{repository}-{i}",
            kind=KIND_DEPLOYMENT,
            payload={"id": f"{repository}-{i}", "repoUrl": f"https://github.com/{repository}", "commitSha": "a1"},
        )
        inbound_process(event_id=event.pk)
        event.refresh_from_db()
        assert event.error == f'repository "{repository}" belongs to no known service; name a service'
        events.append(event)
    return events


def test_the_unmapped_screen_groups_what_arrived_by_repository(staff_client, devlake):
    _unmapped(devlake, "acme/new-thing", 3)
    _unmapped(devlake, "acme/other", 1)
    page = staff_client.get(reverse("admin:integrations_unmapped"))
    assert page.status_code == 200
    rows = re.findall(r"<code>(acme/[\w-]+)</code></th>\s*<td>(\d+)</td>", page.text)
    assert rows == [("acme/new-thing", "3"), ("acme/other", "1")]
    assert "repository=acme%2Fnew-thing" in page.text
    assert reverse("admin:integrations_unmapped") in staff_client.get(reverse(CHANGELIST)).text


def test_mapping_a_repository_adds_it_to_the_service_and_retries_its_events(
    staff_client, devlake, service, django_capture_on_commit_callbacks
):
    events = _unmapped(devlake, "acme/new-thing", 2)
    url = reverse("admin:integrations_unmapped_map")
    form = staff_client.get(url, {"repository": "acme/new-thing"})
    assert "2 events from <code>acme/new-thing</code>" in form.text

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(url, {"repository": "acme/new-thing", "service": service.pk}, follow=True)

    service.refresh_from_db()
    assert service.repositories[-1] == "acme/new-thing"
    assert "2 event(s) queued for processing again" in response.text
    assert {event.status for event in InboundEvent.objects.filter(pk__in=[e.pk for e in events])} == {"processed"}
    assert Deployment.objects.filter(service=service).count() == 2
    assert "acme/new-thing" not in staff_client.get(reverse("admin:integrations_unmapped")).text


def test_a_source_that_may_not_write_to_the_service_is_named_and_its_events_left(
    staff_client, devlake, search, django_capture_on_commit_callbacks
):
    (event,) = _unmapped(devlake, "acme/new-thing", 1)
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            reverse("admin:integrations_unmapped_map"),
            {"repository": "acme/new-thing", "service": search.pk},
            follow=True,
        )
    assert "0 event(s) queued" in response.text
    assert "may not write to Search API" in response.text
    event.refresh_from_db()
    assert event.status == InboundEvent.Status.FAILED


def test_mapping_a_repository_nothing_waits_for_is_refused(staff_client, service):
    response = staff_client.post(
        reverse("admin:integrations_unmapped_map"), {"repository": "acme/nothing", "service": service.pk}, follow=True
    )
    assert "No event waits for that repository." in response.text
    service.refresh_from_db()
    assert "acme/nothing" not in service.repositories


def test_an_unconnected_source_is_connected_from_its_page(staff_client, team):
    source = SourceFactory(name="gh", kind=Source.Kind.GITHUB, team=team)
    page = staff_client.get(reverse("admin:metrics_source_change", args=[source.pk]))
    url = reverse("admin:integrations_connection_add") + f"?source={source.pk}"
    assert url in page.text
    form = staff_client.get(url)
    assert "Connect gh (GitHub)" in form.text and 'name="name"' not in form.text

    data = {
        "new_webhook_secret": "",
        "api_url": "",
        "new_api_token": TOKEN,
        "app_id": "",
        "installation_id": "",
        "new_app_private_key": "",
        "repositories_text": "",
        "incident_label": "incident",
        "deploys_by": "deployments",
        "tag_pattern": "v*",
        "backfills-TOTAL_FORMS": "0",
        "backfills-INITIAL_FORMS": "0",
    }
    response = staff_client.post(url, data, follow=True)
    connection = Connection.objects.get()
    assert connection.source == source and Source.objects.count() == 1
    assert connection.webhook_secret in response.text


@pytest.mark.parametrize(
    ("kind", "shown", "left_out"),
    [
        (Source.Kind.GITHUB, ["id_app_id", "id_repositories_text", "id_deploys_by"], []),
        (Source.Kind.GITLAB, ["id_repositories_text"], ["id_app_id", "id_new_app_private_key", "id_deploys_by"]),
        (Source.Kind.PAGERDUTY, ["id_new_api_token"], ["id_app_id", "id_repositories_text", "id_incident_label"]),
    ],
)
def test_a_connections_page_shows_the_settings_its_kind_uses(staff_client, team, kind, shown, left_out):
    connection = ConnectionFactory(source__kind=kind, source__team=team, repositories=["acme/shop"])
    page = staff_client.get(reverse("admin:integrations_connection_change", args=[connection.pk])).text
    assert all(f'id="{name}"' in page for name in shown)
    assert not any(f'id="{name}"' in page for name in left_out)

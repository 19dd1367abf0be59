"""The PagerDuty REST client (integrations/pagerduty/client.py), its connection test and the loading of
its services (integrations/pagerduty/services.py), against the loopback PagerDuty (fake_pagerduty.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from e360.tests.factories import ServiceFactory
from integrations.http import ApiError, ProviderUnavailable, RateLimited, Unauthorized
from integrations.models import Connection, ExternalService
from integrations.pagerduty import client as pagerduty_client
from integrations.pagerduty.client import MAX_OFFSET, NotConfigured, PagerDuty, next_offset_url, test_connection
from integrations.pagerduty.services import external_services_load
from integrations.tests.factories import ConnectionFactory
from integrations.tests.fake_pagerduty import ACCEPT, API_KEY, FakePagerDuty
from metrics.models import Source

pytestmark = pytest.mark.django_db

NAMES = ["API Service", "Billing", "Checkout", "Payments", "Search", "Storefront", "Web"]


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch):
    monkeypatch.setattr("integrations.http.BACKOFF", 0.0)


@pytest.fixture
def account(fake_pagerduty: FakePagerDuty) -> FakePagerDuty:
    for number, name in enumerate(NAMES):
        fake_pagerduty.add_service(f"P{number:06d}", name)
    return fake_pagerduty


def pd_connection(fake: FakePagerDuty, team=None, **fields) -> Connection:
    return ConnectionFactory(
        **{
            "source__kind": Source.Kind.PAGERDUTY,
            "source__name": "PagerDuty acme",
            "source__team": team,
            "api_url": fake.url,
            "api_token": API_KEY,
            **fields,
        }
    )


# --- Requests ---------------------------------------------------------------------------------


def test_it_sends_the_key_as_a_token_and_asks_for_v2(account, team):
    with PagerDuty(pd_connection(account, team)) as pagerduty:
        pagerduty.services_total()
    sent = account.seen_headers[-1]
    assert sent["authorization"] == f"Token token={API_KEY}"
    assert sent["accept"] == ACCEPT


def test_the_public_api_is_the_default_and_an_eu_account_names_its_own(team):
    assert ConnectionFactory(source__kind=Source.Kind.PAGERDUTY).base_url == "https://api.pagerduty.com"
    eu = ConnectionFactory(source__kind=Source.Kind.PAGERDUTY, api_url="https://api.eu.pagerduty.com/")
    assert eu.base_url == "https://api.eu.pagerduty.com"


def test_it_follows_offset_pages_while_pagerduty_says_more(account, team, monkeypatch):
    monkeypatch.setattr(pagerduty_client, "LIMIT", 3)
    with PagerDuty(pd_connection(account, team)) as pagerduty:
        pages = list(pagerduty.pages("services"))
        services = pagerduty.services()
    assert [len(page.items("services")) for page in pages] == [3, 3, 1]
    assert "offset=3" in pages[0].next_url and "offset=6" in pages[1].next_url and pages[-1].next_url == ""
    assert [service.name for service in services] == NAMES
    assert [call[1].split("offset=")[1][:1] for call in account.calls(r"^/services\?")][-3:] == ["0", "3", "6"]


def test_the_next_page_is_the_same_query_at_the_next_offset_until_the_cap():
    url = "https://api.pagerduty.com/incidents?limit=100&offset=200&statuses%5B%5D=resolved"
    following = next_offset_url(url, {"limit": 100, "offset": 200, "more": True})
    assert following == "https://api.pagerduty.com/incidents?limit=100&offset=300&statuses%5B%5D=resolved"
    assert next_offset_url(url, {"limit": 100, "offset": 200, "more": False}) == ""
    assert next_offset_url(url, {"more": True, "limit": 100, "offset": MAX_OFFSET - 100}) == ""
    assert next_offset_url(url, ["not", "a", "page"]) == ""


def test_the_budget_is_stored_from_the_ratelimit_headers(account, team):
    connection = pd_connection(account, team)
    before = timezone.now()
    with PagerDuty(connection) as pagerduty:
        pagerduty.services_total()
    connection.refresh_from_db()
    assert (connection.rate_limit, connection.rate_remaining) == (960, 959)
    # ratelimit-reset is in seconds from now (42 in the fake), not a Unix time.
    assert before + timedelta(seconds=41) <= connection.rate_reset_at <= timezone.now() + timedelta(seconds=42)


def test_a_429_pauses_the_connection_until_the_reset(account, team):
    connection = pd_connection(account, team)
    account.rate_remaining = 0
    account.rate_reset = 30
    before = timezone.now()
    with PagerDuty(connection, floor=0) as pagerduty, pytest.raises(RateLimited) as raised:
        pagerduty.services_total()
    assert before + timedelta(seconds=29) <= raised.value.resume_at <= timezone.now() + timedelta(seconds=30)
    assert "PagerDuty: the rate limit is spent (GET /services)" in str(raised.value)
    connection.refresh_from_db()
    assert connection.paused_until == raised.value.resume_at
    calls = len(account.log)
    with PagerDuty(connection) as pagerduty, pytest.raises(RateLimited):
        pagerduty.services_total()
    assert len(account.log) == calls  # nothing sent while paused


def test_a_429_without_rate_headers_waits_a_minute(account, team):
    account.fail(r"^/services", 429, body={"error": {"message": "Rate Limit Exceeded", "code": 2020}})
    with PagerDuty(pd_connection(account, team)) as pagerduty, pytest.raises(RateLimited) as raised:
        pagerduty.services_total()
    assert timedelta(seconds=55) < raised.value.resume_at - timezone.now() <= timedelta(minutes=1)


def test_a_server_error_is_retried_then_succeeds(account, team):
    account.fail(r"^/services", 502)
    with PagerDuty(pd_connection(account, team)) as pagerduty:
        assert pagerduty.services_total() == len(NAMES)
    assert [status for _, _, status in account.calls(r"^/services")] == [502, 200]


def test_server_errors_past_the_retries_are_a_clear_error(account, team):
    account.fail(r"^/services", 503, times=5)
    with PagerDuty(pd_connection(account, team)) as pagerduty, pytest.raises(ProviderUnavailable) as raised:
        pagerduty.services_total()
    assert str(raised.value) == "PagerDuty answered GET /services with 503, 3 times: try again later"


def test_a_bad_key_is_unauthorized_and_never_shown(account, team, caplog):
    connection = pd_connection(account, team, api_token="u+revoked-key-0123")
    with PagerDuty(connection) as pagerduty, pytest.raises(Unauthorized) as raised:
        pagerduty.services_total()
    assert str(raised.value) == "PagerDuty refused the credentials for GET /services: Unauthorized"
    assert "revoked-key" not in str(raised.value) + caplog.text


def test_a_403_gives_pagerdutys_own_message(account, team):
    body = {"error": {"message": "Access Denied", "code": 2010, "errors": ["The key may not read services"]}}
    account.fail(r"^/services", 403, body=body)
    with PagerDuty(pd_connection(account, team)) as pagerduty, pytest.raises(ApiError) as raised:
        pagerduty.services_total()
    assert raised.value.status == 403
    assert str(raised.value) == (
        "PagerDuty refused GET /services: Access Denied; The key may not read services (check the permissions)"
    )


def test_a_connection_without_a_key_is_not_configured(team):
    connection = ConnectionFactory(source__kind=Source.Kind.PAGERDUTY)
    with pytest.raises(NotConfigured, match="no API key"):
        PagerDuty(connection)


# --- The connection test ------------------------------------------------------------------------


def test_the_connection_test_counts_the_services_and_writes_nothing(account, team):
    ok, message = test_connection(pd_connection(account, team))
    assert ok
    assert message.startswith("Connected to PagerDuty (http://127.0.0.1:")
    assert "the API key reads 7 services" in message
    assert [call[1] for call in account.log] == ["/services?limit=1&offset=0&total=true"]
    assert not ExternalService.objects.exists()


def test_the_connection_test_with_a_bad_key_says_so_without_the_key(account, team):
    ok, message = test_connection(pd_connection(account, team, api_token="u+revoked-key-0123"))
    assert not ok
    assert message == (
        "PagerDuty refused the API key (401): enter a valid REST API key on the connection (a read-only key is enough)."
    )


def test_the_connection_test_without_a_key_says_so(team):
    ok, message = test_connection(ConnectionFactory(source__kind=Source.Kind.PAGERDUTY))
    assert (ok, message) == (False, "this PagerDuty source has no API key: enter a read-only REST API key")


# --- Loading the services ----------------------------------------------------------------------


def test_the_services_are_recorded_unmapped_with_their_names(account, team, monkeypatch):
    monkeypatch.setattr(pagerduty_client, "LIMIT", 3)
    connection = pd_connection(account, team)
    loaded = external_services_load(connection=connection)
    assert (loaded.listed, loaded.added, loaded.renamed) == (7, 7, 0)
    rows = ExternalService.objects.filter(connection=connection).order_by("external_id")
    assert [(row.external_id, row.name, row.service_id) for row in rows] == [
        (f"P{number:06d}", name, None) for number, name in enumerate(NAMES)
    ]


def test_loading_again_renames_keeps_mappings_and_services_pagerduty_no_longer_lists(account, team):
    connection = pd_connection(account, team)
    external_services_load(connection=connection)
    checkout = ServiceFactory(slug="checkout", owner=team)
    ExternalService.objects.filter(external_id="P000002").update(service=checkout)
    account.services[2]["name"] = "Checkout (EU)"
    gone = account.services.pop(0)
    account.add_service("P000099", "Ledger")

    loaded = external_services_load(connection=connection)
    assert (loaded.listed, loaded.added, loaded.renamed) == (7, 1, 1)
    assert str(loaded) == "PagerDuty lists 7 services: 1 new (to map under External services), 1 renamed, 5 unchanged."
    renamed = ExternalService.objects.get(external_id="P000002")
    assert (renamed.name, renamed.service) == ("Checkout (EU)", checkout)
    assert ExternalService.objects.filter(external_id=gone["id"]).exists()
    assert ExternalService.objects.count() == 8
    again = external_services_load(connection=connection)
    assert (again.added, again.renamed) == (0, 0)


def test_a_service_recorded_by_an_event_is_the_same_row(account, team):
    connection = pd_connection(account, team)
    ExternalService.objects.create(connection=connection, external_id="P000000", name="API Service")
    loaded = external_services_load(connection=connection)
    assert (loaded.added, ExternalService.objects.filter(external_id="P000000").count()) == (6, 1)


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        ({"id": None, "name": "Nameless"}, "PagerDuty listed a service without a usable id (None)"),
        ({"id": "P1", "name": "Nul\x00"}, "PagerDuty's service 'P1': its name must not contain NUL characters"),
        ({"id": "P1", "name": 7}, "PagerDuty's service P1 has a name that is not text"),
    ],
)
def test_a_service_e360_cannot_record_is_a_clear_error_and_nothing_is_written(account, team, broken, message):
    account.services.append({**account.services[0], **broken, "name": broken["name"]})
    with pytest.raises(ApiError) as raised:
        external_services_load(connection=pd_connection(account, team))
    assert str(raised.value).startswith(message)
    assert not ExternalService.objects.exists()

"""The DevLake-compatible webhook: paths, authentication, limits, storage and acknowledgement."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime
from unittest import mock

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse

from e360.tests.factories import ServiceFactory
from metrics.ingest import KIND_DEPLOYMENT
from metrics.models import ApiToken, Deployment, InboundEvent, Incident, Source
from metrics.services import api_token_create
from metrics.tasks import inbound_drain
from metrics.webhooks import MAX_BODY_BYTES

DEPLOYMENT = {
    "id": "build-1",
    "displayTitle": "Deploy checkout",
    "result": "SUCCESS",
    "environment": "PRODUCTION",
    "name": "deploy",
    "url": "https://ci.example.com/builds/1",
    "startedDate": "2025-03-01T10:00:00Z",
    "finishedDate": "2025-03-01T10:05:00Z",
    "deploymentCommits": [
        {
            "repoUrl": "https://github.com/acme/checkout.git",
            "refName": "main",
            "commitSha": "a" * 40,
            "commitMsg": "Fix the basket\n\nLonger text",
        }
    ],
}
LEGACY_DEPLOYMENT = {
    "pipeline_id": "pipeline-7",
    "repo_url": "git@github.com:acme/checkout.git",
    "commit_sha": "b" * 40,
    "ref_name": "main",
    "result": "FAILURE",
    "environment": "STAGING",
    "create_time": "2025-03-02 08:00:00",
    "start_time": "2025-03-02 08:01:00",
    "end_time": "2025-03-02 08:09:00",
}
INCIDENT = {
    "issueKey": "INC-1",
    "title": "Checkout is down",
    "type": "INCIDENT",
    "status": "IN_PROGRESS",
    "originalStatus": "open",
    "createdDate": "2025-03-01T11:00:00+01:00",
    "severity": "SEV1",
    "url": "https://pager.example.com/INC-1",
}


# Queued tasks (the drain, the refresh) run at once, in the test.
pytestmark = pytest.mark.usefixtures("tasks_run_inline")


@pytest.fixture
def source(service):
    return Source.objects.create(name="ci", kind=Source.Kind.DEVLAKE, team=service.owner)


@pytest.fixture
def key(source):
    return api_token_create(source=source, name="ci key")[1]


def _url(name: str, source_id: object, **kwargs: str) -> str:
    return reverse(f"metrics:devlake-{name}", kwargs={"connection": source_id, **kwargs})


def _post(client, url: str, body: object, key: str | None, **headers: str):
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    return client.post(url, data=data, content_type="application/json", headers=headers)


@pytest.fixture
def deliver(client, django_capture_on_commit_callbacks, source, key):
    """Post a body as the CI would, and run what the acknowledgement queued (tasks run inline)."""

    def deliver(name: str, body: object, **kwargs: str):
        with django_capture_on_commit_callbacks(execute=True):
            return _post(client, _url(name, source.pk, **kwargs), body, key)

    return deliver


# --- Accepted bodies ------------------------------------------------------------------------


def test_it_accepts_a_camel_case_deployment_and_records_it(deliver, source, service):
    response = deliver("deployments", DEPLOYMENT)

    assert response.status_code == 200
    assert response.json()["success"] is True
    delivery = InboundEvent.objects.get()
    assert delivery.kind == KIND_DEPLOYMENT
    assert delivery.status == InboundEvent.Status.PROCESSED
    assert delivery.attempts == 1
    assert response.json()["delivery"] == delivery.pk
    deployment = Deployment.objects.get()
    assert deployment.external_id == "build-1:acme/checkout"
    assert deployment.service == service
    assert deployment.is_production
    assert deployment.status == Deployment.Status.SUCCESS
    assert deployment.repository.name == "acme/checkout"
    assert deployment.sha == "a" * 40
    assert deployment.started_at == datetime(2025, 3, 1, 10, 0, tzinfo=UTC)
    assert deployment.finished_at == datetime(2025, 3, 1, 10, 5, tzinfo=UTC)
    assert deployment.title == "Deploy checkout"
    source.refresh_from_db()
    assert source.last_event_at is not None


def test_it_accepts_the_legacy_snake_case_body_with_zoneless_times_as_utc(deliver, service):
    response = deliver("deployments", LEGACY_DEPLOYMENT)

    assert response.status_code == 200
    deployment = Deployment.objects.get()
    assert deployment.external_id == "pipeline-7:acme/checkout"
    assert deployment.status == Deployment.Status.FAILURE
    assert deployment.environment == "STAGING"
    assert not deployment.is_production
    assert deployment.started_at == datetime(2025, 3, 2, 8, 1, tzinfo=UTC)
    assert deployment.finished_at == datetime(2025, 3, 2, 8, 9, tzinfo=UTC)


def test_a_deployment_of_several_repositories_becomes_one_deployment_per_repository(deliver, source, service):
    search = ServiceFactory(slug="search", owner=service.owner, repositories=[])
    source.repo_service_map = {"gitlab.example.com/platform/search-api": "search"}
    source.save()
    body = {
        **DEPLOYMENT,
        "deploymentCommits": [
            {"repoUrl": "https://github.com/acme/checkout", "commitSha": "c" * 40},
            {"repoUrl": "https://gitlab.example.com/platform/search-api.git", "commitSha": "d" * 40},
        ],
    }

    assert deliver("deployments", body).status_code == 200

    by_id = {d.external_id: d for d in Deployment.objects.all()}
    assert set(by_id) == {"build-1:acme/checkout", "build-1:gitlab.example.com/platform/search-api"}
    assert by_id["build-1:acme/checkout"].service == service
    assert by_id["build-1:gitlab.example.com/platform/search-api"].service == search
    assert by_id["build-1:gitlab.example.com/platform/search-api"].sha == "d" * 40


def test_an_incident_is_created_then_closed(deliver, source):
    source.default_service = ServiceFactory(slug="pager", owner=source.team)
    source.save()

    assert deliver("issues", INCIDENT).status_code == 200
    incident = Incident.objects.get()
    assert incident.external_id == "INC-1"
    assert incident.service.slug == "pager"
    assert incident.started_at == datetime(2025, 3, 1, 10, 0, tzinfo=UTC)
    assert incident.resolved_at is None
    assert incident.severity == "SEV1"

    response = deliver("issue-close", b"", issue_key="INC-1")

    assert response.status_code == 200
    close = InboundEvent.objects.get(kind="devlake.issue_close")
    assert close.status == InboundEvent.Status.PROCESSED
    incident.refresh_from_db()
    assert incident.resolved_at == close.received_at


def test_issues_other_than_incidents_are_acknowledged_and_stored_as_ignored(deliver):
    response = deliver("issues", {**INCIDENT, "issueKey": "BUG-9", "type": "BUG"})

    assert response.status_code == 200
    delivery = InboundEvent.objects.get()
    assert delivery.status == InboundEvent.Status.IGNORED
    assert "BUG" in delivery.error
    assert not Incident.objects.exists()


def test_a_duplicate_delivery_is_acknowledged_and_not_processed_again(deliver):
    first = deliver("deployments", DEPLOYMENT)
    second = deliver("deployments", DEPLOYMENT)

    assert first.status_code == second.status_code == 200
    assert second.json()["duplicate"] is True
    assert list(InboundEvent.objects.values_list("status", flat=True)) == [InboundEvent.Status.PROCESSED]
    assert Deployment.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_a_burst_of_deliveries_queues_one_drain_that_processes_them_in_order(client, service):
    # The production path: autocommit, no savepoint around the insert.
    source = Source.objects.create(name="ci", kind=Source.Kind.DEVLAKE, team=service.owner)
    key = api_token_create(source=source, name="k")[1]
    url = _url("deployments", source.pk)

    with mock.patch("metrics.ingest.async_task") as queued:
        first = _post(client, url, DEPLOYMENT, key)
        second = _post(client, url, DEPLOYMENT, key)
        third = _post(client, url, {**DEPLOYMENT, "id": "build-2"}, key)

    assert [r.status_code for r in (first, second, third)] == [200, 200, 200]
    assert second.json()["duplicate"] is True
    # The first queued a drain of the source; the next found it queued: that drain takes both.
    assert [c.args for c in queued.call_args_list] == [("metrics.tasks.inbound_drain", source.pk)]
    assert inbound_drain(source.pk) == "2 processed"
    assert Deployment.objects.count() == 2

    with mock.patch("metrics.ingest.async_task") as queued:
        _post(client, url, {**DEPLOYMENT, "id": "build-3"}, key)
    assert queued.call_count == 1  # the drain had started: a new one


def test_a_changed_body_for_the_same_deployment_updates_it(deliver):
    deliver("deployments", {**DEPLOYMENT, "result": "FAILURE"})
    deliver("deployments", DEPLOYMENT)

    assert InboundEvent.objects.count() == 2
    assert Deployment.objects.get().status == Deployment.Status.SUCCESS


def test_a_body_sent_as_curl_sends_it_by_default_is_read_as_json(client, source, key):
    # curl -d without -H 'Content-Type: application/json' sends application/x-www-form-urlencoded.
    response = client.post(
        _url("deployments", source.pk),
        data=json.dumps(DEPLOYMENT),
        content_type="application/x-www-form-urlencoded",
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 200
    assert InboundEvent.objects.get().payload == DEPLOYMENT


def test_the_older_paths_and_the_by_name_path_are_served_too(client, django_capture_on_commit_callbacks, source, key):
    legacy = reverse("metrics:devlake-deployments-legacy", kwargs={"connection": source.pk})
    by_name = reverse("metrics:devlake-issues-by-name", kwargs={"connection_name": source.name})
    assert legacy == f"/api/rest/plugins/webhook/{source.pk}/deployments"
    assert by_name == "/api/rest/plugins/webhook/connections/by-name/ci/issues"

    with django_capture_on_commit_callbacks(execute=True):
        assert _post(client, legacy, DEPLOYMENT, key).status_code == 200
        assert _post(client, by_name, {**INCIDENT, "type": "TASK"}, key).status_code == 200

    assert InboundEvent.objects.count() == 2


def test_acceptance_takes_a_bounded_number_of_queries(client, source, key, django_assert_num_queries):
    url = _url("deployments", source.pk)
    _post(client, url, DEPLOYMENT, key)  # the token's last-use stamp is written once a minute
    # On PostgreSQL one statement checks the key, stores the delivery and queues the drain.
    # Elsewhere: the token, the insert in a savepoint (the test's transaction), and the drain
    # check once the delivery commits (which a test's transaction never does).
    with django_assert_num_queries(1 if connection.vendor == "postgresql" else 4):
        assert _post(client, url, {**DEPLOYMENT, "id": "build-2"}, key).status_code == 200
    assert InboundEvent.objects.count() == 2


def test_a_retry_through_the_one_statement_stores_nothing_and_queues_nothing(
    client, source, key, django_capture_on_commit_callbacks
):
    url = _url("deployments", source.pk)
    with django_capture_on_commit_callbacks(execute=True) as first:
        _post(client, url, DEPLOYMENT, key)
    with django_capture_on_commit_callbacks(execute=True) as retry:
        response = _post(client, url, DEPLOYMENT, key)

    assert response.json()["duplicate"] is True
    assert first and not retry
    assert InboundEvent.objects.count() == 1


# --- Refusals ---------------------------------------------------------------------------------


def _assert_refused(response, status: int, text: str) -> None:
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert response.json()["success"] is False
    assert text in response.json()["message"]
    assert not InboundEvent.objects.exists()
    assert not Deployment.objects.exists()


def test_it_refuses_a_missing_key(client, source):
    response = _post(client, _url("deployments", source.pk), DEPLOYMENT, key=None)
    _assert_refused(response, 401, "API key")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_it_refuses_a_bad_key(client, source, key):
    _assert_refused(_post(client, _url("deployments", source.pk), DEPLOYMENT, key[:-1] + "x"), 401, "API key")


@pytest.mark.parametrize("body", [b"{not json", b'{"id": "x", "pad": "' + b"x" * 70_000 + b'"}'])
def test_a_bad_key_is_refused_before_the_body_is_judged(client, source, key, body):
    response = _post(client, _url("deployments", source.pk), body, "e360_not-a-key")
    _assert_refused(response, 401, "API key")


def test_it_refuses_a_revoked_key(client, source, key):
    ApiToken.objects.update(revoked_at=datetime(2025, 1, 1, tzinfo=UTC))
    _assert_refused(_post(client, _url("deployments", source.pk), DEPLOYMENT, key), 401, "API key")


def test_it_refuses_a_key_of_an_inactive_source(client, source, key):
    Source.objects.update(is_active=False)
    _assert_refused(_post(client, _url("deployments", source.pk), DEPLOYMENT, key), 401, "API key")


def test_another_sources_key_gets_the_same_answer_as_an_unknown_connection(client, source, key, other_team):
    other = Source.objects.create(name="other", kind=Source.Kind.DEVLAKE, team=other_team)
    other_key = api_token_create(source=other, name="other key")[1]

    foreign = _post(client, _url("deployments", source.pk), DEPLOYMENT, other_key)
    unknown = _post(client, _url("deployments", 999_999), DEPLOYMENT, key)
    not_a_number = _post(client, _url("deployments", "abc"), DEPLOYMENT, key)

    _assert_refused(foreign, 404, "connection not found")
    assert foreign.json() == unknown.json() == not_a_number.json()
    assert unknown.status_code == not_a_number.status_code == 404


def test_a_json_api_source_is_not_a_devlake_connection(client, team):
    api = Source.objects.create(name="api", kind=Source.Kind.API, team=team)
    api_key = api_token_create(source=api, name="api key")[1]
    _assert_refused(_post(client, _url("deployments", api.pk), DEPLOYMENT, api_key), 404, "connection not found")


@pytest.mark.parametrize(
    ("body", "text"),
    [
        (b"{not json", "not valid JSON"),
        (b"", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b'{"id": NaN}', "not valid JSON"),
        (b'{"id": "a\\u0000b"}', "NUL"),
        (b"[1, 2]", "JSON object"),
        (b"[" * 100_000, "not valid JSON"),
    ],
)
def test_it_refuses_a_body_that_is_not_a_json_object(client, source, key, body, text):
    _assert_refused(_post(client, _url("deployments", source.pk), body, key), 400, text)


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ({**DEPLOYMENT, "deploymentCommits": []}, "deploymentCommits"),
        ({"id": "x", "startedDate": "2025-01-01T00:00:00Z"}, "repoUrl"),
        ({**DEPLOYMENT, "finishedDate": "yesterday"}, "finishedDate"),
        ({**DEPLOYMENT, "result": "MAYBE"}, "result"),
    ],
)
def test_it_refuses_a_deployment_it_cannot_read_with_the_reason(client, source, key, body, text):
    _assert_refused(_post(client, _url("deployments", source.pk), body, key), 400, text)


def test_it_refuses_an_incident_without_its_start(client, source, key):
    body = {k: v for k, v in INCIDENT.items() if k != "createdDate"}
    _assert_refused(_post(client, _url("issues", source.pk), body, key), 400, "createdDate")


def test_it_refuses_a_body_over_five_megabytes(client, source, key):
    body = json.dumps({**DEPLOYMENT, "padding": "x" * MAX_BODY_BYTES})
    _assert_refused(_post(client, _url("deployments", source.pk), body, key), 413, "larger than 5 MB")


def test_it_refuses_a_declared_oversized_body_without_reading_it(client, source, key):
    # The test client's payload raises if read past its end: the view must not try.
    response = client.generic(
        "POST",
        _url("deployments", source.pk),
        data=b"{}",
        content_type="application/json",
        headers={"Authorization": f"Bearer {key}"},
        CONTENT_LENGTH=str(MAX_BODY_BYTES + 1),
    )
    _assert_refused(response, 413, "larger than")


def test_a_body_between_django_s_upload_limit_and_five_megabytes_is_accepted(client, source, key):
    body = json.dumps({**DEPLOYMENT, "padding": "x" * (3 * 1024 * 1024)})
    assert _post(client, _url("deployments", source.pk), body, key).status_code == 200


def test_an_escaped_backslash_before_u0000_is_not_a_nul(client, source, key):
    body = json.dumps({**DEPLOYMENT, "displayTitle": "path C:\\u0000dir"})
    assert "\\\\u0000" in body
    assert _post(client, _url("deployments", source.pk), body, key).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/api/rest/plugins/webhook/connections/1/pull_requests",
        "/api/rest/projects/payments/deployments",
        "/api/rest/plugins/webhook/connections/1/issue/A%2FB/close",
    ],
)
def test_other_devlake_paths_answer_a_json_404(client, path):
    response = client.post(path, data="{}", content_type="application/json")
    assert response.status_code == 404
    assert response.json() == {"success": False, "message": "no such endpoint"}


@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_other_methods_get_405_with_a_json_message(client, source, key, method):
    response = getattr(client, method)(_url("deployments", source.pk), headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert response.json()["success"] is False


def test_the_webhook_needs_no_csrf_token(source, key):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    assert _post(client, _url("deployments", source.pk), DEPLOYMENT, key).status_code == 200


def test_a_database_outage_answers_503_not_500(client, source, key):
    from django.db import OperationalError

    with mock.patch("django.db.backends.utils.CursorWrapper.execute", side_effect=OperationalError("down")):
        response = _post(client, _url("deployments", source.pk), DEPLOYMENT, key)
    assert response.status_code == 503
    assert response.json()["success"] is False


# --- Keys ------------------------------------------------------------------------------------


def test_keys_are_looked_up_by_their_hash_and_never_stored_in_clear(client, source, key):
    token = ApiToken.objects.get()
    assert key not in json.dumps(list(ApiToken.objects.values()), default=str)
    assert token.key_hash == ApiToken.hash_key(key) != key

    with mock.patch.object(ApiToken, "hash_key", wraps=ApiToken.hash_key) as hashed:
        _post(client, _url("deployments", source.pk), DEPLOYMENT, key)
    hashed.assert_called_once_with(key)


def test_the_key_is_not_kept_with_the_delivery(client, source, key):
    _post(client, _url("deployments", source.pk), DEPLOYMENT, key, **{"X-Request-Id": "r-1"})
    delivery = InboundEvent.objects.get()
    assert delivery.headers == {"Content-Type": "application/json", "X-Request-Id": "r-1"}
    assert key not in json.dumps([delivery.headers, delivery.path_params, delivery.payload])


# --- create_source ----------------------------------------------------------------------------


def test_create_source_prints_a_url_and_key_that_the_webhook_accepts(
    client, django_capture_on_commit_callbacks, service, team, settings
):
    settings.SITE_URL = "https://e360.example.com"
    out = io.StringIO()

    call_command("create_source", "--name", "payments-ci", "--service", service.slug, "--team", team.slug, stdout=out)

    source = Source.objects.get(name="payments-ci")
    assert (source.kind, source.default_service, source.team) == (Source.Kind.DEVLAKE, service, team)
    text = out.getvalue()
    base = f"https://e360.example.com/api/rest/plugins/webhook/connections/{source.pk}/"
    assert base in text
    assert "curl" in text
    [key] = re.findall(r"e360_[\w-]{20,}", text.split("Example:")[0])
    assert ApiToken.objects.get(source=source).key_hash == ApiToken.hash_key(key)

    with django_capture_on_commit_callbacks(execute=True):
        response = _post(client, base.removeprefix("https://e360.example.com") + "deployments", DEPLOYMENT, key)
    assert response.status_code == 200
    assert Deployment.objects.get().source == source


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (["--service", "nope"], 'No service with slug "nope"'),
        (["--team", "nope"], 'No team with slug "nope"'),
    ],
)
def test_create_source_refuses_unknown_slugs_and_creates_nothing(db, args, text):
    with pytest.raises(CommandError, match=text):
        call_command("create_source", "--name", "x", *args, stdout=io.StringIO())
    assert not Source.objects.exists()


def test_create_source_refuses_a_taken_name(source):
    with pytest.raises(CommandError, match="exists already"):
        call_command("create_source", "--name", source.name, stdout=io.StringIO())


def test_create_source_for_the_json_api(db):
    out = io.StringIO()
    call_command("create_source", "--name", "scripts", "--kind", "api", stdout=out)
    assert Source.objects.get().kind == Source.Kind.API
    assert "/api/v1/" in out.getvalue()

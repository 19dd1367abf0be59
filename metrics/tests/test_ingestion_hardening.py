"""Bad input on every way in (the DevLake webhook and the JSON API): times out of range or out of
order, deliveries with too many items, text no database can store. Each is a 4xx with a message
and stores nothing, and a bad row already stored stops no refresh but its own."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
from django.db import DataError, connection, transaction
from django.urls import reverse

from metrics.ingest import KIND_DEPLOYMENT, KIND_ISSUE, inbound_drain
from metrics.models import DailyRollup, Deployment, InboundEvent, Incident, Repository, Source
from metrics.refresh import service_refresh
from metrics.schemas import MAX_BULK_ITEMS, DeploymentIn, IncidentIn, PipelineRunIn, PullRequestIn, PushIn
from metrics.services import api_token_create
from metrics.storable import json_text_problem, text_problem
from metrics.tests.factories import DeploymentFactory, IncidentFactory
from metrics.webhooks import MAX_BODY_BYTES

DEPLOYMENT = {
    "id": "build-1",
    "displayTitle": "Deploy checkout",
    "result": "SUCCESS",
    "environment": "PRODUCTION",
    "url": "https://ci.example.com/builds/1",
    "startedDate": "2025-03-01T10:00:00Z",
    "finishedDate": "2025-03-01T10:05:00Z",
    "deploymentCommits": [
        {
            "repoUrl": "https://github.com/acme/checkout",
            "refName": "main",
            "commitSha": "a" * 40,
            "commitMsg": "Fix the basket",
        }
    ],
}
INCIDENT = {
    "issueKey": "INC-1",
    "title": "Checkout is down",
    "type": "INCIDENT",
    "status": "IN_PROGRESS",
    "createdDate": "2025-03-01T11:00:00Z",
    "severity": "SEV1",
    "url": "https://pager.example.com/INC-1",
}
YEAR_10000 = "9999-12-31T23:59:59-14:00"  # year 10000 in UTC


@pytest.fixture
def devlake(service):
    return Source.objects.create(
        name="ci-devlake", kind=Source.Kind.DEVLAKE, team=service.owner, default_service=service
    )


@pytest.fixture
def devlake_key(devlake):
    return api_token_create(source=devlake, name="ci key")[1]


@pytest.fixture
def post(client, devlake, devlake_key, django_capture_on_commit_callbacks):
    """Post to a DevLake endpoint as a CI script would; what the answer queued runs inline."""

    def post(name: str, body: object, headers: dict[str, str] | None = None, **path: str):
        url = reverse(f"metrics:devlake-{name}", kwargs={"connection": devlake.pk, **path})
        data = body if isinstance(body, bytes | str) else json.dumps(body)
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                url,
                data=data,
                content_type="application/json",
                headers={"Authorization": f"Bearer {devlake_key}", **(headers or {})},
            )

    return post


def _refused(response, status: int, text: str) -> None:
    assert response.status_code == status, response.content
    assert response.json()["success"] is False
    assert text in response.json()["message"], response.json()["message"]
    assert not InboundEvent.objects.exists()
    assert not Deployment.objects.exists()
    assert not Incident.objects.exists()
    assert not Repository.objects.exists()


def _store(devlake, kind: str, payload: dict, n: int = 1) -> InboundEvent:
    """A delivery stored as the webhook stored it before these checks (bypassing them)."""
    return InboundEvent.objects.create(
        source=devlake,
        delivery_id=f"stored-{n}",
        kind=kind,
        payload=payload,
        received_at=datetime(2025, 3, 2, tzinfo=UTC),
    )


# --- 6. Times: the JSON API's range and order, on every way in -------------------------------


def test_a_devlake_time_out_of_range_is_refused_and_nothing_freezes(post, client, service, devlake_key, staff):
    response = post("deployments", {**DEPLOYMENT, "finishedDate": YEAR_10000})

    _refused(response, 400, "finishedDate must be between 1970-01-01 and 2100-01-01")
    # What the stored row used to break: the service's refresh, the API's list and the admin's list.
    assert "checkout" in service_refresh(service_id=service.id)
    listed = client.get("/api/v1/deployments", headers={"Authorization": f"Bearer {devlake_key}"})
    assert listed.status_code == 200
    assert listed.json()["count"] == 0
    client.force_login(staff)
    assert client.get(reverse("admin:metrics_deployment_changelist")).status_code == 200
    # The next good delivery of the service goes through.
    assert post("deployments", DEPLOYMENT).status_code == 200
    assert Deployment.objects.get().finished_at == datetime(2025, 3, 1, 10, 5, tzinfo=UTC)
    assert DailyRollup.objects.filter(service=service, deployments=1).exists()


@pytest.mark.parametrize(
    ("name", "body", "text"),
    [
        ("deployments", {**DEPLOYMENT, "startedDate": "1969-12-31T23:59:59Z"}, "startedDate must be between"),
        ("deployments", {**DEPLOYMENT, "finishedDate": "2100-01-01T00:00:00Z"}, "finishedDate must be between"),
        ("deployments", {**DEPLOYMENT, "finishedDate": "0001-01-01T00:00:00+01:00"}, "finishedDate must be"),
        (
            "deployments",
            {**DEPLOYMENT, "startedDate": "2025-03-01T11:00:00Z"},
            "finishedDate must not be before startedDate",
        ),
        (
            "deployments",
            {"pipeline_id": "p1", "repo_url": "acme/checkout", "end_time": "9999-12-31 23:59:59"},
            "finishedDate must be between",
        ),
        (
            "deployments",
            {**DEPLOYMENT, "deploymentCommits": [{**DEPLOYMENT["deploymentCommits"][0], "finishedDate": YEAR_10000}]},
            "finishedDate must be between",
        ),
        ("issues", {**INCIDENT, "createdDate": YEAR_10000}, "createdDate must be between"),
        ("issues", {**INCIDENT, "resolutionDate": "2025-03-01T10:00:00Z"}, "resolutionDate must not be before"),
        ("issues", {**INCIDENT, "status": "DONE", "updatedDate": "2025-02-01T00:00:00Z"}, "must not be before"),
        ("deployments", {**DEPLOYMENT, "url": "javascript:alert(1)"}, "url must be an http:// or https:// URL"),
    ],
)
def test_the_webhook_refuses_what_the_json_api_refuses_naming_the_devlake_field(post, name, body, text):
    _refused(post(name, body), 400, text)


def test_a_stored_delivery_with_a_bad_time_fails_with_its_reason_and_is_not_retried(devlake, service):
    bad = _store(devlake, KIND_DEPLOYMENT, {**DEPLOYMENT, "finishedDate": YEAR_10000})
    good = _store(devlake, KIND_DEPLOYMENT, {**DEPLOYMENT, "id": "build-2"}, n=2)

    inbound_drain(devlake.pk)

    bad.refresh_from_db()
    good.refresh_from_db()
    assert bad.status == InboundEvent.Status.FAILED
    assert "finishedDate must be between 1970-01-01 and 2100-01-01" in bad.error
    assert good.status == InboundEvent.Status.PROCESSED
    assert list(Deployment.objects.values_list("external_id", flat=True)) == ["build-2:acme/checkout"]
    assert inbound_drain(devlake.pk) == "nothing to process"  # failed stays failed until retried by hand


def test_a_close_that_arrives_before_the_incident_started_fails_with_its_reason(post, devlake, service):
    future = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    assert post("issues", {**INCIDENT, "createdDate": future}).status_code == 200

    assert post("issue-close", b"", issue_key="INC-1").status_code == 200

    close = InboundEvent.objects.get(kind="devlake.issue_close")
    assert close.status == InboundEvent.Status.FAILED
    assert "the close must not be before its createdDate" in close.error
    assert Incident.objects.get().resolved_at is None


def _set_time_beyond_python(model, pk: int, column: str) -> None:
    """Store year 10000 (UTC) as the old webhook did, which only raw SQL can write now."""
    table = model._meta.db_table
    value = "10000-01-01 13:59:59+00" if connection.vendor == "postgresql" else "10000-01-01 13:59:59"
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET {column} = %s WHERE id = %s", [value, pk])  # noqa: S608


def test_a_stored_row_out_of_range_or_out_of_order_stops_no_refresh_and_is_reported(devlake, service, caplog):
    good = DeploymentFactory(source=devlake, service=service, finished_at=datetime(2025, 3, 1, 10, tzinfo=UTC))
    beyond = DeploymentFactory(source=devlake, service=service, finished_at=datetime(2025, 3, 2, tzinfo=UTC))
    _set_time_beyond_python(Deployment, beyond.pk, "finished_at")
    too_early = IncidentFactory(source=devlake, service=service, started_at=datetime(1969, 7, 20, tzinfo=UTC))
    # Out of order but in range: read as they are (the definitions ignore negative spans).
    DeploymentFactory(
        source=devlake,
        service=service,
        started_at=datetime(2025, 3, 3, 12, tzinfo=UTC),
        finished_at=datetime(2025, 3, 3, 10, tzinfo=UTC),
    )
    IncidentFactory(
        source=devlake,
        service=service,
        started_at=datetime(2025, 3, 1, 12, tzinfo=UTC),
        resolved_at=datetime(2025, 3, 1, 11, tzinfo=UTC),
    )

    with caplog.at_level(logging.WARNING, logger="metrics.refresh"):
        summary = service_refresh(service_id=service.id)

    assert f"deployments {beyond.pk}" in summary
    assert f"incidents {too_early.pk}" in summary
    assert f"deployments {beyond.pk}" in caplog.text
    good.refresh_from_db()
    assert good.is_failed  # the in-range incident that followed it
    days = dict(DailyRollup.objects.filter(environment="production").values_list("day", "deployments"))
    assert days == {datetime(2025, 3, 1).date(): 1, datetime(2025, 3, 3).date(): 1}


# --- 8. Items per delivery: the JSON API's bulk limit ------------------------------------------


def _commits(count: int) -> list[dict]:
    return [{"repoUrl": f"https://github.com/acme/r{i}", "commitSha": f"{i:040x}"} for i in range(count)]


def test_a_deployment_with_more_commits_than_the_bulk_limit_is_a_413_and_stores_nothing(post):
    response = post("deployments", {**DEPLOYMENT, "deploymentCommits": _commits(20_000)})

    _refused(response, 413, f"lists 20000 commits; a delivery takes at most {MAX_BULK_ITEMS}")


def test_a_deployment_at_the_bulk_limit_is_accepted(client, devlake, devlake_key):
    url = reverse("metrics:devlake-deployments", kwargs={"connection": devlake.pk})
    body = json.dumps({**DEPLOYMENT, "deploymentCommits": _commits(MAX_BULK_ITEMS)})

    response = client.post(
        url, body, content_type="application/json", headers={"Authorization": f"Bearer {devlake_key}"}
    )

    assert response.status_code == 200
    assert InboundEvent.objects.count() == 1


def test_a_stored_delivery_over_the_limit_fails_without_creating_anything(devlake):
    delivery = _store(devlake, KIND_DEPLOYMENT, {**DEPLOYMENT, "deploymentCommits": _commits(MAX_BULK_ITEMS + 1)})

    inbound_drain(devlake.pk)

    delivery.refresh_from_db()
    assert delivery.status == InboundEvent.Status.FAILED
    assert f"at most {MAX_BULK_ITEMS}" in delivery.error
    assert not Deployment.objects.exists()
    assert not Repository.objects.exists()


@pytest.mark.parametrize(("name", "path"), [("deployments", {}), ("issues", {}), ("issue-close", {"issue_key": "I-1"})])
def test_every_webhook_endpoint_refuses_a_body_over_five_megabytes(post, name, path):
    body = json.dumps({**INCIDENT, "padding": "x" * MAX_BODY_BYTES})
    _refused(post(name, body, **path), 413, "larger than 5 MB")


# --- 9. Text no database can store: 4xx, never "retry later" -------------------------------


def _string_paths(value: object, path: tuple = ()) -> list[tuple]:
    """The path of every string in a JSON document."""
    if isinstance(value, str):
        return [path]
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in _string_paths(item, (*path, key))]
    if isinstance(value, list):
        return [p for index, item in enumerate(value) for p in _string_paths(item, (*path, index))]
    return []


def _replaced(value: object, path: tuple, text: str) -> object:
    if not path:
        return text
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = _replaced(value[path[0]], path[1:], text)
    return copy


def _cases(body: dict) -> list:
    return [
        pytest.param(path, bad, id=f"{'.'.join(map(str, path))}-{name}")
        for path in _string_paths(body)
        for name, bad in (("surrogate", "a\ud800b"), ("nul", "a\x00b"))
    ]


@pytest.mark.parametrize(("path", "bad"), _cases(DEPLOYMENT))
def test_every_string_of_a_devlake_deployment_with_unstorable_text_is_a_400(post, path, bad):
    # json.dumps escapes both, as a sender's JSON library would: "\ud800", "\u0000".
    response = post("deployments", json.dumps(_replaced(DEPLOYMENT, path, bad)))
    name = ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in path).replace(".[", "[")
    _refused(response, 400, f"{name} must not contain")


@pytest.mark.parametrize(("path", "bad"), _cases(INCIDENT))
def test_every_string_of_a_devlake_issue_with_unstorable_text_is_a_400(post, path, bad):
    _refused(post("issues", json.dumps(_replaced(INCIDENT, path, bad))), 400, f"{path[0]} must not contain")


@pytest.mark.parametrize("bad", ["\udfff", "\x00"])
def test_a_key_with_unstorable_text_is_a_400(post, bad):
    _refused(post("deployments", json.dumps({**DEPLOYMENT, f"x{bad}": 1})), 400, "a key of the body must not contain")


def test_an_escaped_surrogate_pair_is_text_and_is_accepted(post):
    body = json.dumps({**DEPLOYMENT, "displayTitle": "Ship it \U0001f680"})
    assert "\\ud83d\\ude80" in body

    assert post("deployments", body).status_code == 200
    assert Deployment.objects.get().title == "Ship it \U0001f680"


def test_a_nul_in_the_close_path_s_issue_key_is_a_400(post):
    _refused(post("issue-close", b"", issue_key="INC\x00-1"), 400, "the issue key must not contain NUL")


def test_a_nul_in_a_header_kept_with_the_delivery_is_a_400(post):
    _refused(post("deployments", DEPLOYMENT, {"X-Request-Id": "r\x00"}), 400, "the X-Request-Id header must not")


def test_a_stored_delivery_with_unstorable_text_fails_with_its_reason(devlake):
    # SQLite stores what PostgreSQL's jsonb refuses: the worker must say why, not crash.
    payload = {**INCIDENT, "title": "a\ud800"}
    if connection.vendor == "postgresql":
        with pytest.raises(DataError), transaction.atomic():
            _store(devlake, KIND_ISSUE, payload)
        return
    delivery = _store(devlake, KIND_ISSUE, payload)

    inbound_drain(devlake.pk)

    delivery.refresh_from_db()
    assert delivery.status == InboundEvent.Status.FAILED
    assert "title must not contain a lone surrogate" in delivery.error


API_BODIES = [
    ("deployments", DeploymentIn),
    ("incidents", IncidentIn),
    ("pull-requests", PullRequestIn),
    ("pipeline-runs", PipelineRunIn),
    ("pushes", PushIn),
]


def _api_cases() -> list:
    cases = []
    for endpoint, schema in API_BODIES:
        example = schema.model_config["json_schema_extra"]["examples"][0]
        for param in _cases(example):
            path, bad = param.values
            cases.append(pytest.param(endpoint, example, path, bad, id=f"{endpoint}-{param.id}"))
    return cases


FIXED_FORM = {"service", "status", "state", "started_at", "finished_at", "opened_at", "merged_at"}
FIXED_FORM |= {"submitted_at", "authored_at", "pushed_at"}


@pytest.mark.parametrize(("endpoint", "example", "path", "bad"), _api_cases())
def test_every_string_of_every_api_body_with_unstorable_text_is_a_422_naming_it(
    api_client, endpoint, example, path, bad
):
    for url, body, loc in (
        (f"/api/v1/{endpoint}", _replaced(example, path, bad), ["body", *path]),
        (f"/api/v1/{endpoint}/bulk", [example, _replaced(example, path, bad)], ["body", 1, *path]),
    ):
        response = api_client.post(url, json.dumps(body), content_type="application/json")

        assert response.status_code == 422, response.content
        messages = {tuple(error["loc"]): error["msg"] for error in response.json()["detail"]}
        # Fields of a fixed form (a slug, a choice, a time) refuse it as not of that form.
        assert path[-1] in FIXED_FORM or messages[tuple(loc)].startswith("must not contain")
    assert not Deployment.objects.exists()


@pytest.mark.parametrize("key", ["INC\x00-1", "INC-1\ud800"])
def test_an_api_path_parameter_with_unstorable_text_is_a_422(api_client, key):
    from urllib.parse import quote

    url = f"/api/v1/incidents/{quote(key, errors='surrogatepass')}/resolve"
    response = api_client.post(url, {"resolved_at": "2025-05-01T12:00:00Z"}, content_type="application/json")

    # A surrogate's UTF-8 bytes are not UTF-8: Django keeps them percent-encoded, a 404, not a 500.
    assert response.status_code in (404, 422)
    assert response.status_code == 422 or "no incident" in response.json()["detail"]


def test_an_api_key_with_a_nul_is_a_401(db, client):
    response = client.get("/api/v1/deployments", headers={"Authorization": "Bearer e360_\x00"})
    assert response.status_code == 401


# --- The shared check ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("plain", None),
        ("emoji \U0001f680 and é", None),
        ("a\x00", "NUL"),
        ("\ud800", "lone surrogate"),
        ("\udc00x", "lone surrogate"),
    ],
)
def test_text_problem_names_nul_and_lone_surrogates(value, problem):
    found = text_problem(value)
    assert (found is None) if problem is None else (problem in found)


def test_json_text_problem_says_where():
    assert json_text_problem({"a": [{"b": "ok"}, {"c": "x\x00"}]}) == "a[1].c must not contain NUL characters"
    assert json_text_problem({"a": [1, 2.5, None, True, "ok"]}) is None

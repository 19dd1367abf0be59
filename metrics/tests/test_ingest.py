"""DevLake bodies → records: the parsing (no database) and the processing service."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st

from e360.tests.factories import ServiceFactory
from metrics.ingest import (
    KIND_DEPLOYMENT,
    KIND_ISSUE,
    KIND_ISSUE_CLOSE,
    PayloadError,
    checked,
    devlake_deployments,
    devlake_issue,
    inbound_drain,
    inbound_mark_ignored,
    inbound_process,
    inbound_retry,
    parse_timestamp,
    repository_name,
)
from metrics.inputs import PullRequestInput, ReviewInput
from metrics.models import Deployment, InboundEvent, Incident, Repository, Source

RECEIVED = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


# Queued tasks (the drain, the refresh) run at once, in the test.
pytestmark = pytest.mark.usefixtures("tasks_run_inline")


# --- Repository names ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("https://github.com/acme/checkout", "acme/checkout"),
        ("https://github.com/acme/checkout.git", "acme/checkout"),
        ("https://github.com/acme/checkout/", "acme/checkout"),
        ("http://www.github.com/acme/checkout", "acme/checkout"),
        ("https://x-access-token:secret@github.com/acme/checkout.git", "acme/checkout"),
        ("git@github.com:acme/checkout.git", "acme/checkout"),
        ("ssh://git@github.com/acme/checkout.git", "acme/checkout"),
        ("https://GitLab.Example.com:8443/platform/team/search.git", "gitlab.example.com/platform/team/search"),
        ("git@gitlab.example.com:platform/search.git", "gitlab.example.com/platform/search"),
        ("https://dev.azure.com/org/project/_git/repo", "dev.azure.com/org/project/_git/repo"),
        ("devlake", "devlake"),
        ("  acme/checkout  ", "acme/checkout"),
    ],
)
def test_repository_urls_become_repository_names(url, name):
    assert repository_name(url) == name


def test_credentials_in_a_repository_url_are_never_kept():
    [deployment] = devlake_deployments(
        {"id": "1", "repoUrl": "https://user:hunter2@gitlab.example.com/a/b.git", "commitSha": "f" * 40},
        received_at=RECEIVED,
    )
    assert "hunter2" not in deployment.external_id + (deployment.repository or "")


# --- Times ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("2025-03-01T10:00:00Z", datetime(2025, 3, 1, 10, tzinfo=UTC)),
        ("2025-03-01T10:00:00+00:00", datetime(2025, 3, 1, 10, tzinfo=UTC)),
        ("2025-03-01T12:00:00+02:00", datetime(2025, 3, 1, 10, tzinfo=UTC)),
        ("2025-03-01T10:00:00.123+0000", datetime(2025, 3, 1, 10, 0, 0, 123000, tzinfo=UTC)),
        ("2025-03-01 10:00:00", datetime(2025, 3, 1, 10, tzinfo=UTC)),
        ("2025-03-01T10:00:00", datetime(2025, 3, 1, 10, tzinfo=UTC)),
    ],
)
def test_times_without_a_zone_are_utc_like_devlake_reads_them(text, moment):
    parsed = parse_timestamp(text, "startedDate")
    assert parsed == moment
    assert parsed.tzinfo is not None


@pytest.mark.parametrize("value", ["yesterday", "2025-13-01T00:00:00Z", 1740823200, ["2025-03-01"]])
def test_a_bad_time_names_its_field(value):
    with pytest.raises(PayloadError, match="startedDate"):
        parse_timestamp(value, "startedDate")


# --- Deployments -------------------------------------------------------------------------------


def test_a_current_body_takes_devlakes_defaults():
    [deployment] = devlake_deployments(
        {"id": 42, "deploymentCommits": [{"repoUrl": "https://github.com/acme/checkout", "commitSha": "a1"}]},
        received_at=RECEIVED,
    )
    assert deployment.external_id == "42:acme/checkout"
    assert deployment.status == Deployment.Status.SUCCESS
    assert deployment.environment == "PRODUCTION"
    assert deployment.finished_at == RECEIVED  # no finish given: "now", i.e. when it was received
    assert deployment.started_at is None
    assert deployment.changes is None  # deploymentCommits name deployed heads, not change lists


def test_the_oldest_legacy_body_without_an_id_is_identified_by_its_commit():
    [deployment] = devlake_deployments(
        {"repo_url": "devlake", "commit_sha": "015e3d3b", "start_time": "2020-01-01T12:00:00+00:00"},
        received_at=RECEIVED,
    )
    assert deployment.external_id == "015e3d3b:devlake"
    assert deployment.started_at == datetime(2020, 1, 1, 12, tzinfo=UTC)


def test_legacy_deployment_commits_in_snake_case_are_read():
    deployments = devlake_deployments(
        {
            "pipeline_id": "p1",
            "start_time": "2025-03-01T10:00:00Z",
            "deployment_commits": [
                {"repo_url": "https://github.com/acme/a", "commit_sha": "1", "commit_msg": "First line\nmore"},
                {"repo_url": "https://github.com/acme/b", "commit_sha": "2"},
            ],
        },
        received_at=RECEIVED,
    )
    assert [(d.external_id, d.sha) for d in deployments] == [("p1:acme/a", "1"), ("p1:acme/b", "2")]
    assert deployments[0].title == "First line"


def test_commits_of_one_repository_make_one_deployment_of_the_last_commit():
    deployments = devlake_deployments(
        {
            "id": "d",
            "startedDate": "2025-03-01T10:00:00Z",
            "finishedDate": "2025-03-01T10:30:00Z",
            "deploymentCommits": [
                {"repoUrl": "https://github.com/acme/a.git", "commitSha": "1", "finishedDate": "2025-03-01T10:10:00Z"},
                {"repoUrl": "git@github.com:acme/a.git", "commitSha": "2", "finishedDate": "2025-03-01T10:20:00Z"},
            ],
        },
        received_at=RECEIVED,
    )
    [deployment] = deployments
    assert deployment.sha == "2"
    assert deployment.finished_at == datetime(2025, 3, 1, 10, 20, tzinfo=UTC)


def test_a_failed_commit_fails_its_repositorys_deployment_only():
    deployments = devlake_deployments(
        {
            "id": "d",
            "result": "SUCCESS",
            "deploymentCommits": [
                {"repoUrl": "acme/a", "commitSha": "1", "result": "FAILURE"},
                {"repoUrl": "acme/b", "commitSha": "2"},
            ],
        },
        received_at=RECEIVED,
    )
    assert [d.status for d in deployments] == [Deployment.Status.FAILURE, Deployment.Status.SUCCESS]


@pytest.mark.parametrize(
    ("result", "status"),
    [
        ("SUCCESS", Deployment.Status.SUCCESS),
        ("success", Deployment.Status.SUCCESS),
        ("FAILURE", Deployment.Status.FAILURE),
        ("ABORT", Deployment.Status.CANCELLED),
        ("ERROR", Deployment.Status.ERROR),
        ("", Deployment.Status.SUCCESS),
    ],
)
def test_devlake_results_map_to_statuses(result, status):
    [deployment] = devlake_deployments({"id": "1", "repoUrl": "a/b", "result": result}, received_at=RECEIVED)
    assert deployment.status == status


def test_an_overlong_external_id_is_hashed_to_fit():
    [deployment] = devlake_deployments(
        {"id": "x" * 150, "repoUrl": "https://gitlab.example.com/" + "deep/" * 20 + "repo"}, received_at=RECEIVED
    )
    assert len(deployment.external_id) <= 200
    assert deployment.external_id.startswith("sha256:")


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ([], "JSON object"),
        ({"id": "1"}, "repoUrl"),
        ({"id": "1", "deploymentCommits": "acme/a"}, "non-empty list"),
        ({"id": "1", "deploymentCommits": ["acme/a"]}, r"deploymentCommits\[0\] must be an object"),
        ({"id": "1", "deploymentCommits": [{"commitSha": "1"}]}, r"deploymentCommits\[0\].repoUrl"),
        ({"repoUrl": "a/b"}, "id is required"),
        ({"id": {"nested": 1}, "repoUrl": "a/b"}, "id must be a string"),
        ({"id": "1", "repoUrl": "a/b", "result": "MAYBE"}, "result"),
    ],
)
def test_a_deployment_body_that_cannot_be_read_says_why(body, text):
    with pytest.raises(PayloadError, match=text):
        devlake_deployments(body, received_at=RECEIVED)


_repo_urls = st.builds(
    "https://{}/{}/{}".format,
    st.sampled_from(["github.com", "gitlab.example.com"]),
    st.from_regex(r"[a-z][a-z0-9-]{0,8}", fullmatch=True),
    st.from_regex(r"[a-z][a-z0-9-]{0,8}", fullmatch=True),
)


# Text a database can store: no NUL, no lone surrogate (the parser refuses those).
_ids = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), min_size=1, max_size=30)


@given(st.lists(_repo_urls, min_size=1, max_size=8), _ids.filter(str.strip))
def test_one_deployment_per_distinct_repository_each_with_its_own_id(urls, deployment_id):
    body = {"id": deployment_id, "deploymentCommits": [{"repoUrl": u, "commitSha": str(i)} for i, u in enumerate(urls)]}
    deployments = devlake_deployments(body, received_at=RECEIVED)
    assert len(deployments) == len({repository_name(u) for u in urls})
    assert len({d.external_id for d in deployments}) == len(deployments)
    # Parsing is a pure function of the body and the time received: the same input, the same records.
    assert devlake_deployments(body, received_at=RECEIVED) == deployments


# --- Issues ----------------------------------------------------------------------------------


def test_an_incident_issue_becomes_incident_data():
    issue = devlake_issue(
        {
            "issueKey": "INC-1",
            "title": "Down",
            "type": "incident",
            "createdDate": "2025-03-01T10:00:00",
            "resolutionDate": "2025-03-01T11:00:00Z",
            "priority": "P1",
        },
        received_at=RECEIVED,
    )
    assert issue.incident is not None
    assert issue.incident.started_at == datetime(2025, 3, 1, 10, tzinfo=UTC)
    assert issue.incident.resolved_at == datetime(2025, 3, 1, 11, tzinfo=UTC)
    assert issue.incident.severity == "P1"


def test_a_legacy_snake_case_issue_is_read():
    issue = devlake_issue(
        {"issue_key": "INC-2", "type": "INCIDENT", "created_date": "2025-03-01T10:00:00Z", "status": "TODO"},
        received_at=RECEIVED,
    )
    assert issue.key == "INC-2"
    assert issue.incident.resolved_at is None


def test_a_done_incident_without_a_resolution_date_is_resolved_when_last_updated():
    body = {"issueKey": "INC-3", "type": "INCIDENT", "createdDate": "2025-03-01T10:00:00Z", "status": "DONE"}
    assert devlake_issue(body, received_at=RECEIVED).incident.resolved_at == RECEIVED
    body["updatedDate"] = "2025-03-01T11:30:00Z"
    assert devlake_issue(body, received_at=RECEIVED).incident.resolved_at == datetime(2025, 3, 1, 11, 30, tzinfo=UTC)


def test_other_issue_types_carry_no_incident():
    issue = devlake_issue({"issueKey": "BUG-1", "type": "BUG"}, received_at=RECEIVED)
    assert issue.incident is None
    assert issue.type == "BUG"


@pytest.mark.parametrize(
    ("body", "text"),
    [({"type": "INCIDENT"}, "issueKey"), ({"issueKey": "I-1", "type": "INCIDENT"}, "createdDate")],
)
def test_an_issue_body_that_cannot_be_read_says_why(body, text):
    with pytest.raises(PayloadError, match=text):
        devlake_issue(body, received_at=RECEIVED)


# --- Processing --------------------------------------------------------------------------------


@pytest.fixture
def source(team):
    return Source.objects.create(name="ci", kind=Source.Kind.DEVLAKE, team=team)


def _delivery(source, kind: str, payload: dict, **fields) -> InboundEvent:
    return InboundEvent.objects.create(
        source=source,
        kind=kind,
        delivery_id=f"{kind}-{InboundEvent.objects.count()}",
        payload=payload,
        received_at=fields.pop("received_at", RECEIVED),
        **fields,
    )


def _deployment_body(repo: str = "https://github.com/acme/checkout") -> dict:
    return {
        "id": "build-1",
        "startedDate": "2025-03-01T10:00:00Z",
        "finishedDate": "2025-03-01T10:05:00Z",
        "deploymentCommits": [{"repoUrl": repo, "commitSha": "a" * 40}],
    }


def _incident_body(key: str = "INC-1", **fields) -> dict:
    return {"issueKey": key, "title": "Down", "type": "INCIDENT", "createdDate": "2025-03-01T10:00:00Z", **fields}


def _counts() -> tuple[int, ...]:
    return (Deployment.objects.count(), Incident.objects.count(), Repository.objects.count())


def test_processing_twice_creates_nothing_new(source, service):
    delivery = _delivery(source, KIND_DEPLOYMENT, _deployment_body())

    inbound_process(event_id=delivery.pk)
    after_first = _counts()
    message = inbound_process(event_id=delivery.pk)

    assert after_first == (1, 0, 1)
    assert _counts() == after_first
    assert "already" in message
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (InboundEvent.Status.PROCESSED, 1)


def test_reprocessing_a_reset_delivery_updates_the_same_records(source, service):
    delivery = _delivery(source, KIND_DEPLOYMENT, _deployment_body())
    inbound_process(event_id=delivery.pk)
    first = Deployment.objects.get()

    InboundEvent.objects.filter(pk=delivery.pk).update(status=InboundEvent.Status.RECEIVED)
    inbound_process(event_id=delivery.pk)

    assert Deployment.objects.get().pk == first.pk
    assert _counts() == (1, 0, 1)


def test_a_repository_of_no_known_service_fails_visibly_and_retries_after_the_map_is_fixed(
    source, service, django_capture_on_commit_callbacks
):
    delivery = _delivery(source, KIND_DEPLOYMENT, _deployment_body("https://github.com/acme/legacy-monolith"))

    inbound_process(event_id=delivery.pk)

    delivery.refresh_from_db()
    assert delivery.status == InboundEvent.Status.FAILED
    assert 'repository "acme/legacy-monolith" belongs to no known service' in delivery.error
    assert delivery.attempts == 1
    assert _counts() == (0, 0, 0)  # nothing half-written

    source.repo_service_map = {"acme/legacy-monolith": service.slug}
    source.save()
    with django_capture_on_commit_callbacks(execute=True):
        assert inbound_retry(event_ids=[delivery.pk]) == 1

    delivery.refresh_from_db()
    assert (delivery.status, delivery.error, delivery.attempts) == (InboundEvent.Status.PROCESSED, "", 2)
    assert Deployment.objects.get().service == service


def test_an_unexpected_error_fails_the_delivery_with_its_type_and_writes_nothing(source, service):
    delivery = _delivery(source, KIND_DEPLOYMENT, _deployment_body())

    with mock.patch("metrics.ingest.deployments_upsert", side_effect=RuntimeError("boom")):
        inbound_process(event_id=delivery.pk)

    delivery.refresh_from_db()
    assert delivery.status == InboundEvent.Status.FAILED
    assert delivery.error == "RuntimeError: boom"


def test_processing_queues_a_refresh_of_the_services_touched(source, service, django_capture_on_commit_callbacks):
    delivery = _delivery(source, KIND_DEPLOYMENT, _deployment_body())

    with (
        mock.patch("metrics.tasks.queue_service_refresh") as refresh,
        django_capture_on_commit_callbacks(execute=True),
    ):
        inbound_process(event_id=delivery.pk)

    refresh.assert_called_once_with(service.pk, datetime(2025, 3, 1, 10, tzinfo=UTC))


def test_a_failed_delivery_queues_no_refresh(source, django_capture_on_commit_callbacks):
    delivery = _delivery(source, KIND_DEPLOYMENT, _deployment_body("https://github.com/acme/unknown"))
    with (
        mock.patch("metrics.tasks.queue_service_refresh") as refresh,
        django_capture_on_commit_callbacks(execute=True),
    ):
        inbound_process(event_id=delivery.pk)
    refresh.assert_not_called()


def test_a_missing_delivery_is_reported_not_raised(db):
    assert "does not exist" in inbound_process(event_id=123456)


def test_an_incident_uses_the_sources_default_service(source):
    source.default_service = ServiceFactory(slug="pager", owner=source.team)
    source.save()
    delivery = _delivery(source, KIND_ISSUE, _incident_body())

    inbound_process(event_id=delivery.pk)

    assert Incident.objects.get().service.slug == "pager"


def test_an_incident_without_a_default_service_fails_with_the_reason(source):
    delivery = _delivery(source, KIND_ISSUE, _incident_body())
    inbound_process(event_id=delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == InboundEvent.Status.FAILED
    assert "no default service" in delivery.error


@pytest.fixture
def pager_source(source):
    source.default_service = ServiceFactory(slug="pager", owner=source.team)
    source.save()
    return source


def test_a_close_resolves_at_the_time_it_was_received_and_a_second_close_keeps_it(pager_source):
    inbound_process(event_id=_delivery(pager_source, KIND_ISSUE, _incident_body()).pk)
    closed_at = RECEIVED + timedelta(hours=1)
    close = _delivery(pager_source, KIND_ISSUE_CLOSE, {}, path_params={"issue_key": "INC-1"}, received_at=closed_at)
    again = _delivery(
        pager_source, KIND_ISSUE_CLOSE, {}, path_params={"issue_key": "INC-1"}, received_at=closed_at + timedelta(1)
    )

    inbound_process(event_id=close.pk)
    inbound_process(event_id=again.pk)

    assert Incident.objects.get().resolved_at == closed_at
    again.refresh_from_db()
    assert again.status == InboundEvent.Status.PROCESSED


def test_a_close_processed_before_its_issue_processes_the_issue_first(pager_source):
    issue = _delivery(pager_source, KIND_ISSUE, _incident_body("INC-7"))
    close = _delivery(
        pager_source,
        KIND_ISSUE_CLOSE,
        {},
        path_params={"issue_key": "INC-7"},
        received_at=RECEIVED + timedelta(minutes=5),
    )

    inbound_process(event_id=close.pk)

    issue.refresh_from_db()
    close.refresh_from_db()
    assert (issue.status, close.status) == (InboundEvent.Status.PROCESSED, InboundEvent.Status.PROCESSED)
    assert Incident.objects.get().resolved_at == RECEIVED + timedelta(minutes=5)


def test_closing_an_issue_that_is_not_an_incident_is_ignored(pager_source):
    inbound_process(event_id=_delivery(pager_source, KIND_ISSUE, {"issueKey": "BUG-1", "type": "BUG"}).pk)
    close = _delivery(pager_source, KIND_ISSUE_CLOSE, {}, path_params={"issue_key": "BUG-1"})

    inbound_process(event_id=close.pk)

    close.refresh_from_db()
    assert close.status == InboundEvent.Status.IGNORED


def test_closing_an_unknown_issue_fails_and_can_be_retried_once_it_arrives(
    pager_source, django_capture_on_commit_callbacks
):
    close = _delivery(pager_source, KIND_ISSUE_CLOSE, {}, path_params={"issue_key": "INC-9"})
    inbound_process(event_id=close.pk)
    close.refresh_from_db()
    assert close.status == InboundEvent.Status.FAILED
    assert "INC-9" in close.error

    inbound_process(event_id=_delivery(pager_source, KIND_ISSUE, _incident_body("INC-9")).pk)
    with django_capture_on_commit_callbacks(execute=True):
        inbound_retry(event_ids=[close.pk])

    close.refresh_from_db()
    assert close.status == InboundEvent.Status.PROCESSED
    assert Incident.objects.get().resolved_at is not None


def test_an_issue_retyped_away_from_incident_leaves_the_metrics(pager_source):
    inbound_process(event_id=_delivery(pager_source, KIND_ISSUE, _incident_body("INC-4")).pk)
    retyped = _delivery(pager_source, KIND_ISSUE, {**_incident_body("INC-4"), "type": "BUG"})

    inbound_process(event_id=retyped.pk)

    retyped.refresh_from_db()
    assert retyped.status == InboundEvent.Status.PROCESSED
    assert "incident removed" in retyped.error
    assert not Incident.objects.exists()


def test_a_reopened_incident_has_no_resolution(pager_source):
    inbound_process(
        event_id=_delivery(pager_source, KIND_ISSUE, _incident_body(status="DONE", updatedDate="2025-03-01T11:00Z")).pk
    )
    assert Incident.objects.get().resolved_at is not None
    inbound_process(event_id=_delivery(pager_source, KIND_ISSUE, _incident_body(status="IN_PROGRESS")).pk)
    assert Incident.objects.get().resolved_at is None


def test_marking_ignored_keeps_the_delivery_and_its_reason(source):
    delivery = _delivery(source, KIND_DEPLOYMENT, _deployment_body("https://github.com/acme/unknown"))
    inbound_process(event_id=delivery.pk)

    assert inbound_mark_ignored(event_ids=[delivery.pk]) == 1

    delivery.refresh_from_db()
    assert delivery.status == InboundEvent.Status.IGNORED
    assert "acme/unknown" in delivery.error
    assert inbound_process(event_id=delivery.pk).endswith("ignored already")


def test_times_are_stored_in_utc_whatever_zone_was_sent(source, service):
    body = _deployment_body()
    body["finishedDate"] = "2025-03-01T12:05:00+02:00"
    inbound_process(event_id=_delivery(source, KIND_DEPLOYMENT, body).pk)
    finished = Deployment.objects.get().finished_at
    assert finished == datetime(2025, 3, 1, 10, 5, tzinfo=UTC)
    assert finished.utcoffset() == timedelta(0)


def test_a_drain_processes_every_waiting_delivery_in_batches(pager_source):
    issue = _delivery(pager_source, KIND_ISSUE, _incident_body())
    _delivery(pager_source, KIND_ISSUE_CLOSE, {}, path_params={"issue_key": "INC-1"})
    _delivery(pager_source, KIND_ISSUE, _incident_body("INC-2"))
    _delivery(pager_source, KIND_ISSUE, {"issueKey": "BUG-1", "type": "BUG"})
    processed = InboundEvent.objects.filter(pk=issue.pk)

    assert inbound_drain(batch=2) == "1 ignored, 3 processed"
    assert processed.get().status == InboundEvent.Status.PROCESSED
    assert Incident.objects.get(external_id="INC-1").resolved_at is not None
    assert Incident.objects.count() == 2


def test_a_drain_writes_a_round_of_deployments_together_in_queries_that_do_not_grow(
    pager_source, django_assert_max_num_queries
):
    for number in range(30):
        body = {**_deployment_body(), "id": f"build-{number % 20}", "displayTitle": f"try {number}"}
        _delivery(pager_source, KIND_DEPLOYMENT, body)

    # The waiting ids, the round's deployments, their lock and source, the service and its
    # repository, existing ids, the upsert, the statuses, the source's last event, the
    # round's outcomes, and the savepoints and refresh queueing around them.
    with django_assert_max_num_queries(30):
        assert inbound_drain() == "30 processed"

    assert Deployment.objects.count() == 20
    # A deployment sent again later in the round keeps the later body, as one by one would.
    assert Deployment.objects.get(external_id="build-0:acme/checkout").title == "try 20"
    assert set(InboundEvent.objects.values_list("attempts", flat=True)) == {1}


def test_a_delivery_that_fails_in_a_round_fails_alone_with_its_reason(pager_source):
    _delivery(pager_source, KIND_DEPLOYMENT, _deployment_body())
    bad = _delivery(pager_source, KIND_DEPLOYMENT, {**_deployment_body(), "id": "build-2", "finishedDate": "yesterday"})
    _delivery(pager_source, KIND_DEPLOYMENT, {**_deployment_body(), "id": "build-3"})

    assert inbound_drain() == "1 failed, 2 processed"

    bad.refresh_from_db()
    assert "finishedDate" in bad.error
    assert Deployment.objects.count() == 2


def test_a_drain_stops_when_a_delivery_stays_waiting(pager_source):
    _delivery(pager_source, KIND_ISSUE, _incident_body())
    with mock.patch("metrics.ingest.inbound_process") as process:
        assert inbound_drain() == "1 received"
    assert process.call_count == 1


def test_the_scheduled_drain_takes_every_source_and_unblocks_one_whose_drain_was_lost(pager_source):
    Source.objects.filter(pk=pager_source.pk).update(drain_queued=True)  # queued, then lost with the broker
    _delivery(pager_source, KIND_ISSUE, _incident_body())

    assert inbound_drain() == "1 processed"
    assert not Source.objects.get(pk=pager_source.pk).drain_queued


# --- checked: a sender's record held to the JSON API's rules ---


def test_checked_returns_a_valid_record_as_the_api_would_store_it():
    opened = datetime(2025, 5, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    record = PullRequestInput(external_id="7", repository="acme/checkout", opened_at=opened)
    found = checked(record)
    assert found == PullRequestInput(external_id="7", repository="acme/checkout", opened_at=opened)
    assert found.opened_at.tzinfo is UTC  # in UTC, as the API stores it


def test_checked_names_a_nested_field_as_the_sender_names_it():
    at = datetime(2025, 5, 1, tzinfo=UTC)
    review = ReviewInput(external_id="r1", author="ada", submitted_at=datetime(1900, 1, 1, tzinfo=UTC))
    record = PullRequestInput(external_id="7", repository="acme/checkout", opened_at=at, reviews=(review,))
    with pytest.raises(PayloadError, match=r"^reviews\.0\.submitted_on must be between 1970-01-01 and 2100-01-01$"):
        checked(record, {"submitted_at": "submitted_on"})
    with pytest.raises(PayloadError, match=r"^title must not contain NUL characters$"):
        checked(PullRequestInput(external_id="7", repository="acme/checkout", opened_at=at, title="a\x00b"))

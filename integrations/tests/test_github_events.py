"""GitHub's webhook events as records (integrations/github/events.py), through the real path: each
fixture (written from GitHub's documented examples) is signed and POSTed to the webhook, stored,
drained by the background task (run inline), and the stored records are checked."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from e360.tests.factories import ServiceFactory
from integrations.models import Connection
from integrations.tests.factories import ConnectionFactory
from integrations.tests.github import SECRET, deliver
from integrations.tests.github_payloads import payload
from metrics.ingest import inbound_retry
from metrics.models import Deployment, InboundEvent, Incident, PipelineRun, PullRequest, Push, Review

pytestmark = pytest.mark.django_db

Status = InboundEvent.Status
REPO = "Codertocat/Hello-World"
_deliveries = itertools.count(1)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.fixture
def hello(team):
    """The service the fixtures' repository belongs to (the catalog lists it)."""
    return ServiceFactory(name="Hello", slug="hello", owner=team, repositories=[REPO])


@pytest.fixture
def connection(team, hello):
    return ConnectionFactory(source__team=team, webhook_secret=SECRET)


@pytest.fixture
def send(client, connection, django_capture_on_commit_callbacks):
    """POST a signed event and run its processing; the stored event, refreshed."""

    def send(event: str, body, *, delivery: str | None = None) -> InboundEvent:
        delivery = delivery or f"delivery-{next(_deliveries)}"
        with django_capture_on_commit_callbacks(execute=True):
            response = deliver(client, connection, event, body, delivery=delivery)
        assert response.status_code in (200, 202), response.content
        return InboundEvent.objects.get(source=connection.source, delivery_id=delivery)

    return send


def pr_event(action: str = "opened", **changes) -> dict:
    body = payload("pull_request")
    body["action"] = action
    body["pull_request"].update(changes)
    return body


def merged(**changes) -> dict:
    return pr_event(
        "closed",
        state="closed",
        merged=True,
        closed_at="2019-05-16T10:00:00Z",
        merged_at="2019-05-16T10:00:00Z",
        merge_commit_sha="f95f852bd8fca8fcc58a9a2d6c842781e32a215e",
        **changes,
    )


def review_event(*, by: str = "hubot", state: str = "approved", at_: str = "2019-05-15T16:00:00Z", **review) -> dict:
    body = payload("pull_request_review")
    body["review"].update(user={"login": by, "id": 2, "type": "User"}, state=state, submitted_at=at_, **review)
    return body


def comment_event(*, by: str = "hubot", created: str = "2019-05-15T15:50:00Z", **comment) -> dict:
    body = payload("pull_request_review_comment")
    body["comment"].update(user={"login": by, "id": 2, "type": "User"}, created_at=created, **comment)
    return body


def pr_state() -> tuple:
    """What a pull request's events leave stored: its fields, its reviews."""
    pr = PullRequest.objects.get()
    return (
        pr.external_id,
        pr.number,
        pr.title,
        pr.author,
        pr.opened_at,
        pr.merged_at,
        pr.closed_at,
        pr.merge_sha,
        pr.additions,
        pr.deletions,
        pr.first_review_at,
        pr.approved_at,
        pr.service.slug,
        sorted(Review.objects.values_list("external_id", "author", "state", "submitted_at")),
    )


# --- Pull requests ---


def test_an_opened_pull_request_is_stored(send, connection):
    event = send("pull_request", pr_event())
    assert (event.status, event.error) == (Status.PROCESSED, f"pull request {REPO}#2 opened")
    pr = PullRequest.objects.get()
    assert (pr.source, pr.external_id, pr.number, pr.author) == (connection.source, "279147437", 2, "Codertocat")
    assert (pr.repository.name, pr.service.slug, pr.base_branch) == (REPO, "hello", "master")
    assert pr.opened_at == at("2019-05-15T15:20:33+00:00")
    assert (pr.additions, pr.deletions, pr.merged_at, pr.merge_sha) == (1, 1, None, "")
    # GitHub's default branch for the repository ("master" here), which linking reads.
    assert pr.repository.default_branch == "master"


def test_a_merge_is_recorded(send):
    send("pull_request", pr_event())
    send("pull_request", merged())
    pr = PullRequest.objects.get()
    assert pr.merged_at == pr.closed_at == at("2019-05-16T10:00:00+00:00")
    assert pr.merge_sha == "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"


def test_a_redelivery_changes_nothing(client, send, connection):
    first = send("pull_request", merged(), delivery="same")
    before = pr_state()
    again = deliver(client, connection, "pull_request", merged(), delivery="same")
    assert again.status_code == 200
    # The same event under another delivery id (a second hook of the same source) is the same record too.
    send("pull_request", merged())
    assert pr_state() == before
    assert InboundEvent.objects.filter(delivery_id="same").get().pk == first.pk


def test_a_review_before_its_pull_request_ends_in_the_same_state(send):
    events = [("pull_request", pr_event()), ("pull_request_review", review_event()), ("pull_request", merged())]
    for name, body in events:
        send(name, body)
    in_order = pr_state()
    PullRequest.objects.all().delete()
    for name, body in reversed(events):
        send(name, body)
    assert pr_state() == in_order
    assert in_order[8:12] == (1, 1, at("2019-05-15T16:00:00+00:00"), at("2019-05-15T16:00:00+00:00"))
    assert in_order[5] == at("2019-05-16T10:00:00+00:00")  # the late "opened" did not undo the merge


PR_HISTORY = {
    "opened": ("pull_request", pr_event),
    "commented": ("pull_request_review_comment", lambda: comment_event(by="monalisa", pull_request_review_id=7)),
    "reviewed": ("pull_request_review", review_event),
    "merged": ("pull_request", merged),
}


@pytest.mark.parametrize("order", list(itertools.permutations(PR_HISTORY)), ids="-".join)
def test_a_pull_requests_events_in_any_order_end_in_the_same_state(send, order):
    for step in order:
        name, body = PR_HISTORY[step]
        send(name, body())
    pr = PullRequest.objects.get()
    assert (pr.opened_at, pr.merged_at, pr.merge_sha, pr.additions, pr.deletions) == (
        at("2019-05-15T15:20:33+00:00"),
        at("2019-05-16T10:00:00+00:00"),
        "f95f852bd8fca8fcc58a9a2d6c842781e32a215e",
        1,
        1,
    )
    assert sorted(pr.reviews.values_list("external_id", "author", "state")) == [
        ("237895671", "hubot", "approved"),
        ("7", "monalisa", "commented"),  # the comment's review, known from the comment alone
    ]
    assert (pr.first_review_at, pr.approved_at) == (at("2019-05-15T15:50:00+00:00"), at("2019-05-15T16:00:00+00:00"))


def test_a_pull_request_event_keeps_the_stored_reviews(send):
    send("pull_request_review", review_event(id=1, by="hubot", state="commented", at_="2019-05-15T15:30:00Z"))
    send("pull_request_review", review_event(id=2, by="monalisa", state="approved", at_="2019-05-15T17:00:00Z"))
    send("pull_request", pr_event("synchronize"))
    pr = PullRequest.objects.get()
    assert pr.reviews.count() == 2
    assert (pr.first_review_at, pr.approved_at) == (at("2019-05-15T15:30:00+00:00"), at("2019-05-15T17:00:00+00:00"))
    assert (pr.additions, pr.deletions) == (1, 1)


def test_a_dismissed_approval_no_longer_approves(send):
    send("pull_request", pr_event())
    send("pull_request_review", review_event(state="approved"))
    assert PullRequest.objects.get().approved_at is not None
    dismissed = review_event(state="dismissed")
    dismissed["action"] = "dismissed"
    send("pull_request_review", dismissed)
    pr = PullRequest.objects.get()
    assert pr.approved_at is None
    assert pr.first_review_at == at("2019-05-15T16:00:00+00:00")  # someone did review it


def test_the_authors_own_review_is_not_a_first_review(send):
    send("pull_request", pr_event())
    send("pull_request_review", review_event(by="Codertocat", state="commented"))
    pr = PullRequest.objects.get()
    assert pr.reviews.count() == 1 and pr.first_review_at is None


def test_a_comment_by_someone_else_counts_toward_the_first_review_and_its_review_wins(send):
    send("pull_request", pr_event())
    send("pull_request_review_comment", comment_event(created="2019-05-15T15:50:00Z"))
    pr = PullRequest.objects.get()
    assert pr.first_review_at == at("2019-05-15T15:50:00+00:00")
    # The comment's review arrives: it replaces what the comment stood for.
    send("pull_request_review", review_event(state="commented", at_="2019-05-15T15:55:00Z"))
    in_order = pr_state()
    assert in_order[-1] == [("237895671", "hubot", "commented", at("2019-05-15T15:55:00+00:00"))]
    # In the other order, the comment does not overwrite its review.
    PullRequest.objects.all().delete()
    send("pull_request_review", review_event(state="commented", at_="2019-05-15T15:55:00Z"))
    send("pull_request", pr_event())
    send("pull_request_review_comment", comment_event(created="2019-05-15T15:50:00Z"))
    assert pr_state() == in_order


def test_an_open_draft_waits_until_ready_for_review(send):
    event = send("pull_request", pr_event(draft=True))
    assert event.status == Status.IGNORED and "draft" in event.error
    assert not PullRequest.objects.exists()
    send("pull_request", pr_event("ready_for_review", draft=False))
    assert PullRequest.objects.get().opened_at == at("2019-05-15T15:20:33+00:00")
    # Converted back to a draft, it stays recorded as it was.
    send("pull_request", pr_event("converted_to_draft", draft=True, title="WIP"))
    assert PullRequest.objects.get().title == "WIP"


def test_an_unused_pull_request_action_is_ignored_with_the_reason(send):
    event = send("pull_request", pr_event("labeled"))
    assert (event.status, event.error) == (Status.IGNORED, "pull_request labeled: changes nothing e360 keeps")
    assert not PullRequest.objects.exists()


def test_an_unreadable_pull_request_fails_with_the_reason_and_writes_nothing(send):
    body = pr_event()
    del body["pull_request"]["created_at"]
    event = send("pull_request", body)
    assert (event.status, event.error) == (Status.FAILED, "the pull request has no created_at")
    assert not PullRequest.objects.exists()


# --- Deployments ---


def deployment_status(state: str, created: str, status_id: int) -> dict:
    body = payload("deployment_status")
    body["deployment_status"].update(state=state, created_at=created, updated_at=created, id=status_id)
    return body


def deployment_state() -> tuple:
    d = Deployment.objects.get()
    return (d.external_id, d.environment, d.status, d.started_at, d.finished_at, d.sha, d.ref, d.service.slug)


def test_a_deployment_is_recorded_from_its_statuses_in_any_order(send):
    created = send("deployment", payload("deployment"))
    assert created.status == Status.IGNORED and "no status yet" in created.error
    events = [
        deployment_status("queued", "2019-05-15T15:20:54Z", 1),
        deployment_status("in_progress", "2019-05-15T15:20:55Z", 2),
        deployment_status("success", "2019-05-15T15:25:00Z", 3),
        deployment_status("inactive", "2019-05-20T00:00:00Z", 4),  # a newer deployment replaced it
    ]
    for body in events:
        send("deployment_status", body)
    in_order = deployment_state()
    assert in_order == (
        "145988746",
        "production",
        Deployment.Status.SUCCESS,
        at("2019-05-15T15:20:53+00:00"),
        at("2019-05-15T15:25:00+00:00"),
        "f95f852bd8fca8fcc58a9a2d6c842781e32a215e",
        "master",
        "hello",
    )
    assert Deployment.objects.get().is_production
    Deployment.objects.all().delete()
    for body in reversed(events):
        send("deployment_status", body)
    send("deployment", payload("deployment"))
    assert deployment_state() == in_order


def test_a_failed_deployment(send):
    send("deployment_status", deployment_status("failure", "2019-05-15T15:25:00Z", 3))
    assert Deployment.objects.get().status == Deployment.Status.FAILURE


# --- Workflow runs ---


def run_event(action: str = "completed", **changes) -> dict:
    body = payload("workflow_run")
    body["action"] = action
    body["workflow_run"].update(changes)
    return body


def test_each_attempt_of_a_workflow_run_is_recorded_for_flakiness(send):
    send("workflow_run", run_event(conclusion="failure"))
    send(
        "workflow_run",
        run_event(
            run_attempt=2,
            conclusion="success",
            run_started_at="2020-01-22T20:00:00Z",
            updated_at="2020-01-22T20:03:00Z",
        ),
    )
    runs = list(PipelineRun.objects.order_by("attempt").values_list("external_id", "attempt", "status", "sha"))
    sha = "acb5820ced9479c074f688cc328bf03f341a511d"
    assert runs == [("30433642/1", 1, "failure", sha), ("30433642/2", 2, "success", sha)]
    run = PipelineRun.objects.get(attempt=1)
    assert (run.workflow, run.is_default_branch, run.duration_seconds, run.service.slug) == (
        "Build",
        True,
        131,
        "hello",
    )


def test_a_late_in_progress_report_does_not_reopen_a_finished_run(send):
    send("workflow_run", run_event(conclusion="success"))
    event = send("workflow_run", run_event("in_progress", status="in_progress", conclusion=None))
    assert event.status == Status.PROCESSED and "kept finished" in event.error
    assert PipelineRun.objects.get().status == PipelineRun.Status.SUCCESS


def test_a_requested_run_and_a_job_are_ignored_with_the_reason(send):
    assert send("workflow_run", run_event("requested", status="queued", conclusion=None)).status == Status.IGNORED
    job = send("workflow_job", payload("workflow_job"))
    assert job.status == Status.IGNORED
    assert "recorded from workflow_run events" in job.error
    assert not PipelineRun.objects.exists()


# --- Pushes ---


def test_a_push_to_the_default_branch_is_kept(send):
    event = send("push", payload("push"))
    assert event.status == Status.PROCESSED
    push = Push.objects.get()
    assert (push.before, push.after, push.branch, push.service.slug) == (
        "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
        "f95f852bd8fca8fcc58a9a2d6c842781e32a215e",
        "master",
        "hello",
    )
    assert push.commits == ["ec26c3e57ca3a959ca5aad62de7213c562f8c821", "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"]
    assert push.pushed_at == at("2019-05-15T15:20:57+00:00")


def test_a_push_to_another_branch_is_ignored(send):
    body = payload("push")
    body["ref"] = "refs/heads/changes"
    event = send("push", body)
    assert (event.status, event.error) == (
        Status.IGNORED,
        "a push to refs/heads/changes: only pushes to the default branch are kept",
    )
    assert not Push.objects.exists()


# --- Incidents ---


def issue_event(action: str, *labels: str, **changes) -> dict:
    body = payload("issues")
    body["action"] = action
    body["issue"]["labels"] = [{"id": n, "name": name} for n, name in enumerate(labels)]
    body["issue"].update(changes)
    return body


def test_a_labelled_issue_is_an_incident_until_resolved_or_unlabelled(send):
    assert send("issues", issue_event("opened", "bug")).status == Status.IGNORED
    send("issues", issue_event("labeled", "bug", "incident"))
    incident = Incident.objects.get()
    assert (incident.external_id, incident.service.slug, incident.resolved_at) == ("444500041", "hello", None)
    assert incident.started_at == at("2019-05-15T15:20:18+00:00")
    send("issues", issue_event("closed", "incident", state="closed", closed_at="2019-05-15T18:00:00Z"))
    assert Incident.objects.get().resolved_at == at("2019-05-15T18:00:00+00:00")
    send("issues", issue_event("reopened", "incident", state="open", closed_at=None))
    assert Incident.objects.get().resolved_at is None
    event = send("issues", issue_event("unlabeled", "bug"))
    assert event.status == Status.PROCESSED and "removed" in event.error
    assert not Incident.objects.exists()


def test_the_incident_label_is_the_connections(send, connection):
    Connection.objects.filter(pk=connection.pk).update(incident_label="sev1")
    send("issues", issue_event("opened", "incident"))
    assert not Incident.objects.exists()
    send("issues", issue_event("labeled", "SEV1"))
    assert Incident.objects.exists()


# --- The installation ---


def test_an_installation_sets_the_connections_installation_and_repositories(send, connection):
    send("installation", payload("installation"))
    connection.refresh_from_db()
    assert (connection.installation_id, connection.repositories) == (2, ["octocat/Hello-World"])
    send("installation_repositories", payload("installation_repositories"))
    connection.refresh_from_db()
    assert connection.repositories == ["Codertocat/Space", "octocat/Hello-World"]
    removed = payload("installation_repositories")
    removed.update(action="removed", repositories_added=[], repositories_removed=[{"full_name": "octocat/Hello-World"}])
    send("installation_repositories", removed)
    connection.refresh_from_db()
    assert connection.repositories == ["Codertocat/Space"]
    deleted = payload("installation")
    deleted["action"] = "deleted"
    send("installation", deleted)
    connection.refresh_from_db()
    assert (connection.installation_id, connection.repositories) == (None, [])


def test_another_installations_events_change_nothing(send, connection):
    Connection.objects.filter(pk=connection.pk).update(installation_id=99, repositories=["acme/x"])
    event = send("installation_repositories", payload("installation_repositories"))
    assert event.status == Status.IGNORED and "not this source's" in event.error
    connection.refresh_from_db()
    assert connection.repositories == ["acme/x"]


# --- Mapping and scope ---


def test_a_repository_mapped_to_no_service_fails_naming_it_and_is_retried_once_mapped(
    send, hello, django_capture_on_commit_callbacks
):
    hello.repositories = []
    hello.save()
    event = send("pull_request", pr_event())
    assert event.status == Status.FAILED
    assert f'repository "{REPO}" maps to no e360 service' in event.error
    assert not PullRequest.objects.exists()
    hello.repositories = [REPO]
    hello.save()
    with django_capture_on_commit_callbacks(execute=True):
        inbound_retry(event_ids=[event.pk])
    event.refresh_from_db()
    assert event.status == Status.PROCESSED
    assert PullRequest.objects.get().service == hello


def test_a_source_never_writes_outside_its_scope(send, hello, other_team):
    # The catalog gives the repository to a service of another team only.
    hello.repositories = []
    hello.save()
    ServiceFactory(slug="theirs", owner=other_team, repositories=[REPO])
    for name, body in [
        ("pull_request", pr_event()),
        ("deployment_status", deployment_status("success", "2019-05-15T15:25:00Z", 3)),
        ("push", payload("push")),
        ("workflow_run", run_event()),
        ("issues", issue_event("opened", "incident")),
    ]:
        event = send(name, body)
        assert event.status == Status.FAILED, name
        assert "which this source may not write to" in event.error
    assert not PullRequest.objects.exists() and not Deployment.objects.exists() and not Push.objects.exists()
    assert not PipelineRun.objects.exists() and not Incident.objects.exists()


# --- Bad input ---


@pytest.mark.parametrize(
    ("name", "body", "error"),
    [
        ("pull_request", [1, 2], "the payload is not a JSON object"),
        ("pull_request", {"action": "opened"}, "the payload has no pull_request object"),
        ("pull_request_review", {"action": "submitted", "review": {"state": "approved"}}, "the review has no id"),
        ("deployment_status", {"action": "created", "deployment_status": {}}, "the payload has no deployment object"),
        ("workflow_run", run_event(run_attempt="two"), "the workflow run has an unreadable run_attempt 'two'"),
        ("installation", {"action": "created", "installation": {}}, "the payload's installation has no id"),
    ],
)
def test_a_payload_that_cannot_become_records_fails_with_the_reason(send, name, body, error):
    event = send(name, body)
    assert (event.status, event.error) == (Status.FAILED, error)


# --- The JSON API's rules hold for GitHub's records too ---


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"created_at": "2200-01-01T00:00:00Z"}, "created_at must be between 1970-01-01 and 2100-01-01"),
        (
            {"merged_at": "2019-05-14T10:00:00Z", "closed_at": "2019-05-14T10:00:00Z"},
            "merged_at must not be before created_at",
        ),
        ({"html_url": "javascript:alert(1)"}, "html_url must be an http:// or https:// URL"),
    ],
)
def test_a_pull_request_the_api_would_refuse_fails_naming_githubs_field(send, changes, error):
    body = merged()
    body["pull_request"].update(changes)
    event = send("pull_request", body)
    assert (event.status, event.error) == (Status.FAILED, error)
    assert not PullRequest.objects.exists()


def test_a_workflow_run_finished_before_it_started_fails_naming_githubs_fields(send):
    body = payload("workflow_run")
    body["workflow_run"].update(run_started_at="2020-01-22T19:33:08Z", updated_at="2020-01-22T19:30:00Z")
    event = send("workflow_run", body)
    assert (event.status, event.error) == (Status.FAILED, "updated_at must not be before run_started_at")

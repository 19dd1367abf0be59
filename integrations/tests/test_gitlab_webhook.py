"""GitLab's webhook end to end: the shared view, the token check, storage, processing into records."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest
from django.urls import reverse

from e360.tests.factories import ServiceFactory
from integrations.gitlab import delivery, signature_ok, verify
from integrations.tests.factories import ConnectionFactory
from integrations.tests.gitlab import TOKEN, post
from integrations.tests.gitlab_payloads import (
    ALL_REPOSITORIES,
    DEPLOYMENT_REPOSITORY,
    MR_REPOSITORY,
    incident,
    payload,
    with_user,
)
from metrics.models import Deployment, InboundEvent, Incident, PipelineRun, PullRequest, Push, Source

pytestmark = pytest.mark.django_db

Status = InboundEvent.Status


@pytest.fixture
def connection(team):
    return ConnectionFactory(source__kind=Source.Kind.GITLAB, source__team=team, webhook_secret=TOKEN)


@pytest.fixture
def checkout(team):
    return ServiceFactory(slug="checkout", owner=team, repositories=ALL_REPOSITORIES)


@pytest.fixture
def deliver(client, connection, checkout, django_capture_on_commit_callbacks):
    """Deliver and process (the queued drain runs on commit); the stored event."""
    counter = iter(range(1, 10_000))

    def send(hook: str, body, **kwargs) -> InboundEvent:
        kwargs.setdefault("key", f"key-{next(counter)}")
        with django_capture_on_commit_callbacks(execute=True):
            response = post(client, connection, hook, body, **kwargs)
        assert response.status_code in (200, 202), response.content
        return InboundEvent.objects.get(source=connection.source, delivery_id=response.json()["delivery"])

    return send


# --- The token, the delivery id, the kind ------------------------------------------------------


@pytest.mark.parametrize("token", [None, "", "a GitLab secret toke", "a GitLab secret token ", "another"])
def test_a_wrong_or_missing_token_is_401_and_stores_nothing(client, connection, token):
    response = post(client, connection, "Merge Request Hook", payload("merge_request"), token=token)
    assert response.status_code == 401
    assert "token" in response.json()["message"]
    assert not InboundEvent.objects.exists()


def test_a_token_for_another_provider_path_is_404(client, connection):
    url = reverse("integrations:webhook", args=["github", connection.webhook_id])
    assert client.post(url, b"{}", content_type="application/json").status_code == 404


def test_a_redelivery_is_acknowledged_and_stored_once(client, connection, checkout):
    body = payload("merge_request")
    assert post(client, connection, "Merge Request Hook", body).status_code == 202
    again = post(client, connection, "Merge Request Hook", body)
    assert again.status_code == 200 and "Already received" in again.json()["message"]
    assert InboundEvent.objects.count() == 1


def test_without_an_idempotency_key_the_event_uuid_and_the_body_tell_deliveries_apart(client, connection, checkout):
    opened, updated = payload("merge_request"), payload("merge_request", action="update")
    uuid = {"X-Gitlab-Event-UUID": "13792a34-cac6-4fda-95a8-c58e00a3954e"}
    for body in (opened, opened, updated):  # a resend, then another event of the same recursive chain
        post(client, connection, "Merge Request Hook", body, key=None, headers=uuid)
    ids = list(InboundEvent.objects.order_by("pk").values_list("delivery_id", flat=True))
    assert len(ids) == 2 and all(i.startswith("13792a34-cac6-4fda-95a8-c58e00a3954e:") for i in ids)


def test_the_kind_comes_from_the_header_or_the_body():
    assert delivery({"X-Gitlab-Event": "Job Hook", "Idempotency-Key": "k"}, {}).kind == "gitlab.job"
    assert delivery({}, {"object_kind": "deployment"}) == delivery({"X-Gitlab-Event": "Deployment Hook"}, {})
    assert delivery({"Idempotency-Key": " k "}, None).delivery_id == "k"


def test_the_stored_event_keeps_gitlabs_headers_but_never_the_token(deliver, connection):
    event = deliver("Merge Request Hook", payload("merge_request"), headers={"X-Gitlab-Instance": "example.com"})
    assert event.headers["X-Gitlab-Event"] == "Merge Request Hook"
    assert event.headers["X-Gitlab-Instance"] == "example.com"
    assert TOKEN not in json.dumps(event.headers)


# GitLab's signing token (Standard Webhooks): a whsec_ key signs "<id>.<timestamp>.<body>".
SIGNING_KEY = b"e360-signing-token-for-tests-32b"
SIGNING_TOKEN = "whsec_" + base64.b64encode(SIGNING_KEY).decode()


def signed(body: bytes, *, message_id="msg-1", timestamp: int | None = None, key=SIGNING_KEY) -> dict[str, str]:
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": "v1," + base64.b64encode(digest).decode(),
    }


def test_a_signing_token_checks_the_signature_instead_of_the_token():
    body = b'{"object_kind":"push"}'
    headers = signed(body)
    assert verify(headers, body, SIGNING_TOKEN)
    assert not verify(headers, body + b" ", SIGNING_TOKEN)  # tampered
    assert not verify({**headers, "X-Gitlab-Token": SIGNING_TOKEN}, body + b" ", SIGNING_TOKEN)
    assert not verify(signed(body, key=b"another key"), body, SIGNING_TOKEN)
    # Several signatures (a key being rotated): one match is enough.
    rotating = {**headers, "webhook-signature": "v1,bm9wZQ== " + headers["webhook-signature"]}
    assert verify(rotating, body, SIGNING_TOKEN)


def test_a_signature_older_than_five_minutes_is_a_replay():
    body = b"{}"
    old = signed(body, timestamp=1_000_000)
    assert signature_ok(old, body, SIGNING_TOKEN, now=1_000_000 + 299)
    assert not signature_ok(old, body, SIGNING_TOKEN, now=1_000_000 + 301)
    assert not signature_ok({**old, "webhook-timestamp": "soon"}, body, SIGNING_TOKEN)
    assert not signature_ok(old, body, "whsec_not base64!", now=1_000_000)


def test_a_signed_delivery_goes_through_the_view(client, team, checkout, django_capture_on_commit_callbacks):
    connection = ConnectionFactory(source__kind=Source.Kind.GITLAB, source__team=team, webhook_secret=SIGNING_TOKEN)
    body = json.dumps(payload("deployment")).encode()
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, connection, "Deployment Hook", body, key="msg-1", token=None, headers=signed(body))
    assert response.status_code == 202
    assert Deployment.objects.get().external_id == "deployment:15"
    bad = post(client, connection, "Deployment Hook", body, key="msg-2", token=SIGNING_TOKEN)
    assert bad.status_code == 401


# --- Each event → records ----------------------------------------------------------------------


def test_a_merge_request_is_opened_commented_approved_and_merged(deliver, checkout):
    author = with_user(payload("merge_request"), id=51, username="ms-author")
    assert deliver("Merge Request Hook", author).status == Status.PROCESSED
    pr = PullRequest.objects.get()
    assert (pr.external_id, pr.number, pr.author, pr.service) == ("merge_request:99", 1, "ms-author", checkout)
    assert pr.repository.name == MR_REPOSITORY and pr.first_review_at is None

    deliver("Merge Request Hook", with_user(payload("merge_request", action="approval"), id=6, username="user1"))
    pr.refresh_from_db()
    assert pr.approved_at is not None and pr.first_review_at == pr.approved_at

    merged = payload(
        "merge_request",
        action="merge",
        state="merged",
        updated_at="2013-12-04 09:00:00 UTC",
        merge_commit_sha="b6568db1bc1dcd7f8b4d5a946b0b91f9dacd7327",
    )
    event = deliver("Merge Request Hook", merged)
    assert event.error == "merge request !1 of example.com/awesome_space/awesome_project: merge"
    pr.refresh_from_db()
    # The merge event's acting user is not the author, and it carries no approval: both stay.
    assert pr.author == "ms-author" and pr.approved_at is not None
    assert pr.merged_at.isoformat() == "2013-12-04T09:00:00+00:00"
    assert pr.merge_sha == "b6568db1bc1dcd7f8b4d5a946b0b91f9dacd7327"
    assert pr.reviews.count() == 1 and pr.commits.count() == 1


def test_an_unapproval_keeps_the_review_but_not_the_approval(deliver):
    approver = {"id": 6, "username": "user1"}
    deliver("Merge Request Hook", with_user(payload("merge_request", action="approval"), **approver))
    first_review = PullRequest.objects.get().first_review_at
    deliver("Merge Request Hook", with_user(payload("merge_request", action="unapproval"), **approver))
    pr = PullRequest.objects.get()
    assert pr.approved_at is None and pr.first_review_at == first_review
    assert list(pr.reviews.values_list("state", flat=True)) == ["commented"]


def test_a_comment_on_a_merge_request_is_its_first_review(deliver):
    event = deliver("Note Hook", payload("note_merge_request"))
    assert event.status == Status.PROCESSED
    pr = PullRequest.objects.get()
    assert pr.external_id == "merge_request:7"
    assert pr.first_review_at.isoformat() == "2015-05-17T18:21:36+00:00"
    other = deliver("Note Hook", payload("note_merge_request", noteable_type="Commit", id=1243))
    assert other.status == Status.IGNORED and "a comment on Commit" in other.error


def test_a_deployment_keeps_its_start_when_it_finishes(deliver, checkout):
    deliver("Deployment Hook", payload("deployment", status="running", status_changed_at="2021-04-28 21:40:00 +0200"))
    deployment = Deployment.objects.get()
    assert (deployment.status, deployment.service) == (Deployment.Status.IN_PROGRESS, checkout)
    deliver("Deployment Hook", payload("deployment"))
    deployment.refresh_from_db()
    assert deployment.status == Deployment.Status.SUCCESS
    assert deployment.started_at.isoformat() == "2021-04-28T19:40:00+00:00"
    assert deployment.finished_at.isoformat() == "2021-04-28T19:50:00+00:00"
    assert deployment.sha == "279484c09fbe69ededfced8c1bb6e6d24616b468"
    assert deployment.repository.name == DEPLOYMENT_REPOSITORY


def test_a_late_running_deployment_does_not_undo_its_success(deliver):
    deliver("Deployment Hook", payload("deployment"))
    late = deliver(
        "Deployment Hook", payload("deployment", status="running", status_changed_at="2021-04-28 21:40:00 +0200")
    )
    assert late.status == Status.IGNORED and "older than the status stored" in late.error
    deployment = Deployment.objects.get()
    assert deployment.status == Deployment.Status.SUCCESS
    assert deployment.finished_at.isoformat() == "2021-04-28T19:50:00+00:00"


def test_a_failed_pipeline_retried_by_a_job_is_two_attempts(deliver):
    push = {"source": "push"}
    failed = payload("pipeline", status="failed", **push)
    deliver("Pipeline Hook", failed)
    retry = payload("job", pipeline_id=31, build_created_at="2016-08-12 15:30:00 UTC", retries_count=1)
    assert deliver("Job Hook", retry).error == "job test retried pipeline 31: attempt 2 runs"
    passed = payload("pipeline", status="success", finished_at="2016-08-12 15:33:00 UTC", duration=120, **push)
    deliver("Pipeline Hook", passed)
    runs = list(PipelineRun.objects.order_by("attempt").values_list("external_id", "attempt", "status"))
    assert runs == [("pipeline:31:1", 1, "failure"), ("pipeline:31:2", 2, "success")]
    second = PipelineRun.objects.get(attempt=2)
    assert second.duration_seconds == 120 and second.is_default_branch is True
    # The failure's event delivered again changes nothing.
    assert deliver("Pipeline Hook", failed).status == Status.PROCESSED
    assert PipelineRun.objects.get(attempt=1).status == "failure" and PipelineRun.objects.count() == 2


def test_a_stale_pipeline_state_and_a_job_of_an_unseen_pipeline_are_ignored(deliver):
    deliver("Pipeline Hook", payload("pipeline"))
    stale = payload("pipeline", status="running", finished_at=None, duration=None)
    for build in stale["builds"]:
        build["started_at"] = None
    event = deliver("Pipeline Hook", stale)
    assert event.status == Status.IGNORED and "older state" in event.error
    unseen = deliver("Job Hook", payload("job"))
    assert unseen.status == Status.IGNORED and "has not seen" in unseen.error


def test_a_push_to_the_default_branch_is_stored_and_others_are_ignored(deliver):
    event = deliver("Push Hook", payload("push", total_commits_count=2))
    assert event.status == Status.PROCESSED
    push = Push.objects.get()
    assert push.commits == ["b6568db1bc1dcd7f8b4d5a946b0b91f9dacd7327", "da1560886d4f094c3e6c9ef40349f7d38b5d27d7"]
    partial = deliver("Push Hook", payload("push"))
    assert partial.status == Status.IGNORED and "2 of the push's 4 commits" in partial.error
    assert Push.objects.count() == 1


def test_an_incident_opens_and_resolves_and_an_issue_is_not_one(deliver, checkout):
    assert deliver("Issue Hook", payload("issue")).status == Status.IGNORED
    deliver("Issue Hook", incident())
    found = Incident.objects.get()
    assert (found.external_id, found.service, found.severity, found.resolved_at) == (
        "issue:301",
        checkout,
        "high",
        None,
    )
    event = deliver("Issue Hook", incident(action="close", state="closed", updated_at="2013-12-04 08:00:00 UTC"))
    assert event.error == "incident #23 of example.com/gitlabhq/gitlab-test: resolved"
    found.refresh_from_db()
    assert found.resolved_at.isoformat() == "2013-12-04T08:00:00+00:00"
    # A later update of the closed incident that does not say when it closed keeps the time.
    deliver("Issue Hook", incident(action="update", state="closed", title="Down, fixed"))
    found.refresh_from_db()
    assert found.resolved_at.isoformat() == "2013-12-04T08:00:00+00:00" and found.title == "Down, fixed"
    deliver("Issue Hook", incident(action="reopen", state="opened"))
    found.refresh_from_db()
    assert found.resolved_at is None


def test_a_work_item_incident_and_an_incident_retyped_as_an_issue(deliver):
    work_item = incident()
    work_item["object_kind"] = "work_item"
    deliver("", work_item)
    assert Incident.objects.count() == 1
    event = deliver("Issue Hook", payload("issue", action="update"))
    assert event.status == Status.PROCESSED and "its incident is removed" in event.error
    assert not Incident.objects.exists()


def test_an_event_e360_does_not_use_is_stored_ignored_with_a_2xx(client, connection, checkout):
    response = post(client, connection, "Feature Flag Hook", payload("feature_flag"))
    assert response.status_code == 202
    event = InboundEvent.objects.get()
    assert (event.kind, event.status) == ("gitlab.feature_flag", Status.IGNORED)
    assert event.error == "e360 does not use gitlab.feature_flag events"


# --- Failures: unmapped projects, scope, bad payloads ------------------------------------------


def test_an_unmapped_project_fails_naming_it_and_writes_nothing(client, connection, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, connection, "Deployment Hook", payload("deployment"))
    assert response.status_code == 202
    event = InboundEvent.objects.get()
    assert event.status == Status.FAILED
    assert f'repository "{DEPLOYMENT_REPOSITORY}" belongs to no known service' in event.error
    assert not Deployment.objects.exists()


def test_a_project_of_a_service_outside_the_sources_scope_is_refused(deliver, other_team):
    ServiceFactory(slug="search", owner=other_team, repositories=["example.com/search/engine"])
    body = payload("push", total_commits_count=2)
    body["project"]["web_url"] = "http://example.com/search/engine"
    event = deliver("Push Hook", body)
    assert event.status == Status.FAILED
    assert (
        event.error
        == 'repository "example.com/search/engine" belongs to service "search", which this source may not write to'
    )

    assert not Push.objects.exists()


def test_a_payload_gitlab_would_not_send_fails_with_the_reason(deliver):
    event = deliver("Deployment Hook", payload("deployment", status_changed_at="last tuesday"))
    assert event.status == Status.FAILED
    assert event.error == "status_changed_at is not a GitLab date-time: 'last tuesday'"
    broken = deliver("Merge Request Hook", b'{"object_kind": "merge_request", "object_attri')
    assert broken.status == Status.FAILED and "not JSON" in broken.error


def test_a_record_the_json_api_would_refuse_fails_with_the_reason_and_writes_nothing(deliver):
    """The API's rules (time range, order, URLs…) hold for GitLab's records as for every way in."""
    event = deliver("Merge Request Hook", payload("merge_request", created_at="2201-01-01T00:00:00Z"))
    assert (event.status, event.error) == (Status.FAILED, "created_at must be between 1970-01-01 and 2100-01-01")
    event = deliver("Pipeline Hook", payload("pipeline", finished_at="1969-12-31T23:00:00Z"))
    assert (event.status, event.error) == (Status.FAILED, "started_at must be between 1970-01-01 and 2100-01-01")
    assert not PullRequest.objects.exists() and not PipelineRun.objects.exists()


# --- A history from GitLab's hooks links as any other ------------------------------------------


def in_project(body: dict, url: str = "http://gitlab.example.com/acme/shop") -> dict:
    """The documented payload moved to one project (the examples use several)."""
    for holder in (body, body.get("object_attributes") or {}):
        for name in ("project", "target"):
            if isinstance(holder.get(name), dict):
                holder[name]["web_url"] = url
                holder[name]["default_branch"] = "master"
    return body


def test_a_merged_merge_request_is_shipped_by_the_deployment_whose_push_brought_it(deliver, team):
    ServiceFactory(slug="shop", owner=team, repositories=["gitlab.example.com/acme/shop"])
    old, merge = "a" * 40, "b" * 40
    first = payload("deployment", environment="production", status_changed_at="2026-03-02 09:00:00 UTC")
    first["commit_url"] = f"http://gitlab.example.com/acme/shop/-/commit/{old}"
    deliver("Deployment Hook", in_project(first))
    merged = payload(
        "merge_request",
        action="merge",
        state="merged",
        created_at="2026-03-02T10:00:00Z",
        updated_at="2026-03-02 11:00:00 UTC",
        merge_commit_sha=merge,
    )
    deliver("Merge Request Hook", in_project(merged))
    push = payload("push", before=old, after=merge, total_commits_count=1)
    push["commits"] = [{**push["commits"][1], "id": merge}]
    deliver("Push Hook", in_project(push))
    second = payload(
        "deployment", deployment_id=16, environment="production", status_changed_at="2026-03-02 12:00:00 UTC"
    )
    second["commit_url"] = f"http://gitlab.example.com/acme/shop/-/commit/{merge}"
    deliver("Deployment Hook", in_project(second))

    shipped = Deployment.objects.get(external_id="deployment:16")
    assert shipped.link_rule == Deployment.LinkRule.COMMIT_RANGE
    pr = PullRequest.objects.get()
    assert (pr.deployment, pr.deployed_at.isoformat()) == (shipped, "2026-03-02T12:00:00+00:00")

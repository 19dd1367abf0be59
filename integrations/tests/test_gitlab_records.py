"""GitLab's objects as records (integrations/gitlab/records.py): pure, from the documented payloads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from integrations.gitlab import records
from integrations.tests.gitlab_payloads import (
    DEPLOYMENT_REPOSITORY,
    ISSUE_REPOSITORY,
    MR_REPOSITORY,
    NOTE_REPOSITORY,
    PIPELINE_REPOSITORY,
    PUSH_REPOSITORY,
    incident,
    payload,
    with_user,
)
from metrics.ingest import PayloadError
from metrics.models import Deployment, PipelineRun, Review

RECEIVED = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


def at(*args: int, offset_hours: float = 0) -> datetime:
    return datetime(*args, tzinfo=UTC) - timedelta(hours=offset_hours)


# --- Times -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2013-12-03T17:23:34Z", at(2013, 12, 3, 17, 23, 34)),  # merge request created_at
        ("2021-02-23T02:41:37.886Z", at(2021, 2, 23, 2, 41, 37, 886000)),  # job build_created_at
        ("2012-01-03T23:36:29+02:00", at(2012, 1, 3, 21, 36, 29)),  # commit timestamp
        ("2015-05-17 18:08:09 UTC", at(2015, 5, 17, 18, 8, 9)),  # note created_at
        ("2021-04-28 21:50:00 +0200", at(2021, 4, 28, 19, 50)),  # deployment status_changed_at
        ("2021-04-09 15:36:36 -0130", at(2021, 4, 9, 17, 6, 36)),
        ("2015-04-08T21: 00:25-07:00", at(2015, 4, 9, 4, 0, 25)),  # the note example's stray space
        ("2019-06-05T14:32:20.211Z", at(2019, 6, 5, 14, 32, 20, 211000)),  # label created_at
        ("2016-08-12 15:23:28", at(2016, 8, 12, 15, 23, 28)),  # no zone: UTC
    ],
)
def test_it_parses_every_documented_time_format(text, expected):
    assert records.parse_time(text, "t") == expected


def test_an_empty_time_is_none():
    assert records.parse_time(None, "t") is None
    assert records.parse_time("", "t") is None


@pytest.mark.parametrize("text", ["yesterday", "2021-13-01 00:00:00 UTC", "2021-04-28 21:50:00 +2500", 1619639400])
def test_it_refuses_a_time_it_cannot_read_naming_the_field(text):
    with pytest.raises(PayloadError, match="status_changed_at"):
        records.parse_time(text, "status_changed_at")


# --- Event names -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "object_kind", "expected"),
    [
        ("Merge Request Hook", None, "merge_request"),
        ("Pipeline Hook", "pipeline", "pipeline"),
        ("Job Hook", "build", "job"),
        ("Confidential Issue Hook", "issue", "issue"),
        ("Confidential Note Hook", "note", "note"),
        ("", "build", "job"),
        ("", "work_item", "work_item"),
        ("", "deployment", "deployment"),
        ("Some New Hook", None, "some_new"),
        ("", None, "unknown"),
        ("", "Not A Kind!", "unknown"),
    ],
)
def test_the_event_comes_from_the_header_else_the_bodys_object_kind(header, object_kind, expected):
    assert records.event_name(header, object_kind) == expected


# --- Merge requests --------------------------------------------------------------------------


def test_an_opened_merge_request_is_a_pull_request_with_what_the_hook_does_not_say_unknown():
    partial = records.merge_request_from_hook(payload("merge_request"), received_at=RECEIVED)
    pr = partial.record
    assert (pr.external_id, pr.repository, pr.number, pr.title) == ("merge_request:99", MR_REPOSITORY, 1, "MS-Viewport")
    assert pr.opened_at == at(2013, 12, 3, 17, 23, 34)
    assert pr.base_branch == "master"
    assert pr.url == "http://example.com/diaspora/merge_requests/1"
    assert (pr.merged_at, pr.closed_at, pr.merge_sha) == (None, None, "")
    assert pr.commits[0].sha == "da1560886d4f094c3e6c9ef40349f7d38b5d27d7"
    assert pr.commits[0].authored_at == at(2012, 1, 3, 21, 36, 29)
    # The documented acting user (id 1) is not the author (author_id 51): the author is unknown.
    assert partial.unknown == {"author", "first_commit_at", "additions", "deletions"}


def test_the_acting_user_is_the_author_when_their_ids_match():
    body = with_user(payload("merge_request"), id=51, username="ms-author")
    partial = records.merge_request_from_hook(body, received_at=RECEIVED)
    assert partial.record.author == "ms-author"
    assert "author" not in partial.unknown


def test_a_merge_happens_at_the_events_update_with_its_merge_commit():
    body = payload(
        "merge_request",
        action="merge",
        state="merged",
        updated_at="2013-12-04 09:00:00 UTC",
        merge_commit_sha="b6568db1bc1dcd7f8b4d5a946b0b91f9dacd7327",
    )
    partial = records.merge_request_from_hook(body, received_at=RECEIVED)
    assert partial.record.merged_at == at(2013, 12, 4, 9)
    assert partial.record.merge_sha == "b6568db1bc1dcd7f8b4d5a946b0b91f9dacd7327"
    assert {"merged_at", "merge_sha"}.isdisjoint(partial.unknown)
    assert "closed_at" in partial.unknown


def test_a_later_event_of_a_merged_merge_request_leaves_its_merge_time_as_stored():
    body = payload("merge_request", action="update", state="merged", updated_at="2014-01-01 00:00:00 UTC")
    partial = records.merge_request_from_hook(body, received_at=RECEIVED)
    assert {"merged_at", "closed_at", "merge_sha"} <= partial.unknown


def test_a_close_closes_it_unmerged_and_a_reopen_clears_the_close():
    closed = records.merge_request_from_hook(
        payload("merge_request", action="close", state="closed", updated_at="2013-12-05T00:00:00Z"),
        received_at=RECEIVED,
    )
    assert (closed.record.closed_at, closed.record.merged_at) == (at(2013, 12, 5), None)
    assert {"closed_at", "merged_at"}.isdisjoint(closed.unknown)
    reopened = records.merge_request_from_hook(
        payload("merge_request", action="reopen", state="opened"), received_at=RECEIVED
    )
    assert reopened.record.closed_at is None and "closed_at" not in reopened.unknown


def test_an_approval_is_an_approving_review_by_the_acting_user_at_receipt():
    body = with_user(payload("merge_request", action="approval"), id=6, username="user1")
    review = records.merge_request_from_hook(body, received_at=RECEIVED).record.reviews[0]
    assert (review.external_id, review.author, review.state) == ("approval:6", "user1", Review.State.APPROVED)
    assert review.submitted_at == RECEIVED
    assert records.approval_id(body["user"]) == "approval:6"


def test_an_unapproval_turns_the_approval_into_a_comment():
    body = with_user(payload("merge_request", action="unapproval"), id=6, username="user1")
    assert records.is_unapproval(body)
    assert records.merge_request_from_hook(body, received_at=RECEIVED).record.reviews == ()
    review = records.unapproved_review(body, submitted_at=at(2013, 12, 4))
    assert (review.external_id, review.state, review.submitted_at) == ("approval:6", "commented", at(2013, 12, 4))


def test_a_comment_on_a_merge_request_is_a_review_comment():
    partial = records.note_from_hook(payload("note_merge_request"))
    pr = partial.record
    assert (pr.external_id, pr.repository, pr.number) == ("merge_request:7", NOTE_REPOSITORY, 1)
    assert pr.opened_at == at(2015, 3, 1, 20, 12, 53)
    (review,) = pr.reviews
    assert (review.external_id, review.author, review.state) == ("note:1244", "root", Review.State.COMMENTED)
    assert review.submitted_at == at(2015, 5, 17, 18, 21, 36)
    assert {"author", "merged_at", "closed_at", "url"} <= partial.unknown


def test_system_notes_and_comments_on_other_things_are_not_reviews():
    assert records.note_from_hook(payload("note_merge_request", system=True)) is None
    assert records.note_from_hook(payload("note_merge_request", noteable_type="Issue")) is None


def test_a_rest_merge_request_is_whole():
    rest = {
        "id": 99,
        "iid": 1,
        "title": "MS-Viewport",
        "state": "merged",
        "created_at": "2013-12-03T17:23:34.000Z",
        "merged_at": "2013-12-04T09:00:00.000Z",
        "closed_at": None,
        "target_branch": "master",
        "author": {"id": 51, "username": "ms-author"},
        "merge_commit_sha": None,
        "squash_commit_sha": "b6568db1bc1dcd7f8b4d5a946b0b91f9dacd7327",
        "web_url": "http://example.com/awesome_space/awesome_project/-/merge_requests/1",
    }
    note = records.review_from_rest_note(
        {"id": 5, "system": False, "author": {"username": "user1"}, "created_at": "2013-12-03T18:00:00.000Z"}
    )
    commit = records.commit_from_rest({"id": "da15", "authored_date": "2013-12-01T10:00:00.000+02:00"})
    pr = records.merge_request_from_rest(rest, repository=MR_REPOSITORY, reviews=[note], commits=[commit])
    assert (pr.author, pr.merged_at, pr.merge_sha) == ("ms-author", at(2013, 12, 4, 9), rest["squash_commit_sha"])
    assert pr.url == rest["web_url"]
    assert pr.reviews[0].author == "user1" and pr.commits[0].authored_at == at(2013, 12, 1, 8)
    assert records.review_from_rest_note({"id": 6, "system": True, "created_at": "2013-12-03T18:00:00Z"}) is None


def test_a_rest_approval_note_is_the_approvers_review_at_its_exact_time():
    note = {
        "id": 7,
        "system": True,
        "body": "approved this merge request",
        "author": {"id": 6, "username": "user1"},
        "created_at": "2013-12-03T19:00:00.000Z",
    }
    review = records.review_from_rest_note(note)
    hook = with_user(payload("merge_request", action="approval"), id=6, username="user1")
    assert review.external_id == records.approval_id(hook["user"]) == "approval:6"
    assert (review.state, review.submitted_at) == (Review.State.APPROVED, at(2013, 12, 3, 19))
    assert records.review_from_rest_note({**note, "body": "unapproved this merge request"}) is None


# --- Deployments -----------------------------------------------------------------------------


def test_a_finished_deployment_keeps_its_stored_start_and_ref():
    partial = records.deployment_from_hook(payload("deployment"))
    d = partial.record
    assert (d.external_id, d.environment, d.status) == ("deployment:15", "staging", Deployment.Status.SUCCESS)
    assert d.repository == DEPLOYMENT_REPOSITORY
    assert d.finished_at == at(2021, 4, 28, 19, 50)
    assert d.sha == "279484c09fbe69ededfced8c1bb6e6d24616b468"
    assert (d.title, d.url) == ("Add new file", "http://10.126.0.2:3000/root/test-deployment-webhooks/-/jobs/796")
    assert partial.unknown == {"started_at", "ref"}


def test_a_running_deployment_started_when_its_status_changed():
    partial = records.deployment_from_hook(payload("deployment", status="running"))
    assert partial.record.status == Deployment.Status.IN_PROGRESS
    assert partial.record.started_at == partial.record.finished_at == at(2021, 4, 28, 19, 50)
    assert "started_at" not in partial.unknown


@pytest.mark.parametrize(
    ("status", "expected"),
    [("failed", "failure"), ("canceled", "cancelled"), ("created", "in_progress"), ("blocked", "in_progress")],
)
def test_deployment_statuses(status, expected):
    partial = records.deployment_from_hook(payload("deployment", status=status))
    assert partial.record.status == expected and "started_at" in partial.unknown


def test_a_deployment_without_a_full_commit_url_keeps_the_short_sha():
    body = payload("deployment", commit_url=None)
    assert records.deployment_from_hook(body).record.sha == "279484c0"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"status": "exploded"}, "deployment status 'exploded'"),
        ({"status_changed_at": None}, "status_changed_at is missing"),
        ({"deployment_id": "15"}, "deployment_id must be an integer"),
        ({"environment": ""}, "environment is missing"),
        ({"project": {"id": 30}}, "project.web_url is missing"),
    ],
)
def test_a_deployment_it_cannot_read_says_why(changes, message):
    with pytest.raises(PayloadError, match=message):
        records.deployment_from_hook(payload("deployment", **changes))


def test_a_rest_deployment_takes_its_times_from_its_job():
    rest = {
        "id": 15,
        "status": "success",
        "ref": "main",
        "sha": "279484c09fbe69ededfced8c1bb6e6d24616b468",
        "created_at": "2021-04-28T19:40:00.000Z",
        "updated_at": "2021-04-28T19:51:00.000Z",
        "environment": {"name": "production", "tier": "production"},
        "deployable": {
            "started_at": "2021-04-28T19:45:00.000Z",
            "finished_at": "2021-04-28T19:50:00.000Z",
            "web_url": "http://10.126.0.2:3000/root/test-deployment-webhooks/-/jobs/796",
            "commit": {"title": "Add new file"},
        },
    }
    d = records.deployment_from_rest(rest, repository=DEPLOYMENT_REPOSITORY)
    assert (d.environment, d.ref, d.started_at, d.finished_at) == (
        "production",
        "main",
        at(2021, 4, 28, 19, 45),
        at(2021, 4, 28, 19, 50),
    )
    assert d.external_id == records.deployment_from_hook(payload("deployment")).record.external_id


# --- Pipelines -------------------------------------------------------------------------------


def test_a_pipeline_hook_is_a_run_started_its_duration_before_its_finish():
    found = records.pipeline_from_hook(payload("pipeline"))
    run = found.run
    assert found.pipeline_id == 31
    assert (run.external_id, run.status, run.repository) == ("pipeline:31:1", "success", PIPELINE_REPOSITORY)
    assert run.workflow == "gitlab-org/gitlab-test: merge_request_event"
    assert run.finished_at == at(2016, 8, 12, 15, 26, 29)
    assert run.started_at == run.finished_at - timedelta(seconds=63)
    assert run.branch == "master" and run.is_default_branch is False  # a merge request pipeline
    assert found.active_at == run.finished_at


def test_a_push_pipeline_on_the_default_branch_is_a_default_branch_run():
    assert records.pipeline_from_hook(payload("pipeline", source="push")).run.is_default_branch is True
    assert records.pipeline_from_hook(payload("pipeline", source="push", tag=True)).run.is_default_branch is False
    assert records.pipeline_from_hook(payload("pipeline", source="push", ref="dev")).run.is_default_branch is False


def test_a_running_pipeline_has_no_finish_and_an_unknown_start():
    found = records.pipeline_from_hook(payload("pipeline", status="running", finished_at=None, duration=None))
    assert (found.run.status, found.run.finished_at, found.run.started_at) == ("in_progress", None, None)
    assert found.unknown == {"started_at"}
    assert found.active_at == at(2016, 8, 12, 15, 26, 12)  # its latest job start


@pytest.mark.parametrize(
    ("status", "expected"),
    [("failed", "failure"), ("canceled", "cancelled"), ("skipped", "cancelled"), ("manual", "in_progress")],
)
def test_pipeline_statuses(status, expected):
    assert records.pipeline_from_hook(payload("pipeline", status=status)).run.status == expected


def test_a_job_hook_says_which_pipeline_and_when_it_last_moved():
    job = records.job_from_hook(payload("job"))
    assert (job.pipeline_id, job.name, job.retries) == (2366, "test", 2)
    assert job.active_at == at(2021, 2, 23, 2, 41, 37, 886000)


FAILED = records.StoredAttempt(1, PipelineRun.Status.FAILURE, at(2026, 1, 1, 10))


@pytest.mark.parametrize(
    ("stored", "finished_at", "active_at", "expected"),
    [
        ([], None, None, 1),  # the first event
        ([records.StoredAttempt(1, "in_progress", None)], at(2026, 1, 1, 10), at(2026, 1, 1, 10), 1),  # it goes on
        ([FAILED], None, at(2026, 1, 1, 11), 2),  # a job after the failure: a retry
        ([FAILED], at(2026, 1, 1, 12), at(2026, 1, 1, 12), 2),  # a later finish: a retry
        ([FAILED], at(2026, 1, 1, 10), at(2026, 1, 1, 10), 1),  # the same finish again
        ([FAILED], None, at(2026, 1, 1, 9), None),  # a running state from before the failure: stale
        ([FAILED, records.StoredAttempt(2, "success", at(2026, 1, 1, 12))], at(2026, 1, 1, 10), None, 1),
        ([records.StoredAttempt(1, "cancelled", None)], None, at(2026, 1, 1, 9), 1),  # no finish to compare
        ([FAILED, records.StoredAttempt(2, "in_progress", None)], at(2026, 1, 1, 10), None, 1),  # told again
    ],
)
def test_which_attempt_a_pipeline_event_describes(stored, finished_at, active_at, expected):
    assert records.pipeline_attempt(stored, finished_at=finished_at, active_at=active_at) == expected


def test_a_rest_pipeline_has_its_own_start():
    rest = {
        "id": 31,
        "status": "failed",
        "ref": "master",
        "sha": "bcbb5ec396a2c0f828686f14fac9b80b780504f2",
        "source": "push",
        "created_at": "2016-08-12T15:23:28.000Z",
        "started_at": "2016-08-12T15:24:00.000Z",
        "finished_at": "2016-08-12T15:26:29.000Z",
        "web_url": "http://192.168.64.1:3005/gitlab-org/gitlab-test/-/pipelines/31",
    }
    run = records.pipeline_from_rest(rest, repository=PIPELINE_REPOSITORY, default_branch="master")
    assert (run.external_id, run.status, run.is_default_branch) == ("pipeline:31:1", "failure", True)
    retried = records.pipeline_from_rest(rest, repository=PIPELINE_REPOSITORY, default_branch="master", attempt=2)
    assert (retried.external_id, retried.attempt) == ("pipeline:31:2", 2)
    assert (run.started_at, run.finished_at) == (at(2016, 8, 12, 15, 24), at(2016, 8, 12, 15, 26, 29))


# --- Pushes ----------------------------------------------------------------------------------


def test_a_push_to_the_default_branch_listing_every_commit_is_a_push():
    push = records.push_from_hook(payload("push", total_commits_count=2), received_at=RECEIVED)
    assert push.repository == PUSH_REPOSITORY and push.branch == "master"
    assert (push.before, push.after) == ("95790bf891e76fee5e1747ab589903a6a1f80f22", push.commits[-1])
    assert push.commits == ("b6568db1bc1dcd7f8b4d5a946b0b91f9dacd7327", "da1560886d4f094c3e6c9ef40349f7d38b5d27d7")
    assert push.pushed_at == RECEIVED
    assert push.external_id.startswith("push:15:master:")


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({}, "lists 2 of the push's 4 commits"),  # the documented example: 20-commit cap
        ({"ref": "refs/heads/feature", "total_commits_count": 2}, "not to the default branch (master)"),
        ({"ref": "refs/tags/v1.0.0", "total_commits_count": 2}, "a push to refs/tags/v1.0.0"),
        ({"after": records.NO_SHA, "total_commits_count": 0, "commits": []}, "was deleted"),
    ],
)
def test_other_pushes_are_not_kept_with_the_reason(changes, reason):
    outcome = records.push_from_hook(payload("push", **changes), received_at=RECEIVED)
    assert isinstance(outcome, str) and reason in outcome


# --- Incidents -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        ({"type": "Incident"}, True),
        ({"type": "INCIDENT"}, True),  # the REST API's spelling
        ({"issue_type": "incident"}, True),  # earlier hooks
        ({"type": "Issue"}, False),
        ({"type": "Task", "issue_type": None}, False),
        ({}, False),
    ],
)
def test_an_incident_is_an_issue_or_work_item_of_type_incident(attributes, expected):
    assert records.is_incident(attributes) is expected


def test_an_open_incident_started_when_created_and_is_unresolved():
    partial = records.incident_from_hook(incident())
    i = partial.record
    assert (i.external_id, i.repository, i.severity) == ("issue:301", ISSUE_REPOSITORY, "high")
    assert (i.started_at, i.resolved_at) == (at(2013, 12, 3, 17, 15, 43), None)
    assert i.title == "New API: create/update/delete file" and partial.unknown == frozenset()


def test_a_closed_incident_is_resolved_at_its_close():
    closed = records.incident_from_hook(incident(action="close", state="closed", updated_at="2013-12-04 08:00:00 UTC"))
    assert closed.record.resolved_at == at(2013, 12, 4, 8)
    with_closed_at = incident(action="close", state="closed", closed_at="2013-12-04T07:59:00Z")
    assert records.incident_from_hook(with_closed_at).record.resolved_at == at(2013, 12, 4, 7, 59)
    later = records.incident_from_hook(incident(action="update", state="closed"))
    assert later.unknown == {"resolved_at"}


def test_an_unknown_severity_says_nothing():
    assert records.incident_from_hook(incident(severity="unknown")).record.severity == ""


def test_a_rest_incident():
    rest = {
        "id": 301,
        "title": "Down",
        "state": "closed",
        "type": "INCIDENT",
        "severity": "CRITICAL",
        "created_at": "2013-12-03T17:15:43.000Z",
        "closed_at": "2013-12-03T18:15:43.000Z",
        "web_url": "http://example.com/gitlabhq/gitlab-test/-/issues/23",
    }
    i = records.incident_from_rest(rest, repository=ISSUE_REPOSITORY)
    assert (i.external_id, i.severity, i.resolved_at) == ("issue:301", "critical", at(2013, 12, 3, 18, 15, 43))


def test_rest_notes_end_where_the_webhooks_would():
    def note(note_id: int, login: str, body: str, hour: int, *, system: bool = True) -> dict:
        author = {"id": note_id * 10 if login == "other" else 6, "username": login}
        return {
            "id": note_id,
            "system": system,
            "body": body,
            "author": author,
            "created_at": f"2026-01-01T{hour:02}:00:00Z",
        }

    notes = [
        note(1, "user1", "Looks fine", 9, system=False),
        note(2, "user1", "approved this merge request", 10),
        note(3, "user1", "unapproved this merge request", 11),
        note(4, "other", "added 1 commit", 12),
    ]
    reviews = records.reviews_from_rest_notes(notes)
    assert [(r.external_id, r.state, r.submitted_at) for r in reviews] == [
        ("note:1", Review.State.COMMENTED, at(2026, 1, 1, 9)),
        ("approval:6", Review.State.COMMENTED, at(2026, 1, 1, 10)),  # withdrawn: a comment, at the approval
    ]
    again = records.reviews_from_rest_notes([*notes, note(5, "user1", "approved this merge request", 13)])
    assert (again[1].state, again[1].submitted_at) == (Review.State.APPROVED, at(2026, 1, 1, 13))
    assert records.reviews_from_rest_notes([note(6, "user1", "unapproved this merge request", 9)]) == []

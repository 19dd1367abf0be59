"""GitHub's objects as e360's records (integrations/github/records.py): pure, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from integrations.github import records
from integrations.tests.github_payloads import payload
from metrics.inputs import CommitInput, ReviewInput
from metrics.models import Deployment, PipelineRun, Review


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


# --- Times ---


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2019-05-15T15:20:33Z", at("2019-05-15T15:20:33+00:00")),
        ("2019-05-15T11:20:56-04:00", at("2019-05-15T15:20:56+00:00")),
        (1557933657, at("2019-05-15T15:20:57+00:00")),
        (None, None),
        ("", None),
    ],
)
def test_it_reads_iso_strings_and_unix_timestamps_as_utc(value, expected):
    found = records.parse_time(value)
    assert found == expected
    assert found is None or found.tzinfo is UTC


@pytest.mark.parametrize("value", ["yesterday", True, [1]])
def test_an_unreadable_time_says_so(value):
    with pytest.raises(records.Unreadable):
        records.parse_time(value)


# --- Pull requests ---


def test_a_rest_pull_request_with_its_reviews_and_commits():
    pr = records.pull_request(
        payload("rest_pull"), reviews=payload("rest_pull_reviews"), commits=payload("rest_pull_commits")
    )
    assert pr.external_id == "1"
    assert pr.repository == "octocat/Hello-World"
    assert (pr.number, pr.title, pr.author, pr.base_branch) == (1347, "Amazing new feature", "octocat", "master")
    assert pr.url == "https://github.com/octocat/Hello-World/pull/1347"
    assert pr.opened_at == pr.merged_at == pr.closed_at == at("2011-01-26T19:01:12+00:00")
    assert pr.merge_sha == "e5bd3914e2e596debea16f433f57875b5b90bcd6"
    assert (pr.additions, pr.deletions) == (100, 3)
    # The pending review (no submitted_at) is left out.
    assert pr.reviews == (ReviewInput("80", "hubot", at("2019-11-17T17:43:43+00:00"), Review.State.APPROVED),)
    assert pr.commits == (CommitInput("6dcb09b5b57875f334f61aebed695e2e4193db5e", at("2011-04-14T16:00:49+00:00")),)


def test_an_open_pull_request_has_no_merge_sha_even_when_github_sends_a_test_merge():
    pr = payload("rest_pull")
    pr.update(state="open", merged_at=None, closed_at=None, merged=False)
    found = records.pull_request(pr)
    assert found.merged_at is None and found.closed_at is None
    assert found.merge_sha == ""


def test_a_pull_request_without_sizes_has_unknown_sizes_not_zero():
    pr = payload("pull_request_review")["pull_request"]  # the webhook's simple pull request: no sizes
    found = records.pull_request(pr)
    assert (found.additions, found.deletions) == (None, None)
    assert found.repository == "Codertocat/Hello-World"
    assert found.external_id == "279147437"


def test_the_webhook_pull_request_reads_like_the_rest_one():
    found = records.pull_request(payload("pull_request")["pull_request"])
    assert (found.number, found.author, found.base_branch, found.additions, found.deletions) == (
        2,
        "Codertocat",
        "master",
        1,
        1,
    )
    assert found.opened_at == at("2019-05-15T15:20:33+00:00")


def test_an_open_draft_is_told_apart():
    pr = payload("pull_request")["pull_request"]
    assert not records.is_open_draft(pr)
    pr["draft"] = True
    assert records.is_open_draft(pr)
    pr["state"] = "closed"
    assert not records.is_open_draft(pr)


@pytest.mark.parametrize("missing", ["id", "created_at", "base"])
def test_a_pull_request_missing_what_it_needs_is_unreadable(missing):
    pr = payload("rest_pull")
    del pr[missing]
    with pytest.raises(records.Unreadable, match="pull request"):
        records.pull_request(pr)


# --- Pull requests from the GraphQL API ---


def rest_record():
    return records.pull_request(
        payload("rest_pull"), reviews=payload("rest_pull_reviews"), commits=payload("rest_pull_commits")
    )


def test_a_graphql_pull_request_is_the_record_of_the_same_rest_pull_request():
    assert records.pull_request_from_graphql(payload("graphql_pull")) == rest_record()


def test_a_graphql_pull_request_before_fulldatabaseid_reads_databaseid():
    node = payload("graphql_pull")
    del node["fullDatabaseId"]
    node["databaseId"] = 1
    for review in node["reviews"]["nodes"]:
        review["databaseId"] = int(review.pop("fullDatabaseId"))
    assert records.pull_request_from_graphql(node) == rest_record()


def test_a_bots_graphql_login_gets_the_rest_suffix_back():
    node = payload("graphql_pull")
    node["author"] = {"__typename": "Bot", "login": "dependabot"}
    node["reviews"]["nodes"][0]["author"] = {"__typename": "Bot", "login": "copilot-pull-request-reviewer"}
    found = records.pull_request_from_graphql(node)
    assert found.author == "dependabot[bot]"
    assert found.reviews[0].author == "copilot-pull-request-reviewer[bot]"


def test_a_graphql_pull_request_not_merged_has_no_merge_sha():
    node = payload("graphql_pull")
    node.update(state="OPEN", mergedAt=None, closedAt=None, mergeCommit=None)
    found = records.pull_request_from_graphql(node)
    assert (found.merged_at, found.closed_at, found.merge_sha) == (None, None, "")


def test_a_graphql_open_draft_is_told_apart():
    node = payload("graphql_pull")
    node.update(state="OPEN", isDraft=True)
    assert records.is_open_draft(node)
    node["state"] = "CLOSED"
    assert not records.is_open_draft(node)


def test_a_graphql_pull_request_of_a_deleted_author_has_no_author():
    node = payload("graphql_pull")
    node["author"] = None
    assert records.pull_request_from_graphql(node).author == ""


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"fullDatabaseId": None}, "has no id"),
        ({"createdAt": None}, "has no created_at"),
        ({"baseRepository": None}, "has no base.repo.full_name"),
        ({"reviews": {"nodes": "many"}}, "reviews are not a list"),
        ({"commits": {"nodes": [{"commit": {"oid": "abc"}}]}}, "commit has no date"),
        (
            {"reviews": {"nodes": [{"fullDatabaseId": "9", "state": "HAPPY", "submittedAt": "2019-11-17T17:43:43Z"}]}},
            "unknown state",
        ),
    ],
)
def test_a_graphql_pull_request_missing_what_it_needs_is_unreadable(change, problem):
    node = payload("graphql_pull")
    node.update(change)
    with pytest.raises(records.Unreadable, match=problem):
        records.pull_request_from_graphql(node)


def test_every_loopback_pull_request_is_the_same_record_by_rest_and_graphql(fake_github):
    """The loopback GitHub's two shapes of one history (bots, pending reviews, open and merged)."""
    repo = fake_github.repo("acme/checkout")
    t0 = datetime(2026, 6, 1, tzinfo=UTC)
    for number in range(1, 4):
        fake_github.add_pull(
            repo,
            number=number,
            opened=t0,
            merged=t0 + timedelta(hours=number) if number > 1 else None,
            reviews=(("ana", "APPROVED", t0), ("bo", "DISMISSED", t0), ("cy", "PENDING", t0)),
            commits=(t0 - timedelta(hours=1), t0),
        )
    repo.pulls[0]["user"] = {"login": "renovate[bot]", "id": 3, "type": "Bot"}
    for pull in repo.pulls:
        number = pull["number"]
        rest = records.pull_request(
            {**pull, **repo.sizes[number]}, reviews=repo.reviews[number], commits=repo.commits[number]
        )
        node = fake_github._graphql_pull(repo, pull, 100)
        assert records.pull_request_from_graphql(node) == rest


# --- Reviews ---


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("APPROVED", Review.State.APPROVED),
        ("approved", Review.State.APPROVED),
        ("changes_requested", Review.State.CHANGES_REQUESTED),
        ("commented", Review.State.COMMENTED),
        ("dismissed", Review.State.COMMENTED),
    ],
)
def test_review_states_in_either_spelling(state, expected):
    review = payload("pull_request_review")["review"]
    review["state"] = state
    found = records.review(review)
    assert found == ReviewInput("237895671", "Codertocat", at("2019-05-15T15:20:38+00:00"), expected)


def test_a_pending_review_is_no_record():
    assert records.review(payload("rest_pull_reviews")[1]) is None


def test_an_unknown_review_state_is_unreadable():
    review = payload("pull_request_review")["review"]
    review["state"] = "pondering"
    with pytest.raises(records.Unreadable, match="PONDERING"):
        records.review(review)


# --- Deployments ---


def test_the_latest_status_decides_a_deployment():
    found = records.deployment(payload("rest_deployment"), payload("rest_deployment_statuses"), "octocat/example")
    assert found is not None
    assert (found.external_id, found.environment, found.status) == ("1", "production", Deployment.Status.SUCCESS)
    assert found.started_at == at("2012-07-20T01:19:13+00:00")
    assert found.finished_at == at("2012-07-20T01:29:13+00:00")
    assert (found.sha, found.ref, found.repository) == (
        "a84d88e7554fc1fa21bcbc4efae3c782a70d2b9d",
        "topic-branch",
        "octocat/example",
    )
    assert found.title == "Deploy request from hubot"
    assert found.url == "https://example.com/deployment/42/output"
    assert found.changes is None  # no list sent: linking rules 2 and 3 find its changes


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("success", Deployment.Status.SUCCESS),
        ("failure", Deployment.Status.FAILURE),
        ("error", Deployment.Status.ERROR),
        ("in_progress", Deployment.Status.IN_PROGRESS),
    ],
)
def test_deployment_states(state, expected):
    status = payload("deployment_status")["deployment_status"]
    status["state"] = state
    found = records.deployment(payload("deployment")["deployment"], [status], "Codertocat/Hello-World")
    assert found is not None and found.status == expected
    assert found.finished_at == at("2019-05-15T15:20:55+00:00")


def test_a_deployment_only_queued_or_pending_is_no_record_yet():
    statuses = payload("rest_deployment_statuses")
    for status, state in zip(statuses, ["queued", "pending"], strict=True):
        status["state"] = state
    assert records.deployment(payload("rest_deployment"), statuses, "octocat/example") is None
    assert records.deployment(payload("rest_deployment"), [], "octocat/example") is None


def test_inactive_keeps_the_status_before_it():
    # GitHub marks an earlier successful deployment inactive when a newer one succeeds.
    statuses = payload("rest_deployment_statuses")
    inactive = dict(statuses[0], id=3, state="inactive", created_at="2012-07-21T00:00:00Z")
    found = records.deployment(payload("rest_deployment"), [inactive, *statuses], "octocat/example")
    assert found is not None
    assert (found.status, found.finished_at) == (Deployment.Status.SUCCESS, at("2012-07-20T01:29:13+00:00"))
    assert records.deployment(payload("rest_deployment"), [inactive], "octocat/example") is None


def test_an_unknown_deployment_state_is_unreadable():
    status = payload("deployment_status")["deployment_status"]
    status["state"] = "exploded"
    with pytest.raises(records.Unreadable, match="exploded"):
        records.deployment(payload("deployment")["deployment"], [status], "Codertocat/Hello-World")


# --- Workflow runs ---


def test_a_completed_workflow_run_attempt():
    found = records.workflow_run(payload("workflow_run")["workflow_run"], default_branch="master")
    assert found is not None
    assert (found.external_id, found.workflow, found.attempt) == ("30433642/1", "Build", 1)
    assert (found.status, found.branch, found.is_default_branch) == (PipelineRun.Status.FAILURE, "master", True)
    assert found.sha == "acb5820ced9479c074f688cc328bf03f341a511d"
    assert (found.started_at, found.finished_at) == (at("2020-01-22T19:33:08+00:00"), at("2020-01-22T19:35:19+00:00"))
    assert found.repository == "Codertocat/Hello-World"
    assert found.url == "https://github.com/Codertocat/Hello-World/actions/runs/30433642"


def test_each_attempt_of_a_run_is_its_own_record():
    run = payload("workflow_run")["workflow_run"]
    run.update(run_attempt=2, conclusion="success")
    found = records.workflow_run(run, default_branch="master")
    assert found is not None
    assert (found.external_id, found.attempt, found.status) == ("30433642/2", 2, PipelineRun.Status.SUCCESS)


@pytest.mark.parametrize(
    ("conclusion", "expected"),
    [
        ("success", PipelineRun.Status.SUCCESS),
        ("failure", PipelineRun.Status.FAILURE),
        ("timed_out", PipelineRun.Status.FAILURE),
        ("startup_failure", PipelineRun.Status.FAILURE),
        ("cancelled", PipelineRun.Status.CANCELLED),
        ("skipped", PipelineRun.Status.CANCELLED),
        ("neutral", PipelineRun.Status.CANCELLED),
        ("action_required", PipelineRun.Status.CANCELLED),
    ],
)
def test_workflow_run_conclusions(conclusion, expected):
    run = payload("workflow_run")["workflow_run"]
    run["conclusion"] = conclusion
    found = records.workflow_run(run, default_branch="master")
    assert found is not None and found.status == expected


def test_a_running_run_has_no_finish_and_a_queued_one_is_no_record_yet():
    run = payload("workflow_run")["workflow_run"]
    run.update(status="in_progress", conclusion=None)
    found = records.workflow_run(run, default_branch="master")
    assert found is not None and (found.status, found.finished_at) == (PipelineRun.Status.IN_PROGRESS, None)
    for status in ("requested", "queued", "waiting", "pending"):
        run["status"] = status
        assert records.workflow_run(run, default_branch="master") is None


def test_a_run_on_another_branch_is_not_the_default_branchs():
    run = payload("workflow_run")["workflow_run"]
    run["head_branch"] = "changes"
    found = records.workflow_run(run, default_branch="master")
    assert found is not None and not found.is_default_branch


def test_an_unknown_conclusion_is_unreadable():
    run = payload("workflow_run")["workflow_run"]
    run["conclusion"] = "shrug"
    with pytest.raises(records.Unreadable, match="shrug"):
        records.workflow_run(run, default_branch="master")


# --- Pushes ---


def test_a_push_lists_its_commits_in_order():
    found = records.push(payload("push"))
    assert found.external_id == (
        "186853002:6113728f27ae82c7b1a177c8d03f9e96e0adf246..f95f852bd8fca8fcc58a9a2d6c842781e32a215e"
    )
    assert (found.repository, found.branch) == ("Codertocat/Hello-World", "master")
    assert (found.before, found.after) == (
        "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
        "f95f852bd8fca8fcc58a9a2d6c842781e32a215e",
    )
    assert found.commits == ("ec26c3e57ca3a959ca5aad62de7213c562f8c821", "f95f852bd8fca8fcc58a9a2d6c842781e32a215e")
    assert found.pushed_at == at("2019-05-15T15:20:57+00:00")  # repository.pushed_at, a Unix timestamp


def test_a_push_without_pushed_at_takes_its_head_commits_time():
    body = payload("push")
    del body["repository"]["pushed_at"]
    assert records.push(body).pushed_at == at("2019-05-15T15:20:56+00:00")


def test_only_a_push_that_moves_the_default_branch_is_the_default_branchs():
    body = payload("push")
    assert records.is_default_branch_push(body)
    assert not records.is_default_branch_push(dict(body, ref="refs/heads/changes"))
    assert not records.is_default_branch_push(dict(body, ref="refs/tags/v1.0"))
    assert not records.is_default_branch_push(dict(body, deleted=True))


# --- Incidents ---


def labelled(*names: str) -> dict:
    issue = payload("issues")["issue"]
    issue["labels"] = [{"id": n, "name": name} for n, name in enumerate(names)]
    return issue


def test_an_issue_with_the_label_is_an_incident():
    found = records.incident(labelled("bug", "Incident"), repository="Codertocat/Hello-World", label="incident")
    assert found is not None
    assert (found.external_id, found.repository) == ("444500041", "Codertocat/Hello-World")
    assert found.title == "Spelling error in the README file"
    assert (found.started_at, found.resolved_at) == (at("2019-05-15T15:20:18+00:00"), None)


def test_a_closed_incident_is_resolved_when_it_was_closed():
    issue = labelled("incident")
    issue.update(state="closed", closed_at="2019-05-15T18:00:00Z")
    found = records.incident(issue, repository="Codertocat/Hello-World", label="incident")
    assert found is not None and found.resolved_at == at("2019-05-15T18:00:00+00:00")


def test_an_issue_without_the_label_or_a_pull_request_is_no_incident():
    assert records.incident(labelled("bug"), repository="Codertocat/Hello-World", label="incident") is None
    pr_issue = dict(labelled("incident"), pull_request={"url": "https://api.github.com/repos/o/r/pulls/1"})
    assert records.incident(pr_issue, repository="Codertocat/Hello-World", label="incident") is None
    assert records.incident(labelled("incident"), repository="Codertocat/Hello-World", label="") is None

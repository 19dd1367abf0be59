"""The backfill and the incremental sync (integrations/backfill.py, integrations/github/backfill.py,
integrations/tasks.py) against the loopback GitHub: records written once, resumable from the
cursors, rescheduled (never slept) on a rate limit, and 304s when nothing changed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from time import monotonic

import pytest
from django.utils import timezone
from django_q.models import Schedule

from integrations import backfill as runner
from integrations import tasks
from integrations.github import backfill as github_backfill
from integrations.models import Backfill, Connection, SyncCursor
from integrations.tests.factories import ConnectionFactory
from integrations.tests.fake_github import (
    APP_ID,
    INSTALLATION_ID,
    TOKEN,
    FakeGitHub,
)
from integrations.tests.github import SECRET
from integrations.tests.github_histories import deliver_as_webhooks, figures, same_history
from metrics.models import Commit, Deployment, PipelineRun, PullRequest, Review

pytestmark = pytest.mark.django_db

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch):
    monkeypatch.setattr("integrations.http.BACKOFF", 0.0)


@pytest.fixture
def small_pages(monkeypatch):
    monkeypatch.setattr("integrations.github.client.PER_PAGE", 2)
    monkeypatch.setattr("integrations.github.client.GRAPHQL_PER_PAGE", 2)


def history(fake: FakeGitHub) -> None:
    """acme/checkout's last weeks: five pull requests (one an open draft, one older than the
    backfill), three deployments (one older), four workflow runs (one older)."""
    repo = fake.repo("acme/checkout")
    for number in range(1, 5):
        opened = NOW - timedelta(days=10 - number)
        fake.add_pull(
            repo,
            number=number,
            opened=opened,
            merged=opened + timedelta(hours=5),
            reviews=(("reviewer", "APPROVED", opened + timedelta(hours=2)),),
            commits=(opened - timedelta(hours=1), opened - timedelta(minutes=30)),
        )
    repo.pulls.append(
        {
            **repo.pulls[0],
            "id": 5,
            "number": 5,
            "draft": True,
            "state": "open",
            "closed_at": None,
            "merged_at": None,
            "updated_at": repo.pulls[-1]["updated_at"],
        }
    )
    fake.add_pull(repo, number=6, opened=NOW - timedelta(days=90), merged=NOW - timedelta(days=89))
    for days in (3, 2, 60):
        fake.add_deployment(repo, created=NOW - timedelta(days=days))
    for days in (4, 3, 1, 60):
        fake.add_run(repo, created=NOW - timedelta(days=days), conclusion="failure" if days == 3 else "success")


@pytest.fixture
def connection(fake_github, team, service) -> Connection:
    history(fake_github)
    return ConnectionFactory(
        source__team=team, api_url=fake_github.url, api_token=TOKEN, repositories=["acme/checkout"]
    )


def start(connection: Connection, days: int = 30) -> Backfill:
    return Backfill.objects.create(connection=connection, days=days)


def test_a_backfill_writes_a_repositorys_history(connection, fake_github, small_pages):
    backfill = start(connection)
    assert tasks.backfill_run(backfill.pk) == f"backfill {backfill.pk}: done"

    assert sorted(PullRequest.objects.values_list("number", flat=True)) == [1, 2, 3, 4]  # no draft, none too old
    assert Review.objects.count() == 4 and Commit.objects.count() == 8
    assert set(PullRequest.objects.values_list("additions", "deletions")) == {(40, 8)}  # read from each one
    assert Deployment.objects.count() == 2 and Deployment.objects.filter(is_production=True).count() == 2
    assert PipelineRun.objects.count() == 3
    assert PipelineRun.objects.filter(status="failure").count() == 1
    backfill.refresh_from_db()
    assert backfill.status == Backfill.Status.DONE and backfill.finished_at
    assert (backfill.repositories_done, backfill.repositories_total) == (1, 1)
    assert backfill.records == 4 + 2 + 3
    assert backfill.requests == len(fake_github.log) and backfill.not_modified == 0
    assert backfill.error == ""
    cursors = {c.resource: c for c in SyncCursor.objects.filter(connection=connection)}
    assert set(cursors) == {"pulls", "deployments", "workflow_runs"}
    assert all(c.next_url == "" and c.etag for c in cursors.values())
    assert cursors["pulls"].watermark == max(p.merged_at for p in PullRequest.objects.all())
    assert cursors["workflow_runs"].watermark == NOW - timedelta(days=1)


def test_a_long_backfill_goes_on_in_runs_of_a_few_minutes(
    connection, fake_github, small_pages, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(runner, "RUN_SECONDS", 0)  # each run: one page, then the next run is queued
    backfill = start(connection)
    with django_capture_on_commit_callbacks(execute=True) as queued:
        assert tasks.backfill_run(backfill.pk) == f"backfill {backfill.pk}: running"
    assert len(queued) > 3
    backfill.refresh_from_db()
    assert backfill.status == Backfill.Status.DONE
    assert (PullRequest.objects.count(), Deployment.objects.count(), PipelineRun.objects.count()) == (4, 2, 3)


def test_a_cancelled_backfill_stops(connection, fake_github):
    backfill = start(connection)
    Backfill.objects.filter(pk=backfill.pk).update(status=Backfill.Status.CANCELLED)
    assert tasks.backfill_run(backfill.pk) == f"backfill {backfill.pk}: nothing to do"
    assert fake_github.log == []


def test_a_second_backfill_writes_each_record_once(connection, fake_github):
    tasks.backfill_run(start(connection).pk)
    tasks.backfill_run(start(connection).pk)
    assert (PullRequest.objects.count(), Deployment.objects.count(), PipelineRun.objects.count()) == (4, 2, 3)
    assert Backfill.objects.filter(status=Backfill.Status.DONE).count() == 2


def test_a_crashed_backfill_resumes_from_its_cursor_and_stores_each_record_once(
    connection, fake_github, small_pages, monkeypatch
):
    steps = []
    original = github_backfill.Pulls.step

    def crash_on_the_second_page(self, url, **kwargs):
        steps.append(url)
        if len(steps) == 3:  # the REST probe, the first GraphQL page, then the second
            raise SystemExit("the worker was killed")
        return original(self, url, **kwargs)

    monkeypatch.setattr(github_backfill.Pulls, "step", crash_on_the_second_page)
    backfill = start(connection)
    with pytest.raises(SystemExit):
        tasks.backfill_run(backfill.pk)
    cursor = SyncCursor.objects.get(resource="pulls")
    assert cursor.next_url.startswith(f"{fake_github.url}/graphql?after=")  # the first page is written, with the cursor
    assert list(PullRequest.objects.values_list("number", flat=True)) == [4]  # and #5, an open draft, left out

    monkeypatch.setattr(github_backfill.Pulls, "step", original)
    tasks.backfill_run(backfill.pk)
    backfill.refresh_from_db()
    assert backfill.status == Backfill.Status.DONE
    assert sorted(PullRequest.objects.values_list("number", flat=True)) == [1, 2, 3, 4]
    # The first page was read once: the second run went on from the cursor (pages 2 and 3).
    assert len(fake_github.calls(r"/pulls\?")) == 1
    assert fake_github.operations == ["PullRequests"] * 3


def test_a_rate_limited_backfill_is_rescheduled_not_slept(connection, fake_github):
    fake_github.fail(r"/deployments\?", 403, headers={"Retry-After": "600"}, body={"message": "secondary rate limit"})
    backfill = start(connection)
    began = monotonic()
    tasks.backfill_run(backfill.pk)
    assert monotonic() - began < 10

    backfill.refresh_from_db()
    assert backfill.status == Backfill.Status.WAITING
    assert timedelta(seconds=590) < backfill.resume_at - timezone.now() <= timedelta(seconds=600)
    row = Schedule.objects.get(name=tasks.resume_schedule_name(backfill.pk))
    assert (row.func, row.schedule_type, row.next_run) == (tasks.BACKFILL_TASK, Schedule.ONCE, backfill.resume_at)
    assert row.args == f"({backfill.pk},)"
    assert "'timeout': 600" in row.kwargs
    connection.refresh_from_db()
    assert connection.paused_until == backfill.resume_at
    assert PullRequest.objects.count() == 4  # what came before the limit is kept

    # Run by the schedule once the pause is over: it goes on where it stopped.
    Connection.objects.filter(pk=connection.pk).update(paused_until=timezone.now() - timedelta(seconds=1))
    tasks.backfill_run(backfill.pk)
    backfill.refresh_from_db()
    assert backfill.status == Backfill.Status.DONE and backfill.resume_at is None
    assert (PullRequest.objects.count(), Deployment.objects.count(), PipelineRun.objects.count()) == (4, 2, 3)
    assert len(fake_github.calls(r"/pulls\?")) == 1  # read once, before the limit


def test_a_backfill_at_the_budget_floor_waits_for_the_reset(connection, fake_github):
    Connection.objects.filter(pk=connection.pk).update(
        rate_limit=5000, rate_remaining=10, rate_reset_at=fake_github.rate_reset
    )
    backfill = start(connection)
    tasks.backfill_run(backfill.pk)
    backfill.refresh_from_db()
    assert (backfill.status, backfill.resume_at) == (Backfill.Status.WAITING, fake_github.rate_reset)
    assert fake_github.log == []


def test_a_lost_resume_schedule_is_found_by_the_sync_schedule(connection, fake_github):
    backfill = start(connection)
    Backfill.objects.filter(pk=backfill.pk).update(
        status=Backfill.Status.WAITING, resume_at=timezone.now() - timedelta(minutes=10)
    )
    assert tasks.connections_sync() == "0 connections to sync; 1 waiting backfills resumed"
    backfill.refresh_from_db()
    assert backfill.status == Backfill.Status.DONE


def test_a_server_error_then_success_does_not_stop_the_backfill(connection, fake_github):
    fake_github.fail(r"/deployments\?", 502)
    backfill = start(connection)
    tasks.backfill_run(backfill.pk)
    backfill.refresh_from_db()
    assert backfill.status == Backfill.Status.DONE and Deployment.objects.count() == 2


def test_a_provider_that_keeps_failing_fails_the_backfill_with_the_reason(connection, fake_github):
    fake_github.fail(r"/deployments\?", 503, times=10)
    backfill = start(connection)
    tasks.backfill_run(backfill.pk)
    backfill.refresh_from_db()
    assert backfill.status == Backfill.Status.FAILED
    assert backfill.error == "GitHub answered GET /repos/acme/checkout/deployments with 503, 3 times: try again later"
    assert PullRequest.objects.count() == 4


def test_an_installation_token_that_expires_mid_backfill_recovers(fake_github, team, service, small_pages):
    history(fake_github)
    connection = ConnectionFactory(
        source__team=team,
        api_url=fake_github.url,
        app_id=APP_ID,
        app_private_key=fake_github.private_key_pem,
        installation_id=INSTALLATION_ID,
    )
    fake_github.expire_tokens_after(6)
    backfill = start(connection)
    tasks.backfill_run(backfill.pk)
    backfill.refresh_from_db()
    assert backfill.status == Backfill.Status.DONE, backfill.error
    assert (PullRequest.objects.count(), Deployment.objects.count(), PipelineRun.objects.count()) == (4, 2, 3)
    statuses = [status for _, _, status in fake_github.log]
    assert statuses.count(401) == 1 and len(fake_github.calls(r"/access_tokens")) == 2


def test_a_repository_of_no_service_is_skipped_with_the_reason(fake_github, team, service):
    history(fake_github)
    fake_github.repo("acme/unknown")
    connection = ConnectionFactory(
        source__team=team, api_url=fake_github.url, api_token=TOKEN, repositories=["acme/checkout", "acme/unknown"]
    )
    backfill = start(connection)
    tasks.backfill_run(backfill.pk)
    backfill.refresh_from_db()
    assert backfill.status == Backfill.Status.DONE
    assert (backfill.repositories_done, backfill.repositories_total) == (2, 2)
    assert backfill.error.startswith('acme/unknown skipped: repository "acme/unknown" belongs to no known service')
    assert not fake_github.calls(r"acme/unknown")


def test_workflow_runs_past_githubs_result_cap_are_read_in_slices(fake_github, team, service, monkeypatch):
    monkeypatch.setattr(github_backfill, "RUNS_RESULT_CAP", 10)
    monkeypatch.setattr("integrations.github.client.PER_PAGE", 5)
    fake_github.runs_cap = 10
    repo = fake_github.repo("acme/checkout")
    for hour in range(35):
        fake_github.add_run(repo, created=NOW - timedelta(days=5) + timedelta(hours=hour))
    connection = ConnectionFactory(
        source__team=team, api_url=fake_github.url, api_token=TOKEN, repositories=["acme/checkout"]
    )
    backfill = start(connection, days=7)
    tasks.backfill_run(backfill.pk)
    backfill.refresh_from_db()
    assert backfill.status == Backfill.Status.DONE
    assert PipelineRun.objects.count() == 35
    # Every slice GitHub was asked to list in full fits under the cap.
    listed = [path for _, path, status in fake_github.calls(r"/actions/runs\?") if status == 200]
    assert listed and backfill.records == 35


def test_a_sync_with_nothing_new_costs_only_304s(connection, fake_github):
    tasks.backfill_run(start(connection).pk)
    runner.connection_sync(connection)  # the runs' first query moves to the watermark once
    before = len(fake_github.log)
    said = tasks.connection_sync(connection.pk)
    after = fake_github.log[before:]
    assert after and {status for _, _, status in after} == {304}
    assert len(after) == 3  # the pull requests' REST probe, deployments, runs: no GraphQL query
    assert not [call for call in after if call[1] == "/graphql"]
    assert said.endswith("3 requests, 3 not modified")
    connection.refresh_from_db()
    assert connection.rate_remaining == min(fake_github.rate_remaining, fake_github.graphql_remaining)


def test_a_sync_reads_what_changed_since_the_watermark(connection, fake_github):
    tasks.backfill_run(start(connection).pk)
    repo = fake_github.repos["acme/checkout"]
    fake_github.add_pull(repo, number=7, opened=NOW - timedelta(hours=1))
    fake_github.add_deployment(repo, created=NOW - timedelta(minutes=30), state="failure")
    fake_github.add_run(repo, created=NOW - timedelta(minutes=20))
    before, operations = len(fake_github.log), len(fake_github.operations)
    tasks.connection_sync(connection.pk)
    assert (PullRequest.objects.count(), Deployment.objects.count(), PipelineRun.objects.count()) == (5, 3, 4)
    # Pull requests: the probe (changed), then one GraphQL page, which stops after the one updated
    # at the watermark itself (another change in the same second would be missed otherwise).
    pulls = [(method, path, status) for method, path, status in fake_github.log[before:] if "pulls" in path]
    assert pulls == [("GET", "/repos/acme/checkout/pulls?state=all&sort=updated&direction=desc&per_page=1", 200)]
    assert fake_github.operations[operations:] == ["PullRequests"]
    assert PullRequest.objects.get(number=7).reviews.count() == 0


def test_pull_requests_cost_a_request_a_page_not_three_a_pull_request(fake_github, team, service):
    """The REST walk took 1 + 3 requests a pull request (1,412 requests per 1,000 records in the
    benchmark's mix); GraphQL takes one a page of 50, and the probe."""
    repo = fake_github.repo("acme/checkout")
    for number in range(1, 121):
        opened = NOW - timedelta(days=20) + timedelta(hours=number)
        fake_github.add_pull(
            repo,
            number=number,
            opened=opened,
            merged=opened + timedelta(hours=2),
            reviews=(("ana", "APPROVED", opened + timedelta(hours=1)), ("bo", "COMMENTED", opened)),
            commits=(opened - timedelta(hours=1), opened),
        )
    connection = ConnectionFactory(
        source__team=team, api_url=fake_github.url, api_token=TOKEN, repositories=["acme/checkout"]
    )
    backfill = start(connection)
    tasks.backfill_run(backfill.pk)
    backfill.refresh_from_db()
    assert backfill.status == Backfill.Status.DONE and backfill.records == 120
    assert (Review.objects.count(), Commit.objects.count()) == (240, 240)
    pulls = [call for call in fake_github.log if "/pulls" in call[1] or call[1] == "/graphql"]
    assert len(pulls) == 1 + 3  # the probe, and 120 pull requests in pages of 50
    assert fake_github.operations == ["PullRequests"] * 3
    # With the (empty) deployments and runs lists: 6 requests for 120 records, 50 per 1,000 (REST: 3,000+).
    assert backfill.requests == 6
    assert backfill.requests * 1000 / backfill.records == 50


def test_reviews_and_commits_past_the_first_hundred_are_backfilled(fake_github, team, service, monkeypatch):
    monkeypatch.setattr("integrations.github.client.GRAPHQL_INNER", 2)
    repo = fake_github.repo("acme/checkout")
    opened = NOW - timedelta(days=3)
    fake_github.add_pull(
        repo,
        number=1,
        opened=opened,
        merged=opened + timedelta(hours=9),
        reviews=tuple((f"reviewer-{n}", "COMMENTED", opened + timedelta(hours=n)) for n in range(1, 6)),
        commits=tuple(opened - timedelta(hours=n) for n in range(5)),
    )
    connection = ConnectionFactory(
        source__team=team, api_url=fake_github.url, api_token=TOKEN, repositories=["acme/checkout"]
    )
    tasks.backfill_run(start(connection).pk)
    pr = PullRequest.objects.get()
    assert (pr.reviews.count(), pr.commits.count()) == (5, 5)
    assert pr.first_commit_at == opened - timedelta(hours=4)  # the earliest commit, on the last page


def test_a_graphql_rate_limit_mid_walk_reschedules_and_goes_on_from_the_graphql_cursor(
    connection, fake_github, small_pages
):
    fake_github.fail(r"^/graphql$", 200, body={"errors": [{"type": "RATE_LIMITED", "message": "API rate limit"}]})
    fake_github.faults[-1].times = 0  # armed after the first page, below
    original = fake_github._graphql

    def limited_after_the_first_page(body):
        answer = original(body)
        if fake_github.operations == ["PullRequests"]:
            fake_github.faults[-1].times = 1  # the next GraphQL request: the budget is spent
        return answer

    fake_github._graphql = limited_after_the_first_page
    backfill = start(connection)
    tasks.backfill_run(backfill.pk)
    backfill.refresh_from_db()
    assert backfill.status == Backfill.Status.WAITING
    assert backfill.resume_at == fake_github.rate_reset  # X-RateLimit-Reset of the answer
    assert Schedule.objects.get(name=tasks.resume_schedule_name(backfill.pk)).next_run == backfill.resume_at
    cursor = SyncCursor.objects.get(resource="pulls")
    assert "/graphql?after=" in cursor.next_url
    assert list(PullRequest.objects.values_list("number", flat=True)) == [4]

    Connection.objects.filter(pk=connection.pk).update(paused_until=timezone.now() - timedelta(seconds=1))
    tasks.backfill_run(backfill.pk)
    backfill.refresh_from_db()
    assert backfill.status == Backfill.Status.DONE
    assert sorted(PullRequest.objects.values_list("number", flat=True)) == [1, 2, 3, 4]
    assert fake_github.operations == ["PullRequests"] * 3  # the limited request was answered no page
    assert len(fake_github.calls(r"/pulls\?")) == 1


def test_a_pull_request_from_a_webhook_and_from_graphql_is_one_record(
    connection, fake_github, client, django_capture_on_commit_callbacks
):
    from integrations.tests.github import SECRET, deliver

    Connection.objects.filter(pk=connection.pk).update(webhook_secret=SECRET)
    connection.refresh_from_db()
    repo = fake_github.repos["acme/checkout"]
    pull = repo.pulls[3]  # #4
    body = {"action": "closed", "pull_request": {**pull, **repo.sizes[4]}, "repository": repo.summary()}
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(client, connection, "pull_request", body).status_code == 202
    from_webhook = PullRequest.objects.get()
    assert (from_webhook.external_id, from_webhook.first_commit_at) == (str(pull["id"]), None)

    tasks.backfill_run(start(connection).pk)
    assert PullRequest.objects.count() == 4
    from_graphql = PullRequest.objects.get(number=4)
    assert from_graphql.pk == from_webhook.pk
    assert from_graphql.first_commit_at == datetime.fromisoformat(repo.commits[4][0]["commit"]["author"]["date"])


def test_a_repository_with_no_recent_pull_request_is_synced_from_its_last_one(fake_github, team, service):
    repo = fake_github.repo("acme/checkout")
    old = fake_github.add_pull(repo, number=1, opened=NOW - timedelta(days=90), merged=NOW - timedelta(days=89))
    connection = ConnectionFactory(
        source__team=team, api_url=fake_github.url, api_token=TOKEN, repositories=["acme/checkout"]
    )
    tasks.backfill_run(start(connection).pk)
    assert PullRequest.objects.count() == 0 and fake_github.operations == []  # the probe said: nothing recent
    cursor = SyncCursor.objects.get(resource="pulls")
    assert cursor.watermark == datetime.fromisoformat(old["updated_at"]) and cursor.etag

    fake_github.add_pull(repo, number=2, opened=NOW - timedelta(hours=2), merged=NOW - timedelta(hours=1))
    tasks.connection_sync(connection.pk)
    # The new one, and the one updated at the watermark itself (read again, as every sync does).
    assert sorted(PullRequest.objects.values_list("number", flat=True)) == [1, 2]


def test_a_pull_request_graphql_cannot_read_is_left_out_with_the_reason(connection, fake_github):
    original = fake_github._graphql_pull

    def without_a_creation_time(repo, pull, inner):
        node = original(repo, pull, inner)
        return {**node, "createdAt": None} if pull["number"] == 3 else node

    fake_github._graphql_pull = without_a_creation_time
    backfill = start(connection)
    tasks.backfill_run(backfill.pk)
    backfill.refresh_from_db()
    assert backfill.status == Backfill.Status.DONE
    assert sorted(PullRequest.objects.values_list("number", flat=True)) == [1, 2, 4]
    assert backfill.error == "acme/checkout: pull request 3: the pull request has no created_at"


def test_a_sync_waits_while_a_backfill_is_under_way(connection, fake_github):
    start(connection)
    SyncCursor.objects.create(connection=connection, repository="acme/checkout", resource="pulls", watermark=NOW)
    assert runner.connection_sync(connection).endswith("a backfill is under way")
    assert fake_github.log == []


# --- The same history, backfilled or delivered by webhooks -------------------------------------


def test_a_backfilled_repository_has_the_figures_of_the_same_history_delivered_by_webhooks(
    fake_github, team, client, django_capture_on_commit_callbacks
):
    from e360.tests.factories import ServiceFactory

    backfilled = ServiceFactory(slug="backfilled", owner=team, repositories=["acme/backfilled"])
    hooked = ServiceFactory(slug="hooked", owner=team, repositories=["acme/hooked"])
    same_history(fake_github, "acme/backfilled")
    same_history(fake_github, "acme/hooked")
    connection = ConnectionFactory(
        source__team=team,
        api_url=fake_github.url,
        api_token=TOKEN,
        repositories=["acme/backfilled"],
        webhook_secret=SECRET,
    )
    with django_capture_on_commit_callbacks(execute=True):
        tasks.backfill_run(start(connection).pk)
    deliver_as_webhooks(client, connection, fake_github, "acme/hooked", django_capture_on_commit_callbacks)

    assert PullRequest.objects.filter(service=backfilled).count() == 6
    from_backfill, from_webhooks = figures(backfilled), figures(hooked)
    assert (
        from_backfill["deployment_frequency"]["deployments"],
        from_backfill["deployment_frequency"]["failed_attempts"],
    ) == (3, 2)
    assert (from_backfill["pipeline"]["runs"], from_backfill["pipeline"]["failed"]) == (5, 2)
    assert from_backfill["review"]["pickup"]["count"] == 6 and from_backfill["review"]["median_size"] == 38.5
    # A pull request event carries no commits (docs/integrations/github.md, "Known limits"): the
    # webhooks alone know no first commit, so no lead time and no coding time. Every other figure,
    # lead time's other components included, is the same.
    lead_time, lead_time_from_webhooks = from_backfill.pop("lead_time"), from_webhooks.pop("lead_time")
    assert from_backfill == from_webhooks
    assert lead_time["changes"] == lead_time_from_webhooks["changes"] == 4
    assert (lead_time["count"], lead_time_from_webhooks["count"]) == (4, 0)
    for component in ("pickup", "review", "deploy"):
        assert lead_time["components"][component] == lead_time_from_webhooks["components"][component]
    assert lead_time["components"]["pickup"]["count"] == 4


def test_a_sync_whose_credentials_fail_says_why(connection, fake_github):
    tasks.backfill_run(start(connection).pk)
    Connection.objects.filter(pk=connection.pk).update(api_token="revoked")
    said = tasks.connection_sync(connection.pk)
    assert said.endswith("GitHub refused the credentials for GET /repos/acme/checkout/pulls: Bad credentials")
    assert "revoked" not in said


def test_a_record_the_json_api_would_refuse_is_left_out_with_the_reason(connection, fake_github):
    """The API's rules hold for a backfill's records: the rest of the page is written."""
    repo = fake_github.repo("acme/checkout")
    broken = fake_github.add_run(repo, created=NOW - timedelta(days=2))
    broken["updated_at"] = "2001-01-01T00:00:00Z"  # finished before it started
    backfill = start(connection)
    tasks.backfill_run(backfill.pk)
    backfill.refresh_from_db()
    assert backfill.status == Backfill.Status.DONE
    assert PipelineRun.objects.count() == 3
    assert backfill.error == f"acme/checkout: workflow run {broken['id']}: updated_at must not be before run_started_at"

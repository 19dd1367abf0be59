"""GitLab's backfill and incremental sync (integrations/gitlab/backfill.py on the runner of
integrations/backfill.py, integrations/tasks.py) against the loopback GitLab: records written once,
resumable from the cursors, rescheduled (never slept) on a 429, 304s when nothing changed, and the
same figures as the same history delivered by webhooks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from time import monotonic

import pytest
from django.utils import timezone
from django_q.models import Schedule

from e360.tests.factories import ServiceFactory
from integrations import backfill as runner
from integrations import tasks
from integrations.gitlab import backfill as gitlab_backfill
from integrations.models import Backfill, Connection, SyncCursor
from integrations.tests.factories import ConnectionFactory
from integrations.tests.fake_gitlab import TOKEN, FakeGitLab, Project, iso
from integrations.tests.github_histories import figures
from integrations.tests.gitlab import post
from metrics.models import Commit, Deployment, InboundEvent, PipelineRun, PullRequest, Review, Source
from metrics.services import Dirty, pipeline_run_upsert

pytestmark = pytest.mark.django_db

NOW = datetime.now(UTC).replace(microsecond=0)
SHOP = "acme/shop"
REPOSITORY = "gitlab.example.com/acme/shop"  # the catalog's name: the host of the project's web URL


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch):
    monkeypatch.setattr("integrations.http.BACKOFF", 0.0)


@pytest.fixture
def small_pages(monkeypatch):
    monkeypatch.setattr("integrations.gitlab.client.PER_PAGE", 2)


def history(fake: FakeGitLab) -> Project:
    """acme/shop's last weeks: four merged merge requests with a comment, an approval and two
    commits, an open draft, one older than the backfill; two deployments (and an older one);
    three pipelines, one failed (and an older one)."""
    project = fake.project(SHOP)
    for iid in range(1, 5):
        opened = NOW - timedelta(days=10 - iid)
        fake.add_merge_request(
            project,
            iid=iid,
            opened=opened,
            merged=opened + timedelta(hours=5),
            comments=(("reviewer", opened + timedelta(hours=1)),),
            approvals=(("lead", opened + timedelta(hours=2)),),
            commits=(opened - timedelta(hours=1), opened - timedelta(minutes=30)),
        )
    fake.add_merge_request(project, iid=5, opened=NOW - timedelta(days=1), draft=True)
    fake.add_merge_request(project, iid=6, opened=NOW - timedelta(days=90), merged=NOW - timedelta(days=89))
    for days in (3, 2, 60):
        fake.add_deployment(project, started=NOW - timedelta(days=days))
    for days in (4, 3, 1, 60):
        fake.add_pipeline(project, created=NOW - timedelta(days=days), status="failed" if days == 3 else "success")
    return project


def gitlab_connection(fake: FakeGitLab, team, **fields) -> Connection:
    return ConnectionFactory(
        **{
            "source__kind": Source.Kind.GITLAB,
            "source__team": team,
            "api_url": fake.api_url,
            "api_token": TOKEN,
            "repositories": [SHOP],
            **fields,
        }
    )


@pytest.fixture
def shop(team):
    return ServiceFactory(slug="shop", owner=team, repositories=[REPOSITORY])


@pytest.fixture
def connection(fake_gitlab, team, shop) -> Connection:
    history(fake_gitlab)
    return gitlab_connection(fake_gitlab, team)


def start(connection: Connection, days: int = 30) -> Backfill:
    return Backfill.objects.create(connection=connection, days=days)


def counts() -> tuple[int, int, int]:
    return PullRequest.objects.count(), Deployment.objects.count(), PipelineRun.objects.count()


def test_a_backfill_writes_a_projects_history(connection, fake_gitlab, small_pages):
    backfill = start(connection)
    assert tasks.backfill_run(backfill.pk) == f"backfill {backfill.pk}: done"

    assert sorted(PullRequest.objects.values_list("number", flat=True)) == [1, 2, 3, 4, 5]  # none too old
    assert set(PullRequest.objects.values_list("repository__name", flat=True)) == {REPOSITORY}
    assert Review.objects.filter(state=Review.State.COMMENTED).count() == 4
    assert Review.objects.filter(state=Review.State.APPROVED, author="lead").count() == 4
    assert Commit.objects.count() == 8
    first = PullRequest.objects.get(number=1)
    opened = NOW - timedelta(days=9)
    assert (first.author, first.opened_at, first.merged_at) == ("dev", opened, opened + timedelta(hours=5))
    assert first.first_commit_at == opened - timedelta(hours=1)  # from the commits: the hook cannot know it
    assert (first.first_review_at, first.approved_at) == (opened + timedelta(hours=1), opened + timedelta(hours=2))
    assert (first.additions, first.deletions) == (None, None)  # GitLab counts files, not lines
    assert Deployment.objects.count() == 2 and Deployment.objects.filter(is_production=True).count() == 2
    assert PipelineRun.objects.count() == 3 and PipelineRun.objects.filter(status="failure").count() == 1
    assert set(PipelineRun.objects.values_list("is_default_branch", "attempt")) == {(True, 1)}

    backfill.refresh_from_db()
    assert backfill.status == Backfill.Status.DONE and backfill.finished_at and backfill.error == ""
    assert (backfill.repositories_done, backfill.repositories_total) == (1, 1)
    assert backfill.records == 5 + 2 + 3
    # The project once, 3 pages of merge requests and 2 requests each, 1 page of deployments,
    # 2 pages of pipelines and each one in full.
    assert backfill.requests == len(fake_gitlab.log) == 1 + 3 + 5 * 2 + 1 + 2 + 3
    cursors = {c.resource: c for c in SyncCursor.objects.filter(connection=connection)}
    assert set(cursors) == {"merge_requests", "deployments", "pipelines"}
    assert {c.repository for c in cursors.values()} == {REPOSITORY}
    assert all(c.next_url == "" and c.etag for c in cursors.values())
    assert cursors["deployments"].watermark == Deployment.objects.latest("finished_at").finished_at


def test_each_merge_request_costs_its_notes_and_its_commits(connection, fake_gitlab):
    tasks.backfill_run(start(connection).pk)
    read = [path for _, path, _ in fake_gitlab.calls(r"/merge_requests/4/")]
    assert read == [
        "/api/v4/projects/acme%2Fshop/merge_requests/4/notes?sort=asc&order_by=created_at&per_page=100",
        "/api/v4/projects/acme%2Fshop/merge_requests/4/commits?per_page=100",
    ]


def test_a_withdrawn_approval_is_a_comment(fake_gitlab, team, shop):
    project = fake_gitlab.project(SHOP)
    opened = NOW - timedelta(days=2)
    fake_gitlab.add_merge_request(
        project,
        iid=1,
        opened=opened,
        approvals=(("lead", opened + timedelta(hours=1)), ("qa", opened + timedelta(hours=2))),
        unapprovals=(("lead", opened + timedelta(hours=3)),),
    )
    tasks.backfill_run(start(gitlab_connection(fake_gitlab, team)).pk)
    reviews = dict(Review.objects.values_list("author", "state"))
    assert reviews == {"lead": Review.State.COMMENTED, "qa": Review.State.APPROVED}
    assert PullRequest.objects.get().approved_at == opened + timedelta(hours=2)


def test_a_long_backfill_goes_on_in_runs_of_a_few_minutes(
    connection, fake_gitlab, small_pages, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(runner, "RUN_SECONDS", 0)  # each run: one page, then the next run is queued
    backfill = start(connection)
    with django_capture_on_commit_callbacks(execute=True) as queued:
        assert tasks.backfill_run(backfill.pk) == f"backfill {backfill.pk}: running"
    assert len(queued) > 3
    backfill.refresh_from_db()
    assert backfill.status == Backfill.Status.DONE
    assert counts() == (5, 2, 3)


def test_a_second_backfill_writes_each_record_once(connection, fake_gitlab):
    tasks.backfill_run(start(connection).pk)
    first = (counts(), Review.objects.count(), Commit.objects.count())
    tasks.backfill_run(start(connection).pk)
    assert (counts(), Review.objects.count(), Commit.objects.count()) == first == ((5, 2, 3), 8, 8)
    assert Backfill.objects.filter(status=Backfill.Status.DONE).count() == 2


def test_a_crashed_backfill_resumes_from_its_cursor_and_stores_each_record_once(
    connection, fake_gitlab, small_pages, monkeypatch
):
    steps = []
    original = gitlab_backfill.MergeRequests.step

    def crash_on_the_second_page(self, url, **kwargs):
        steps.append(url)
        if len(steps) == 2:
            raise SystemExit("the worker was killed")
        return original(self, url, **kwargs)

    monkeypatch.setattr(gitlab_backfill.MergeRequests, "step", crash_on_the_second_page)
    backfill = start(connection)
    with pytest.raises(SystemExit):
        tasks.backfill_run(backfill.pk)
    cursor = SyncCursor.objects.get(resource="merge_requests")
    assert "page=2" in cursor.next_url  # the first page is written, with the cursor
    assert sorted(PullRequest.objects.values_list("number", flat=True)) == [4, 5]

    monkeypatch.setattr(gitlab_backfill.MergeRequests, "step", original)
    tasks.backfill_run(backfill.pk)
    backfill.refresh_from_db()
    assert backfill.status == Backfill.Status.DONE
    assert counts() == (5, 2, 3) and Review.objects.count() == 8
    # The first page was read once: the second run went on from the cursor.
    first_pages = [path for _, path, _ in fake_gitlab.calls(r"/merge_requests\?") if "&page=" not in path]
    assert len(first_pages) == 1


def test_a_429_reschedules_the_backfill_instead_of_sleeping(connection, fake_gitlab):
    fake_gitlab.fail(r"/deployments\?", 429, headers={"Retry-After": "600"}, body="Retry later\n")
    backfill = start(connection)
    began = monotonic()
    tasks.backfill_run(backfill.pk)
    assert monotonic() - began < 10

    backfill.refresh_from_db()
    assert backfill.status == Backfill.Status.WAITING
    assert timedelta(seconds=590) < backfill.resume_at - timezone.now() <= timedelta(seconds=600)
    row = Schedule.objects.get(name=tasks.resume_schedule_name(backfill.pk))
    assert (row.func, row.schedule_type, row.next_run) == (tasks.BACKFILL_TASK, Schedule.ONCE, backfill.resume_at)
    connection.refresh_from_db()
    assert connection.paused_until == backfill.resume_at
    assert PullRequest.objects.count() == 5  # what came before the limit is kept

    Connection.objects.filter(pk=connection.pk).update(paused_until=timezone.now() - timedelta(seconds=1))
    tasks.backfill_run(backfill.pk)
    backfill.refresh_from_db()
    assert backfill.status == Backfill.Status.DONE and backfill.resume_at is None
    assert counts() == (5, 2, 3)
    assert len(fake_gitlab.calls(r"/merge_requests\?")) == 1  # read once, before the limit


def test_a_server_error_then_success_does_not_stop_the_backfill(connection, fake_gitlab):
    fake_gitlab.fail(r"/pipelines/\d+$", 502)
    backfill = start(connection)
    tasks.backfill_run(backfill.pk)
    backfill.refresh_from_db()
    assert backfill.status == Backfill.Status.DONE and PipelineRun.objects.count() == 3


def test_a_project_the_token_cannot_read_fails_the_backfill_with_the_reason(fake_gitlab, team, shop):
    history(fake_gitlab)
    connection = gitlab_connection(fake_gitlab, team, repositories=[SHOP, "acme/secret"])
    backfill = start(connection)
    tasks.backfill_run(backfill.pk)
    backfill.refresh_from_db()
    assert backfill.status == Backfill.Status.FAILED
    assert backfill.error.startswith("GitLab has no project acme/secret that this token can read")


def test_a_project_of_no_service_is_skipped_with_the_reason(fake_gitlab, team, shop):
    history(fake_gitlab)
    fake_gitlab.project("acme/unknown")
    connection = gitlab_connection(fake_gitlab, team, repositories=[SHOP, "acme/unknown"])
    backfill = start(connection)
    tasks.backfill_run(backfill.pk)
    backfill.refresh_from_db()
    assert backfill.status == Backfill.Status.DONE
    assert (backfill.repositories_done, backfill.repositories_total) == (2, 2)
    assert backfill.error.startswith('gitlab.example.com/acme/unknown skipped: repository "gitlab.example.com/acme/')
    assert not fake_gitlab.calls(r"acme%2Funknown/")
    assert counts() == (5, 2, 3)


def test_a_pipeline_keeps_the_attempt_its_webhooks_numbered(fake_gitlab, team, shop):
    project = fake_gitlab.project(SHOP)
    pipeline = fake_gitlab.add_pipeline(project, created=NOW - timedelta(hours=5))
    source = gitlab_connection(fake_gitlab, team).source
    for attempt, status in ((1, "failed"), (2, "running")):  # a failure, then a retry seen running
        pipeline_run_upsert(
            source=source,
            data=gitlab_backfill.records.pipeline_from_rest(
                {**pipeline, "status": status},
                repository=REPOSITORY,
                default_branch="main",
                attempt=attempt,
            ),
            dirty=Dirty(),
        )
    tasks.backfill_run(start(source.connection).pk)
    runs = dict(PipelineRun.objects.values_list("attempt", "status"))
    assert runs == {1: "failure", 2: "success"}  # the API's last state is the retry's


def test_a_sync_with_nothing_new_costs_only_304s(connection, fake_gitlab):
    tasks.backfill_run(start(connection).pk)
    runner.connection_sync(connection)  # each first query moves to its watermark once
    before = len(fake_gitlab.log)
    said = tasks.connection_sync(connection.pk)
    after = fake_gitlab.log[before:]
    assert [status for _, _, status in after] == [304, 304, 304]
    assert said.endswith("3 requests, 3 not modified")


def test_a_sync_reads_what_changed_since_the_watermark(connection, fake_gitlab):
    tasks.backfill_run(start(connection).pk)
    project = fake_gitlab.projects[SHOP]
    fake_gitlab.add_merge_request(project, iid=7, opened=NOW - timedelta(hours=1))
    fake_gitlab.add_deployment(project, started=NOW - timedelta(minutes=30), status="failed")
    fake_gitlab.add_pipeline(project, created=NOW - timedelta(minutes=20), minutes=5)
    before = len(fake_gitlab.log)
    tasks.connection_sync(connection.pk)
    assert counts() == (6, 3, 4)
    # Only what changed since the watermarks is read in full (and what was updated at a watermark
    # itself: another change in the same second would be missed otherwise).
    read = [path.split("?")[0] for _, path, _ in fake_gitlab.log[before:]]
    assert read == [
        "/api/v4/projects/acme%2Fshop/merge_requests",
        "/api/v4/projects/acme%2Fshop/merge_requests/7/notes",
        "/api/v4/projects/acme%2Fshop/merge_requests/7/commits",
        "/api/v4/projects/acme%2Fshop/merge_requests/5/notes",
        "/api/v4/projects/acme%2Fshop/merge_requests/5/commits",
        "/api/v4/projects/acme%2Fshop/deployments",
        "/api/v4/projects/acme%2Fshop/pipelines",
        f"/api/v4/projects/acme%2Fshop/pipelines/{project.pipelines[-1]['id']}",
        "/api/v4/projects/acme%2Fshop",  # the default branch, once
        f"/api/v4/projects/acme%2Fshop/pipelines/{project.pipelines[2]['id']}",
    ]


def test_a_sync_whose_token_fails_says_why(connection, fake_gitlab):
    tasks.backfill_run(start(connection).pk)
    Connection.objects.filter(pk=connection.pk).update(api_token="glpat-revoked")
    said = tasks.connection_sync(connection.pk)
    assert said.endswith(
        "GitLab refused the credentials for GET /api/v4/projects/acme/shop/merge_requests: 401 Unauthorized"
    )
    assert "glpat-revoked" not in said


# --- The same history, backfilled or delivered by webhooks -------------------------------------


def same_history(fake: FakeGitLab, path: str) -> Project:
    """Merged merge requests with a comment, an approval and a commit; successful and failed
    production deployments; pipelines that fail and pass: the same for any ``path``."""
    project = fake.project(path)
    for iid in range(1, 7):
        opened = NOW - timedelta(days=20 - 2 * iid, hours=iid)
        fake.add_merge_request(
            project,
            iid=iid,
            opened=opened,
            merged=opened + timedelta(hours=6 + iid),
            comments=(("reviewer", opened + timedelta(hours=1)),),
            approvals=(("lead", opened + timedelta(hours=3 + iid)),),
            commits=(opened - timedelta(hours=2 * iid),),
        )
    for days, status in ((15, "success"), (11, "failed"), (10, "success"), (6, "success"), (2, "failed")):
        fake.add_deployment(project, started=NOW - timedelta(days=days, hours=1), status=status)
    for hours, status in ((200, "success"), (150, "failed"), (149, "success"), (90, "failed"), (20, "success")):
        fake.add_pipeline(project, created=NOW - timedelta(hours=hours), status=status, minutes=4 + hours % 7)
    return project


def hook_project(project: Project) -> dict:
    return {
        "id": project.id,
        "name": project.path.rsplit("/", 1)[-1],
        "web_url": project.web_url,
        "path_with_namespace": project.path,
        "default_branch": project.default_branch,
    }


def hooks(project: Project) -> list[tuple[str, str, dict]]:
    """GitLab's webhook events for the project's history, as (time, X-Gitlab-Event, body), the
    shapes of docs.gitlab.com's "Webhook events" (the fields e360 reads)."""
    events: list[tuple[str, str, dict]] = []
    where = hook_project(project)
    for mr in project.merge_requests:
        author, commits = mr["author"], project.commits[mr["iid"]]
        attributes = {
            "id": mr["id"],
            "iid": mr["iid"],
            "title": mr["title"],
            "created_at": mr["created_at"],
            "target_branch": mr["target_branch"],
            "author_id": author["id"],
            "url": mr["web_url"],
            "last_commit": {"id": commits[0]["id"], "timestamp": commits[0]["authored_date"]},
        }

        def hook(at: str, user: dict, **changes) -> tuple[str, str, dict]:
            body = {
                "object_kind": "merge_request",
                "event_type": "merge_request",
                "user": user,
                "project": where,
                "object_attributes": {**attributes, "updated_at": at, **changes},  # noqa: B023
            }
            return at, "Merge Request Hook", body

        events.append(hook(mr["created_at"], author, action="open", state="opened"))
        for note in project.notes[mr["iid"]]:
            if note["system"]:
                events.append(hook(note["created_at"], note["author"], action="approved", state="opened"))
                continue
            body = {
                "object_kind": "note",
                "event_type": "note",
                "user": note["author"],
                "project": where,
                "object_attributes": {
                    "id": note["id"],
                    "note": note["body"],
                    "noteable_type": "MergeRequest",
                    "created_at": note["created_at"],
                    "system": False,
                },
                "merge_request": {**attributes, "state": "opened"},
            }
            events.append((note["created_at"], "Note Hook", body))
        merged = {"action": "merge", "state": "merged", "merge_commit_sha": mr["merge_commit_sha"]}
        events.append(hook(mr["merged_at"], mr["merge_user"], **merged))
    for deployment in project.deployments:
        job = deployment["deployable"]
        for status, at in (("running", job["started_at"]), (deployment["status"], deployment["finished_at"])):
            body = {
                "object_kind": "deployment",
                "status": status,
                "status_changed_at": at,
                "deployment_id": deployment["id"],
                "deployable_id": job["id"],
                "deployable_url": job["web_url"],
                "environment": deployment["environment"]["name"],
                "project": where,
                "short_sha": deployment["sha"][:8],
                "commit_url": f"{project.web_url}/-/commit/{deployment['sha']}",
                "commit_title": job["commit"]["title"],
            }
            events.append((at, "Deployment Hook", body))
    for pipeline in project.pipelines:
        attributes = {name: pipeline[name] for name in ("id", "iid", "ref", "tag", "sha", "source", "created_at")}
        for status, finished, duration, at in (
            ("running", None, None, pipeline["started_at"]),
            (pipeline["status"], pipeline["finished_at"], pipeline["duration"], pipeline["finished_at"]),
        ):
            attributes_now = {
                **attributes,
                "status": status,
                "finished_at": finished,
                "duration": duration,
                "url": pipeline["web_url"],
            }
            body = {"object_kind": "pipeline", "object_attributes": attributes_now, "project": where, "builds": []}
            events.append((at, "Pipeline Hook", body))
    return sorted(events, key=lambda event: event[0])


def deliver_as_webhooks(client, connection: Connection, project: Project, capture) -> None:
    """Each event delivered, and received, at the moment it happened (an approval is dated at receipt)."""
    for index, (at, hook, body) in enumerate(hooks(project)):
        with capture() as processing:
            response = post(client, connection, hook, body, key=f"key-{index}", token=connection.webhook_secret)
        assert response.status_code == 202, response.content
        InboundEvent.objects.filter(delivery_id=response.json()["delivery"]).update(
            received_at=datetime.fromisoformat(at.replace("Z", "+00:00"))
        )
        with capture(execute=True):  # what processing queues in turn (the rollups) runs too
            for callback in processing:
                callback()
    failed = InboundEvent.objects.exclude(status=InboundEvent.Status.PROCESSED).values_list("kind", "error")
    assert not failed, list(failed)


def test_a_backfilled_project_has_the_figures_of_the_same_history_delivered_by_webhooks(
    fake_gitlab, team, client, django_capture_on_commit_callbacks
):
    backfilled = ServiceFactory(slug="backfilled", owner=team, repositories=["gitlab.example.com/acme/backfilled"])
    hooked = ServiceFactory(slug="hooked", owner=team, repositories=["gitlab.example.com/acme/hooked"])
    same_history(fake_gitlab, "acme/backfilled")
    project = same_history(fake_gitlab, "acme/hooked")
    connection = gitlab_connection(
        fake_gitlab, team, repositories=["acme/backfilled"], webhook_secret="a GitLab secret token"
    )
    with django_capture_on_commit_callbacks(execute=True):
        tasks.backfill_run(start(connection).pk)
    deliver_as_webhooks(client, connection, project, django_capture_on_commit_callbacks)

    assert PullRequest.objects.filter(service=backfilled).count() == 6
    assert PullRequest.objects.filter(service=hooked).count() == 6
    from_backfill, from_webhooks = figures(backfilled), figures(hooked)
    assert (
        from_backfill["deployment_frequency"]["deployments"],
        from_backfill["deployment_frequency"]["failed_attempts"],
    ) == (3, 2)
    assert (from_backfill["pipeline"]["runs"], from_backfill["pipeline"]["failed"]) == (5, 2)
    assert from_backfill["review"]["pickup"]["count"] == 6
    assert from_backfill["lead_time"]["count"] == 4  # merged changes that reached production
    assert from_backfill == from_webhooks


def test_times_with_an_offset_are_read_as_utc(fake_gitlab, team, shop):
    """GitLab's REST times are ISO 8601, in UTC with milliseconds or with the instance's offset."""
    project = fake_gitlab.project(SHOP)
    mr = fake_gitlab.add_merge_request(project, iid=1, opened=NOW - timedelta(days=1))
    mr["created_at"] = (NOW - timedelta(days=1)).astimezone().isoformat()
    mr["updated_at"] = iso(NOW - timedelta(hours=1))
    tasks.backfill_run(start(gitlab_connection(fake_gitlab, team)).pk)
    assert PullRequest.objects.get().opened_at == NOW - timedelta(days=1)

"""Deployments by published release or by tag (``Connection.deploys_by``): the ``release`` and
``push`` (of a tag) webhook events, the ``Releases`` and ``Tags`` walks of the backfill and the
sync against the loopback GitHub, and the figures of a repository that deploys so, backfilled or
followed by webhooks."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from e360.tests.factories import ServiceFactory
from integrations import backfill as runner
from integrations import tasks
from integrations.github import backfill as github_backfill
from integrations.models import Backfill, Connection, SyncCursor
from integrations.tests.factories import ConnectionFactory
from integrations.tests.fake_github import TOKEN, FakeGitHub, Repo, iso
from integrations.tests.github import SECRET, deliver
from integrations.tests.github_histories import deliver_as_webhooks, figures, same_history
from integrations.tests.github_payloads import payload
from metrics.models import Deployment, InboundEvent, PullRequest

pytestmark = pytest.mark.django_db

Status = InboundEvent.Status
DeploysBy = Connection.DeploysBy
REPO = "Codertocat/Hello-World"
NOW = datetime.now(UTC).replace(microsecond=0)
_deliveries = itertools.count(1)


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch):
    monkeypatch.setattr("integrations.http.BACKOFF", 0.0)


@pytest.fixture
def small_pages(monkeypatch):
    monkeypatch.setattr("integrations.github.client.PER_PAGE", 2)


# --- The webhook ---------------------------------------------------------------------------------


@pytest.fixture
def hello(team):
    return ServiceFactory(name="Hello", slug="hello", owner=team, repositories=[REPO])


@pytest.fixture
def hello_repo(fake_github) -> Repo:
    """The fixtures' repository on the loopback GitHub, with the tag of ``release.json``."""
    repo = fake_github.repo(REPO, default_branch="master")
    fake_github.add_tag(repo, name="0.0.1", committed=datetime(2019, 5, 15, 15, 0, tzinfo=UTC))
    return repo


def connect(team, fake_github, deploys_by: str = DeploysBy.DEPLOYMENTS, **fields) -> Connection:
    return ConnectionFactory(
        source__team=team,
        webhook_secret=SECRET,
        api_url=fake_github.url,
        api_token=TOKEN,
        deploys_by=deploys_by,
        **fields,
    )


@pytest.fixture
def send(client, django_capture_on_commit_callbacks):
    """POST a signed event to ``connection`` and run its processing; the stored event, refreshed."""

    def send(connection: Connection, event: str, body, *, delivery: str | None = None) -> InboundEvent:
        delivery = delivery or f"delivery-{next(_deliveries)}"
        with django_capture_on_commit_callbacks(execute=True):
            response = deliver(client, connection, event, body, delivery=delivery)
        assert response.status_code in (200, 202), response.content
        return InboundEvent.objects.get(source=connection.source, delivery_id=delivery)

    return send


def test_a_published_release_is_a_production_deployment_of_its_tags_commit(send, team, hello, hello_repo, fake_github):
    connection = connect(team, fake_github, DeploysBy.RELEASES)
    event = send(connection, "release", payload("release"))
    assert event.status == Status.PROCESSED, event.error
    assert event.error == f"release 0.0.1 of {REPO} published: deployment release:11248810"
    deployment = Deployment.objects.get()
    assert (deployment.external_id, deployment.environment) == ("release:11248810", "production")
    assert deployment.service == hello
    assert deployment.is_production and deployment.status == "success"
    assert deployment.sha == hello_repo.tags[0]["commit"]["sha"] and deployment.ref == "0.0.1"
    assert deployment.finished_at == datetime(2019, 5, 15, 15, 20, 53, tzinfo=UTC)
    assert deployment.changes is None  # linked by rules 2 and 3, as a GitHub deployment of that sha
    # One small request read the tag's commit (GitHub's sha media type).
    assert [path for _, path, _ in fake_github.log] == [f"/repos/{REPO}/commits/0.0.1"]


def test_a_release_published_then_released_or_delivered_twice_is_one_deployment(
    send, team, hello, hello_repo, fake_github
):
    connection = connect(team, fake_github, DeploysBy.RELEASES)
    body = payload("release")
    send(connection, "release", body, delivery="same")
    send(connection, "release", body, delivery="same")  # a redelivery: absorbed
    assert send(connection, "release", body | {"action": "released"}).status == Status.PROCESSED
    assert Deployment.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"prerelease": True}, f"release 0.0.1 of {REPO} is a prerelease: not a deployment"),
        ({"draft": True, "published_at": None}, f"release 0.0.1 of {REPO} is a draft: not a deployment"),
    ],
)
def test_a_prerelease_or_a_draft_is_not_a_deployment(send, team, hello, hello_repo, fake_github, change, said):
    connection = connect(team, fake_github, DeploysBy.RELEASES)
    body = payload("release")
    body["release"].update(change)
    event = send(connection, "release", body)
    assert (event.status, event.error) == (Status.IGNORED, said)
    assert not Deployment.objects.exists() and fake_github.log == []


@pytest.mark.parametrize("action", ["deleted", "unpublished"])
def test_a_release_taken_back_leaves_its_deployment(send, team, hello, hello_repo, fake_github, action):
    connection = connect(team, fake_github, DeploysBy.RELEASES)
    send(connection, "release", payload("release"))
    event = send(connection, "release", payload("release") | {"action": action})
    assert (event.status, event.error) == (
        Status.IGNORED,
        f"release {action}: the deployment it made happened, and its record stays",
    )
    assert Deployment.objects.count() == 1


def test_a_release_on_a_source_that_deploys_otherwise_is_ignored_with_the_reason(
    send, team, hello, hello_repo, fake_github
):
    for deploys_by in (DeploysBy.DEPLOYMENTS, DeploysBy.TAGS):
        connection = connect(team, fake_github, deploys_by)
        event = send(connection, "release", payload("release"))
        assert (event.status, event.error) == (
            Status.IGNORED,
            f"release published: this source deploys by {deploys_by}, not by releases",
        )
    assert not Deployment.objects.exists() and fake_github.log == []


def test_a_release_whose_commit_cannot_be_read_is_recorded_and_keeps_a_commit_read_before(
    send, team, hello, hello_repo, fake_github
):
    connection = connect(team, fake_github, DeploysBy.RELEASES)
    send(connection, "release", payload("release"))
    sha = Deployment.objects.get().sha
    fake_github.fail(r"/commits/", 404, body={"message": "Not Found"})
    event = send(connection, "release", payload("release") | {"action": "released"})
    assert event.status == Status.PROCESSED
    assert "its commit is not known yet: GitHub found nothing at GET" in event.error
    assert Deployment.objects.get().sha == sha

    without_credentials = ConnectionFactory(source__team=team, webhook_secret=SECRET, deploys_by=DeploysBy.RELEASES)
    event = send(without_credentials, "release", payload("release"))
    assert event.status == Status.PROCESSED and "neither a GitHub App installation nor a token" in event.error
    assert Deployment.objects.get(source=without_credentials.source).sha == ""


def test_reading_a_releases_commit_is_tried_once_while_its_event_is_processed(
    send, team, hello, hello_repo, fake_github
):
    connection = connect(team, fake_github, DeploysBy.RELEASES)
    fake_github.fail(r"/commits/", 502)
    event = send(connection, "release", payload("release"))
    assert event.status == Status.PROCESSED
    assert event.error.endswith(
        f"(its commit is not known yet: GitHub answered GET /repos/{REPO}/commits/0.0.1 with "
        "502, 1 times: try again later)"
    )
    assert Deployment.objects.get().sha == "" and len(fake_github.log) == 1


def test_a_deployment_status_on_a_source_that_deploys_by_releases_is_ignored(send, team, hello, fake_github):
    connection = connect(team, fake_github, DeploysBy.RELEASES)
    event = send(connection, "deployment_status", payload("deployment_status"))
    assert (event.status, event.error) == (
        Status.IGNORED,
        "this source deploys by releases: GitHub deployments are not its deployments",
    )
    assert not Deployment.objects.exists()


def test_a_pushed_tag_matching_the_pattern_is_a_deployment(send, team, hello, fake_github):
    connection = connect(team, fake_github, DeploysBy.TAGS, tag_pattern="simple-*")
    body = payload("push_tag")
    event = send(connection, "push", body)
    assert event.status == Status.PROCESSED, event.error
    deployment = Deployment.objects.get()
    assert deployment.sha == body["head_commit"]["id"] and deployment.ref == "simple-tag"
    assert deployment.is_production and deployment.service == hello
    assert deployment.finished_at == datetime(2019, 5, 15, 15, 20, 57, tzinfo=UTC)
    send(connection, "push", body)  # GitHub sends it again (another delivery id): the same record
    assert Deployment.objects.count() == 1 and fake_github.log == []


def test_a_tag_ships_the_pull_requests_its_push_brought_as_a_github_deployment_would(send, team, hello, fake_github):
    """Linking rule 2: the commit range between the previous tag's commit and this one's, from the
    pushes to the default branch (docs/metrics.md, "Which changes a deployment contains")."""
    connection = connect(team, fake_github, DeploysBy.TAGS, tag_pattern="v*")
    old, new = "6113728f27ae82c7b1a177c8d03f9e96e0adf246", "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"

    def tag(name: str, sha: str, pushed: datetime) -> dict:
        body = payload("push_tag") | {"ref": f"refs/tags/{name}", "after": sha}
        body["head_commit"]["id"] = sha
        body["repository"]["pushed_at"] = int(pushed.timestamp())
        return body

    send(connection, "push", tag("v1.0.0", old, datetime(2019, 5, 15, 12, 0, tzinfo=UTC)))
    merged = payload("pull_request")
    merged["action"] = "closed"
    merged["pull_request"].update(
        state="closed",
        merged=True,
        closed_at="2019-05-16T10:00:00Z",
        merged_at="2019-05-16T10:00:00Z",
        merge_commit_sha=new,
    )
    send(connection, "pull_request", merged)
    push = payload("push")  # the default branch, from the first tag's commit to the merge
    push["repository"]["pushed_at"] = int(datetime(2019, 5, 16, 10, 0, 5, tzinfo=UTC).timestamp())
    send(connection, "push", push)
    send(connection, "push", tag("v1.1.0", new, datetime(2019, 5, 16, 12, 0, tzinfo=UTC)))

    shipped = Deployment.objects.get(ref="v1.1.0")
    assert shipped.link_rule == Deployment.LinkRule.COMMIT_RANGE
    pr = PullRequest.objects.get()
    assert (pr.deployment, pr.deployed_at) == (shipped, datetime(2019, 5, 16, 12, 0, tzinfo=UTC))


@pytest.mark.parametrize(
    ("deploys_by", "pattern", "change", "said"),
    [
        (DeploysBy.TAGS, "v*", {}, "a push of tag simple-tag: not a deployment (the pattern is 'v*')"),
        (
            DeploysBy.TAGS,
            "*",
            {"deleted": True, "head_commit": None},
            "tag simple-tag deleted: the deployment it made happened, and its record stays",
        ),
        (
            DeploysBy.DEPLOYMENTS,
            "*",
            {},
            "a push of tag simple-tag: this source deploys by deployments, not by tags",
        ),
        (DeploysBy.RELEASES, "*", {}, "a push of tag simple-tag: this source deploys by releases, not by tags"),
    ],
)
def test_a_tag_push_that_deploys_nothing_is_ignored_with_the_reason(
    send, team, hello, fake_github, deploys_by, pattern, change, said
):
    connection = connect(team, fake_github, deploys_by, tag_pattern=pattern)
    event = send(connection, "push", payload("push_tag") | change)
    assert (event.status, event.error) == (Status.IGNORED, said)
    assert not Deployment.objects.exists()


def test_a_source_that_deploys_by_tags_still_keeps_its_default_branchs_pushes(send, team, hello, fake_github):
    connection = connect(team, fake_github, DeploysBy.TAGS, tag_pattern="*")
    assert send(connection, "push", payload("push")).status == Status.PROCESSED


# --- The backfill and the sync -----------------------------------------------------------------------


def releases_history(fake: FakeGitHub, name: str = "acme/checkout") -> Repo:
    """Four published releases over the last weeks (one older than a 30-day backfill), a
    prerelease and a draft."""
    repo = fake.repo(name)
    for tag, days in (("v1.0.0", 60), ("v1.1.0", 12), ("v1.2.0", 6), ("v1.3.0", 2)):
        fake.add_release(repo, tag=tag, published=NOW - timedelta(days=days))
    fake.add_release(repo, tag="v1.4.0-rc.1", published=NOW - timedelta(days=1), prerelease=True)
    fake.add_release(repo, tag="v1.4.0", published=None)
    return repo


def tags_history(fake: FakeGitHub, name: str = "acme/checkout") -> Repo:
    """Five version tags (one older than a 30-day backfill) and two that deploy nothing."""
    repo = fake.repo(name)
    for tag, days in (("v0.9.0", 60), ("v1.0.0", 12), ("v1.1.0", 8), ("v1.2.0", 6), ("v1.3.0", 2)):
        fake.add_tag(repo, name=tag, committed=NOW - timedelta(days=days))
    fake.add_tag(repo, name="nightly-1", committed=NOW - timedelta(days=1))
    fake.add_tag(repo, name="archive/old", committed=NOW - timedelta(days=3))
    return repo


def backfill(connection: Connection, days: int = 30) -> Backfill:
    found = Backfill.objects.create(connection=connection, days=days)
    tasks.backfill_run(found.pk)
    found.refresh_from_db()
    assert found.status == Backfill.Status.DONE, found.error
    return found


def test_a_backfill_of_a_source_that_deploys_by_releases_reads_its_releases_only(
    team, service, fake_github, small_pages
):
    repo = releases_history(fake_github)
    for days in (70, 80, 90):
        fake_github.add_release(repo, tag=f"v0.{days}.0", published=NOW - timedelta(days=days))
    fake_github.add_deployment(repo, created=NOW - timedelta(days=3))  # not this source's deployments
    connection = connect(team, fake_github, DeploysBy.RELEASES, repositories=["acme/checkout"])
    done = backfill(connection)

    assert sorted(Deployment.objects.values_list("ref", flat=True)) == ["v1.1.0", "v1.2.0", "v1.3.0"]
    shas = {release["tag_name"]: release["sha"] for release in repo.releases}
    assert {d.ref: d.sha for d in Deployment.objects.all()} == {t: shas[t] for t in ("v1.1.0", "v1.2.0", "v1.3.0")}
    assert all(d.is_production and d.finished_at for d in Deployment.objects.all())
    assert set(SyncCursor.objects.values_list("resource", flat=True)) == {"pulls", "releases", "workflow_runs"}
    assert not fake_github.calls(r"/deployments")
    assert len(fake_github.calls(r"/commits/v")) == 3  # one per release recorded
    # Pages of two, newest first: the fourth is all older than the backfill, so the fifth is not read.
    assert [path for _, path, _ in fake_github.calls(r"/releases\?")][-1].endswith("&page=4")
    assert done.records == 3

    # Again: the same records, and no commit read twice.
    before = len(fake_github.log)
    backfill(connection)
    assert Deployment.objects.count() == 3
    assert not [call for call in fake_github.log[before:] if "/commits/" in call[1]]


def test_a_release_sync_costs_a_304_until_something_is_released(team, service, fake_github):
    repo = releases_history(fake_github)
    connection = connect(team, fake_github, DeploysBy.RELEASES, repositories=["acme/checkout"])
    backfill(connection)
    runner.connection_sync(connection)
    before = len(fake_github.log)
    runner.connection_sync(connection)
    assert [status for _, path, status in fake_github.log[before:] if "/releases" in path] == [304]

    fake_github.add_release(repo, tag="v1.5.0", published=NOW - timedelta(minutes=5))
    runner.connection_sync(connection)
    assert Deployment.objects.filter(ref="v1.5.0").exists() and Deployment.objects.count() == 4


def test_a_backfill_of_a_source_that_deploys_by_tags_dates_each_matching_tag_once(
    team, service, fake_github, small_pages
):
    tags_history(fake_github)
    connection = connect(team, fake_github, DeploysBy.TAGS, tag_pattern="v*", repositories=["acme/checkout"])
    backfill(connection)

    # Every matching tag, the one older than the backfill too: the list has no order by date.
    refs = sorted(Deployment.objects.values_list("ref", flat=True))
    assert refs == ["v0.9.0", "v1.0.0", "v1.1.0", "v1.2.0", "v1.3.0"]
    assert Deployment.objects.get(ref="v1.3.0").finished_at == NOW - timedelta(days=2)
    assert set(SyncCursor.objects.values_list("resource", flat=True)) == {"pulls", "tags", "workflow_runs"}
    assert len(fake_github.calls(r"/git/commits/")) == 5 and not fake_github.calls(r"/deployments")
    # Several pages: no ETag kept (a new tag may sort onto any page), so the sync reads the list again,
    # and dates only what it has not stored.
    assert SyncCursor.objects.get(resource="tags").etag == ""
    fake_github.add_tag(fake_github.repos["acme/checkout"], name="v1.10.0", committed=NOW - timedelta(hours=1))
    before = len(fake_github.log)
    runner.connection_sync(connection)
    assert [path for _, path, _ in fake_github.log[before:] if "/git/commits/" in path] == [
        f"/repos/acme/checkout/git/commits/{Deployment.objects.get(ref='v1.10.0').sha}"
    ]
    assert Deployment.objects.count() == 6


def test_a_tag_list_of_one_page_is_synced_with_its_etag(team, service, fake_github):
    tags_history(fake_github)
    connection = connect(team, fake_github, DeploysBy.TAGS, tag_pattern="v*", repositories=["acme/checkout"])
    backfill(connection)
    before = len(fake_github.log)
    runner.connection_sync(connection)
    assert [status for _, path, status in fake_github.log[before:] if "/tags" in path] == [304]


def test_a_crashed_tags_walk_resumes_from_its_cursor(team, service, fake_github, small_pages, monkeypatch):
    tags_history(fake_github)
    connection = connect(team, fake_github, DeploysBy.TAGS, tag_pattern="v*", repositories=["acme/checkout"])
    steps = []
    original = github_backfill.Tags.step

    def crash_on_the_second_page(self, url, **kwargs):
        steps.append(url)
        if len(steps) == 2:
            raise SystemExit("the worker was killed")
        return original(self, url, **kwargs)

    monkeypatch.setattr(github_backfill.Tags, "step", crash_on_the_second_page)
    found = Backfill.objects.create(connection=connection, days=30)
    with pytest.raises(SystemExit):
        tasks.backfill_run(found.pk)
    assert "page=2" in SyncCursor.objects.get(resource="tags").next_url
    written = Deployment.objects.count()
    assert written == 2  # the first page: v1.3.0 and v1.2.0 (by name, descending)

    monkeypatch.setattr(github_backfill.Tags, "step", original)
    tasks.backfill_run(found.pk)
    assert Deployment.objects.count() == 5
    assert len(fake_github.calls(r"/git/commits/")) == 5  # each tag dated once
    assert len([path for _, path, _ in fake_github.calls(r"/tags\?") if "&page=" not in path]) == 1


def test_a_tag_the_webhook_recorded_keeps_its_push_time(team, service, fake_github, send):
    repo = tags_history(fake_github)
    connection = connect(team, fake_github, DeploysBy.TAGS, tag_pattern="v*", repositories=["acme/checkout"])
    pushed_at = NOW - timedelta(days=1)  # pushed a day after its commit
    send(connection, "push", tag_push(repo, "v1.3.0", pushed_at))
    backfill(connection)
    assert Deployment.objects.get(ref="v1.3.0").finished_at == pushed_at
    assert Deployment.objects.count() == 5


# --- The same history, backfilled or delivered by webhooks ----------------------------------------


def tag_push(repo: Repo, name: str, pushed_at: datetime) -> dict:
    """GitHub's push event for a new tag ``name`` of ``repo`` (as ``push_tag.json`` has it)."""
    sha = next(tag["commit"]["sha"] for tag in repo.tags if tag["name"] == name)
    return {
        "ref": f"refs/tags/{name}",
        "before": "0" * 40,
        "after": sha,
        "created": True,
        "deleted": False,
        "forced": False,
        "base_ref": f"refs/heads/{repo.default_branch}",
        "commits": [],
        "head_commit": {"id": sha, "timestamp": iso(pushed_at)},
        "repository": {**repo.summary(), "pushed_at": int(pushed_at.timestamp())},
    }


def deploying_history(fake: FakeGitHub, name: str, deploys_by: str) -> None:
    """Merged pull requests with reviews and commits, and a release (or a tag) after every other
    one: the same for any ``name``."""
    same_history(fake, name)
    repo = fake.repos[name]
    repo.deployments.clear()  # deployed by releases or tags only
    repo.statuses.clear()
    for index, days in enumerate((15, 11, 7, 3)):
        moment = NOW - timedelta(days=days, hours=1)
        if deploys_by == DeploysBy.RELEASES:
            fake.add_release(repo, tag=f"v1.{index}.0", published=moment)
        else:
            fake.add_tag(repo, name=f"v1.{index}.0", committed=moment)


def deliver_deployments(send, connection: Connection, repo: Repo, deploys_by: str) -> None:
    if deploys_by == DeploysBy.RELEASES:
        for release in repo.releases:
            body = {"action": "published", "release": release, "repository": repo.summary()}
            send(connection, "release", body)
    else:
        for tag in repo.tags:
            commit = repo.git_commits[tag["commit"]["sha"]]
            committed = datetime.fromisoformat(commit["committer"]["date"])
            # Pushed when its commit was made: the time the backfill reads.
            send(connection, "push", tag_push(repo, tag["name"], committed))


@pytest.mark.parametrize("deploys_by", [DeploysBy.RELEASES, DeploysBy.TAGS])
def test_a_backfilled_repository_that_deploys_by_releases_or_tags_has_the_figures_of_its_webhooks(
    fake_github, team, client, send, django_capture_on_commit_callbacks, deploys_by
):
    backfilled = ServiceFactory(slug="backfilled", owner=team, repositories=["acme/backfilled"])
    hooked = ServiceFactory(slug="hooked", owner=team, repositories=["acme/hooked"])
    deploying_history(fake_github, "acme/backfilled", deploys_by)
    deploying_history(fake_github, "acme/hooked", deploys_by)
    connection = connect(team, fake_github, deploys_by, repositories=["acme/backfilled"])
    with django_capture_on_commit_callbacks(execute=True):
        backfill(connection)
    deliver_as_webhooks(client, connection, fake_github, "acme/hooked", django_capture_on_commit_callbacks)
    deliver_deployments(send, connection, fake_github.repos["acme/hooked"], deploys_by)

    assert PullRequest.objects.filter(service=backfilled).count() == 6
    assert Deployment.objects.filter(service=backfilled).count() == Deployment.objects.filter(service=hooked).count()
    from_backfill, from_webhooks = figures(backfilled), figures(hooked)
    assert from_backfill["deployment_frequency"]["deployments"] == 4
    # As for GitHub's deployments: the webhooks alone know no first commit (a pull request event
    # carries none), so no lead time's count and coding time; every other figure is the same.
    lead_time, lead_time_from_webhooks = from_backfill.pop("lead_time"), from_webhooks.pop("lead_time")
    assert from_backfill == from_webhooks
    assert lead_time["changes"] == lead_time_from_webhooks["changes"] > 0
    assert lead_time["count"] == lead_time["changes"]
    for component in ("pickup", "review", "deploy"):
        assert lead_time["components"][component] == lead_time_from_webhooks["components"][component]
    assert lead_time["components"]["deploy"]["count"] == lead_time["changes"]


def test_a_release_whose_tag_is_gone_or_a_tag_whose_commit_is_gone_does_not_stop_the_backfill(
    team, service, fake_github
):
    repo = releases_history(fake_github)
    repo.tags = [tag for tag in repo.tags if tag["name"] != "v1.2.0"]  # GitHub answers 422 for it
    connection = connect(team, fake_github, DeploysBy.RELEASES, repositories=["acme/checkout"])
    done = backfill(connection)
    assert Deployment.objects.get(ref="v1.2.0").sha == "" and Deployment.objects.count() == 3
    assert done.error.startswith("acme/checkout: release v1.2.0: recorded without its commit (GitHub answered GET")

    Deployment.objects.all().delete()
    tags = tags_history(fake_github, "acme/ledger")
    del tags.git_commits[next(t["commit"]["sha"] for t in tags.tags if t["name"] == "v1.1.0")]
    ServiceFactory(slug="ledger", owner=team, repositories=["acme/ledger"])
    connection = connect(team, fake_github, DeploysBy.TAGS, repositories=["acme/ledger"])
    done = backfill(connection)
    assert Deployment.objects.count() == 4 and not Deployment.objects.filter(ref="v1.1.0").exists()
    assert done.error.startswith("acme/ledger: tag v1.1.0: left out (GitHub found nothing at GET")

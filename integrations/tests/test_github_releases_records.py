"""Releases and tags as deployments (integrations/github/records.py): pure, no database. The
fixtures are GitHub's documented examples of the ``release`` and ``push`` (of a tag) events and of
``GET .../releases``, ``GET .../tags`` and ``GET .../git/commits/{sha}``."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from integrations.github import records
from integrations.tests.github_payloads import payload

SHA = "c5b97d5ae6c19d5c5df71a34c7fbeeda2479ccbc"
HELLO = {"id": 1296269, "full_name": "octocat/Hello-World", "html_url": "https://github.com/octocat/Hello-World"}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def test_a_published_release_is_a_production_deployment_of_its_tags_commit():
    data = records.release(payload("release")["release"], repository="Codertocat/Hello-World", sha=SHA)
    assert data is not None
    assert (data.external_id, data.environment, data.status) == ("release:11248810", "production", "success")
    assert (data.finished_at, data.started_at) == (at("2019-05-15T15:20:53+00:00"), None)
    assert (data.repository, data.sha, data.ref, data.title) == ("Codertocat/Hello-World", SHA, "0.0.1", "0.0.1")
    assert data.url == "https://github.com/Codertocat/Hello-World/releases/tag/0.0.1"
    # Linked like a GitHub deployment of that sha: no change list, so rules 2 and 3 find its changes.
    assert data.changes is None and not data.is_rollback


def test_a_listed_release_is_the_same_record_as_the_events():
    (listed,) = payload("rest_releases")
    data = records.release(listed, repository="octocat/Hello-World", sha=SHA)
    assert data is not None
    assert (data.external_id, data.ref, data.title, data.finished_at) == (
        "release:1",
        "v1.0.0",
        "v1.0.0",
        at("2013-02-27T19:35:32+00:00"),
    )


@pytest.mark.parametrize("flag", ["draft", "prerelease"])
def test_a_draft_or_a_prerelease_is_no_deployment(flag):
    release = payload("release")["release"] | {flag: True}
    assert records.release(release, repository="Codertocat/Hello-World", sha=SHA) is None


@pytest.mark.parametrize("missing", ["tag_name", "published_at", "id"])
def test_a_release_without_what_it_needs_is_unreadable(missing):
    release = payload("release")["release"] | {missing: None}
    with pytest.raises(records.Unreadable, match=missing):
        records.release(release, repository="Codertocat/Hello-World", sha=SHA)


def test_a_pushed_tag_is_a_deployment_of_its_commit_at_the_push():
    body = payload("push_tag")
    data = records.tag_push(body)
    # The commit is head_commit's: ``after`` is the annotated tag's own object.
    assert data.sha == body["head_commit"]["id"] != body["after"]
    assert data.external_id == f"tag:186853002:simple-tag@{data.sha}"
    assert (data.environment, data.ref, data.title, data.repository) == (
        "production",
        "simple-tag",
        "simple-tag",
        "Codertocat/Hello-World",
    )
    assert data.finished_at == at("2019-05-15T15:20:57+00:00")  # repository.pushed_at
    assert data.url == "https://github.com/Codertocat/Hello-World/tree/simple-tag"
    assert data.changes is None


def test_a_tag_push_without_pushed_at_takes_its_commits_time():
    body = payload("push_tag")
    del body["repository"]["pushed_at"]
    assert records.tag_push(body).finished_at == at("2019-05-15T15:20:56+00:00")


def test_a_branch_push_or_a_tag_push_without_its_commit_is_unreadable():
    with pytest.raises(records.Unreadable, match="not of a tag"):
        records.tag_push(payload("push"))
    body = payload("push_tag") | {"head_commit": None}
    with pytest.raises(records.Unreadable, match="head_commit"):
        records.tag_push(body)


def test_a_listed_tag_is_dated_by_its_commit_and_has_the_push_events_id():
    (listed,) = payload("rest_tags")
    data = records.tag(listed, repository=HELLO, commit=payload("rest_git_commit"))
    assert data.external_id == f"tag:1296269:v0.1@{SHA}"
    assert (data.sha, data.ref, data.finished_at) == (SHA, "v0.1", at("2014-11-07T22:01:45+00:00"))
    assert data.url == "https://github.com/octocat/Hello-World/tree/v0.1"
    # The same tag of the same commit, pushed: the same record id.
    pushed = payload("push_tag")
    pushed["repository"] |= {"id": 1296269, "full_name": "octocat/Hello-World"}
    pushed |= {"ref": "refs/tags/v0.1", "head_commit": {**pushed["head_commit"], "id": SHA}}
    assert records.tag_push(pushed).external_id == data.external_id


def test_a_listed_tag_without_a_dated_commit_is_unreadable():
    (listed,) = payload("rest_tags")
    with pytest.raises(records.Unreadable, match="committer"):
        records.tag(listed, repository=HELLO, commit={"sha": SHA})


def test_a_very_long_tag_name_still_makes_a_stable_id_that_fits():
    first = records.tag_id(1, "x" * 300, SHA)
    assert first == records.tag_id(1, "x" * 300, SHA) and len(first) <= 200
    assert first != records.tag_id(1, "x" * 300, "d" * 40)


@pytest.mark.parametrize(
    ("ref", "tag"), [("refs/tags/v1.2.0", "v1.2.0"), ("refs/tags/release/1", "release/1"), ("refs/heads/main", "")]
)
def test_the_tag_of_a_ref(ref, tag):
    assert records.tag_of(ref) == tag

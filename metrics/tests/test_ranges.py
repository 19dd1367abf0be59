"""Commit ranges from pushes (linking rule 2): the chain walk, and linking after a refresh."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from e360.tests.factories import ServiceFactory
from metrics import definitions as d
from metrics.models import Deployment, PullRequest
from metrics.ranges import MAX_PUSHES, PushRec, commit_ranges
from metrics.refresh import service_refresh
from metrics.services import (
    DeploymentInput,
    Dirty,
    PullRequestInput,
    PushInput,
    deployment_upsert,
    pull_request_upsert,
    push_upsert,
)
from metrics.tests.factories import SourceFactory

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
REPO = "acme/checkout"
ZERO = "0" * 40


def sha(n: int) -> str:
    return f"{n:040x}"


def dep(id: str, at: int, commit: str, *, repository: str | None = REPO, **extra) -> d.DeploymentRec:
    finished = T0 + timedelta(hours=at)
    return d.DeploymentRec(
        id=id,
        service="checkout",
        environment=extra.pop("environment", "production"),
        status=extra.pop("status", "success"),
        started_at=finished - timedelta(minutes=5),
        finished_at=finished,
        sha=commit,
        repository=repository,
        **extra,
    )


def push(before: str, after: str, *commits: str, repository: str = REPO, default_branch: bool = True) -> PushRec:
    return PushRec(repository=repository, before=before, after=after, commits=commits, default_branch=default_branch)


# --- The chain walk -----------------------------------------------------------------------------


def test_it_walks_the_pushes_back_from_the_new_sha_to_the_old_one():
    pushes = [push(sha(1), sha(2), sha(11), sha(2)), push(sha(2), sha(3), sha(12), sha(3))]

    ranges = commit_ranges([dep("d1", 0, sha(1)), dep("d2", 1, sha(3))], pushes)

    assert ranges == {(sha(1), sha(3)): {sha(11), sha(2), sha(12), sha(3)}}


def test_each_consecutive_pair_gets_its_own_range():
    pushes = [push(sha(1), sha(2), sha(2)), push(sha(2), sha(3), sha(3)), push(sha(3), sha(4), sha(4))]
    deployments = [dep("d1", 0, sha(1)), dep("d2", 1, sha(3)), dep("d3", 2, sha(4))]

    assert commit_ranges(deployments, pushes) == {
        (sha(1), sha(3)): {sha(2), sha(3)},
        (sha(3), sha(4)): {sha(4)},
    }


def test_the_new_head_is_in_the_range_even_when_the_push_lists_no_commits():
    assert commit_ranges([dep("d1", 0, sha(1)), dep("d2", 1, sha(2))], [push(sha(1), sha(2))]) == {
        (sha(1), sha(2)): {sha(2)}
    }


def test_a_broken_chain_gives_no_range():
    # The push from 1 to 2 never arrived.
    pushes = [push(sha(2), sha(3), sha(3))]

    assert commit_ranges([dep("d1", 0, sha(1)), dep("d2", 1, sha(3))], pushes) == {}


def test_a_sha_no_push_brought_gives_no_range():
    assert commit_ranges([dep("d1", 0, sha(1)), dep("d2", 1, sha(9))], [push(sha(1), sha(2), sha(2))]) == {}


def test_a_force_push_from_an_unknown_head_breaks_the_chain():
    pushes = [push(sha(1), sha(2), sha(2)), push(sha(7), sha(3), sha(3))]  # forced: 7 was never pushed

    assert commit_ranges([dep("d1", 0, sha(1)), dep("d2", 1, sha(3))], pushes) == {}


def test_a_branch_created_by_the_push_breaks_the_chain():
    # GitHub's "before" of a new branch is all zeros; a deleted branch's "after" is too.
    pushes = [push(sha(1), ZERO), push(ZERO, sha(3), sha(3))]

    assert commit_ranges([dep("d1", 0, sha(1)), dep("d2", 1, sha(3))], pushes) == {}


def test_a_chain_longer_than_the_bound_gives_no_range():
    pushes = [push(sha(n), sha(n + 1), sha(n + 1)) for n in range(1, MAX_PUSHES + 2)]

    within = commit_ranges([dep("d1", 0, sha(1)), dep("d2", 1, sha(MAX_PUSHES + 1))], pushes)
    beyond = commit_ranges([dep("d1", 0, sha(1)), dep("d2", 1, sha(MAX_PUSHES + 2))], pushes)

    assert len(within[(sha(1), sha(MAX_PUSHES + 1))]) == MAX_PUSHES
    assert beyond == {}


def test_redeploying_the_same_sha_needs_no_range_and_links_nothing():
    deployments = [dep("d1", 0, sha(1)), dep("d2", 1, sha(2)), dep("d3", 2, sha(2))]
    changes = [d.ChangeRec("p1", "checkout", REPO, sha(2), T0, T0, merged_at=T0)]

    ranges = commit_ranges(deployments, [push(sha(1), sha(2), sha(2))])
    links = d.link_changes(deployments, changes, ranges)

    assert ranges == {(sha(1), sha(2)): {sha(2)}}
    assert (links.deployments["d2"].rule, links.deployments["d2"].change_ids) == (d.LINK_COMMIT_RANGE, ("p1",))
    assert (links.deployments["d3"].rule, links.deployments["d3"].change_ids) == (d.LINK_COMMIT_RANGE, ())


def test_it_pairs_deployments_as_the_definitions_do():
    pushes = [push(sha(1), sha(2), sha(2)), push(sha(2), sha(3), sha(3))]
    deployments = [
        dep("d1", 0, sha(1)),
        dep("staging", 1, sha(2), environment="staging"),  # not production
        dep("failed", 2, sha(2), status="failure"),  # not a successful deployment
        dep("d2", 3, sha(3)),
        dep("other-env", 4, sha(3), environment="prd"),  # its own chain: first of it
    ]

    assert commit_ranges(deployments, pushes) == {(sha(1), sha(3)): {sha(2), sha(3)}}


def test_it_walks_only_the_deployments_repository():
    pushes = [push(sha(1), sha(2), sha(2), repository="acme/other")]

    assert commit_ranges([dep("d1", 0, sha(1)), dep("d2", 1, sha(2))], pushes) == {}
    # A deployment that names no repository may use any of the service's pushes.
    unnamed = [dep("d1", 0, sha(1), repository=None), dep("d2", 1, sha(2), repository=None)]
    assert commit_ranges(unnamed, pushes) == {(sha(1), sha(2)): {sha(2)}}


def test_short_deployment_shas_name_the_pushed_commits():
    pushes = [push("a1b2c3d" + "0" * 33, "b2c3d4e" + "0" * 33, "b2c3d4e" + "0" * 33)]
    old, new = "a1b2c3d", "B2C3D4E"

    assert commit_ranges([dep("d1", 0, old), dep("d2", 1, new)], pushes) == {(old, new): {"b2c3d4e" + "0" * 33}}


def test_an_ambiguous_short_sha_gives_no_range():
    pushes = [push(sha(1), "abcdef01" + "1" * 32), push(sha(1), "abcdef02" + "2" * 32)]

    assert commit_ranges([dep("d1", 0, sha(1)), dep("d2", 1, "abcdef0")], pushes) == {}


def test_it_prefers_the_default_branch_where_a_sha_was_pushed_to_several():
    pushes = [
        push(sha(1), sha(3), sha(21), sha(3), default_branch=False),  # the feature branch, fast-forwarded
        push(sha(1), sha(3), sha(11), sha(3)),
    ]

    assert commit_ranges([dep("d1", 0, sha(1)), dep("d2", 1, sha(3))], pushes) == {(sha(1), sha(3)): {sha(11), sha(3)}}


# --- After a refresh ------------------------------------------------------------------------------


@pytest.fixture
def api_source(service):
    return SourceFactory(name="ci", team=service.owner)


def _deploy(source, service, external_id, hours, commit):
    data = DeploymentInput(
        external_id=external_id,
        service=service.slug,
        repository=REPO,
        environment="production",
        started_at=T0 + timedelta(hours=hours, minutes=-5),
        finished_at=T0 + timedelta(hours=hours),
        sha=commit,
    )
    return deployment_upsert(source=source, data=data, dirty=Dirty())[0]


def _pr(source, service, external_id, hours, merge_sha):
    merged_at = T0 + timedelta(hours=hours)
    data = PullRequestInput(
        external_id=external_id,
        repository=REPO,
        service=service.slug,
        base_branch="main",
        opened_at=merged_at - timedelta(hours=5),
        merged_at=merged_at,
        merge_sha=merge_sha,
    )
    return pull_request_upsert(source=source, data=data, dirty=Dirty())[0]


def _push(source, external_id, before, after, *commits):
    data = PushInput(
        external_id=external_id, repository=REPO, branch="main", before=before, after=after, commits=commits
    )
    return push_upsert(source=source, data=data, dirty=Dirty())[0]


def _deployed_by(*external_ids):
    return [PullRequest.objects.get(external_id=e).deployment.external_id for e in external_ids]


@pytest.fixture
def history(api_source, service):
    """Main moves 1 → 2 → 3 → 4 with a PR merged at each step; d1 ships 3, while PR 3 (merged
    before d1 started) is only in 4, which d2 ships."""
    _deploy(api_source, service, "d0", 0, sha(1))
    _pr(api_source, service, "pr-1", 1, sha(2))
    _pr(api_source, service, "pr-2", 2, sha(3))
    _pr(api_source, service, "pr-3", 3, sha(4))
    _deploy(api_source, service, "d1", 24, sha(3))
    _deploy(api_source, service, "d2", 48, sha(4))
    return service


def test_pushes_link_a_deployment_by_its_commit_range(api_source, history):
    _push(api_source, "push-1", sha(1), sha(2), sha(12), sha(2))
    _push(api_source, "push-2", sha(2), sha(3), sha(13), sha(3))
    _push(api_source, "push-3", sha(3), sha(4), sha(14), sha(4))

    service_refresh(service_id=history.id)

    rules = dict(Deployment.objects.values_list("external_id", "link_rule"))
    assert rules == {
        "d0": Deployment.LinkRule.NONE,
        "d1": Deployment.LinkRule.COMMIT_RANGE,
        "d2": Deployment.LinkRule.COMMIT_RANGE,
    }
    # PR 3 was merged between d0 and d1, but its merge commit is not in d1's range.
    assert _deployed_by("pr-1", "pr-2", "pr-3") == ["d1", "d1", "d2"]


def test_without_the_chain_linking_falls_back_to_what_was_merged_between(api_source, history):
    _push(api_source, "push-2", sha(2), sha(3), sha(13), sha(3))  # push-1 is missing: no range for d1
    _push(api_source, "push-3", sha(3), sha(4), sha(14), sha(4))

    service_refresh(service_id=history.id)

    rules = dict(Deployment.objects.values_list("external_id", "link_rule"))
    assert rules["d1"] == Deployment.LinkRule.MERGED_BETWEEN
    assert rules["d2"] == Deployment.LinkRule.COMMIT_RANGE
    assert _deployed_by("pr-1", "pr-2", "pr-3") == ["d1", "d1", "d1"]


def test_a_late_push_re_links_on_refresh(api_source, history, django_capture_on_commit_callbacks):
    service_refresh(service_id=history.id)
    assert Deployment.objects.get(external_id="d1").link_rule == Deployment.LinkRule.MERGED_BETWEEN

    with django_capture_on_commit_callbacks(execute=True):
        dirty = Dirty()
        for n in (1, 2):
            data = PushInput(external_id=f"push-{n}", repository=REPO, before=sha(n), after=sha(n + 1))
            push_upsert(source=api_source, data=data, dirty=dirty)
        dirty.schedule()

    assert Deployment.objects.get(external_id="d1").link_rule == Deployment.LinkRule.COMMIT_RANGE
    assert _deployed_by("pr-1", "pr-2") == ["d1", "d1"]
    # d2 has no range (3 → 4 was not pushed), and PR 3 was merged before d1, not between d1 and d2.
    assert PullRequest.objects.get(external_id="pr-3").deployment is None


def test_a_service_deploying_a_shared_repository_uses_its_pushes(api_source, service):
    # The pushes name only the repository, so they belong to its service (checkout).
    _push(api_source, "push-1", sha(1), sha(2), sha(2))
    billing = ServiceFactory(slug="billing", owner=service.owner)
    _deploy(api_source, billing, "b0", 0, sha(1))
    _pr(api_source, billing, "pr-b", 1, sha(2))
    _deploy(api_source, billing, "b1", 24, sha(2))

    service_refresh(service_id=billing.id)

    assert Deployment.objects.get(external_id="b1").link_rule == Deployment.LinkRule.COMMIT_RANGE
    assert _deployed_by("pr-b") == ["b1"]

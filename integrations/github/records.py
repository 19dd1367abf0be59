"""GitHub's objects as e360's records: pure functions, no database.

Each function takes an object in the shape GitHub's REST API returns it — the same shape its
webhooks embed (``pull_request``, ``review``, ``deployment``, ``deployment_status``,
``workflow_run``, ``issue``, ``release``) — and gives the ``metrics.inputs`` record the write
services take. A connection that deploys by releases or tags (``Connection.deploys_by``) records
its deployments with ``release``, ``tag_push`` (the webhook's push of a tag) and ``tag`` (the tags
list): production deployments of the tagged commit, with no change list, so they link their
changes as a GitHub deployment of that sha does.
The webhook handlers (``integrations.github.events``) and the backfill use these same
functions, so a record is the same whichever way it came; the backfill reads pull requests from
the GraphQL API, whose nodes ``pull_request_from_graphql`` puts in the REST shapes first.

Choices (``docs/integrations/github.md#webhook-events`` says them for users):

- **External ids are GitHub's numeric ``id``** (as text), not ``node_id``: both the REST API
  and the webhooks send it, GraphQL calls it ``fullDatabaseId``, and unlike ``node_id`` it does
  not change format (GitHub is moving node ids to a new format). A workflow run's attempt is a
  record of its own, ``<run id>/<attempt>``: flakiness is "a run failed, then a re-run of the
  same sha and workflow passed" (``docs/metrics.md#pipeline-reliability``), so each attempt
  keeps its verdict.
- **Times**: GitHub sends ISO 8601 (``2019-05-15T15:20:33Z``, or with an offset in commit
  timestamps) and, in the push event's ``repository``, Unix timestamps: both are read.
- **A draft pull request** is a pull request like any other here; whether an open draft is
  stored is the caller's choice (``is_open_draft``): the webhook and the backfill both leave
  open drafts out, so they never wait in the review queue, and both take ``created_at`` as the
  opening, since no pull request object says when a draft was marked ready.
- A field GitHub did not send is unknown: ``None`` (sizes, times), never 0.

A payload that lacks what a record needs raises ``Unreadable`` with what is missing; a record
the JSON API would refuse (a time outside 1970–2100, a merge before the opening…) raises
``PayloadError`` from ``metrics.ingest.checked``, naming GitHub's field.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from metrics.ingest import PayloadError, checked
from metrics.inputs import (
    CommitInput,
    DeploymentInput,
    IncidentInput,
    PipelineRunInput,
    PullRequestInput,
    PushInput,
    ReviewInput,
)
from metrics.models import Deployment, PipelineRun, Review


class Unreadable(PayloadError):
    """A GitHub object lacks a field its record needs (or holds one e360 cannot read)."""


# The JSON API's fields as GitHub names them, for ``checked``'s messages.
PULL_REQUEST_NAMES = {
    "external_id": "id",
    "repository": "base.repo.full_name",
    "opened_at": "created_at",
    "url": "html_url",
    "author": "user.login",
    "base_branch": "base.ref",
    "merge_sha": "merge_commit_sha",
}
DEPLOYMENT_NAMES = {"finished_at": "the status's created_at", "started_at": "created_at", "title": "description"}
WORKFLOW_RUN_NAMES = {
    "external_id": "id",
    "workflow": "name",
    "branch": "head_branch",
    "sha": "head_sha",
    "started_at": "run_started_at",
    "finished_at": "updated_at",
    "url": "html_url",
}
PUSH_NAMES = {"repository": "repository.full_name", "branch": "ref", "pushed_at": "repository.pushed_at"}
ISSUE_NAMES = {"external_id": "id", "started_at": "created_at", "resolved_at": "closed_at", "url": "html_url"}


# --- Reading fields ---------------------------------------------------------------------------


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 string (``Z`` or an offset) or a Unix timestamp (seconds) as an aware UTC time;
    None for None or ""."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise Unreadable(f"{value!r} is not a time")
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, tz=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise Unreadable(f"{value[:40]!r} is not an ISO 8601 time") from None
        if parsed.tzinfo is None:  # GitHub always sends a zone; a time without one is UTC
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    raise Unreadable(f"{type(value).__name__} is not a time")


def _required(obj: Mapping[str, Any], name: str, what: str) -> Any:
    value = obj.get(name) if isinstance(obj, Mapping) else None
    if value is None or value == "":
        raise Unreadable(f"the {what} has no {name}")
    return value


def _time(obj: Mapping[str, Any], name: str, what: str) -> datetime:
    found = parse_time(_required(obj, name, what))
    assert found is not None
    return found


def _object(obj: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = obj.get(name) if isinstance(obj, Mapping) else None
    return value if isinstance(value, Mapping) else {}


def _login(obj: Mapping[str, Any]) -> str:
    return str(_object(obj, "user").get("login") or "")


def _text(value: Any, max_length: int) -> str:
    return str(value or "")[:max_length]


def _id(obj: Mapping[str, Any], what: str) -> str:
    return str(_required(obj, "id", what))


# --- Pull requests and reviews --------------------------------------------------------------

# A review's state as the REST API spells it (upper case) or a webhook does (lower case).
REVIEW_STATES = {
    "APPROVED": Review.State.APPROVED,
    "CHANGES_REQUESTED": Review.State.CHANGES_REQUESTED,
    "COMMENTED": Review.State.COMMENTED,
    # A dismissed approval or change request no longer approves or blocks, but someone did review.
    "DISMISSED": Review.State.COMMENTED,
}


def pull_request(pr: dict, *, reviews: Iterable[dict] = (), commits: Iterable[dict] = ()) -> PullRequestInput:
    """A GitHub pull request (``GET /repos/{o}/{r}/pulls/{n}``, or a webhook's ``pull_request``)
    with its reviews (``GET .../pulls/{n}/reviews``) and commits (``GET .../pulls/{n}/commits``).

    ``repository`` is the base repository (``base.repo.full_name``): the one the change lands in.
    ``merge_sha`` is ``merge_commit_sha`` only once merged (before, GitHub fills it with a test
    merge commit that never lands). ``additions``/``deletions`` are None when the object does not
    carry them (list endpoints and some webhook payloads do not). Pending reviews (not submitted)
    are left out.
    """
    what = "pull request"
    base = _object(pr, "base")
    repository = _object(base, "repo").get("full_name")
    if not repository:
        raise Unreadable("the pull request has no base.repo.full_name")
    merged_at = parse_time(pr.get("merged_at"))
    return checked(
        PullRequestInput(
            external_id=_id(pr, what),
            repository=str(repository),
            opened_at=_time(pr, "created_at", what),
            number=pr.get("number") if isinstance(pr.get("number"), int) else None,
            title=_text(pr.get("title"), 500),
            url=_text(pr.get("html_url"), 500),
            author=_login(pr),
            base_branch=_text(base.get("ref"), 200),
            merged_at=merged_at,
            closed_at=parse_time(pr.get("closed_at")),
            merge_sha=_text(pr.get("merge_commit_sha"), 64) if merged_at else "",
            additions=_count(pr.get("additions")),
            deletions=_count(pr.get("deletions")),
            reviews=tuple(found for r in reviews if (found := review(r)) is not None),
            commits=tuple(commit(c) for c in commits),
        ),
        PULL_REQUEST_NAMES,
    )


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def is_open_draft(pr: Mapping[str, Any]) -> bool:
    """An open draft: not stored by the webhook nor the backfill (it is not waiting for review).
    ``pr`` is a REST pull request (``draft``, ``state: open``) or a GraphQL one (``isDraft``,
    ``state: OPEN``)."""
    return bool(pr.get("draft") or pr.get("isDraft")) and pr.get("state") in ("open", "OPEN")


# --- The same pull request from the GraphQL API ------------------------------------------------


def pull_request_from_graphql(node: Mapping[str, Any]) -> PullRequestInput:
    """A GraphQL ``PullRequest`` node (``integrations.github.client.PULL_REQUEST_FIELDS``: the
    backfill's query) with its ``reviews`` and ``commits`` connections read in full: the record
    ``pull_request`` makes of the REST objects of the same pull request.

    The node is put in the REST shapes and handed to ``pull_request``, so every rule is that
    function's. What differs between the two APIs:

    - ids: GraphQL's ``fullDatabaseId`` (a BigInt sent as a string; ``databaseId``, its deprecated
      32-bit form, is read when it is missing) *is* the REST and webhook ``id``;
    - a bot's ``login``: GraphQL says ``dependabot`` where REST and the webhooks say
      ``dependabot[bot]``; the suffix is put back (``author.__typename`` is ``Bot``);
    - ``state`` is ``OPEN``, ``CLOSED`` or ``MERGED`` (REST: ``open`` or ``closed``); ``mergeCommit``
      is null until the merge (REST fills ``merge_commit_sha`` with a test merge, which
      ``pull_request`` ignores until merged anyway).
    """
    pr, reviews, commits = _rest_shapes(node)
    return pull_request(pr, reviews=reviews, commits=commits)


def _graphql_id(obj: Mapping[str, Any]) -> Any:
    found = obj.get("fullDatabaseId") or obj.get("databaseId")
    return str(found) if found is not None else None


def _graphql_user(obj: Mapping[str, Any]) -> dict[str, Any]:
    author = _object(obj, "author")
    login = str(author.get("login") or "")
    if login and author.get("__typename") == "Bot" and not login.endswith("[bot]"):
        login += "[bot]"
    return {"login": login}


def _nodes(obj: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    found = _object(obj, name).get("nodes")
    if found is None:
        return []
    if not isinstance(found, list):
        raise Unreadable(f"the pull request's {name} are not a list")
    return [item for item in found if isinstance(item, Mapping)]


def _rest_shapes(node: Mapping[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """A GraphQL pull request node as the REST pull request, reviews and commits."""
    if not isinstance(node, Mapping):
        raise Unreadable("the pull request is not an object")
    state = str(node.get("state") or "").upper()
    pr = {
        "id": _graphql_id(node),
        "number": node.get("number"),
        "title": node.get("title"),
        "html_url": node.get("url"),
        "state": "open" if state == "OPEN" else "closed",
        "draft": bool(node.get("isDraft")),
        "user": _graphql_user(node),
        "created_at": node.get("createdAt"),
        "updated_at": node.get("updatedAt"),
        "merged_at": node.get("mergedAt"),
        "closed_at": node.get("closedAt"),
        "merge_commit_sha": _object(node, "mergeCommit").get("oid"),
        "additions": node.get("additions"),
        "deletions": node.get("deletions"),
        "base": {
            "ref": node.get("baseRefName"),
            "repo": {"full_name": _object(node, "baseRepository").get("nameWithOwner")},
        },
    }
    reviews = [
        {
            "id": _graphql_id(review),
            "user": _graphql_user(review),
            "state": review.get("state"),
            "submitted_at": review.get("submittedAt"),
        }
        for review in _nodes(node, "reviews")
    ]
    commits = [
        {"sha": found.get("oid"), "commit": {"author": {"date": found.get("authoredDate")}}}
        for found in (_object(item, "commit") for item in _nodes(node, "commits"))
    ]
    return pr, reviews, commits


def review(review: dict) -> ReviewInput | None:
    """A submitted review; None for a pending one (not submitted: GitHub sends no ``submitted_at``)."""
    state = str(review.get("state") or "").upper()
    if state == "PENDING":
        return None
    if state not in REVIEW_STATES:
        raise Unreadable(f"the review has an unknown state {state[:40]!r}")
    return ReviewInput(
        external_id=_id(review, "review"),
        author=_login(review),
        submitted_at=_time(review, "submitted_at", "review"),
        state=REVIEW_STATES[state],
    )


def commit(item: dict) -> CommitInput:
    """A commit of a pull request (``GET .../pulls/{n}/commits``): its sha and its author's date."""
    author = _object(_object(item, "commit"), "author")
    return CommitInput(sha=_text(_required(item, "sha", "commit"), 64), authored_at=_time(author, "date", "commit"))


# --- Deployments ---------------------------------------------------------------------------

# A deployment status's state → the deployment's status. ``inactive`` is missing on purpose:
# GitHub sets it on an earlier deployment when a newer one succeeds to the same environment, so
# it says nothing about how the deployment went. ``queued`` and ``pending`` have not started.
DEPLOYMENT_STATES = {
    "success": Deployment.Status.SUCCESS,
    "failure": Deployment.Status.FAILURE,
    "error": Deployment.Status.ERROR,
    "in_progress": Deployment.Status.IN_PROGRESS,
}
NOT_STARTED = frozenset({"queued", "pending"})


def deployment(deployment: dict, statuses: Sequence[dict], repository: str) -> DeploymentInput | None:
    """A deployment (``GET .../deployments``, or a webhook's ``deployment``) with its statuses
    (``GET .../deployments/{id}/statuses``, in any order; a ``deployment_status`` event's one).

    The latest status (by ``created_at``, then id) that says how the deployment went decides its
    status, and that status's time is ``finished_at`` (for ``in_progress``, when it started
    running: a running deployment counts nowhere). ``started_at`` is when the deployment was
    created. None while no status says more than queued, pending or inactive.
    """
    what = "deployment"
    decisive = [s for s in statuses if isinstance(s, Mapping) and s.get("state") in DEPLOYMENT_STATES]
    unknown = {
        str(s.get("state"))[:40] for s in statuses if isinstance(s, Mapping) and s.get("state") not in _KNOWN_STATES
    }
    if unknown:
        raise Unreadable(f"the deployment status has an unknown state {sorted(unknown)[0]!r}")
    if not decisive:
        return None
    latest = max(decisive, key=lambda s: (_time(s, "created_at", "deployment status"), s.get("id") or 0))
    ref = deployment.get("ref")
    return checked(
        DeploymentInput(
            external_id=_id(deployment, what),
            environment=_text(_required(deployment, "environment", what), 100),
            finished_at=_time(latest, "created_at", "deployment status"),
            status=DEPLOYMENT_STATES[latest["state"]],
            repository=repository,
            started_at=parse_time(deployment.get("created_at")),
            sha=_text(deployment.get("sha"), 64),
            ref=_text(ref, 200),
            title=_text(deployment.get("description") or ref, 500),
            url=_text(latest.get("log_url") or latest.get("environment_url") or latest.get("target_url"), 500),
        ),
        DEPLOYMENT_NAMES,
    )


_KNOWN_STATES = frozenset(DEPLOYMENT_STATES) | NOT_STARTED | {"inactive"}


# --- Releases and tags: deployments of a connection that deploys by them ------------------------

# The environment of a deployment by release or tag: publishing the release, or pushing the tag, is
# the production deployment (``Connection.deploys_by``).
RELEASE_ENVIRONMENT = "production"


def release(release: dict, *, repository: str, sha: str) -> DeploymentInput | None:
    """A published release (``GET .../releases``, or a ``release`` event's ``release``) as a
    production deployment of ``sha``, the commit its tag names (the release object does not carry
    it: the caller reads it, ``GitHub.commit_sha``). None for a draft or a prerelease: neither is a
    production deployment.

    ``external_id`` is ``release:<id>`` (GitHub's release id: deployments and releases have their own
    ids), ``finished_at`` its ``published_at``. A prerelease promoted to a release later keeps its
    ``published_at``: GitHub records no time for the promotion.
    """
    what = "release"
    if release.get("draft") or release.get("prerelease"):
        return None
    tag = _text(_required(release, "tag_name", what), 200)
    return checked(
        DeploymentInput(
            external_id=f"release:{_id(release, what)}",
            environment=RELEASE_ENVIRONMENT,
            finished_at=_time(release, "published_at", what),
            repository=repository,
            sha=_text(sha, 64),
            ref=tag,
            title=_text(release.get("name") or tag, 500),
            url=_text(release.get("html_url"), 500),
        ),
        {"finished_at": "published_at", "ref": "tag_name", "title": "name", "url": "html_url"},
    )


def tag_of(ref: Any) -> str:
    """The tag a push's ``ref`` names (``refs/tags/v1.2.0`` → ``v1.2.0``); "" for a branch."""
    return ref.removeprefix("refs/tags/") if isinstance(ref, str) and ref.startswith("refs/tags/") else ""


def tag_id(repository_id: Any, name: str, sha: str) -> str:
    """``tag:<repository id>:<tag>@<commit sha>``: the same from a push and from the tags list, and
    a tag moved to another commit (pushed again with ``--force``) is another deployment. A name too
    long for the column is hashed (the same way every time)."""
    key = f"{repository_id}:{name}@{sha}"
    return f"tag:{key}" if len(key) <= 190 else f"tag:{repository_id}:{hashlib.sha256(key.encode()).hexdigest()}"


def _tag_deployment(repository: Mapping[str, Any], name: str, sha: str, at: datetime) -> DeploymentInput:
    html_url = str(repository.get("html_url") or "")
    return checked(
        DeploymentInput(
            external_id=tag_id(_id(repository, "repository"), name, sha),
            environment=RELEASE_ENVIRONMENT,
            finished_at=at,
            repository=str(_required(repository, "full_name", "repository")),
            sha=sha[:64],
            ref=name[:200],
            title=name[:500],
            url=f"{html_url}/tree/{quote(name)}"[:500] if html_url else "",
        ),
        {"finished_at": "the push's time", "ref": "the tag"},
    )


def tag_push(payload: dict) -> DeploymentInput:
    """A webhook ``push`` of a tag (``ref: refs/tags/...``, not a deletion) as a production
    deployment of the commit it names, at the push's time (``repository.pushed_at``, else the head
    commit's time).

    The commit is ``head_commit.id``: for an annotated tag ``after`` is the tag object, not a commit."""
    name = tag_of(payload.get("ref"))
    if not name:
        raise Unreadable("the push is not of a tag")
    repository = _object(payload, "repository")
    head = _object(payload, "head_commit")
    sha = str(head.get("id") or "")
    if not sha:
        raise Unreadable("the tag push has no head_commit.id")
    at = parse_time(repository.get("pushed_at")) or _time(head, "timestamp", "tag push's head commit")
    return _tag_deployment(repository, name, sha, at)


def tag(tag: dict, *, repository: Mapping[str, Any], commit: Mapping[str, Any]) -> DeploymentInput:
    """A tag of the tags list (``GET .../tags``: its name and commit sha) as a production deployment
    of that commit, at the commit's committer date (``GET .../git/commits/{sha}``): the list has no
    date, and the push's time is the webhook's alone. ``repository`` is ``GET /repos/{o}/{r}``'s
    answer (its id makes the same ``external_id`` as the push event's)."""
    what = "tag"
    name = str(_required(tag, "name", what))
    sha = str(_required(_object(tag, "commit"), "sha", "tag's commit"))
    committer = _object(commit, "committer")
    return _tag_deployment(repository, name, sha, _time(committer, "date", "tagged commit's committer"))


# --- Workflow runs -----------------------------------------------------------------------------

# A finished run's conclusion → its status. Those without a verdict (cancelled, skipped, neutral,
# stale, action_required) are "cancelled": left out of the failure and flaky rates.
CONCLUSIONS = {
    "success": PipelineRun.Status.SUCCESS,
    "failure": PipelineRun.Status.FAILURE,
    "timed_out": PipelineRun.Status.FAILURE,
    "startup_failure": PipelineRun.Status.FAILURE,
    "cancelled": PipelineRun.Status.CANCELLED,
    "skipped": PipelineRun.Status.CANCELLED,
    "neutral": PipelineRun.Status.CANCELLED,
    "stale": PipelineRun.Status.CANCELLED,
    "action_required": PipelineRun.Status.CANCELLED,
}


def workflow_run(run: dict, *, default_branch: str) -> PipelineRunInput | None:
    """One attempt of a workflow run (``GET .../actions/runs``, or a webhook's ``workflow_run``).

    ``external_id`` is ``<run id>/<run_attempt>``: a re-run is another attempt of the same run,
    and each attempt keeps its own verdict (flakiness needs the failed one and the passing one).
    ``status: completed`` takes its status from ``conclusion``; ``in_progress`` is in progress;
    None before it runs (requested, queued, waiting, pending). The attempt started at
    ``run_started_at`` and, once completed, finished at ``updated_at``.
    """
    what = "workflow run"
    state = run.get("status")
    if state == "completed":
        conclusion = run.get("conclusion")
        if conclusion not in CONCLUSIONS:
            raise Unreadable(f"the workflow run has an unknown conclusion {str(conclusion)[:40]!r}")
        status = CONCLUSIONS[conclusion]
    elif state == "in_progress":
        status = PipelineRun.Status.IN_PROGRESS
    else:
        return None
    attempt = run.get("run_attempt") or 1
    if not isinstance(attempt, int) or isinstance(attempt, bool) or not 1 <= attempt <= 32767:
        raise Unreadable(f"the workflow run has an unreadable run_attempt {str(attempt)[:40]!r}")
    branch = run.get("head_branch") or ""
    repository = _object(run, "repository").get("full_name")
    return checked(
        PipelineRunInput(
            external_id=f"{_id(run, what)}/{attempt}",
            workflow=_text(run.get("name") or run.get("path") or run.get("workflow_id"), 200),
            status=status,
            repository=str(repository) if repository else None,
            branch=_text(branch, 200),
            is_default_branch=bool(branch) and branch == default_branch,
            sha=_text(run.get("head_sha"), 64),
            attempt=attempt,
            started_at=parse_time(run.get("run_started_at") or run.get("created_at")),
            finished_at=_time(run, "updated_at", what) if state == "completed" else None,
            url=_text(run.get("html_url"), 500),
        ),
        WORKFLOW_RUN_NAMES,
    )


# --- Pushes ------------------------------------------------------------------------------------


def push(payload: dict) -> PushInput:
    """A webhook ``push`` payload: the branch moved from ``before`` to ``after``, bringing the
    commits listed (their ids, in the order GitHub lists them: oldest first).

    Pushes of any ref are read; which are stored (the default branch's) is the caller's rule
    (``is_default_branch_push``). ``external_id`` is ``<repository id>:<before>..<after>``, so the
    same push delivered twice (or by two hooks of one source) is one record. ``pushed_at`` is the
    repository's ``pushed_at`` (a Unix timestamp in this payload), else the head commit's time.
    """
    what = "push"
    repository = _object(payload, "repository")
    name = _required(repository, "full_name", "push's repository")
    before = str(_required(payload, "before", what))
    after = str(_required(payload, "after", what))
    ref = str(payload.get("ref") or "")
    pushed_at = parse_time(repository.get("pushed_at")) or parse_time(_object(payload, "head_commit").get("timestamp"))
    commits = payload.get("commits") or []
    if not isinstance(commits, list):
        raise Unreadable("the push's commits are not a list")
    return checked(
        PushInput(
            external_id=f"{_id(repository, 'push repository')}:{before}..{after}",
            repository=str(name),
            before=before[:64],
            after=after[:64],
            branch=_text(ref.removeprefix("refs/heads/"), 200),
            commits=tuple(_text(_required(c, "id", "pushed commit"), 64) for c in commits),
            pushed_at=pushed_at,
        ),
        PUSH_NAMES,
    )


def is_default_branch_push(payload: Mapping[str, Any]) -> bool:
    """Whether a push payload moved the repository's default branch (and did not delete it)."""
    default = _object(payload, "repository").get("default_branch")
    return bool(default) and payload.get("ref") == f"refs/heads/{default}" and not payload.get("deleted")


# --- Incidents ----------------------------------------------------------------------------------


def incident(issue: dict, *, repository: str, label: str) -> IncidentInput | None:
    """An issue carrying ``label`` (compared case-insensitively, as GitHub does) as an incident:
    started when the issue was opened, resolved when it was closed. None for an issue without the
    label, and for a pull request (the REST issues list includes them)."""
    if "pull_request" in issue or not label:
        return None
    names = {str(found.get("name", "")).casefold() for found in issue.get("labels") or [] if isinstance(found, Mapping)}
    if label.casefold() not in names:
        return None
    what = "issue"
    return checked(
        IncidentInput(
            external_id=_id(issue, what),
            started_at=_time(issue, "created_at", what),
            repository=repository,
            title=_text(issue.get("title"), 500),
            url=_text(issue.get("html_url"), 500),
            resolved_at=parse_time(issue.get("closed_at")) if issue.get("state") == "closed" else None,
        ),
        ISSUE_NAMES,
    )
